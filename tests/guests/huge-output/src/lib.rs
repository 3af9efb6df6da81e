//! A transform whose `apply` returns a million rows whatever it is given, and whose
//! `new-transformer` answers with a ragged batch when its state is `ragged`.

use ferry_sdk::prelude::*;

pub struct Huge;
pub struct NoAnalysis;
pub struct Apply {
    ragged: bool,
}

impl Analyzer for NoAnalysis {
    fn update(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl Transformer for Apply {
    fn apply(&self, _batch: &Batch) -> Result<Batch> {
        if self.ragged {
            return Ok(Batch {
                num_rows: 3,
                columns: vec![Column::float64("x", vec![1.0])],
            });
        }
        let n = 1_000_000;
        BatchBuilder::new(n)
            .column(Column::float64("x", vec![0.5; n]))
            .build()
    }
}

impl Plugin for Huge {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("huge-output")
    }
}

impl Transform for Huge {
    type Analyzer = NoAnalysis;
    type Transformer = Apply;
    fn new_analyzer(_config: &str, _input: Schema) -> Result<NoAnalysis> {
        Ok(NoAnalysis)
    }
    fn new_transformer(_config: &str, state: &[u8]) -> Result<Apply> {
        Ok(Apply {
            ragged: state == b"ragged",
        })
    }
    fn output_schema(_config: &str, _input: &Schema) -> Result<Schema> {
        Ok(Vec::new())
    }
}

ferry_sdk::export_transform!(Huge);
