//! `schema`: checks that the data has the columns it should, of the right types, with nulls
//! only where allowed, and (if asked) no columns beyond those listed.

use ferry_sdk::prelude::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnRule {
    name: String,
    #[serde(rename = "type")]
    data_type: Option<TypeName>,
    #[serde(default = "yes")]
    nullable: bool,
    #[serde(default = "yes")]
    required: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TypeName {
    Float64,
    Int64,
    Boolean,
    Text,
}

impl TypeName {
    fn data_type(self) -> DataType {
        match self {
            TypeName::Float64 => DataType::Float64,
            TypeName::Int64 => DataType::Int64,
            TypeName::Boolean => DataType::Boolean,
            TypeName::Text => DataType::Text,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: Vec<ColumnRule>,
    #[serde(default)]
    allow_extra_columns: Option<bool>,
    #[serde(default = "default_max")]
    max_violations: usize,
}

fn default_max() -> usize {
    1000
}

pub struct SchemaValidator;

impl Plugin for SchemaValidator {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("schema")
            .keywords(["schema", "types", "data-quality"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Validator for SchemaValidator {
    fn validate(config: &str, batch: &Batch) -> Result<Report> {
        let config: Config = parse_config(config)?;
        let mut report = ReportBuilder::new(batch.num_rows, config.max_violations);
        for rule in &config.columns {
            let Some(column) = batch.get(&rule.name) else {
                if rule.required {
                    report.add(
                        "required",
                        Some(&rule.name),
                        None,
                        "the column is missing".into(),
                    );
                }
                continue;
            };
            if let Some(t) = rule.data_type
                && column.data_type() != t.data_type()
            {
                report.add(
                    "type",
                    Some(&rule.name),
                    None,
                    format!(
                        "expected {}, found {}",
                        t.data_type().name(),
                        column.data_type().name()
                    ),
                );
            }
            if !rule.nullable
                && let Some(nulls) = &column.nulls
            {
                for (row, _) in nulls.iter().enumerate().filter(|(_, n)| **n) {
                    report.add(
                        "not_null",
                        Some(&rule.name),
                        Some(row as u32),
                        "null in a column that may not have nulls".into(),
                    );
                }
            }
        }
        if config.allow_extra_columns == Some(false) {
            for column in &batch.columns {
                if !config.columns.iter().any(|r| r.name == column.name) {
                    report.add(
                        "no_extra_columns",
                        Some(&column.name),
                        None,
                        "the column is not in the schema".into(),
                    );
                }
            }
        }
        Ok(report.finish())
    }
}

ferry_sdk::export_validator!(SchemaValidator);
