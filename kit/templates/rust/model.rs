//! A model adapter: a nearest-centroid classifier. Training keeps each class's mean feature
//! vector; prediction names the class whose centroid is nearest.

use ferry_sdk::prelude::*;
use ferry_sdk::{ModelInfo, ModelOutput, Task};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

/// The artifact: the features in order, and each class with its centroid.
#[derive(Serialize, Deserialize)]
pub struct Centroids {
    features: Vec<String>,
    classes: Vec<(String, Vec<f64>)>,
}

pub struct NearestCentroid;

impl Plugin for NearestCentroid {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!(env!("CARGO_PKG_NAME"))
            .keywords(["model", "classification"])
            .config_schema(include_str!("../config.schema.json"))
    }
}

/// The numeric features of one row, or `None` where any is null.
fn row_of(columns: &[(&Column, std::borrow::Cow<'_, [f64]>)], row: usize) -> Option<Vec<f64>> {
    columns
        .iter()
        .map(|(c, v)| (!c.is_null(row)).then(|| v[row]))
        .collect()
}

impl Model for NearestCentroid {
    type Predictor = Centroids;

    fn load(artifact: &[u8], config: &str) -> Result<Centroids> {
        parse_config::<Config>(config)?;
        decode_state(artifact, env!("CARGO_PKG_NAME"))
    }

    fn train(features: &Batch, labels: &Column, config: &str) -> Result<Vec<u8>> {
        parse_config::<Config>(config)?;
        let names: Vec<String> = features.schema().into_iter().map(|f| f.name).collect();
        let mut columns = Vec::new();
        for name in &names {
            let column = features.column(name)?;
            columns.push((column, column.numeric()?));
        }
        let mut sums: Vec<(String, Vec<f64>, u64)> = Vec::new();
        for row in 0..features.len() {
            let (Some(label), Some(values)) = (labels.value_string(row), row_of(&columns, row))
            else {
                continue;
            };
            let at = match sums.iter().position(|(l, _, _)| *l == label) {
                Some(i) => i,
                None => {
                    sums.push((label, vec![0.0; names.len()], 0));
                    sums.len() - 1
                }
            };
            let (_, sum, count) = &mut sums[at];
            sum.iter_mut().zip(&values).for_each(|(s, v)| *s += v);
            *count += 1;
        }
        if sums.is_empty() {
            return Err(input_error(
                &labels.name,
                None,
                "no row has a label and every feature",
            ));
        }
        sums.sort_by(|a, b| a.0.cmp(&b.0));
        let classes = sums
            .into_iter()
            .map(|(label, sum, count)| (label, sum.into_iter().map(|s| s / count as f64).collect()))
            .collect();
        encode_state(&Centroids {
            features: names,
            classes,
        })
    }
}

impl Predictor for Centroids {
    fn describe(&self) -> ModelInfo {
        ModelInfo {
            task: if self.classes.len() > 2 {
                Task::MulticlassClassification
            } else {
                Task::BinaryClassification
            },
            inputs: self
                .features
                .iter()
                .map(|name| Field {
                    name: name.clone(),
                    data_type: DataType::Float64,
                    nullable: true,
                })
                .collect(),
            outputs: vec![ModelOutput {
                name: "prediction".into(),
                description: "the class whose centroid is nearest".into(),
            }],
        }
    }

    fn predict(&self, features: &Batch) -> Result<Batch> {
        let mut columns = Vec::new();
        for name in &self.features {
            let column = features.column(name)?;
            columns.push((column, column.numeric()?));
        }
        let mut predictions = Vec::with_capacity(features.len());
        let mut nulls = Vec::with_capacity(features.len());
        for row in 0..features.len() {
            let nearest = row_of(&columns, row).and_then(|x| {
                self.classes
                    .iter()
                    .map(|(label, c)| {
                        let d: f64 = c.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
                        (d, label)
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, label)| label.clone())
            });
            nulls.push(nearest.is_none());
            predictions.push(nearest.unwrap_or_default());
        }
        BatchBuilder::new(features.len())
            .column(Column::text("prediction", predictions).with_nulls(nulls))
            .build()
    }
}

ferry_sdk::export_model!(NearestCentroid);
