//! `extism-log-transform`: the built-in `log-transform` as an Extism plugin. Its source is
//! `plugins/log-transform`'s with `ferry_extism_pdk` for `ferry_sdk` (the crates share their
//! API) and a name of its own. Build it with
//! `cargo build --release --target wasm32-unknown-unknown`.

use ferry_extism_pdk::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Option<Vec<String>>,
    #[serde(default = "one")]
    offset: f64,
    #[serde(default)]
    base: Base,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Base {
    #[default]
    E,
    #[serde(rename = "2")]
    Two,
    #[serde(rename = "10")]
    Ten,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    columns: Vec<String>,
    offset: f64,
    base: Base,
}

pub struct LogAnalyzer {
    state: State,
}

impl Analyzer for LogAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        for name in &self.state.columns {
            batch.column(name)?.numeric()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        encode_state(&self.state)
    }
}

pub struct LogTransformer {
    state: State,
}

impl Transformer for LogTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let mut out = BatchBuilder::new(batch.len());
        for name in &self.state.columns {
            let column = batch.column(name)?;
            let values = column.numeric()?;
            let mut logged = Vec::with_capacity(values.len());
            for (row, v) in values.iter().enumerate() {
                let x = v + self.state.offset;
                if !column.is_null(row) && (x.is_nan() || x <= 0.0) {
                    return Err(input_error(
                        name,
                        Some(row as u32),
                        format!(
                            "{v} + offset {} is not positive, so it has no logarithm",
                            self.state.offset
                        ),
                    ));
                }
                logged.push(match self.state.base {
                    Base::E => x.ln(),
                    Base::Two => x.log2(),
                    Base::Ten => x.log10(),
                });
            }
            let logged = logged
                .into_iter()
                .enumerate()
                .map(|(i, v)| if column.is_null(i) { 0.0 } else { v })
                .collect();
            out.push(Column::float64(name, logged).with_nulls_of(column));
        }
        out.build()
    }
}

pub struct LogTransform;

impl Plugin for LogTransform {
    fn manifest() -> ManifestBuilder {
        ferry_extism_pdk::manifest!("extism-log-transform")
            .keywords(["log", "skew", "numeric"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for LogTransform {
    type Analyzer = LogAnalyzer;
    type Transformer = LogTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<LogAnalyzer> {
        let config: Config = parse_config(config)?;
        if !config.offset.is_finite() {
            return Err(config_error("`offset` must be a finite number"));
        }
        let columns = numeric_columns(config.columns.as_deref(), &input)?;
        Ok(LogAnalyzer {
            state: State {
                columns,
                offset: config.offset,
                base: config.base,
            },
        })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<LogTransformer> {
        Ok(LogTransformer {
            state: decode_state(state, "extism-log-transform")?,
        })
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config: Config = parse_config(config)?;
        Ok(replaced_columns(
            numeric_columns(config.columns.as_deref(), input)?,
            input,
            DataType::Float64,
        ))
    }
}

ferry_extism_pdk::export_transform!(LogTransform);
