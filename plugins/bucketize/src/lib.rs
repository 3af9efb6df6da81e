//! `bucketize`: replaces numeric columns by the index of their bucket (int64, 0-based), with
//! `num_buckets` buckets whose boundaries are quantiles learned in analysis, or explicit
//! `boundaries`. A value equal to a boundary goes to the upper bucket; nulls stay null.

use ferry_sdk::prelude::*;
use ferry_sdk::stats::QuantileSketch;
use ferry_sdk_numeric::{PerColumn, learn, numeric_output, rewrite_ints};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Option<Vec<String>>,
    #[serde(default = "four")]
    num_buckets: usize,
    boundaries: Option<Vec<f64>>,
}

fn four() -> usize {
    4
}

impl Config {
    fn parse(json: &str) -> Result<Self> {
        let c: Config = parse_config(json)?;
        if c.num_buckets < 2 || c.num_buckets > 10_000 {
            return Err(config_error(format!(
                "`num_buckets` must be between 2 and 10000, got {}",
                c.num_buckets
            )));
        }
        if let Some(b) = &c.boundaries
            && (b.is_empty()
                || b.windows(2).any(|w| w[0] >= w[1])
                || b.iter().any(|x| !x.is_finite()))
        {
            return Err(config_error(
                "`boundaries` must be finite and strictly increasing",
            ));
        }
        Ok(c)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Boundaries {
    name: String,
    boundaries: Vec<f64>,
}

impl PerColumn for Boundaries {
    fn column(&self) -> &str {
        &self.name
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    columns: Vec<Boundaries>,
}

pub struct BucketizeAnalyzer {
    config: Config,
    sketches: Vec<(String, QuantileSketch)>,
}

impl Analyzer for BucketizeAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        if self.config.boundaries.is_some() {
            return Ok(());
        }
        learn(batch, &mut self.sketches, |(_, sketch), _, v| {
            sketch.add(v);
            Ok(())
        })
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let mut columns = Vec::new();
        for (name, sketch) in &mut self.sketches {
            let boundaries = match &self.config.boundaries {
                Some(b) => b.clone(),
                None => {
                    let n = self.config.num_buckets;
                    let mut b: Vec<f64> = (1..n)
                        .filter_map(|i| sketch.quantile(i as f64 / n as f64))
                        .collect();
                    b.dedup();
                    b
                }
            };
            columns.push(Boundaries {
                name: name.clone(),
                boundaries,
            });
        }
        encode_state(&State { columns })
    }
}

pub struct BucketizeTransformer {
    state: State,
}

impl Transformer for BucketizeTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        rewrite_ints(batch, &self.state.columns, |c, row, v, null| {
            if !null && v.is_nan() {
                return Err(input_error(&c.name, Some(row), "NaN has no bucket"));
            }
            Ok(c.boundaries.partition_point(|b| *b <= v) as i64)
        })
    }
}

pub struct Bucketize;

impl Plugin for Bucketize {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("bucketize")
            .keywords(["binning", "quantiles", "discretize"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for Bucketize {
    type Analyzer = BucketizeAnalyzer;
    type Transformer = BucketizeTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<BucketizeAnalyzer> {
        let config = Config::parse(config)?;
        let sketches = numeric_columns(config.columns.as_deref(), &input)?
            .into_iter()
            .map(|n| (n, QuantileSketch::default()))
            .collect();
        Ok(BucketizeAnalyzer { config, sketches })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<BucketizeTransformer> {
        Ok(BucketizeTransformer {
            state: decode_state(state, "bucketize")?,
        })
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config = Config::parse(config)?;
        numeric_output(config.columns.as_deref(), input, DataType::Int64)
    }
}

ferry_sdk::export_transform!(Bucketize);
