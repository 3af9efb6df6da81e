//! A transform that draws a new random number for every row it sees: the same batch twice in
//! one instance gets other numbers, so the purity check refuses it.

use ferry_sdk::prelude::*;

#[cfg(target_arch = "wasm32")]
fn draw() -> f64 {
    (wasip2::random::random::get_random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(not(target_arch = "wasm32"))]
fn draw() -> f64 {
    use std::hash::BuildHasher;
    (std::collections::hash_map::RandomState::new().hash_one(0u8) >> 11) as f64
        / (1u64 << 53) as f64
}

pub struct Random;
pub struct NoState;
pub struct Draw;

impl Analyzer for NoState {
    fn update(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl Transformer for Draw {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let n = batch.num_rows as usize;
        BatchBuilder::new(n)
            .column(Column::float64("noise", (0..n).map(|_| draw()).collect()))
            .build()
    }
}

impl Plugin for Random {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("random")
    }
}

impl Transform for Random {
    type Analyzer = NoState;
    type Transformer = Draw;
    fn new_analyzer(_config: &str, _input: Schema) -> Result<NoState> {
        Ok(NoState)
    }
    fn new_transformer(_config: &str, _state: &[u8]) -> Result<Draw> {
        Ok(Draw)
    }
    fn output_schema(_config: &str, _input: &Schema) -> Result<Schema> {
        Ok(vec![Field {
            name: "noise".into(),
            data_type: DataType::Float64,
            nullable: false,
        }])
    }
}

ferry_sdk::export_transform!(Random);
