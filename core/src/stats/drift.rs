//! Comparing current data with a reference profile: one test per column, chosen as Evidently
//! chooses it unless the caller says otherwise, and the dataset verdict from the share of
//! columns that drift.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::profile::{ColumnProfile, Role};
use super::sample::{Aligned, ColumnKind, Sample};
use super::stattest::{Method, binned, sturges_edges};
use ferry_runtime::bindings::types::{Batch, ColumnData};

/// The report format.
pub const DRIFT_FORMAT: &str = "ferry-drift/1";

/// At most this many categories are drawn per column; the rest are summed as "other".
const MAX_DRAWN_CATEGORIES: usize = 40;

/// What to test and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DriftOptions {
    /// One method for every column (Evidently's default choice per column when absent).
    #[serde(default)]
    pub method: Option<Method>,
    /// A method for named columns.
    #[serde(default)]
    pub column_methods: BTreeMap<String, Method>,
    /// One threshold for every column (each method's default when absent).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// A threshold for named columns.
    #[serde(default)]
    pub column_thresholds: BTreeMap<String, f64>,
    /// The share of drifted columns at which the dataset drifts (0.5 when absent).
    #[serde(default)]
    pub drift_share: Option<f64>,
    /// Only these columns (every profiled one when absent).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

/// Why a drift check could not run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DriftError {
    /// The current data lacks a profiled column.
    #[error(
        "the current data has no column `{column}` (the reference has {expected}); it has {found}"
    )]
    MissingColumn {
        /// The missing column.
        column: String,
        /// The reference's columns.
        expected: String,
        /// The current data's columns.
        found: String,
    },
    /// A column is numerical on one side and categorical on the other.
    #[error("column `{column}`: the reference is {expected}, the current data is {found}")]
    WrongType {
        /// The column.
        column: String,
        /// The reference's type.
        expected: String,
        /// The current data's type.
        found: String,
    },
    /// A named column is not in the reference.
    #[error("column `{column}` is not in the reference profile; it has {available}")]
    UnknownColumn {
        /// The column.
        column: String,
        /// The profiled columns.
        available: String,
    },
    /// A test cannot run on a column.
    #[error("column `{column}`: {message}")]
    Test {
        /// The column.
        column: String,
        /// What went wrong.
        message: String,
    },
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
}

/// The reference and current shares drawn for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin edges (numerical columns: one more than the shares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<f64>>,
    /// Category labels (categorical columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// The reference's share per bin or category.
    pub reference: Vec<f64>,
    /// The current data's share per bin or category.
    pub current: Vec<f64>,
}

/// The verdict on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// The column.
    pub column: String,
    /// Input or feature.
    pub role: Role,
    /// Numerical or categorical.
    pub kind: ColumnKind,
    /// The test.
    pub method: Method,
    /// Its score: a p-value or a distance.
    pub score: f64,
    /// The threshold it was held to.
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
    /// Values present in the reference.
    pub reference_values: u64,
    /// Values present in the current data.
    pub current_values: u64,
    /// Missing values (null, NaN, infinite) in the current data, left out of the test.
    pub current_missing: u64,
    /// Distinct values in both together.
    pub distinct: usize,
    /// The two distributions, for drawing.
    pub histogram: Histogram,
}

/// A profiled column that was not tested, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The column.
    pub column: String,
    /// Why.
    pub reason: String,
}

/// The drift report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// [`DRIFT_FORMAT`].
    pub format: String,
    /// What the reference is (a model version or a file).
    pub reference: String,
    /// Rows in the current data.
    pub current_rows: u64,
    /// One verdict per tested column.
    pub columns: Vec<ColumnDrift>,
    /// Columns not tested.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// Their share of the tested columns.
    pub share: f64,
    /// The share at which the dataset drifts.
    pub drift_share: f64,
    /// Whether the dataset drifted.
    pub dataset_drift: bool,
}

/// One set of profiled columns and the current data to hold against them: the raw inputs
/// against the current file, or the model's features against what the pinned transforms
/// computed from it.
pub type Part<'a> = (&'a [&'a ColumnProfile], Current<'a>);

/// Current data: typed columns, or Arrow record batches read straight from a file (no copy of
/// text values).
#[derive(Clone, Copy)]
pub enum Current<'a> {
    /// Typed columns.
    Batch(&'a Batch),
    /// Arrow record batches of one schema.
    Arrow(&'a [arrow_array::RecordBatch]),
}

impl Current<'_> {
    fn rows(&self) -> u64 {
        match self {
            Current::Batch(b) => u64::from(b.num_rows),
            Current::Arrow(r) => r.iter().map(|b| b.num_rows() as u64).sum(),
        }
    }

    fn names(&self) -> Vec<String> {
        match self {
            Current::Batch(b) => b.columns.iter().map(|c| c.name.clone()).collect(),
            Current::Arrow(r) => r
                .first()
                .map(|b| {
                    b.schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The sample of column `name`, its missing values and whether it holds integers.
    fn sample(&self, name: &str) -> Option<Result<(Sample, u64, bool), String>> {
        match self {
            Current::Batch(b) => b.columns.iter().find(|c| c.name == name).map(|c| {
                let (s, m) = Sample::of(c);
                Ok((s, m, matches!(c.data, ColumnData::Int64(_))))
            }),
            Current::Arrow(r) => {
                let first = r.first()?;
                let i = first.schema().index_of(name).ok()?;
                let arrays: Vec<&dyn arrow_array::Array> =
                    r.iter().map(|b| b.column(i).as_ref()).collect();
                Some(Sample::of_arrays(&arrays))
            }
        }
    }
}

/// Compares current data with the profiled columns of each part, in order.
pub fn compare(
    reference_name: &str,
    parts: &[Part<'_>],
    options: &DriftOptions,
) -> Result<DriftReport, DriftError> {
    let drift_share = options.drift_share.unwrap_or(0.5);
    if !(drift_share > 0.0 && drift_share <= 1.0) {
        return Err(DriftError::Options(format!(
            "the drift share must be in (0, 1], not {drift_share}"
        )));
    }
    for t in options
        .threshold
        .iter()
        .chain(options.column_thresholds.values())
    {
        if !t.is_finite() || *t < 0.0 {
            return Err(DriftError::Options(format!(
                "a threshold must be a finite number of at least 0, not {t}"
            )));
        }
    }
    let profiled = || parts.iter().flat_map(|(cols, _)| cols.iter());
    let named = options
        .columns
        .iter()
        .flatten()
        .chain(options.column_methods.keys())
        .chain(options.column_thresholds.keys());
    for column in named {
        if !profiled().any(|c| &c.name == column) {
            return Err(DriftError::UnknownColumn {
                column: column.clone(),
                available: names(&mut profiled().map(|c| c.name.as_str())),
            });
        }
    }
    let mut columns = Vec::new();
    let mut skipped = Vec::new();
    let mut current_rows = 0;
    for (reference, current) in parts {
        current_rows = current_rows.max(current.rows());
        let (c, s) = compare_part(reference, current, options)?;
        columns.extend(c);
        skipped.extend(s);
    }
    let drifted_columns = columns.iter().filter(|c| c.drifted).count();
    let share = if columns.is_empty() {
        0.0
    } else {
        drifted_columns as f64 / columns.len() as f64
    };
    Ok(DriftReport {
        format: DRIFT_FORMAT.into(),
        reference: reference_name.into(),
        current_rows,
        columns,
        skipped,
        drifted_columns,
        share,
        drift_share,
        dataset_drift: drifted_columns > 0 && share >= drift_share,
    })
}

fn names(cols: &mut dyn Iterator<Item = &str>) -> String {
    cols.map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

type PartResult = (Vec<ColumnDrift>, Vec<Skipped>);

fn compare_part(
    reference: &[&ColumnProfile],
    current: &Current<'_>,
    options: &DriftOptions,
) -> Result<PartResult, DriftError> {
    let chosen: Vec<&ColumnProfile> = reference
        .iter()
        .copied()
        .filter(|c| {
            options
                .columns
                .as_ref()
                .is_none_or(|only| only.contains(&c.name))
        })
        .collect();
    let present = current.names();
    for profile in &chosen {
        if !present.contains(&profile.name) {
            return Err(DriftError::MissingColumn {
                column: profile.name.clone(),
                expected: names(&mut chosen.iter().map(|c| c.name.as_str())),
                found: names(&mut present.iter().map(String::as_str)),
            });
        }
    }

    let results: Vec<Result<Result<ColumnDrift, Skipped>, DriftError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = chosen
                .iter()
                .map(|&profile| {
                    scope.spawn(move || {
                        let Some(reference) = &profile.sample else {
                            return Ok(Err(Skipped {
                                column: profile.name.clone(),
                                reason: "an identifier: every reference value is distinct".into(),
                            }));
                        };
                        let (sample, missing, integer) = match current.sample(&profile.name) {
                            Some(Ok(s)) => s,
                            Some(Err(message)) => {
                                return Err(DriftError::Test {
                                    column: profile.name.clone(),
                                    message,
                                });
                            }
                            None => {
                                return Err(DriftError::MissingColumn {
                                    column: profile.name.clone(),
                                    expected: String::new(),
                                    found: String::new(),
                                });
                            }
                        };
                        let integer = profile.is_integer() && integer;
                        column_drift(profile, reference, &sample, missing, integer, options).map(Ok)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(DriftError::Options("a drift test panicked".into()))
                    })
                })
                .collect()
        });
    let mut columns = Vec::new();
    let mut skipped = Vec::new();
    for r in results {
        match r? {
            Ok(c) => columns.push(c),
            Err(s) => skipped.push(s),
        }
    }
    Ok((columns, skipped))
}

fn column_drift(
    profile: &ColumnProfile,
    reference: &Sample,
    current: &Sample,
    current_missing: u64,
    integer: bool,
    options: &DriftOptions,
) -> Result<ColumnDrift, DriftError> {
    let wrong = |found: &str| DriftError::WrongType {
        column: profile.name.clone(),
        expected: format!("{} ({})", profile.data_type, kind_name(reference.kind())),
        found: found.into(),
    };
    let aligned =
        Aligned::of(reference, current).ok_or_else(|| wrong(kind_name(current.kind())))?;
    let test_error = |message: String| DriftError::Test {
        column: profile.name.clone(),
        message,
    };
    if aligned.n_current == 0 {
        return Err(test_error(
            "every current value is missing (null, NaN or infinite)".into(),
        ));
    }
    let method = options
        .column_methods
        .get(&profile.name)
        .copied()
        .or(options.method)
        .unwrap_or_else(|| Method::default_for(profile.kind(), aligned.n_reference, aligned.len()));
    let threshold = options
        .column_thresholds
        .get(&profile.name)
        .copied()
        .or(options.threshold)
        .unwrap_or_else(|| method.default_threshold());
    let score = method.score(&aligned, integer).map_err(test_error)?;
    Ok(ColumnDrift {
        column: profile.name.clone(),
        role: profile.role,
        kind: profile.kind(),
        method,
        score,
        threshold,
        drifted: method.drifted(score, threshold),
        reference_values: aligned.n_reference,
        current_values: aligned.n_current,
        current_missing,
        distinct: aligned.len(),
        histogram: histogram(&aligned, integer),
    })
}

fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Numerical => "numerical",
        ColumnKind::Categorical => "categorical",
    }
}

/// Sturges bins for numbers (the same bins the Jensen–Shannon test uses), categories by
/// reference share otherwise.
fn histogram(aligned: &Aligned, integer: bool) -> Histogram {
    if let Some(values) = &aligned.values
        && aligned.reference_distinct() > 20
    {
        let (reference, current) = binned(aligned, integer, false);
        return Histogram {
            edges: Some(sturges_edges(
                values,
                aligned.n_reference + aligned.n_current,
                integer,
            )),
            labels: None,
            reference,
            current,
        };
    }
    let (reference, current) = binned(aligned, integer, false);
    let keys: Vec<String> = match (&aligned.values, &aligned.labels) {
        (Some(v), _) => v.iter().map(|x| x.to_string()).collect(),
        (_, Some(l)) => l.clone(),
        _ => Vec::new(),
    };
    let mut order: Vec<usize> = (0..keys.len()).collect();
    if keys.len() > MAX_DRAWN_CATEGORIES {
        order.sort_by(|&a, &b| reference[b].total_cmp(&reference[a]));
        let rest = order.split_off(MAX_DRAWN_CATEGORIES - 1);
        let mut labels: Vec<String> = order.iter().map(|&i| keys[i].clone()).collect();
        let mut r: Vec<f64> = order.iter().map(|&i| reference[i]).collect();
        let mut c: Vec<f64> = order.iter().map(|&i| current[i]).collect();
        labels.push(format!("{} others", rest.len()));
        r.push(rest.iter().map(|&i| reference[i]).sum());
        c.push(rest.iter().map(|&i| current[i]).sum());
        return Histogram {
            edges: None,
            labels: Some(labels),
            reference: r,
            current: c,
        };
    }
    Histogram {
        edges: None,
        labels: Some(keys),
        reference,
        current,
    }
}
