//! Data in and out of plugins: reading tables into typed column batches and writing them back.

mod body;
mod convert;
mod csv;
mod frame;
mod json;
mod source;
mod stream;

pub use body::{BodyError, MAX_FIELDS, RequestRows, rows_to_batch};
pub use convert::{batch_to_record_batch, record_batch_to_batch};
pub use csv::{CsvChunk, CsvReader, CsvSink, csv_bytes};
pub use frame::{concat, merge_columns, schema_of, type_of};
pub use json::{batch_to_columns, batch_to_rows};
pub use source::{
    FieldProblem, Format, columns_view, conform, describe_problems, read_parquet, select,
    slice_rows, take_rows, type_name,
};
pub use stream::{BatchStream, read_table};

/// A problem with a data file, naming the file and, where known, the line.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DataError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}
