//! Arrow record batches to and from the contract's column batches.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType as ArrowType, Field as ArrowField, Schema as ArrowSchema};

use ferry_runtime::bindings::types::{Batch, Column, ColumnData};

fn nulls_of(array: &dyn Array) -> Option<Vec<bool>> {
    (array.null_count() > 0).then(|| (0..array.len()).map(|i| array.is_null(i)).collect())
}

/// Converts an Arrow batch: integers become int64, floats float64, booleans boolean, and
/// every other type (strings, dates, times, decimals) text.
pub fn record_batch_to_batch(rb: &RecordBatch) -> Result<Batch, String> {
    let num_rows = u32::try_from(rb.num_rows())
        .map_err(|_| "a batch holds at most 2^32-1 rows".to_string())?;
    let mut columns = Vec::with_capacity(rb.num_columns());
    for (field, array) in rb.schema().fields().iter().zip(rb.columns()) {
        let target = match array.data_type() {
            ArrowType::Float16 | ArrowType::Float32 | ArrowType::Float64 => ArrowType::Float64,
            ArrowType::Int8
            | ArrowType::Int16
            | ArrowType::Int32
            | ArrowType::Int64
            | ArrowType::UInt8
            | ArrowType::UInt16
            | ArrowType::UInt32 => ArrowType::Int64,
            ArrowType::Boolean => ArrowType::Boolean,
            _ => ArrowType::Utf8,
        };
        let cast = arrow_cast::cast(array, &target).map_err(|e| {
            format!(
                "column `{}`: cannot convert {}: {e}",
                field.name(),
                array.data_type()
            )
        })?;
        let nulls = nulls_of(cast.as_ref());
        let data = match target {
            ArrowType::Float64 => {
                let a = cast
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or("float64 cast")?;
                ColumnData::Float64(a.values().to_vec())
            }
            ArrowType::Int64 => {
                let a = cast
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or("int64 cast")?;
                ColumnData::Int64(a.values().to_vec())
            }
            ArrowType::Boolean => {
                let a = cast
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or("boolean cast")?;
                ColumnData::Boolean((0..a.len()).map(|i| !a.is_null(i) && a.value(i)).collect())
            }
            _ => {
                let a = cast
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or("text cast")?;
                ColumnData::Text(
                    (0..a.len())
                        .map(|i| {
                            if a.is_null(i) {
                                String::new()
                            } else {
                                a.value(i).to_string()
                            }
                        })
                        .collect(),
                )
            }
        };
        columns.push(Column {
            name: field.name().clone(),
            data,
            nulls,
        });
    }
    Ok(Batch { num_rows, columns })
}

/// Converts a column batch to Arrow.
pub fn batch_to_record_batch(batch: &Batch) -> Result<RecordBatch, String> {
    let mut fields = Vec::with_capacity(batch.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(batch.columns.len());
    for c in &batch.columns {
        let valid = |i: usize| {
            !c.nulls
                .as_ref()
                .is_some_and(|n| n.get(i).copied().unwrap_or(false))
        };
        let (ty, array): (ArrowType, ArrayRef) = match &c.data {
            ColumnData::Float64(v) => (
                ArrowType::Float64,
                Arc::new(Float64Array::from_iter(
                    v.iter().enumerate().map(|(i, x)| valid(i).then_some(*x)),
                )),
            ),
            ColumnData::Int64(v) => (
                ArrowType::Int64,
                Arc::new(Int64Array::from_iter(
                    v.iter().enumerate().map(|(i, x)| valid(i).then_some(*x)),
                )),
            ),
            ColumnData::Boolean(v) => (
                ArrowType::Boolean,
                Arc::new(BooleanArray::from_iter(
                    v.iter().enumerate().map(|(i, x)| valid(i).then_some(*x)),
                )),
            ),
            ColumnData::Text(v) => (
                ArrowType::Utf8,
                Arc::new(StringArray::from_iter(
                    v.iter()
                        .enumerate()
                        .map(|(i, x)| valid(i).then_some(x.as_str())),
                )),
            ),
        };
        fields.push(ArrowField::new(&c.name, ty, c.nulls.is_some()));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).map_err(|e| e.to_string())
}
