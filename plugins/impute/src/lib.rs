//! `impute`: fills nulls with the mean, the median, the most frequent value or a constant.
//! Mean and median give float64 columns; the most frequent value and constants keep the
//! column's type. Ties for the most frequent value go to the smallest, as in scikit-learn.

use std::collections::BTreeMap;

use ferry_sdk::prelude::*;
use ferry_sdk::stats::QuantileSketch;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Strategy {
    Mean,
    Median,
    MostFrequent,
    Constant,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Option<Vec<String>>,
    strategy: Strategy,
    fill_value: Option<serde_json::Value>,
}

impl Config {
    fn parse(json: &str) -> Result<Self> {
        let c: Config = parse_config(json)?;
        if c.strategy == Strategy::Constant && c.fill_value.is_none() {
            return Err(config_error(
                "`strategy` is \"constant\" but `fill_value` is missing",
            ));
        }
        Ok(c)
    }

    fn accepts(&self, t: DataType) -> bool {
        match self.strategy {
            Strategy::Mean | Strategy::Median => is_numeric(t),
            Strategy::MostFrequent | Strategy::Constant => true,
        }
    }
}

/// The value that fills a column's nulls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Fill {
    Number(f64),
    Bool(bool),
    Text(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct ColumnFill {
    name: String,
    data_type: String,
    fill: Option<Fill>,
    as_float: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    columns: Vec<ColumnFill>,
}

enum Acc {
    Mean { sum: f64, n: u64 },
    Median(QuantileSketch),
    Counts(BTreeMap<String, u64>),
    Constant,
}

pub struct ImputeAnalyzer {
    config: Config,
    columns: Vec<(Field, Acc)>,
}

impl Analyzer for ImputeAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        for (field, acc) in &mut self.columns {
            let column = batch.column(&field.name)?;
            if column.data_type() != field.data_type {
                return Err(input_error(
                    &field.name,
                    None,
                    format!(
                        "was {} in the schema but is {} in this batch",
                        field.data_type.name(),
                        column.data_type().name()
                    ),
                ));
            }
            match acc {
                Acc::Mean { sum, n } => {
                    for (row, v) in column.numeric()?.iter().enumerate() {
                        if !column.is_null(row) && v.is_finite() {
                            *sum += v;
                            *n += 1;
                        }
                    }
                }
                Acc::Median(sketch) => {
                    for (row, v) in column.numeric()?.iter().enumerate() {
                        if !column.is_null(row) {
                            sketch.add(*v);
                        }
                    }
                }
                Acc::Counts(counts) => {
                    for row in 0..column.len() {
                        if let Some(v) = column.value_string(row) {
                            *counts.entry(v).or_default() += 1;
                        }
                    }
                }
                Acc::Constant => {}
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (field, acc) in &mut self.columns {
            let (fill, as_float) = match acc {
                Acc::Mean { sum, n } => ((*n > 0).then(|| Fill::Number(*sum / *n as f64)), true),
                Acc::Median(s) => (s.quantile(0.5).map(Fill::Number), true),
                Acc::Counts(counts) => {
                    let best = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
                    (
                        best.map(|(v, _)| typed(field.data_type, v)).transpose()?,
                        false,
                    )
                }
                Acc::Constant => {
                    let v = self.config.fill_value.as_ref().map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    (v.map(|v| typed(field.data_type, &v)).transpose()?, false)
                }
            };
            out.push(ColumnFill {
                name: field.name.clone(),
                data_type: field.data_type.name().into(),
                fill,
                as_float,
            });
        }
        encode_state(&State { columns: out })
    }
}

fn typed(t: DataType, v: &str) -> Result<Fill> {
    let bad = || {
        config_error(format!(
            "`fill_value` {v:?} does not fit a {} column",
            t.name()
        ))
    };
    Ok(match t {
        DataType::Float64 | DataType::Int64 => Fill::Number(v.parse().map_err(|_| bad())?),
        DataType::Boolean => Fill::Bool(v.parse().map_err(|_| bad())?),
        DataType::Text => Fill::Text(v.to_string()),
    })
}

pub struct ImputeTransformer {
    state: State,
}

impl Transformer for ImputeTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let mut out = BatchBuilder::new(batch.len());
        for c in &self.state.columns {
            let column = batch.column(&c.name)?;
            let Some(fill) = &c.fill else {
                // Nothing was learned (the column was all null in training): leave it as it is.
                out.push(column.clone());
                continue;
            };
            let filled = match (fill, &column.data) {
                (Fill::Number(f), _) if c.as_float => {
                    let v = column.numeric()?;
                    Column::float64(
                        &c.name,
                        (0..v.len())
                            .map(|i| if column.is_null(i) { *f } else { v[i] })
                            .collect(),
                    )
                }
                (Fill::Number(f), ColumnData::Float64(v)) => Column::float64(
                    &c.name,
                    (0..v.len())
                        .map(|i| if column.is_null(i) { *f } else { v[i] })
                        .collect(),
                ),
                (Fill::Number(f), ColumnData::Int64(v)) => Column::int64(
                    &c.name,
                    (0..v.len())
                        .map(|i| if column.is_null(i) { *f as i64 } else { v[i] })
                        .collect(),
                ),
                (Fill::Bool(b), ColumnData::Boolean(v)) => Column::boolean(
                    &c.name,
                    (0..v.len())
                        .map(|i| if column.is_null(i) { *b } else { v[i] })
                        .collect(),
                ),
                (Fill::Text(s), ColumnData::Text(v)) => Column::text(
                    &c.name,
                    (0..v.len())
                        .map(|i| {
                            if column.is_null(i) {
                                s.clone()
                            } else {
                                v[i].clone()
                            }
                        })
                        .collect(),
                ),
                _ => {
                    return Err(input_error(
                        &c.name,
                        None,
                        format!(
                            "is {} now but was {} in analysis",
                            column.data_type().name(),
                            c.data_type
                        ),
                    ));
                }
            };
            out.push(filled);
        }
        out.build()
    }
}

pub struct Impute;

impl Plugin for Impute {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("impute")
            .keywords(["missing", "nulls", "imputation"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for Impute {
    type Analyzer = ImputeAnalyzer;
    type Transformer = ImputeTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<ImputeAnalyzer> {
        let config = Config::parse(config)?;
        let names = select_columns(
            "columns",
            config.columns.as_deref(),
            &input,
            |t| config.accepts(t),
            "numbers for mean and median",
        )?;
        let columns = names
            .into_iter()
            .filter_map(|n| input.iter().find(|f| f.name == n).cloned())
            .map(|f| {
                let acc = match config.strategy {
                    Strategy::Mean => Acc::Mean { sum: 0.0, n: 0 },
                    Strategy::Median => Acc::Median(QuantileSketch::default()),
                    Strategy::MostFrequent => Acc::Counts(BTreeMap::new()),
                    Strategy::Constant => Acc::Constant,
                };
                (f, acc)
            })
            .collect();
        Ok(ImputeAnalyzer { config, columns })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<ImputeTransformer> {
        Ok(ImputeTransformer {
            state: decode_state(state, "impute")?,
        })
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config = Config::parse(config)?;
        let names = select_columns(
            "columns",
            config.columns.as_deref(),
            input,
            |t| config.accepts(t),
            "numbers for mean and median",
        )?;
        Ok(input
            .iter()
            .filter(|f| names.contains(&f.name))
            .map(|f| Field {
                name: f.name.clone(),
                data_type: match config.strategy {
                    Strategy::Mean | Strategy::Median => DataType::Float64,
                    _ => f.data_type,
                },
                nullable: false,
            })
            .collect())
    }
}

ferry_sdk::export_transform!(Impute);
