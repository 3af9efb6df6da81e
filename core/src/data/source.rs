//! Whole tables from CSV, Parquet or JSON-lines files, and casting a batch to a fixed schema.

use std::{fs::File, io::BufReader, path::Path};

use super::DataError;
use ferry_runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};

/// The file formats Ferry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format named `name`, or guessed from `path`'s extension.
    pub fn of(path: &Path, name: Option<&str>) -> Result<Self, DataError> {
        let err = |message: String| DataError {
            path: path.display().to_string(),
            message,
        };
        let n = match name {
            Some(n) => n.to_ascii_lowercase(),
            None => path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase(),
        };
        Ok(match n.as_str() {
            "csv" => Format::Csv,
            "parquet" | "pq" => Format::Parquet,
            "jsonl" | "ndjson" | "json" => Format::JsonLines,
            other => {
                return Err(err(format!(
                    "unknown data format {other:?}: use csv, parquet or jsonl"
                )));
            }
        })
    }
}

/// A Parquet file's record batches as Arrow reads them (65,536 rows each), without turning
/// them into Ferry's batches: a column-wise reader (the drift statistics) copies no text.
pub fn read_parquet(path: &Path) -> Result<Vec<arrow_array::RecordBatch>, DataError> {
    let err = |message: String| DataError {
        path: path.display().to_string(),
        message,
    };
    let file = File::open(path).map_err(|e| err(e.to_string()))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| err(format!("not a readable Parquet file: {e}")))?
        .with_batch_size(65536)
        .build()
        .map_err(|e| err(e.to_string()))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))
}

/// The keys of the first JSON object in a JSON-lines file, in the order written.
pub(super) fn first_line_keys(path: &Path) -> Result<Vec<String>, String> {
    use std::io::BufRead;
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let file = File::open(path).map_err(|e| e.to_string())?;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(&line);
        return serde::Deserializer::deserialize_map(&mut de, Keys)
            .map_err(|e| format!("line {}: not a JSON object: {e}", n + 1));
    }
    Ok(Vec::new())
}

/// The rows at `indices`, in that order.
pub fn take_rows(batch: &Batch, indices: &[usize]) -> Batch {
    fn pick<T: Clone>(v: &[T], idx: &[usize]) -> Vec<T> {
        idx.iter().map(|&i| v[i].clone()).collect()
    }
    Batch {
        num_rows: indices.len() as u32,
        columns: batch
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                data: match &c.data {
                    ColumnData::Float64(v) => ColumnData::Float64(pick(v, indices)),
                    ColumnData::Int64(v) => ColumnData::Int64(pick(v, indices)),
                    ColumnData::Boolean(v) => ColumnData::Boolean(pick(v, indices)),
                    ColumnData::Text(v) => ColumnData::Text(pick(v, indices)),
                },
                nulls: c.nulls.as_ref().map(|n| pick(n, indices)),
            })
            .collect(),
    }
}

/// Rows `start..end` of a batch.
pub fn slice_rows(batch: &Batch, start: usize, end: usize) -> Batch {
    let idx: Vec<usize> = (start..end).collect();
    take_rows(batch, &idx)
}

/// Only the named columns, in the order given; the error names the first one missing.
pub fn select(batch: &Batch, names: &[String]) -> Result<Batch, String> {
    let mut columns = Vec::with_capacity(names.len());
    for n in names {
        let c = batch
            .columns
            .iter()
            .find(|c| &c.name == n)
            .ok_or_else(|| format!("no column `{n}`"))?;
        columns.push(c.clone());
    }
    Ok(Batch {
        num_rows: batch.num_rows,
        columns,
    })
}

/// What a step reads: the named columns, or (without names) the batch itself, not copied.
pub fn columns_view<'a>(
    batch: &'a Batch,
    reads: Option<&[String]>,
) -> Result<std::borrow::Cow<'a, Batch>, String> {
    match reads {
        Some(cols) => select(batch, cols).map(std::borrow::Cow::Owned),
        None => Ok(std::borrow::Cow::Borrowed(batch)),
    }
}

/// A problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldProblem {
    /// The column.
    pub field: String,
    /// The row, where it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u32>,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.row {
            Some(r) => write!(f, "`{}` (row {r}): {}", self.field, self.problem),
            None => write!(f, "`{}`: {}", self.field, self.problem),
        }
    }
}

/// The first ten problems, and how many there were in all.
pub fn describe_problems(problems: &[FieldProblem]) -> String {
    let mut text = problems
        .iter()
        .take(10)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > 10 {
        text.push_str(&format!("; … {} problems in all", problems.len()));
    }
    text
}

/// A type's name as schemas and lineages spell it.
pub fn type_name(t: DataType) -> &'static str {
    match t {
        DataType::Float64 => "float64",
        DataType::Int64 => "int64",
        DataType::Boolean => "boolean",
        DataType::Text => "text",
    }
}

/// Casts `batch` to `schema`: every field must be present (the extra columns in `ignore` are
/// dropped); integers widen to floats where the schema wants floats; a column of nulls takes any
/// type. Every problem is reported, not just the first.
pub fn conform(
    batch: &Batch,
    schema: &[Field],
    ignore: &[&str],
) -> Result<Batch, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut columns = Vec::with_capacity(schema.len());
    let n = batch.num_rows as usize;
    for field in schema {
        let Some(col) = batch.columns.iter().find(|c| c.name == field.name) else {
            problems.push(FieldProblem {
                field: field.name.clone(),
                row: None,
                problem: format!("missing (expected {})", type_name(field.data_type)),
            });
            continue;
        };
        let all_null = col.nulls.as_ref().is_some_and(|m| m.iter().all(|&x| x));
        let data = match (&col.data, field.data_type) {
            (ColumnData::Float64(v), DataType::Float64) => ColumnData::Float64(v.clone()),
            (ColumnData::Int64(v), DataType::Int64) => ColumnData::Int64(v.clone()),
            (ColumnData::Boolean(v), DataType::Boolean) => ColumnData::Boolean(v.clone()),
            (ColumnData::Text(v), DataType::Text) => ColumnData::Text(v.clone()),
            (ColumnData::Int64(v), DataType::Float64) => {
                ColumnData::Float64(v.iter().map(|&x| x as f64).collect())
            }
            (_, t) if all_null => match t {
                DataType::Float64 => ColumnData::Float64(vec![0.0; n]),
                DataType::Int64 => ColumnData::Int64(vec![0; n]),
                DataType::Boolean => ColumnData::Boolean(vec![false; n]),
                DataType::Text => ColumnData::Text(vec![String::new(); n]),
            },
            (ColumnData::Float64(v), DataType::Int64)
                if v.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15) =>
            {
                ColumnData::Int64(v.iter().map(|&x| x as i64).collect())
            }
            (other, t) => {
                problems.push(FieldProblem {
                    field: field.name.clone(),
                    row: None,
                    problem: format!(
                        "expected {}, found {}",
                        type_name(t),
                        type_name(super::frame::type_of(other))
                    ),
                });
                continue;
            }
        };
        if !field.nullable
            && let Some(row) = col.nulls.as_ref().and_then(|m| m.iter().position(|&x| x))
        {
            problems.push(FieldProblem {
                field: field.name.clone(),
                row: Some(row as u32),
                problem: "null, but the model was trained on a column without nulls".into(),
            });
            continue;
        }
        columns.push(Column {
            name: field.name.clone(),
            data,
            nulls: col.nulls.clone().filter(|m| m.iter().any(|&x| x)),
        });
    }
    for c in &batch.columns {
        if !schema.iter().any(|f| f.name == c.name) && !ignore.contains(&c.name.as_str()) {
            problems.push(FieldProblem {
                field: c.name.clone(),
                row: None,
                problem: "not an input of this model".into(),
            });
        }
    }
    if problems.is_empty() {
        Ok(Batch {
            num_rows: batch.num_rows,
            columns,
        })
    } else {
        Err(problems)
    }
}
