//! Operations on whole batches: concatenation, merging a transform's output, schemas.

use ferry_runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};

/// The type of a column's data.
pub fn type_of(data: &ColumnData) -> DataType {
    match data {
        ColumnData::Float64(_) => DataType::Float64,
        ColumnData::Int64(_) => DataType::Int64,
        ColumnData::Boolean(_) => DataType::Boolean,
        ColumnData::Text(_) => DataType::Text,
    }
}

/// The schema of a batch.
pub fn schema_of(batch: &Batch) -> Vec<Field> {
    batch
        .columns
        .iter()
        .map(|c| Field {
            name: c.name.clone(),
            data_type: type_of(&c.data),
            nullable: c.nulls.is_some(),
        })
        .collect()
}

fn empty_like(t: DataType) -> ColumnData {
    match t {
        DataType::Float64 => ColumnData::Float64(Vec::new()),
        DataType::Int64 => ColumnData::Int64(Vec::new()),
        DataType::Boolean => ColumnData::Boolean(Vec::new()),
        DataType::Text => ColumnData::Text(Vec::new()),
    }
}

/// Concatenates batches of the same schema.
pub fn concat(schema: &[Field], batches: Vec<Batch>) -> Result<Batch, String> {
    let mut columns: Vec<Column> = schema
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            data: empty_like(f.data_type),
            nulls: None,
        })
        .collect();
    let mut rows: usize = 0;
    for b in batches {
        let n = b.num_rows as usize;
        for (out, col) in columns.iter_mut().zip(b.columns) {
            if out.name != col.name {
                return Err(format!(
                    "batches disagree on column order: `{}` against `{}`",
                    out.name, col.name
                ));
            }
            match (&mut out.data, col.data) {
                (ColumnData::Float64(a), ColumnData::Float64(b)) => a.extend(b),
                (ColumnData::Int64(a), ColumnData::Int64(b)) => a.extend(b),
                (ColumnData::Boolean(a), ColumnData::Boolean(b)) => a.extend(b),
                (ColumnData::Text(a), ColumnData::Text(b)) => a.extend(b),
                _ => {
                    return Err(format!(
                        "column `{}` changes type between batches",
                        out.name
                    ));
                }
            }
            match (out.nulls.as_mut(), col.nulls) {
                (Some(a), Some(b)) => a.extend(b),
                (Some(a), None) => a.extend(std::iter::repeat_n(false, n)),
                (None, Some(b)) => {
                    let mut mask = vec![false; rows];
                    mask.extend(b);
                    out.nulls = Some(mask);
                }
                (None, None) => {}
            }
        }
        rows += n;
    }
    let num_rows = u32::try_from(rows).map_err(|_| "more than 2^32-1 rows".to_string())?;
    Ok(Batch { num_rows, columns })
}

/// Puts a transform's output columns into `base`: each replaces the column of the same name
/// or, if there is none, is appended.
pub fn merge_columns(base: &mut Batch, output: Batch) {
    for col in output.columns {
        match base.columns.iter_mut().find(|c| c.name == col.name) {
            Some(existing) => *existing = col,
            None => base.columns.push(col),
        }
    }
}
