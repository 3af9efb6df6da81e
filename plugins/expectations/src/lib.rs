//! `expectations`: checks values against expectations: `min`/`max`, `allowed` categories,
//! `max_null_fraction`, `unique` and `regex` (on text). Every failing row is counted; at most
//! `max_violations` are listed.
//!
//! The rules are checked and their patterns compiled once per configuration: in `prepare`,
//! when the host snapshots the instance after it (contract 0.1.1), so every instance started
//! from the snapshot has them compiled; otherwise at the start of `validate`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ferry_sdk::prelude::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    column: String,
    min: Option<f64>,
    max: Option<f64>,
    allowed: Option<Vec<serde_json::Value>>,
    max_null_fraction: Option<f64>,
    #[serde(default)]
    unique: bool,
    regex: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    expectations: Vec<Expectation>,
    #[serde(default = "default_max")]
    max_violations: usize,
}

fn default_max() -> usize {
    1000
}

fn json_to_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub struct Expectations;

impl Plugin for Expectations {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("expectations")
            .keywords(["data-quality", "ranges", "categories", "regex"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

/// A configuration checked, with its patterns compiled.
struct Rules {
    config: Config,
    patterns: Vec<Option<regex_lite::Regex>>,
}

thread_local! {
    /// The rules `prepare` compiled, with the configuration they came from.
    static PREPARED: RefCell<Option<(String, Rc<Rules>)>> = const { RefCell::new(None) };
}

impl Rules {
    /// The rules of `config`: those `prepare` compiled when it was given the same text.
    fn of(config: &str) -> Result<Rc<Rules>> {
        let prepared = PREPARED.with(|p| {
            p.borrow()
                .as_ref()
                .filter(|(text, _)| text == config)
                .map(|(_, rules)| rules.clone())
        });
        match prepared {
            Some(rules) => Ok(rules),
            None => Ok(Rc::new(Rules::compile(config)?)),
        }
    }

    /// Checks the whole configuration before any data is looked at.
    fn compile(config: &str) -> Result<Rules> {
        let config: Config = parse_config(config)?;
        let mut patterns = Vec::with_capacity(config.expectations.len());
        for (i, e) in config.expectations.iter().enumerate() {
            if let (Some(lo), Some(hi)) = (e.min, e.max)
                && lo > hi
            {
                return Err(config_error(format!(
                    "expectations[{i}] (`{}`): `min` {lo} is above `max` {hi}",
                    e.column
                )));
            }
            if let Some(f) = e.max_null_fraction
                && !(0.0..=1.0).contains(&f)
            {
                return Err(config_error(format!(
                    "expectations[{i}] (`{}`): `max_null_fraction` must be within 0..=1",
                    e.column
                )));
            }
            patterns.push(match &e.regex {
                Some(p) => Some(
                    regex_lite::Regex::new(&format!("^(?:{p})$")).map_err(|err| {
                        config_error(format!(
                            "expectations[{i}] (`{}`): invalid `regex`: {err}",
                            e.column
                        ))
                    })?,
                ),
                None => None,
            });
        }
        Ok(Rules { config, patterns })
    }
}

impl Validator for Expectations {
    fn prepare(config: &str) -> Result<()> {
        let rules = Rc::new(Rules::compile(config)?);
        PREPARED.with(|p| *p.borrow_mut() = Some((config.to_string(), rules)));
        Ok(())
    }

    fn validate(config: &str, batch: &Batch) -> Result<Report> {
        let rules = Rules::of(config)?;
        let Rules { config, patterns } = &*rules;
        let mut report = ReportBuilder::new(batch.num_rows, config.max_violations);
        for (e, pattern) in config.expectations.iter().zip(patterns) {
            let Some(column) = batch.get(&e.column) else {
                report.add(
                    "column_exists",
                    Some(&e.column),
                    None,
                    "the column is missing".into(),
                );
                continue;
            };
            let name = Some(e.column.as_str());
            if e.min.is_some() || e.max.is_some() {
                match column.numeric() {
                    Ok(values) => {
                        for (row, v) in values.iter().enumerate() {
                            if column.is_null(row) {
                                continue;
                            }
                            if let Some(lo) = e.min
                                && (*v < lo || v.is_nan())
                            {
                                report.add(
                                    "min",
                                    name,
                                    Some(row as u32),
                                    format!("{v} is below the minimum {lo}"),
                                );
                            }
                            if let Some(hi) = e.max
                                && (*v > hi || v.is_nan())
                            {
                                report.add(
                                    "max",
                                    name,
                                    Some(row as u32),
                                    format!("{v} is above the maximum {hi}"),
                                );
                            }
                        }
                    }
                    Err(_) => report.add(
                        "min_max",
                        name,
                        None,
                        "min/max needs a numeric column".into(),
                    ),
                }
            }
            if let Some(allowed) = &e.allowed {
                let allowed: Vec<String> = allowed.iter().map(json_to_text).collect();
                for row in 0..column.len() {
                    if let Some(v) = column.value_string(row)
                        && !allowed.contains(&v)
                    {
                        report.add(
                            "allowed",
                            name,
                            Some(row as u32),
                            format!("{v:?} is not one of the allowed values"),
                        );
                    }
                }
            }
            if let Some(max) = e.max_null_fraction {
                let rows = column.len().max(1);
                let fraction = column.null_count() as f64 / rows as f64;
                if fraction > max {
                    report.add(
                        "max_null_fraction",
                        name,
                        None,
                        format!(
                            "{:.4} of the values are null, more than the {max} allowed",
                            fraction
                        ),
                    );
                }
            }
            if e.unique {
                let mut first_seen: HashMap<String, usize> = HashMap::new();
                for row in 0..column.len() {
                    if let Some(v) = column.value_string(row) {
                        if let Some(first) = first_seen.get(&v) {
                            report.add(
                                "unique",
                                name,
                                Some(row as u32),
                                format!("{v:?} already appears at row {first}"),
                            );
                        } else {
                            first_seen.insert(v, row);
                        }
                    }
                }
            }
            if let Some(re) = pattern {
                match column.text_view() {
                    Ok(view) => {
                        for (row, v) in view.iter().enumerate() {
                            if let Some(v) = v
                                && !re.is_match(v)
                            {
                                report.add(
                                    "regex",
                                    name,
                                    Some(row as u32),
                                    format!("{v:?} does not match the pattern"),
                                );
                            }
                        }
                    }
                    Err(_) => report.add("regex", name, None, "regex needs a text column".into()),
                }
            }
        }
        Ok(report.finish())
    }
}

ferry_sdk::export_validator!(Expectations);
