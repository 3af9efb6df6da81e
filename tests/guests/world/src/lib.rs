//! A transform that reads the wall clock and the monotonic clock on every row, and draws a
//! random salt when its transformer is built. In Ferry's deterministic world every instance
//! sees the same clocks and the same random bytes, so its features never change.

use ferry_sdk::prelude::*;

/// Nanoseconds since the Unix epoch on the wall clock.
fn wall_nanos() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as f64)
        .unwrap_or(-1.0)
}

#[cfg(target_arch = "wasm32")]
fn monotonic_nanos() -> f64 {
    wasip2::clocks::monotonic_clock::now() as f64
}

#[cfg(not(target_arch = "wasm32"))]
fn monotonic_nanos() -> f64 {
    0.0
}

#[cfg(target_arch = "wasm32")]
fn random_salt() -> u64 {
    wasip2::random::random::get_random_u64()
}

#[cfg(not(target_arch = "wasm32"))]
fn random_salt() -> u64 {
    0
}

pub struct World;
pub struct NoState;
pub struct Salted {
    salt: u64,
}

impl Analyzer for NoState {
    fn update(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl Transformer for Salted {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let n = batch.num_rows as usize;
        let salted = vec![(self.salt % 1000) as f64 / 1000.0; n];
        BatchBuilder::new(n)
            .column(Column::float64("wall_clock", vec![wall_nanos(); n]))
            .column(Column::float64(
                "monotonic_clock",
                vec![monotonic_nanos(); n],
            ))
            .column(Column::float64("salt", salted))
            .build()
    }
}

/// It takes no configuration; like any conforming plugin, it refuses one it cannot read.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoConfig {}

impl Plugin for World {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("world")
    }
}

impl Transform for World {
    type Analyzer = NoState;
    type Transformer = Salted;
    fn new_analyzer(config: &str, _input: Schema) -> Result<NoState> {
        parse_config::<NoConfig>(config)?;
        Ok(NoState)
    }
    fn new_transformer(config: &str, _state: &[u8]) -> Result<Salted> {
        parse_config::<NoConfig>(config)?;
        Ok(Salted {
            salt: random_salt(),
        })
    }
    fn output_schema(_config: &str, _input: &Schema) -> Result<Schema> {
        Ok(["wall_clock", "monotonic_clock", "salt"]
            .into_iter()
            .map(|name| Field {
                name: name.into(),
                data_type: DataType::Float64,
                nullable: false,
            })
            .collect())
    }
}

ferry_sdk::export_transform!(World);
