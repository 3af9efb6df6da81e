//! `clip`: clips numeric columns to `[min, max]`, given in the configuration or learned as
//! quantiles (`lower_quantile`, `upper_quantile`) in analysis.

use ferry_sdk::prelude::*;
use ferry_sdk::stats::QuantileSketch;
use ferry_sdk_numeric::{PerColumn, learn, numeric_output, rewrite_floats};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Option<Vec<String>>,
    min: Option<f64>,
    max: Option<f64>,
    lower_quantile: Option<f64>,
    upper_quantile: Option<f64>,
}

impl Config {
    fn parse(json: &str) -> Result<Self> {
        let c: Config = parse_config(json)?;
        if c.min.is_some() && c.lower_quantile.is_some() {
            return Err(config_error("give `min` or `lower_quantile`, not both"));
        }
        if c.max.is_some() && c.upper_quantile.is_some() {
            return Err(config_error("give `max` or `upper_quantile`, not both"));
        }
        if c.min.is_none()
            && c.max.is_none()
            && c.lower_quantile.is_none()
            && c.upper_quantile.is_none()
        {
            return Err(config_error(
                "give at least one of `min`, `max`, `lower_quantile`, `upper_quantile`",
            ));
        }
        for (key, q) in [
            ("lower_quantile", c.lower_quantile),
            ("upper_quantile", c.upper_quantile),
        ] {
            if let Some(q) = q
                && !(0.0..=1.0).contains(&q)
            {
                return Err(config_error(format!(
                    "`{key}` must be between 0 and 1, got {q}"
                )));
            }
        }
        if let (Some(lo), Some(hi)) = (c.min, c.max)
            && lo > hi
        {
            return Err(config_error(format!("`min` ({lo}) is above `max` ({hi})")));
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bounds {
    name: String,
    min: Option<f64>,
    max: Option<f64>,
}

impl PerColumn for Bounds {
    fn column(&self) -> &str {
        &self.name
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    columns: Vec<Bounds>,
}

pub struct ClipAnalyzer {
    config: Config,
    columns: Vec<(String, QuantileSketch)>,
}

impl Analyzer for ClipAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        if self.config.lower_quantile.is_none() && self.config.upper_quantile.is_none() {
            return Ok(());
        }
        learn(batch, &mut self.columns, |(_, sketch), _, v| {
            sketch.add(v);
            Ok(())
        })
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let mut columns = Vec::new();
        for (name, sketch) in &mut self.columns {
            let min = match self.config.lower_quantile {
                Some(q) => sketch.quantile(q),
                None => self.config.min,
            };
            let max = match self.config.upper_quantile {
                Some(q) => sketch.quantile(q),
                None => self.config.max,
            };
            columns.push(Bounds {
                name: name.clone(),
                min,
                max,
            });
        }
        encode_state(&State { columns })
    }
}

pub struct ClipTransformer {
    state: State,
}

impl Transformer for ClipTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        rewrite_floats(batch, &self.state.columns, |b, v| {
            v.max(b.min.unwrap_or(f64::NEG_INFINITY))
                .min(b.max.unwrap_or(f64::INFINITY))
        })
    }
}

pub struct Clip;

impl Plugin for Clip {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("clip")
            .keywords(["clip", "outliers", "winsorize"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for Clip {
    type Analyzer = ClipAnalyzer;
    type Transformer = ClipTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<ClipAnalyzer> {
        let config = Config::parse(config)?;
        let columns = numeric_columns(config.columns.as_deref(), &input)?
            .into_iter()
            .map(|n| (n, QuantileSketch::default()))
            .collect();
        Ok(ClipAnalyzer { config, columns })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<ClipTransformer> {
        Ok(ClipTransformer {
            state: decode_state(state, "clip")?,
        })
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config = Config::parse(config)?;
        numeric_output(config.columns.as_deref(), input, DataType::Float64)
    }
}

ferry_sdk::export_transform!(Clip);
