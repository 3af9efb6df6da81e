//! Typed access to columns by name, and builders for output batches.

use std::borrow::Cow;

use crate::{Batch, Column, ColumnData, DataType, Field, PluginError, Result, input_error};

impl DataType {
    /// The type's name as WIT spells it.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Float64 => "float64",
            DataType::Int64 => "int64",
            DataType::Boolean => "boolean",
            DataType::Text => "text",
        }
    }
}

impl ColumnData {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float64(v) => v.len(),
            ColumnData::Int64(v) => v.len(),
            ColumnData::Boolean(v) => v.len(),
            ColumnData::Text(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type of the values.
    pub fn data_type(&self) -> DataType {
        match self {
            ColumnData::Float64(_) => DataType::Float64,
            ColumnData::Int64(_) => DataType::Int64,
            ColumnData::Boolean(_) => DataType::Boolean,
            ColumnData::Text(_) => DataType::Text,
        }
    }
}

impl Column {
    /// A float64 column without nulls.
    pub fn float64(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self::new(name, ColumnData::Float64(values))
    }

    /// An int64 column without nulls.
    pub fn int64(name: impl Into<String>, values: Vec<i64>) -> Self {
        Self::new(name, ColumnData::Int64(values))
    }

    /// A boolean column without nulls.
    pub fn boolean(name: impl Into<String>, values: Vec<bool>) -> Self {
        Self::new(name, ColumnData::Boolean(values))
    }

    /// A text column without nulls.
    pub fn text(name: impl Into<String>, values: Vec<String>) -> Self {
        Self::new(name, ColumnData::Text(values))
    }

    /// A column of the given data without nulls.
    pub fn new(name: impl Into<String>, data: ColumnData) -> Self {
        Column {
            name: name.into(),
            data,
            nulls: None,
        }
    }

    /// Sets the null mask (`true` marks a null); an all-false mask is dropped.
    pub fn with_nulls(mut self, nulls: Vec<bool>) -> Self {
        self.nulls = if nulls.iter().any(|n| *n) {
            Some(nulls)
        } else {
            None
        };
        self
    }

    /// Takes the null mask of `other` (a column of the same length).
    pub fn with_nulls_of(mut self, other: &Column) -> Self {
        self.nulls = other.nulls.clone();
        self
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The column's type.
    pub fn data_type(&self) -> DataType {
        self.data.data_type()
    }

    /// True when the value at `row` is null.
    pub fn is_null(&self, row: usize) -> bool {
        self.nulls
            .as_ref()
            .is_some_and(|n| n.get(row).copied().unwrap_or(false))
    }

    /// The number of nulls.
    pub fn null_count(&self) -> usize {
        self.nulls
            .as_ref()
            .map_or(0, |n| n.iter().filter(|x| **x).count())
    }

    fn wrong_type(&self, wanted: &str) -> PluginError {
        input_error(
            &self.name,
            None,
            format!(
                "expected a {wanted} column, found {}",
                self.data_type().name()
            ),
        )
    }

    /// The values of a float64 column.
    pub fn f64s(&self) -> Result<&[f64]> {
        match &self.data {
            ColumnData::Float64(v) => Ok(v),
            _ => Err(self.wrong_type("float64")),
        }
    }

    /// The values of an int64 column.
    pub fn i64s(&self) -> Result<&[i64]> {
        match &self.data {
            ColumnData::Int64(v) => Ok(v),
            _ => Err(self.wrong_type("int64")),
        }
    }

    /// The values of a boolean column.
    pub fn bools(&self) -> Result<&[bool]> {
        match &self.data {
            ColumnData::Boolean(v) => Ok(v),
            _ => Err(self.wrong_type("boolean")),
        }
    }

    /// The values of a text column.
    pub fn texts(&self) -> Result<&[String]> {
        match &self.data {
            ColumnData::Text(v) => Ok(v),
            _ => Err(self.wrong_type("text")),
        }
    }

    /// The values of a numeric column (float64, int64 or boolean) as `f64`.
    pub fn numeric(&self) -> Result<Cow<'_, [f64]>> {
        match &self.data {
            ColumnData::Float64(v) => Ok(Cow::Borrowed(v)),
            ColumnData::Int64(v) => Ok(Cow::Owned(v.iter().map(|x| *x as f64).collect())),
            ColumnData::Boolean(v) => Ok(Cow::Owned(
                v.iter().map(|x| if *x { 1.0 } else { 0.0 }).collect(),
            )),
            ColumnData::Text(_) => Err(self.wrong_type("numeric")),
        }
    }

    /// The value at `row` rendered as text (`None` for a null), whatever the column's type.
    pub fn value_string(&self, row: usize) -> Option<String> {
        if self.is_null(row) {
            return None;
        }
        match &self.data {
            ColumnData::Float64(v) => v.get(row).map(|x| x.to_string()),
            ColumnData::Int64(v) => v.get(row).map(|x| x.to_string()),
            ColumnData::Boolean(v) => v.get(row).map(|x| x.to_string()),
            ColumnData::Text(v) => v.get(row).cloned(),
        }
    }

    /// This column's schema field.
    pub fn field(&self) -> Field {
        Field {
            name: self.name.clone(),
            data_type: self.data_type(),
            nullable: self.nulls.is_some(),
        }
    }
}

impl Batch {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.num_rows as usize
    }

    /// True when the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.num_rows == 0
    }

    /// The column called `name`, or an error that lists the columns there are.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
            input_error(
                name,
                None,
                format!("no such column; the batch has [{}]", names.join(", ")),
            )
        })
    }

    /// The column called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The batch's schema.
    pub fn schema(&self) -> Vec<Field> {
        self.columns.iter().map(Column::field).collect()
    }
}

/// Builds a batch, checking that every column has the same number of rows.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    num_rows: usize,
    columns: Vec<Column>,
}

impl BatchBuilder {
    /// A builder for a batch of `num_rows` rows.
    pub fn new(num_rows: usize) -> Self {
        Self {
            num_rows,
            columns: Vec::new(),
        }
    }

    /// Adds a column.
    pub fn column(mut self, column: Column) -> Self {
        self.columns.push(column);
        self
    }

    /// Adds a column in place.
    pub fn push(&mut self, column: Column) {
        self.columns.push(column);
    }

    /// The batch, or an error naming the first column of the wrong length.
    pub fn build(self) -> Result<Batch> {
        for c in &self.columns {
            if c.len() != self.num_rows
                || c.nulls.as_ref().is_some_and(|n| n.len() != self.num_rows)
            {
                return Err(crate::internal_error(format!(
                    "output column `{}` has {} values for a batch of {} rows",
                    c.name,
                    c.len(),
                    self.num_rows
                )));
            }
        }
        let num_rows = u32::try_from(self.num_rows)
            .map_err(|_| crate::internal_error("a batch holds at most 2^32-1 rows"))?;
        Ok(Batch {
            num_rows,
            columns: self.columns,
        })
    }
}

/// A borrowed view of a column's values with its null mask.
#[derive(Debug, Clone, Copy)]
pub struct ColumnView<'a, T> {
    /// The values (placeholders where null).
    pub values: &'a [T],
    /// The null mask, if the column has nulls.
    pub nulls: Option<&'a [bool]>,
}

impl<'a, T> ColumnView<'a, T> {
    /// The value at `row`, or `None` when it is null or out of range.
    pub fn get(&self, row: usize) -> Option<&'a T> {
        if self
            .nulls
            .is_some_and(|n| n.get(row).copied().unwrap_or(false))
        {
            None
        } else {
            self.values.get(row)
        }
    }

    /// Iterates over the values, `None` for nulls.
    pub fn iter(&self) -> impl Iterator<Item = Option<&'a T>> + '_ {
        (0..self.values.len()).map(|i| self.get(i))
    }
}

impl Column {
    /// A view of a float64 column with its nulls.
    pub fn f64_view(&self) -> Result<ColumnView<'_, f64>> {
        Ok(ColumnView {
            values: self.f64s()?,
            nulls: self.nulls.as_deref(),
        })
    }

    /// A view of a text column with its nulls.
    pub fn text_view(&self) -> Result<ColumnView<'_, String>> {
        Ok(ColumnView {
            values: self.texts()?,
            nulls: self.nulls.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_lookup_names_the_columns_there_are() {
        let b = BatchBuilder::new(2)
            .column(Column::float64("a", vec![1.0, 2.0]))
            .build()
            .unwrap();
        let err = b.column("b").unwrap_err().message();
        assert!(err.contains("`b`") && err.contains("[a]"), "{err}");
    }

    #[test]
    fn builder_refuses_ragged_columns() {
        let err = BatchBuilder::new(3)
            .column(Column::int64("x", vec![1, 2]))
            .build()
            .unwrap_err()
            .message();
        assert!(
            err.contains("`x` has 2 values for a batch of 3 rows"),
            "{err}"
        );
    }

    #[test]
    fn typed_access_reports_the_actual_type() {
        let c = Column::text("city", vec!["Oslo".into()]);
        let err = c.f64s().unwrap_err().message();
        assert!(
            err.contains("expected a float64 column, found text"),
            "{err}"
        );
        assert_eq!(Column::int64("n", vec![2]).numeric().unwrap()[0], 2.0);
    }

    #[test]
    fn nulls_are_seen_through_views() {
        let c = Column::float64("x", vec![1.0, 0.0]).with_nulls(vec![false, true]);
        let v = c.f64_view().unwrap();
        assert_eq!(v.iter().collect::<Vec<_>>(), vec![Some(&1.0), None]);
        assert_eq!(c.null_count(), 1);
    }
}
