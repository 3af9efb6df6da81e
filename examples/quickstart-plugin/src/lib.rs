//! A feature transform that writes `numerator / denominator` into a new column.

use ferry_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    numerator: String,
    denominator: String,
    output: String,
}

pub struct Ratio;

impl Plugin for Ratio {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("ratio").keywords(["ratio", "example"])
    }
}

/// Nothing to learn: the state is empty.
pub struct NoState;

impl Analyzer for NoState {
    fn update(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

pub struct Divide(Config);

impl Transformer for Divide {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let top = batch.column(&self.0.numerator)?.numeric()?;
        let bottom = batch.column(&self.0.denominator)?.numeric()?;
        let mut out = Vec::with_capacity(batch.len());
        for (row, (a, b)) in top.iter().zip(bottom.iter()).enumerate() {
            if *b == 0.0 {
                return Err(input_error(
                    &self.0.denominator,
                    Some(row as u32),
                    "division by zero",
                ));
            }
            out.push(a / b);
        }
        BatchBuilder::new(batch.len())
            .column(Column::float64(&self.0.output, out))
            .build()
    }
}

impl Transform for Ratio {
    type Analyzer = NoState;
    type Transformer = Divide;

    fn new_analyzer(config: &str, _input: Schema) -> Result<NoState> {
        parse_config::<Config>(config)?;
        Ok(NoState)
    }

    fn new_transformer(config: &str, _state: &[u8]) -> Result<Divide> {
        Ok(Divide(parse_config(config)?))
    }

    fn output_schema(config: &str, _input: &Schema) -> Result<Schema> {
        let c: Config = parse_config(config)?;
        Ok(vec![Field {
            name: c.output,
            data_type: DataType::Float64,
            nullable: false,
        }])
    }
}

ferry_sdk::export_transform!(Ratio);
