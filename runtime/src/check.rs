//! Checks on what plugins return: a batch must be well formed and within limits.

use std::collections::HashSet;

use super::bindings::types::{Batch, ColumnData};
use super::error::Failure;

/// The number of values in a column.
pub fn column_len(data: &ColumnData) -> usize {
    match data {
        ColumnData::Float64(v) => v.len(),
        ColumnData::Int64(v) => v.len(),
        ColumnData::Boolean(v) => v.len(),
        ColumnData::Text(v) => v.len(),
    }
}

/// Checks a batch a plugin returned: at most `max_rows` rows, exactly `expected_rows` when
/// given, every column (and null mask) as long as the batch, no duplicate names.
pub fn output_batch(
    batch: &Batch,
    expected_rows: Option<u32>,
    max_rows: u32,
) -> Result<(), Failure> {
    let rows = batch.num_rows;
    let longest = batch
        .columns
        .iter()
        .map(|c| column_len(&c.data))
        .max()
        .unwrap_or(0) as u64;
    let claimed = u64::from(rows).max(longest);
    if claimed > u64::from(max_rows) {
        return Err(Failure::OutputTooLarge {
            rows: claimed,
            limit: u64::from(max_rows),
        });
    }
    if let Some(expected) = expected_rows
        && rows != expected
    {
        return Err(Failure::InvalidOutput(format!(
            "{rows} rows returned for an input of {expected} rows"
        )));
    }
    let mut seen = HashSet::new();
    for c in &batch.columns {
        if !seen.insert(c.name.as_str()) {
            return Err(Failure::InvalidOutput(format!(
                "column `{}` appears twice",
                c.name
            )));
        }
        let n = column_len(&c.data);
        if n != rows as usize {
            return Err(Failure::InvalidOutput(format!(
                "column `{}` has {n} values in a batch of {rows} rows",
                c.name
            )));
        }
        if let Some(nulls) = &c.nulls
            && nulls.len() != rows as usize
        {
            return Err(Failure::InvalidOutput(format!(
                "the null mask of column `{}` has {} entries in a batch of {rows} rows",
                c.name,
                nulls.len()
            )));
        }
    }
    Ok(())
}
