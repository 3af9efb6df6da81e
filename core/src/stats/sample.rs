//! One column's values reduced to what every drift test needs: its distinct values, sorted,
//! with how often each occurs. For a numeric column this is its exact empirical distribution,
//! so the tests computed from it equal the ones computed from the raw values.

use std::collections::HashMap;

use arrow_array::Array;
use serde::{Deserialize, Serialize};

use ferry_runtime::bindings::types::{Column, ColumnData};

/// How a column is compared: numbers by their distribution, labels by their counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// `float64` and `int64` columns.
    Numerical,
    /// `boolean` and `text` columns.
    Categorical,
}

/// The distinct values of a column with their counts, sorted; missing values left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Sample {
    /// Finite numbers in increasing order.
    Numerical {
        /// The distinct values.
        values: Vec<f64>,
        /// How often each occurs.
        counts: Vec<u64>,
    },
    /// Labels in byte order (`false` before `true` for booleans).
    Categorical {
        /// The distinct labels.
        labels: Vec<String>,
        /// How often each occurs.
        counts: Vec<u64>,
    },
}

impl Sample {
    /// Reduces a column; nulls, NaN and infinities are missing, as Evidently drops them.
    /// Returns the sample and the number of missing values.
    pub fn of(column: &Column) -> (Self, u64) {
        let present = |i: usize| column.nulls.as_ref().is_none_or(|m| !m[i]);
        match &column.data {
            ColumnData::Float64(v) => {
                let mut xs: Vec<f64> = v
                    .iter()
                    .enumerate()
                    .filter(|&(i, x)| present(i) && x.is_finite())
                    .map(|(_, &x)| x)
                    .collect();
                let missing = (v.len() - xs.len()) as u64;
                (numbers(&mut xs), missing)
            }
            ColumnData::Int64(v) => {
                let mut xs: Vec<f64> = v
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| present(i))
                    .map(|(_, &x)| x as f64)
                    .collect();
                let missing = (v.len() - xs.len()) as u64;
                (numbers(&mut xs), missing)
            }
            ColumnData::Boolean(v) => {
                let mut counts = [0u64; 2];
                let mut missing = 0;
                for (i, &b) in v.iter().enumerate() {
                    if present(i) {
                        counts[usize::from(b)] += 1;
                    } else {
                        missing += 1;
                    }
                }
                let (labels, counts) = [("false", counts[0]), ("true", counts[1])]
                    .into_iter()
                    .filter(|&(_, c)| c > 0)
                    .map(|(l, c)| (l.to_string(), c))
                    .unzip();
                (Sample::Categorical { labels, counts }, missing)
            }
            ColumnData::Text(v) => {
                let mut seen: HashMap<&str, u64> = HashMap::new();
                let mut missing = 0;
                for (i, s) in v.iter().enumerate() {
                    if present(i) {
                        *seen.entry(s.as_str()).or_default() += 1;
                    } else {
                        missing += 1;
                    }
                }
                let mut pairs: Vec<(&str, u64)> = seen.into_iter().collect();
                pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let (labels, counts) = pairs.into_iter().map(|(l, c)| (l.to_string(), c)).unzip();
                (Sample::Categorical { labels, counts }, missing)
            }
        }
    }

    /// Reduces one column given as Arrow arrays (a file's record batches), without copying
    /// text values. Returns the sample, the number of missing values and whether the column
    /// holds integers.
    pub fn of_arrays(arrays: &[&dyn Array]) -> Result<(Self, u64, bool), String> {
        use arrow_array::cast::AsArray;
        use arrow_schema::DataType as T;
        let Some(first) = arrays.first() else {
            return Ok((numbers(&mut []), 0, false));
        };
        let total: usize = arrays.iter().map(|a| a.len()).sum();
        match first.data_type() {
            T::Float16
            | T::Float32
            | T::Float64
            | T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::UInt64 => {
                let integer = first.data_type().is_integer();
                let mut xs: Vec<f64> = Vec::with_capacity(total);
                for a in arrays {
                    let f = arrow_cast::cast(*a, &T::Float64).map_err(|e| e.to_string())?;
                    let f = f.as_primitive::<arrow_array::types::Float64Type>();
                    match f.nulls() {
                        None => xs.extend(f.values().iter().copied().filter(|x| x.is_finite())),
                        Some(n) => xs.extend(
                            f.values()
                                .iter()
                                .zip(n.iter())
                                .filter(|(x, valid)| *valid && x.is_finite())
                                .map(|(x, _)| *x),
                        ),
                    }
                }
                let missing = (total - xs.len()) as u64;
                Ok((numbers(&mut xs), missing, integer))
            }
            T::Boolean => {
                let mut counts = [0u64; 2];
                for a in arrays {
                    for v in a.as_boolean().iter().flatten() {
                        counts[usize::from(v)] += 1;
                    }
                }
                let missing = total as u64 - counts[0] - counts[1];
                let (labels, counts) = [("false", counts[0]), ("true", counts[1])]
                    .into_iter()
                    .filter(|&(_, c)| c > 0)
                    .map(|(l, c)| (l.to_string(), c))
                    .unzip();
                Ok((Sample::Categorical { labels, counts }, missing, false))
            }
            _ => {
                let texts: Vec<arrow_array::ArrayRef> = arrays
                    .iter()
                    .map(|a| arrow_cast::cast(*a, &T::Utf8View).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?;
                let mut seen: HashMap<&str, u64> = HashMap::new();
                let mut present = 0u64;
                for a in &texts {
                    for v in a.as_string_view().iter().flatten() {
                        *seen.entry(v).or_default() += 1;
                        present += 1;
                    }
                }
                let mut pairs: Vec<(&str, u64)> = seen.into_iter().collect();
                pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let (labels, counts) = pairs.into_iter().map(|(l, c)| (l.to_string(), c)).unzip();
                Ok((
                    Sample::Categorical { labels, counts },
                    total as u64 - present,
                    false,
                ))
            }
        }
    }

    /// Numerical or categorical.
    pub fn kind(&self) -> ColumnKind {
        match self {
            Sample::Numerical { .. } => ColumnKind::Numerical,
            Sample::Categorical { .. } => ColumnKind::Categorical,
        }
    }

    /// The counts, in key order.
    pub fn counts(&self) -> &[u64] {
        match self {
            Sample::Numerical { counts, .. } | Sample::Categorical { counts, .. } => counts,
        }
    }

    /// The values that are present.
    pub fn total(&self) -> u64 {
        self.counts().iter().sum()
    }

    /// The number of distinct values.
    pub fn distinct(&self) -> usize {
        self.counts().len()
    }
}

/// Sorts, then folds equal values into counts.
fn numbers(xs: &mut [f64]) -> Sample {
    xs.sort_unstable_by(f64::total_cmp);
    let mut values = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for &x in xs.iter() {
        // -0.0 and 0.0 are one value, as they are to pandas.
        match values.last() {
            Some(&last) if last == x => {
                if let Some(c) = counts.last_mut() {
                    *c += 1;
                }
            }
            _ => {
                values.push(x);
                counts.push(1);
            }
        }
    }
    Sample::Numerical { values, counts }
}

/// Two samples of one column over the union of their keys, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    /// The union of the distinct values, when the column is numerical.
    pub values: Option<Vec<f64>>,
    /// The union of the distinct labels, when the column is categorical.
    pub labels: Option<Vec<String>>,
    /// The reference's count of each key.
    pub reference: Vec<u64>,
    /// The current data's count of each key.
    pub current: Vec<u64>,
    /// Present values in the reference.
    pub n_reference: u64,
    /// Present values in the current data.
    pub n_current: u64,
}

impl Aligned {
    /// Merges two samples of the same kind; `None` when the kinds differ.
    pub fn of(reference: &Sample, current: &Sample) -> Option<Self> {
        let n_reference = reference.total();
        let n_current = current.total();
        match (reference, current) {
            (
                Sample::Numerical {
                    values: rv,
                    counts: rc,
                },
                Sample::Numerical {
                    values: cv,
                    counts: cc,
                },
            ) => {
                let (values, reference, current) = merge(rv, rc, cv, cc, |a: &f64, b: &f64| {
                    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
                });
                Some(Self {
                    values: Some(values),
                    labels: None,
                    reference,
                    current,
                    n_reference,
                    n_current,
                })
            }
            (
                Sample::Categorical {
                    labels: rl,
                    counts: rc,
                },
                Sample::Categorical {
                    labels: cl,
                    counts: cc,
                },
            ) => {
                let (labels, reference, current) =
                    merge(rl, rc, cl, cc, |a: &String, b: &String| a.cmp(b));
                Some(Self {
                    values: None,
                    labels: Some(labels),
                    reference,
                    current,
                    n_reference,
                    n_current,
                })
            }
            _ => None,
        }
    }

    /// The number of distinct keys in both together.
    pub fn len(&self) -> usize {
        self.reference.len()
    }

    /// Whether neither side has a value.
    pub fn is_empty(&self) -> bool {
        self.reference.is_empty()
    }

    /// The number of distinct keys in the reference.
    pub fn reference_distinct(&self) -> usize {
        self.reference.iter().filter(|&&c| c > 0).count()
    }
}

type Merged<K> = (Vec<K>, Vec<u64>, Vec<u64>);

fn merge<K: Clone>(
    a: &[K],
    ac: &[u64],
    b: &[K],
    bc: &[u64],
    cmp: impl Fn(&K, &K) -> std::cmp::Ordering,
) -> Merged<K> {
    use std::cmp::Ordering;
    let mut keys = Vec::with_capacity(a.len().max(b.len()));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => cmp(x, y),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                keys.push(a[i].clone());
                left.push(ac[i]);
                right.push(0);
                i += 1;
            }
            Ordering::Greater => {
                keys.push(b[j].clone());
                left.push(0);
                right.push(bc[j]);
                j += 1;
            }
            Ordering::Equal => {
                keys.push(a[i].clone());
                left.push(ac[i]);
                right.push(bc[j]);
                i += 1;
                j += 1;
            }
        }
    }
    (keys, left, right)
}
