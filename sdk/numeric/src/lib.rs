//! The wiring shared by transforms that work on numeric columns one by one (`clip`,
//! `min-max-scaler`, `bucketize`): the values a column learns from, and the columns written in
//! place of their inputs.
//!
//! A crate beside `ferry-sdk` rather than a module of it: every change to `ferry-sdk` changes
//! the bytes of every plugin built with it (its symbols' hashes follow the crate's contents),
//! so a published plugin that does not use these helpers keeps its bytes.

use ferry_sdk::{Batch, BatchBuilder, Column, DataType, Result, Schema};
use ferry_sdk::{numeric_columns, replaced_columns};

/// A transform's learned state for one column: which column it is for.
pub trait PerColumn {
    /// The input column's name.
    fn column(&self) -> &str;
}

impl<T> PerColumn for (String, T) {
    fn column(&self) -> &str {
        &self.0
    }
}

/// Calls `f` with the row and value (as `f64`) of every row of the numeric `column` that is
/// not null, stopping at the first error.
pub fn for_each_present(column: &Column, mut f: impl FnMut(u32, f64) -> Result<()>) -> Result<()> {
    for (row, v) in column.numeric()?.iter().enumerate() {
        if !column.is_null(row) {
            f(row as u32, *v)?;
        }
    }
    Ok(())
}

/// Feeds each of `columns` the row and value of every present row of its input column in
/// `batch`.
pub fn learn<S: PerColumn>(
    batch: &Batch,
    columns: &mut [S],
    mut f: impl FnMut(&mut S, u32, f64) -> Result<()>,
) -> Result<()> {
    for state in columns.iter_mut() {
        let column = batch.column(state.column())?;
        for_each_present(column, |row, v| f(state, row, v))?;
    }
    Ok(())
}

/// The batch of each of `columns`' input columns with every value passed through `map`, as
/// float64, keeping the input's nulls (null rows are mapped too, so their bytes are defined).
pub fn rewrite_floats<S: PerColumn>(
    batch: &Batch,
    columns: &[S],
    map: impl Fn(&S, f64) -> f64,
) -> Result<Batch> {
    let mut out = BatchBuilder::new(batch.len());
    for state in columns {
        let column = batch.column(state.column())?;
        let values = column.numeric()?.iter().map(|v| map(state, *v)).collect();
        out.push(Column::float64(state.column(), values).with_nulls_of(column));
    }
    out.build()
}

/// As [`rewrite_floats`], into int64: `map` also gets each row and whether it is null, and may
/// refuse a value.
pub fn rewrite_ints<S: PerColumn>(
    batch: &Batch,
    columns: &[S],
    map: impl Fn(&S, u32, f64, bool) -> Result<i64>,
) -> Result<Batch> {
    let mut out = BatchBuilder::new(batch.len());
    for state in columns {
        let column = batch.column(state.column())?;
        let values = column
            .numeric()?
            .iter()
            .enumerate()
            .map(|(row, v)| map(state, row as u32, *v, column.is_null(row)))
            .collect::<Result<Vec<i64>>>()?;
        out.push(Column::int64(state.column(), values).with_nulls_of(column));
    }
    out.build()
}

/// The schema such a transform writes: the numeric columns `requested` names (every numeric
/// column when it is `None`), each now of `data_type`.
pub fn numeric_output(
    requested: Option<&[String]>,
    input: &Schema,
    data_type: DataType,
) -> Result<Schema> {
    Ok(replaced_columns(
        numeric_columns(requested, input)?,
        input,
        data_type,
    ))
}
