//! `min-max-scaler`: scales numeric columns into `feature_range` (default `[0, 1]`) with the
//! minimum and maximum learned in analysis, as scikit-learn's `MinMaxScaler`.

use ferry_sdk::prelude::*;
use ferry_sdk_numeric::{PerColumn, learn, numeric_output, rewrite_floats};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Option<Vec<String>>,
    #[serde(default = "unit_range")]
    feature_range: [f64; 2],
    #[serde(default)]
    clip: bool,
}

fn unit_range() -> [f64; 2] {
    [0.0, 1.0]
}

impl Config {
    fn parse(json: &str) -> Result<Self> {
        let c: Config = parse_config(json)?;
        let [lo, hi] = c.feature_range;
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(config_error(format!(
                "`feature_range` must be [low, high] with low < high, got {:?}",
                c.feature_range
            )));
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Range {
    name: String,
    min: f64,
    max: f64,
}

impl PerColumn for Range {
    fn column(&self) -> &str {
        &self.name
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    feature_range: [f64; 2],
    clip: bool,
    columns: Vec<Range>,
}

pub struct MinMaxAnalyzer {
    config: Config,
    ranges: Vec<Range>,
}

impl Analyzer for MinMaxAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        learn(batch, &mut self.ranges, |r, row, v| {
            if !v.is_finite() {
                return Err(input_error(
                    &r.name,
                    Some(row),
                    format!("{v} is not finite"),
                ));
            }
            r.min = r.min.min(v);
            r.max = r.max.max(v);
            Ok(())
        })
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        encode_state(&State {
            feature_range: self.config.feature_range,
            clip: self.config.clip,
            columns: self.ranges.clone(),
        })
    }
}

pub struct MinMaxTransformer {
    state: State,
}

impl Transformer for MinMaxTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let [lo, hi] = self.state.feature_range;
        rewrite_floats(batch, &self.state.columns, |r, v| {
            let span = if r.max > r.min { r.max - r.min } else { 1.0 };
            let min = if r.min.is_finite() { r.min } else { 0.0 };
            let s = (v - min) / span * (hi - lo) + lo;
            if self.state.clip { s.clamp(lo, hi) } else { s }
        })
    }
}

pub struct MinMaxScaler;

impl Plugin for MinMaxScaler {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("min-max-scaler")
            .keywords(["scaling", "normalization", "numeric"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for MinMaxScaler {
    type Analyzer = MinMaxAnalyzer;
    type Transformer = MinMaxTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<MinMaxAnalyzer> {
        let config = Config::parse(config)?;
        let ranges = numeric_columns(config.columns.as_deref(), &input)?
            .into_iter()
            .map(|name| Range {
                name,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            })
            .collect();
        Ok(MinMaxAnalyzer { config, ranges })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<MinMaxTransformer> {
        Ok(MinMaxTransformer {
            state: decode_state(state, "min-max-scaler")?,
        })
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config = Config::parse(config)?;
        numeric_output(config.columns.as_deref(), input, DataType::Float64)
    }
}

ferry_sdk::export_transform!(MinMaxScaler);
