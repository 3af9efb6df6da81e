//! `standard-scaler`: scales numeric columns to zero mean and unit variance.
//!
//! Analysis streams over batches with Chan's parallel update of count, mean and M2, so data
//! larger than memory can be analysed; nulls are skipped. A constant column (standard
//! deviation 0) is only centred, as scikit-learn does.

use ferry_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Columns to scale; all numeric columns when absent.
    pub columns: Option<Vec<String>>,
    /// Subtract the mean (default true).
    #[serde(default = "yes")]
    pub with_mean: bool,
    /// Divide by the standard deviation (default true).
    #[serde(default = "yes")]
    pub with_std: bool,
}

fn yes() -> bool {
    true
}

/// Running moments of one column.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Moments {
    /// The column.
    pub name: String,
    /// Non-null values seen.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// Adds a chunk of values (nulls already removed) with Chan's parallel formula.
    pub fn update(&mut self, values: impl Iterator<Item = f64>) {
        let (mut n, mut mean, mut m2) = (0u64, 0.0f64, 0.0f64);
        for x in values {
            n += 1;
            let d = x - mean;
            mean += d / n as f64;
            m2 += d * (x - mean);
        }
        if n == 0 {
            return;
        }
        let total = self.count + n;
        let delta = mean - self.mean;
        self.mean += delta * n as f64 / total as f64;
        self.m2 += m2 + delta * delta * self.count as f64 * n as f64 / total as f64;
        self.count = total;
    }

    /// The population standard deviation, as scikit-learn's `StandardScaler` uses.
    pub fn std(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.m2 / self.count as f64).sqrt()
        }
    }
}

/// The learned state: per column, the offset and the scale applied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// One entry per scaled column.
    pub columns: Vec<ColumnScale>,
}

/// How one column is scaled: `(x - offset) / scale`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnScale {
    /// The column.
    pub name: String,
    /// Subtracted from every value.
    pub offset: f64,
    /// Every value is divided by it (never 0).
    pub scale: f64,
    /// Values seen in analysis.
    pub count: u64,
}

impl State {
    /// The state for the given moments and options.
    pub fn from_moments(moments: &[Moments], with_mean: bool, with_std: bool) -> Self {
        let columns = moments
            .iter()
            .map(|m| {
                let std = m.std();
                ColumnScale {
                    name: m.name.clone(),
                    offset: if with_mean { m.mean } else { 0.0 },
                    scale: if with_std && std > 0.0 && std.is_finite() {
                        std
                    } else {
                        1.0
                    },
                    count: m.count,
                }
            })
            .collect();
        State { columns }
    }

    /// Scales `values` in place.
    pub fn scale_in_place(scale: &ColumnScale, values: &mut [f64]) {
        let inv = 1.0 / scale.scale;
        for v in values {
            *v = (*v - scale.offset) * inv;
        }
    }

    /// Applies the state to a batch: one float64 column out per scaled column.
    pub fn apply(&self, batch: &Batch) -> Result<Batch> {
        let mut out = BatchBuilder::new(batch.len());
        for scale in &self.columns {
            let column = batch.column(&scale.name)?;
            let mut values = column.numeric()?.into_owned();
            Self::scale_in_place(scale, &mut values);
            out.push(Column::float64(&scale.name, values).with_nulls_of(column));
        }
        out.build()
    }
}

fn selected(config: &Config, input: &Schema) -> Result<Vec<String>> {
    numeric_columns(config.columns.as_deref(), input)
}

/// The analysis in progress.
pub struct ScalerAnalyzer {
    config: Config,
    moments: Vec<Moments>,
}

impl Analyzer for ScalerAnalyzer {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        for m in &mut self.moments {
            let column = batch.column(&m.name)?;
            let values = column.numeric()?;
            for (row, v) in values.iter().enumerate() {
                if !column.is_null(row) && !v.is_finite() {
                    return Err(input_error(
                        &m.name,
                        Some(row as u32),
                        format!("{v} is not a finite number"),
                    ));
                }
            }
            m.update(
                values
                    .iter()
                    .enumerate()
                    .filter(|(row, _)| !column.is_null(*row))
                    .map(|(_, v)| *v),
            );
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let state = State::from_moments(&self.moments, self.config.with_mean, self.config.with_std);
        encode_state(&state)
    }
}

/// A scaler with its learned state.
pub struct ScalerTransformer {
    state: State,
}

impl Transformer for ScalerTransformer {
    fn apply(&self, batch: &Batch) -> Result<Batch> {
        self.state.apply(batch)
    }
}

/// The plugin.
pub struct StandardScaler;

impl Plugin for StandardScaler {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("standard-scaler")
            .keywords(["scaling", "normalization", "numeric"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Transform for StandardScaler {
    type Analyzer = ScalerAnalyzer;
    type Transformer = ScalerTransformer;

    fn new_analyzer(config: &str, input: Schema) -> Result<ScalerAnalyzer> {
        let config: Config = parse_config(config)?;
        let moments = selected(&config, &input)?
            .into_iter()
            .map(|name| Moments {
                name,
                ..Moments::default()
            })
            .collect();
        Ok(ScalerAnalyzer { config, moments })
    }

    fn new_transformer(_config: &str, state: &[u8]) -> Result<ScalerTransformer> {
        Ok(ScalerTransformer {
            state: decode_state(state, "standard-scaler")?,
        })
    }

    fn output_schema(config: &str, input: &Schema) -> Result<Schema> {
        let config: Config = parse_config(config)?;
        Ok(replaced_columns(
            selected(&config, input)?,
            input,
            DataType::Float64,
        ))
    }
}

ferry_sdk::export_transform!(StandardScaler);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_moments_equal_one_pass() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| (i as f64 * 0.37).sin() * 10.0 + 3.0)
            .collect();
        let mut whole = Moments::default();
        whole.update(xs.iter().copied());
        let mut parts = Moments::default();
        for chunk in xs.chunks(37) {
            parts.update(chunk.iter().copied());
        }
        assert_eq!(whole.count, parts.count);
        assert!((whole.mean - parts.mean).abs() < 1e-12);
        assert!((whole.std() - parts.std()).abs() < 1e-12);
    }
}
