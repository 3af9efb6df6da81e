//! A transform whose output, as its configuration says, is honest (`{}`), counts the calls its
//! instance has served (`{"mode": "count"}`), or centres a column on the mean of the batch it
//! is given (`{"mode": "center", "column": "x"}`). Its default is honest, so it passes the
//! check at publish; `ferry train` with the other modes refuses it.

use std::sync::atomic::{AtomicU64, Ordering};

use ferry_sdk::prelude::*;
use serde::Deserialize;

static CALLS: AtomicU64 = AtomicU64::new(0);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    column: Option<String>,
}

pub struct Stateful;
pub struct NoState;
pub struct Apply(Config);

impl Analyzer for NoState {
    fn update(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl Transformer for Apply {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        let n = batch.num_rows as usize;
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let out = match self.0.mode.as_deref() {
            None | Some("honest") => vec![1.0; n],
            Some("count") => vec![calls as f64; n],
            Some("center") => {
                let name = self.0.column.as_deref().unwrap_or("x");
                let values = batch.column(name)?.numeric()?;
                let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
                values.iter().map(|v| v - mean).collect()
            }
            Some(other) => return Err(config_error(format!("unknown mode {other:?}"))),
        };
        BatchBuilder::new(n)
            .column(Column::float64("stateful", out))
            .build()
    }
}

impl Plugin for Stateful {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("stateful")
    }
}

impl Transform for Stateful {
    type Analyzer = NoState;
    type Transformer = Apply;
    fn new_analyzer(config: &str, _input: Schema) -> Result<NoState> {
        parse_config::<Config>(config)?;
        Ok(NoState)
    }
    fn new_transformer(config: &str, _state: &[u8]) -> Result<Apply> {
        Ok(Apply(parse_config(config)?))
    }
    fn output_schema(_config: &str, _input: &Schema) -> Result<Schema> {
        Ok(vec![Field {
            name: "stateful".into(),
            data_type: DataType::Float64,
            nullable: false,
        }])
    }
}

ferry_sdk::export_transform!(Stateful);
