//! `one-hot`: encodes categorical columns (text, int64 or boolean) as one float64 column per
//! category, named `column=category`. The vocabulary is learned in analysis and kept sorted.
//! Categories seen fewer than `min_frequency` times, or beyond the `max_categories` most
//! frequent, are not given a column. An unknown category (or a null) encodes as all zeros with
//! `handle_unknown = "ignore"` (the default) or is an error with `"error"`.

use std::collections::BTreeMap;

use ferry_sdk::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Unknown {
    #[default]
    Ignore,
    Error,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Option<Vec<String>>,
    #[serde(default)]
    handle_unknown: Unknown,
    max_categories: Option<usize>,
    #[serde(default = "one")]
    min_frequency: u64,
}

fn one() -> u64 {
    1
}

fn categorical(t: DataType) -> bool {
    t != DataType::Float64
}

#[derive(Debug, Serialize, Deserialize)]
struct Vocabulary {
    name: String,
    categories: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    handle_unknown: Unknown,
    columns: Vec<Vocabulary>,
}

pub struct OneHotAnalyzer {
    config: Config,
    counts: Vec<(String, BTreeMap<String, u64>)>,
}

impl Analyzer for OneHotAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        for (name, counts) in &mut self.counts {
            let column = batch.column(name)?;
            if column.data_type() == DataType::Float64 {
                return Err(input_error(
                    name,
                    None,
                    "is float64; one-hot needs categories (text, int64 or boolean)",
                ));
            }
            for row in 0..column.len() {
                if let Some(v) = column.value_string(row) {
                    *counts.entry(v).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let mut columns = Vec::new();
        for (name, counts) in &self.counts {
            let mut kept: Vec<(&String, &u64)> = counts
                .iter()
                .filter(|(_, n)| **n >= self.config.min_frequency)
                .collect();
            if let Some(max) = self.config.max_categories {
                kept.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                kept.truncate(max);
            }
            let mut categories: Vec<String> = kept.into_iter().map(|(c, _)| c.clone()).collect();
            categories.sort();
            columns.push(Vocabulary {
                name: name.clone(),
                categories,
            });
        }
        encode_state(&State {
            handle_unknown: self.config.handle_unknown,
            columns,
        })
    }
}

pub struct OneHotTransformer {
    state: State,
}

impl Transformer for OneHotTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let n = batch.len();
        let mut out = BatchBuilder::new(n);
        for vocab in &self.state.columns {
            let column = batch.column(&vocab.name)?;
            let mut hits = Vec::with_capacity(n);
            for row in 0..n {
                let value = column.value_string(row);
                let hit = value
                    .as_ref()
                    .and_then(|v| vocab.categories.binary_search(v).ok());
                if hit.is_none() && self.state.handle_unknown == Unknown::Error {
                    return Err(input_error(
                        &vocab.name,
                        Some(row as u32),
                        match value {
                            Some(v) => format!("category {v:?} was not seen in analysis"),
                            None => "null, which was not seen in analysis".to_string(),
                        },
                    ));
                }
                hits.push(hit);
            }
            for (i, category) in vocab.categories.iter().enumerate() {
                let values = hits
                    .iter()
                    .map(|h| if *h == Some(i) { 1.0 } else { 0.0 })
                    .collect();
                out.push(Column::float64(
                    format!("{}={category}", vocab.name),
                    values,
                ));
            }
        }
        out.build()
    }
}

pub struct OneHot;

impl Plugin for OneHot {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("one-hot")
            .keywords(["categorical", "encoding", "one-hot", "dummies"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for OneHot {
    type Analyzer = OneHotAnalyzer;
    type Transformer = OneHotTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<OneHotAnalyzer> {
        let config: Config = parse_config(config)?;
        if config.max_categories == Some(0) {
            return Err(config_error("`max_categories` must be at least 1"));
        }
        let counts = select_columns(
            "columns",
            config.columns.as_deref(),
            &input,
            categorical,
            "categories (text, int64 or boolean)",
        )?
        .into_iter()
        .map(|n| (n, BTreeMap::new()))
        .collect();
        Ok(OneHotAnalyzer { config, counts })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<OneHotTransformer> {
        Ok(OneHotTransformer {
            state: decode_state(state, "one-hot")?,
        })
    }

    fn output_schema(_config: &str, _input: &Schema) -> Result<Schema> {
        Err(unsupported(
            "one-hot's output columns depend on the vocabulary learned in analysis",
        ))
    }
}

ferry_sdk::export_transform!(OneHot);
