//! The prediction log read back: a model's segments within a time window, merged into one
//! table and written as Parquet or CSV (`ferry predictions export`).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use ferry_registry::{PredictionSegment, Registry, RegistryError};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Why the log could not be read back or written out.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The model, version or a time bound is not what was expected; the message names it.
    #[error("{0}")]
    Window(String),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A segment cannot be read (and corrupt segments are not skipped).
    #[error(
        "segment {} ({model} version {}, {} rows, {}..{} ms) cannot be read: {why}; pass --skip-corrupt to export the others",
        segment.digest, segment.version, segment.rows, segment.first_at, segment.last_at
    )]
    Corrupt {
        /// The segment.
        segment: Box<PredictionSegment>,
        /// Its model.
        model: String,
        /// What is wrong with it.
        why: String,
    },
    /// A segment's rows have no usable timestamp column, or the segments do not merge.
    #[error("{0}")]
    Table(String),
    /// Nothing was logged in the window.
    #[error("no logged predictions of {0} in that window")]
    Empty(String),
    /// The output file could not be written.
    #[error("{path}: {why}")]
    Write {
        /// The file.
        path: String,
        /// What failed.
        why: String,
    },
}

/// Which part of a model's log: every version or one, answered within `[since, until]` (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The model.
    pub model: String,
    /// One version, or every one.
    pub version: Option<i64>,
    /// Only requests answered at or after this time (ms since the epoch).
    pub since: Option<i64>,
    /// Only requests answered at or before this time.
    pub until: Option<i64>,
}

impl Window {
    /// Parses `NAME` or `NAME@VERSION` and the bounds, each RFC 3339 or ms since the epoch;
    /// an error names the flag (`--since`, `--until`) that is wrong.
    pub fn parse(
        model: &str,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Self, ExportError> {
        let (name, version) = match model.split_once('@') {
            Some((n, v)) => (
                n.to_string(),
                Some(v.parse::<i64>().map_err(|_| {
                    ExportError::Window(format!(
                        "{model:?}: expected NAME or NAME@VERSION (a number)"
                    ))
                })?),
            ),
            None => (model.to_string(), None),
        };
        Ok(Window {
            model: name,
            version,
            since: time("--since", since)?,
            until: time("--until", until)?,
        })
    }

    /// The segments the window covers, as the registry lists them.
    pub async fn segments(
        &self,
        registry: &Registry,
    ) -> Result<Vec<PredictionSegment>, ExportError> {
        Ok(registry
            .prediction_segments(&self.model, self.version, self.since, self.until)
            .await?)
    }

    /// The rows of `segments` within the window, merged into one table (see
    /// [`merge_segments`]). With `skip_corrupt`, a segment that cannot be read is passed to
    /// `skipped` with the reason instead of failing the export.
    pub async fn read(
        &self,
        registry: &Registry,
        segments: &[PredictionSegment],
        skip_corrupt: bool,
        mut skipped: impl FnMut(&PredictionSegment, &str),
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ExportError> {
        let mut read_back = Vec::new();
        for s in segments {
            match read_segment(registry, s).await {
                Ok(read) => {
                    for b in read {
                        read_back.push(ReadSegment {
                            batch: self.rows_of(&b).map_err(|e| {
                                ExportError::Table(format!("segment {}: {e}", s.digest))
                            })?,
                            model: self.model.clone(),
                            version: s.version,
                        });
                    }
                }
                Err(why) if skip_corrupt => skipped(s, &why),
                Err(why) => {
                    return Err(ExportError::Corrupt {
                        segment: Box::new(s.clone()),
                        model: self.model.clone(),
                        why,
                    });
                }
            }
        }
        if read_back.is_empty() {
            return Err(ExportError::Empty(match self.version {
                Some(v) => format!("{}@{v}", self.model),
                None => self.model.clone(),
            }));
        }
        merge_segments(read_back)
            .map_err(|e| ExportError::Table(format!("the log of {}: {e}", self.model)))
    }

    /// The rows of a segment's batch answered within the window.
    fn rows_of(&self, b: &RecordBatch) -> Result<RecordBatch, String> {
        if self.since.is_none() && self.until.is_none() {
            return Ok(b.clone());
        }
        let at = b
            .column_by_name("at")
            .and_then(|a| a.as_any().downcast_ref::<TimestampMillisecondArray>())
            .ok_or("it has no `at` timestamp column")?;
        let keep: BooleanArray = (0..at.len())
            .map(|i| {
                let t = at.value(i);
                Some(self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u))
            })
            .collect();
        arrow_select::filter::filter_record_batch(b, &keep).map_err(|e| e.to_string())
    }
}

/// A time bound: ms since the epoch or RFC 3339.
fn time(flag: &str, value: Option<&str>) -> Result<Option<i64>, ExportError> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    arrow_cast::parse::string_to_timestamp_nanos(v)
        .map(|ns| Some(ns.div_euclid(1_000_000)))
        .map_err(|e| {
            ExportError::Window(format!(
                "{flag} {v:?}: expected RFC 3339 (2026-11-30T10:00:00Z) or ms since the epoch: {e}"
            ))
        })
}

/// A segment's record batches, or why it cannot be read.
async fn read_segment(
    registry: &Registry,
    s: &PredictionSegment,
) -> Result<Vec<RecordBatch>, String> {
    let bytes = registry
        .blobs()
        .get(&s.digest)
        .await
        .map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Writes a table to `out`: CSV when its extension is `.csv`, Parquet otherwise.
pub fn write_table(
    out: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ExportError> {
    let failed = |e: &dyn std::fmt::Display| ExportError::Write {
        path: out.display().to_string(),
        why: e.to_string(),
    };
    let file = std::fs::File::create(out).map_err(|e| failed(&e))?;
    match out.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let mut w = arrow_csv::Writer::new(file);
            for b in batches {
                w.write(b).map_err(|e| failed(&e))?;
            }
        }
        _ => {
            let mut w = ArrowWriter::try_new(file, schema, None).map_err(|e| failed(&e))?;
            for b in batches {
                w.write(b).map_err(|e| failed(&e))?;
            }
            w.close().map_err(|e| failed(&e))?;
        }
    }
    Ok(())
}

/// A segment's rows read back, with the model and version the registry lists it under.
pub struct ReadSegment {
    /// Its rows.
    pub batch: RecordBatch,
    /// The model.
    pub model: String,
    /// The version.
    pub version: i64,
}

/// Segments read back as one table: every column any of them has, in the order first seen,
/// nullable wherever one segment allows nulls or lacks the column (its rows get nulls). A
/// segment written before rows said which version answered gets its `model` and `version`
/// from the registry's listing. A column whose type differs between segments cannot be
/// merged; the error names it.
pub fn merge_segments(
    segments: Vec<ReadSegment>,
) -> Result<(arrow_schema::SchemaRef, Vec<RecordBatch>), String> {
    let batches: Vec<RecordBatch> = segments
        .into_iter()
        .map(with_version)
        .collect::<Result<_, _>>()?;
    let mut fields: Vec<Field> = Vec::new();
    for b in &batches {
        for f in b.schema().fields() {
            match fields.iter_mut().find(|u| u.name() == f.name()) {
                Some(u) if u.data_type() != f.data_type() => {
                    return Err(format!(
                        "column `{}` is {} in one segment and {} in another",
                        f.name(),
                        u.data_type(),
                        f.data_type()
                    ));
                }
                Some(u) => {
                    if f.is_nullable() && !u.is_nullable() {
                        *u = u.clone().with_nullable(true);
                    }
                }
                None => fields.push(f.as_ref().clone()),
            }
        }
    }
    for u in &mut fields {
        if batches
            .iter()
            .any(|b| b.schema().field_with_name(u.name()).is_err())
        {
            *u = u.clone().with_nullable(true);
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let merged = batches
        .iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| {
                    b.column_by_name(f.name())
                        .cloned()
                        .unwrap_or_else(|| arrow_array::new_null_array(f.data_type(), b.num_rows()))
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, merged))
}

/// A segment's rows with `model` and `version` columns, taken from the listing where the
/// segment has none.
fn with_version(s: ReadSegment) -> Result<RecordBatch, String> {
    let schema = s.batch.schema();
    if schema.field_with_name("version").is_ok() {
        return Ok(s.batch);
    }
    let rows = s.batch.num_rows();
    let mut fields: Vec<Field> = vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            s.model.as_str(),
            rows,
        ))),
        Arc::new(Int64Array::from(vec![s.version; rows])),
    ];
    for (f, c) in schema.fields().iter().zip(s.batch.columns()) {
        if f.name() != "model" {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(version: i64, nullable: bool, extra: Option<&str>) -> ReadSegment {
        let mut fields = vec![
            Field::new("request_id", DataType::Utf8, false),
            Field::new("total_charges", DataType::Float64, nullable),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(arrow_array::Float64Array::from(vec![if nullable {
                None
            } else {
                Some(1.5)
            }])),
        ];
        if let Some(name) = extra {
            fields.push(Field::new(name, DataType::Int64, false));
            columns.push(Arc::new(Int64Array::from(vec![7])));
        }
        ReadSegment {
            batch: RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap(),
            model: "churn".into(),
            version,
        }
    }

    #[test]
    fn segments_that_differ_in_nullability_or_columns_merge() {
        let (schema, batches) = merge_segments(vec![
            segment(1, true, None),
            segment(1, false, None),
            segment(2, false, Some("tenure")),
        ])
        .unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["model", "version", "request_id", "total_charges", "tenure"]
        );
        assert!(
            schema
                .field_with_name("total_charges")
                .unwrap()
                .is_nullable()
        );
        assert!(schema.field_with_name("tenure").unwrap().is_nullable());
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].column(4).null_count(), 1);
        let versions = batches[2]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(versions.value(0), 2);
    }

    #[test]
    fn a_column_of_two_types_is_named() {
        let mut other = segment(1, false, None);
        other.batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "total_charges",
                DataType::Utf8,
                false,
            )])),
            vec![Arc::new(StringArray::from(vec!["x"]))],
        )
        .unwrap();
        let e = merge_segments(vec![segment(1, false, None), other]).unwrap_err();
        assert!(e.contains("`total_charges` is Float64"), "{e}");
    }
}
