//! A careless transform, as the purity check once missed it: `h` is `column` plus noise drawn
//! at random on every row, but the noise is added only where the value passes `threshold` (4
//! rows of the churn example's 2,000 at the default), so it rarely shows. Ferry refuses a
//! draw while a batch is computed, whether or not the draw shows.

use ferry_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "column")]
    column: String,
    #[serde(default = "threshold")]
    threshold: f64,
}

fn column() -> String {
    "monthly_charges".into()
}

fn threshold() -> f64 {
    119.64
}

#[cfg(target_arch = "wasm32")]
fn draw() -> f64 {
    (wasip2::random::random::get_random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(not(target_arch = "wasm32"))]
fn draw() -> f64 {
    0.5
}

pub struct RareNoise;
pub struct NoState;
pub struct Noise(Config);

impl Analyzer for NoState {
    fn update(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl Transformer for Noise {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let c = &self.0;
        let values = batch.column(&c.column)?.f64s()?;
        let h = values
            .iter()
            .map(|&v| {
                let noise = draw();
                if v > c.threshold { v + noise } else { v }
            })
            .collect();
        BatchBuilder::new(values.len())
            .column(Column::float64("h", h))
            .build()
    }
}

impl Plugin for RareNoise {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("rare-noise").config_schema(
            r#"{"type": "object", "properties": {"column": {"type": "string"}, "threshold": {"type": "number"}}, "examples": [{"column": "score", "threshold": 1.0}]}"#,
        )
    }
}

fn parse(config: &str) -> Result<Config> {
    parse_config(config)
}

impl Transform for RareNoise {
    type Analyzer = NoState;
    type Transformer = Noise;
    fn new_analyzer(config: &str, _input: Schema) -> Result<NoState> {
        parse(config)?;
        Ok(NoState)
    }
    fn new_transformer(config: &str, _state: &[u8]) -> Result<Noise> {
        Ok(Noise(parse(config)?))
    }
    fn output_schema(_config: &str, _input: &Schema) -> Result<Schema> {
        Ok(vec![Field {
            name: "h".into(),
            data_type: DataType::Float64,
            nullable: false,
        }])
    }
}

ferry_sdk::export_transform!(RareNoise);
