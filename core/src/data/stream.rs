//! A data file of any format Ferry reads, streamed in batches of exactly one size.

use std::{fs::File, io::BufReader, path::Path, sync::Arc};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use super::{CsvReader, DataError, Format, concat, record_batch_to_batch, schema_of, slice_rows};
use ferry_runtime::bindings::types::{Batch, Field};

/// Reads a whole table.
pub fn read_table(path: &Path, format: Format) -> Result<Batch, DataError> {
    BatchStream::open(path, format, 65536)?.read_all()
}

/// Arrow's readers, as one iterator of record batches.
type Records = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

enum Source {
    Csv(Box<CsvReader>),
    /// Parquet, or JSON lines with the file's key order (Arrow infers the columns sorted).
    Arrow {
        records: Records,
        order: Option<Vec<String>>,
    },
}

/// Reads a CSV, Parquet or JSON-lines file `rows` rows at a time, whatever sizes the format's
/// reader yields: every batch but the last has exactly `rows` rows, so the same file cut by
/// the same `rows` gives the same batches in every format and to every reader. Only the
/// batch being cut is held in memory (CSV and JSON lines read the whole file once first, to
/// infer the column types).
pub struct BatchStream {
    path: String,
    source: Source,
    rows: usize,
    schema: Option<Vec<Field>>,
    /// Rows read but not yet handed out, in order.
    carry: Option<Batch>,
    /// Rows handed out so far.
    handed: u64,
    ended: bool,
}

impl BatchStream {
    /// Opens `path` as `format`, to read `rows` rows at a time (at least one).
    pub fn open(path: &Path, format: Format, rows: usize) -> Result<Self, DataError> {
        let name = path.display().to_string();
        let err = |message: String| DataError {
            path: name.clone(),
            message,
        };
        let rows = rows.max(1);
        let mut schema = None;
        let source = match format {
            Format::Csv => {
                let reader = CsvReader::open(path, rows)?;
                schema = Some(reader.schema().to_vec());
                Source::Csv(Box::new(reader))
            }
            Format::Parquet => {
                let file = File::open(path).map_err(|e| err(e.to_string()))?;
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .map_err(|e| err(format!("not a readable Parquet file: {e}")))?
                        .with_batch_size(rows)
                        .build()
                        .map_err(|e| err(e.to_string()))?;
                Source::Arrow {
                    records: Box::new(reader),
                    order: None,
                }
            }
            Format::JsonLines => {
                let order = super::source::first_line_keys(path).map_err(&err)?;
                let file = File::open(path).map_err(|e| err(e.to_string()))?;
                let mut buf = BufReader::new(file);
                let (schema, _) =
                    arrow_json::reader::infer_json_schema_from_seekable(&mut buf, None)
                        .map_err(|e| err(format!("cannot infer the columns: {e}")))?;
                let reader = arrow_json::ReaderBuilder::new(Arc::new(schema))
                    .with_batch_size(rows)
                    .build(buf)
                    .map_err(|e| err(e.to_string()))?;
                Source::Arrow {
                    records: Box::new(reader),
                    order: Some(order),
                }
            }
        };
        Ok(Self {
            path: name,
            source,
            rows,
            schema,
            carry: None,
            handed: 0,
            ended: false,
        })
    }

    /// Rows handed out so far.
    pub fn rows_read(&self) -> u64 {
        self.handed
    }

    /// The columns every batch has: a CSV file's from its header and types, another format's
    /// once the first batch is read.
    pub fn schema(&self) -> Option<&[Field]> {
        self.schema.as_deref()
    }

    fn err(&self, message: String) -> DataError {
        DataError {
            path: self.path.clone(),
            message,
        }
    }

    /// The next piece as the format's reader yields it, or `None` at the end of the file.
    fn next_piece(&mut self) -> Result<Option<Batch>, DataError> {
        let path = &self.path;
        let err = |message: String| DataError {
            path: path.clone(),
            message,
        };
        let batch = match &mut self.source {
            Source::Csv(reader) => match reader.next_batch()? {
                Some(b) => b,
                None => return Ok(None),
            },
            Source::Arrow { records, order } => {
                let rb = match records.next() {
                    None => return Ok(None),
                    Some(Err(e)) => {
                        let at = self.handed + self.carry.as_ref().map_or(0, |c| c.num_rows as u64);
                        return Err(err(format!("after data row {at}: {e}")));
                    }
                    Some(Ok(rb)) => rb,
                };
                let mut batch = record_batch_to_batch(&rb).map_err(err)?;
                if let Some(order) = order {
                    batch.columns.sort_by_key(|c| {
                        order
                            .iter()
                            .position(|k| *k == c.name)
                            .unwrap_or(usize::MAX)
                    });
                }
                batch
            }
        };
        if self.schema.is_none() {
            self.schema = Some(schema_of(&batch));
        }
        Ok(Some(batch))
    }

    /// The next `rows` rows (fewer only at the end of the file), or `None` once every row has
    /// been handed out.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
        loop {
            let held = self.carry.as_ref().map_or(0, |c| c.num_rows as usize);
            if held >= self.rows || (self.ended && held > 0) {
                break;
            }
            if self.ended {
                return Ok(None);
            }
            match self.next_piece()? {
                None => self.ended = true,
                Some(piece) if piece.num_rows == 0 => {}
                Some(piece) => {
                    self.carry = Some(match self.carry.take() {
                        None => piece,
                        Some(c) => {
                            let schema = self.schema.clone().unwrap_or_default();
                            concat(&schema, vec![c, piece]).map_err(|m| self.err(m))?
                        }
                    });
                }
            }
        }
        let Some(carry) = self.carry.take() else {
            return Ok(None);
        };
        let n = carry.num_rows as usize;
        let out = if n <= self.rows {
            carry
        } else {
            self.carry = Some(slice_rows(&carry, self.rows, n));
            slice_rows(&carry, 0, self.rows)
        };
        self.handed += out.num_rows as u64;
        Ok(Some(out))
    }

    /// The rest of the file as one batch. A Parquet or JSON-lines file without rows is an
    /// error, since it names no columns; a CSV file's header does.
    pub fn read_all(mut self) -> Result<Batch, DataError> {
        let mut batches = Vec::new();
        while let Some(b) = self.next_batch()? {
            batches.push(b);
        }
        let Some(schema) = self.schema.clone() else {
            return Err(self.err("the file holds no rows".into()));
        };
        concat(&schema, batches).map_err(|m| self.err(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv(rows: usize) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        writeln!(f, "id,x,name").unwrap();
        for i in 0..rows {
            writeln!(f, "{i},{},n{i}", i as f64 * 0.5).unwrap();
        }
        f
    }

    fn jsonl(rows: usize) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".jsonl")
            .tempfile()
            .unwrap();
        for i in 0..rows {
            writeln!(
                f,
                r#"{{"name":"n{i}","id":{i},"x":{}}}"#,
                i as f64 * 0.5 + 0.25
            )
            .unwrap();
        }
        f
    }

    fn sizes(path: &Path, rows: usize) -> Vec<u32> {
        let mut s = BatchStream::open(path, Format::of(path, None).unwrap(), rows).unwrap();
        let mut out = Vec::new();
        while let Some(b) = s.next_batch().unwrap() {
            out.push(b.num_rows);
        }
        assert_eq!(s.rows_read(), out.iter().map(|&n| n as u64).sum::<u64>());
        out
    }

    #[test]
    fn every_batch_but_the_last_has_exactly_the_rows_asked_for() {
        let f = csv(10);
        assert_eq!(sizes(f.path(), 3), [3, 3, 3, 1]);
        assert_eq!(sizes(f.path(), 5), [5, 5]);
        assert_eq!(sizes(f.path(), 100), [10]);
        let j = jsonl(7);
        assert_eq!(sizes(j.path(), 2), [2, 2, 2, 1]);
    }

    #[test]
    fn cutting_changes_nothing_but_the_cut() {
        for f in [csv(1000), jsonl(1000)] {
            let whole = BatchStream::open(f.path(), Format::of(f.path(), None).unwrap(), 1 << 20)
                .unwrap()
                .read_all()
                .unwrap();
            for rows in [1, 7, 333, 1000] {
                let cut = BatchStream::open(f.path(), Format::of(f.path(), None).unwrap(), rows)
                    .unwrap()
                    .read_all()
                    .unwrap();
                assert_eq!(cut, whole, "{rows} rows at a time");
            }
        }
    }

    #[test]
    fn json_lines_keep_the_files_column_order() {
        let j = jsonl(3);
        let b = BatchStream::open(j.path(), Format::JsonLines, 2)
            .unwrap()
            .next_batch()
            .unwrap()
            .unwrap();
        let names: Vec<_> = b.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["name", "id", "x"]);
    }

    #[test]
    fn a_file_without_rows_is_refused_by_name() {
        let mut f = tempfile::Builder::new()
            .suffix(".jsonl")
            .tempfile()
            .unwrap();
        writeln!(f).unwrap();
        let e = BatchStream::open(f.path(), Format::JsonLines, 10)
            .and_then(BatchStream::read_all)
            .unwrap_err();
        assert!(
            e.to_string().contains(&f.path().display().to_string()),
            "{e}"
        );
    }
}
