//! CSV files, read in batches with the schema inferred from the whole file.

use std::{
    fs::File,
    io::{Read, Seek},
    path::Path,
    sync::Arc,
};

use arrow_csv::{ReaderBuilder, WriterBuilder, reader::Format};

use super::{DataError, batch_to_record_batch, record_batch_to_batch};
use ferry_runtime::bindings::types::{Batch, Field};

/// Reads a CSV file with a header row, one batch at a time.
pub struct CsvReader {
    path: String,
    schema: Vec<Field>,
    reader: arrow_csv::Reader<Box<dyn Read + Send>>,
    rows_read: u64,
}

impl CsvReader {
    /// Opens `path`, inferring column types from all its rows, to read `batch_rows` at a time.
    pub fn open(path: &Path, batch_rows: usize) -> Result<Self, DataError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| DataError {
            path: name.clone(),
            message: e.to_string(),
        })?;
        Self::from_source(name, file, batch_rows)
    }

    /// Reads CSV text held in memory (`name` says where it came from, for errors).
    pub fn from_bytes(name: &str, bytes: Vec<u8>, batch_rows: usize) -> Result<Self, DataError> {
        Self::from_source(name.to_string(), std::io::Cursor::new(bytes), batch_rows)
    }

    fn from_source(
        name: String,
        mut file: impl Read + Seek + Send + 'static,
        batch_rows: usize,
    ) -> Result<Self, DataError> {
        let err = |message: String| DataError {
            path: name.clone(),
            message,
        };
        let format = Format::default().with_header(true);
        let (schema, _) = format
            .infer_schema(&mut file, None)
            .map_err(|e| err(format!("cannot read the CSV header and types: {e}")))?;
        if schema.fields().is_empty() {
            return Err(err("the file has no columns (is it empty?)".into()));
        }
        file.rewind().map_err(|e| err(e.to_string()))?;
        let schema = Arc::new(schema);
        let reader = ReaderBuilder::new(schema.clone())
            .with_format(format)
            .with_batch_size(batch_rows.max(1))
            .build(Box::new(file) as Box<dyn Read + Send>)
            .map_err(|e| err(e.to_string()))?;
        let empty = arrow_array::RecordBatch::new_empty(schema);
        let fields = record_batch_to_batch(&empty)
            .map_err(err)?
            .columns
            .iter()
            .map(|c| Field {
                name: c.name.clone(),
                data_type: crate::data::frame::type_of(&c.data),
                nullable: true,
            })
            .collect();
        Ok(Self {
            path: name,
            schema: fields,
            reader,
            rows_read: 0,
        })
    }

    /// The schema every batch will have.
    pub fn schema(&self) -> &[Field] {
        &self.schema
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next batch, or `None` at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
        match self.reader.next() {
            None => Ok(None),
            Some(Err(e)) => Err(DataError {
                path: self.path.clone(),
                message: format!("after data row {}: {e}", self.rows_read),
            }),
            Some(Ok(rb)) => {
                self.rows_read += rb.num_rows() as u64;
                record_batch_to_batch(&rb)
                    .map(Some)
                    .map_err(|message| DataError {
                        path: self.path.clone(),
                        message,
                    })
            }
        }
    }

    /// Reads the rest of the file into one batch.
    pub fn read_all(mut self) -> Result<Batch, DataError> {
        let mut batches = Vec::new();
        while let Some(b) = self.next_batch()? {
            batches.push(b);
        }
        super::concat(&self.schema, batches).map_err(|message| DataError {
            path: self.path,
            message,
        })
    }
}

/// A batch encoded as CSV lines, ready for [`CsvSink::write_encoded`]: encoding is the costly
/// part of writing, and chunks can be encoded on many threads and written in order on one.
pub struct CsvChunk {
    bytes: Vec<u8>,
    rows: u64,
}

impl CsvChunk {
    /// Encodes `batch`, with the header row first if `header` (the file's first chunk).
    pub fn encode(batch: &Batch, header: bool) -> Result<Self, String> {
        let mut bytes = Vec::new();
        let mut writer = WriterBuilder::new().with_header(header).build(&mut bytes);
        writer
            .write(&batch_to_record_batch(batch)?)
            .map_err(|e| e.to_string())?;
        drop(writer);
        Ok(Self {
            bytes,
            rows: batch.num_rows as u64,
        })
    }
}

/// A CSV file written chunk by chunk into a temporary file in the same folder and put in
/// place only by [`finish`](Self::finish): a run that fails or is stopped part way leaves
/// whatever was at the path before untouched, and no half-written file.
pub struct CsvSink {
    path: std::path::PathBuf,
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    rows: u64,
}

impl CsvSink {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<Self, DataError> {
        let err = |message: String| DataError {
            path: path.display().to_string(),
            message,
        };
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".ferry-").suffix(".partial");
        // The mode a plain create gives (0666 less the umask), not a temporary file's 0600.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let file = builder
            .tempfile_in(folder)
            .map_err(|e| err(format!("cannot write in {}: {e}", folder.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            rows: 0,
        })
    }

    fn err(&self, message: String) -> DataError {
        DataError {
            path: self.path.display().to_string(),
            message,
        }
    }

    /// Appends a chunk; the first must carry the header row, and every chunk the first one's
    /// columns.
    pub fn write_encoded(&mut self, chunk: &CsvChunk) -> Result<(), DataError> {
        use std::io::Write;
        self.file
            .write_all(&chunk.bytes)
            .map_err(|e| self.err(e.to_string()))?;
        self.rows += chunk.rows;
        Ok(())
    }

    /// Appends a batch (with the header row, if it is the first).
    pub fn write(&mut self, batch: &Batch) -> Result<(), DataError> {
        let chunk = CsvChunk::encode(batch, self.rows == 0).map_err(|m| self.err(m))?;
        self.write_encoded(&chunk)
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the file and puts it in place of whatever was at the path.
    pub fn finish(self) -> Result<(), DataError> {
        let err = |message: String| DataError {
            path: self.path.display().to_string(),
            message,
        };
        let file = self
            .file
            .into_inner()
            .map_err(|e| err(e.error().to_string()))?;
        file.as_file().sync_all().map_err(|e| err(e.to_string()))?;
        file.persist(&self.path)
            .map_err(|e| err(e.error.to_string()))?;
        Ok(())
    }
}

/// Batches as CSV text with a header row.
pub fn csv_bytes(batches: &[Batch]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write_csv_to(&mut out, batches)?;
    Ok(out)
}

fn write_csv_to(sink: impl std::io::Write, batches: &[Batch]) -> Result<(), String> {
    let mut writer = WriterBuilder::new().with_header(true).build(sink);
    for b in batches {
        let rb = batch_to_record_batch(b)?;
        writer.write(&rb).map_err(|e| e.to_string())?;
    }
    Ok(())
}
