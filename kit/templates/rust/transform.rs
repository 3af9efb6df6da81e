//! A transform: centres the chosen numeric columns on the means it learned in training, so
//! serving subtracts exactly the values training saw.

use ferry_sdk::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The numeric columns to centre (default: every numeric column).
    columns: Option<Vec<String>>,
}

/// What training learns: each column's mean.
#[derive(Serialize, Deserialize)]
struct Means(Vec<(String, f64)>);

pub struct Center;

impl Plugin for Center {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!(env!("CARGO_PKG_NAME"))
            .keywords(["transform"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

/// Sums and counts the non-null values of each column.
pub struct Analysis(Vec<(String, f64, u64)>);

impl Analyzer for Analysis {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        for (name, sum, count) in &mut self.0 {
            let column = batch.column(name)?;
            for (row, value) in column.numeric()?.iter().enumerate() {
                if !column.is_null(row) {
                    *sum += value;
                    *count += 1;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let means = self
            .0
            .iter()
            .map(|(name, sum, count)| {
                (
                    name.clone(),
                    if *count == 0 {
                        0.0
                    } else {
                        sum / *count as f64
                    },
                )
            })
            .collect();
        encode_state(&Means(means))
    }
}

pub struct Centering(Means);

impl Transformer for Centering {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let mut out = BatchBuilder::new(batch.len());
        for (name, mean) in &self.0.0 {
            let column = batch.column(name)?;
            let values = column.numeric()?.iter().map(|v| v - mean).collect();
            out.push(Column::float64(name, values).with_nulls_of(column));
        }
        out.build()
    }
}

impl Transform for Center {
    type Analyzer = Analysis;
    type Transformer = Centering;

    fn new_analyzer(config: &str, input: Schema) -> Result<Analysis> {
        let config: Config = parse_config(config)?;
        let columns = numeric_columns(config.columns.as_deref(), &input)?;
        Ok(Analysis(columns.into_iter().map(|c| (c, 0.0, 0)).collect()))
    }

    fn new_transformer(config: &str, state: &[u8]) -> Result<Centering> {
        parse_config::<Config>(config)?;
        Ok(Centering(decode_state(state, env!("CARGO_PKG_NAME"))?))
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config: Config = parse_config(config)?;
        let columns = numeric_columns(config.columns.as_deref(), input)?;
        Ok(replaced_columns(columns, input, DataType::Float64))
    }
}

ferry_sdk::export_transform!(Center);
