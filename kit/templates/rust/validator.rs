//! A validator: every value of the chosen columns lies within `[min, max]` and is not null.

use ferry_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The numeric columns to check (default: every numeric column).
    columns: Option<Vec<String>>,
    min: f64,
    max: f64,
}

pub struct Ranges;

impl Plugin for Ranges {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!(env!("CARGO_PKG_NAME"))
            .keywords(["validation"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Validator for Ranges {
    fn validate(config: &str, batch: &Batch) -> Result<Report> {
        let config: Config = parse_config(config)?;
        if config.min > config.max {
            return Err(config_error(format!(
                "`min` ({}) is above `max` ({})",
                config.min, config.max
            )));
        }
        let columns = numeric_columns(config.columns.as_deref(), &batch.schema())?;
        let mut report = ReportBuilder::new(batch.len() as u32, 100);
        for name in &columns {
            let column = batch.column(name)?;
            let values = column.numeric()?;
            for (row, value) in values.iter().enumerate() {
                if column.is_null(row) {
                    report.add("not-null", Some(name), Some(row as u32), "is null".into());
                } else if !(config.min..=config.max).contains(value) {
                    report.add(
                        "in-range",
                        Some(name),
                        Some(row as u32),
                        format!("{value} is outside [{}, {}]", config.min, config.max),
                    );
                }
            }
        }
        Ok(report.finish())
    }
}

ferry_sdk::export_validator!(Ranges);
