//! JSON rows and columns to and from batches, checked against a schema field by field.

use serde_json::{Number, Value};

use super::FieldProblem;
use ferry_runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};

/// One JSON value as a column reads it, from a JSON tree or a parsed request.
#[derive(Clone, Copy)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(&'a Number),
    Text(&'a str),
    Array,
    Object,
}

impl<'a> From<&'a Value> for Scalar<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::Number(n),
            Value::String(s) => Scalar::Text(s),
            Value::Array(_) => Scalar::Array,
            Value::Object(_) => Scalar::Object,
        }
    }
}

enum Builder {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Text(Vec<String>),
}

impl Builder {
    fn new(t: DataType, n: usize) -> Self {
        match t {
            DataType::Float64 => Builder::Float(Vec::with_capacity(n)),
            DataType::Int64 => Builder::Int(Vec::with_capacity(n)),
            DataType::Boolean => Builder::Bool(Vec::with_capacity(n)),
            DataType::Text => Builder::Text(Vec::with_capacity(n)),
        }
    }

    fn push_null(&mut self) {
        match self {
            Builder::Float(v) => v.push(0.0),
            Builder::Int(v) => v.push(0),
            Builder::Bool(v) => v.push(false),
            Builder::Text(v) => v.push(String::new()),
        }
    }

    /// Pushes a value, or says what is wrong with it.
    fn push(&mut self, value: Scalar<'_>) -> Result<(), String> {
        match (self, value) {
            (Builder::Float(v), Scalar::Number(n)) => {
                v.push(n.as_f64().ok_or("not a representable number")?)
            }
            (Builder::Int(v), Scalar::Number(n)) => match n.as_i64() {
                Some(i) => v.push(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => v.push(f as i64),
                    _ => return Err(format!("expected an integer, found {n}")),
                },
            },
            (Builder::Bool(v), Scalar::Bool(b)) => v.push(b),
            (Builder::Text(v), Scalar::Text(s)) => v.push(s.to_string()),
            (b, other) => {
                let want = match b {
                    Builder::Float(_) => "a number",
                    Builder::Int(_) => "an integer",
                    Builder::Bool(_) => "true or false",
                    Builder::Text(_) => "a string",
                };
                let found = match other {
                    Scalar::Null => "null",
                    Scalar::Bool(_) => "a boolean",
                    Scalar::Number(_) => "a number",
                    Scalar::Text(_) => "a string",
                    Scalar::Array => "an array",
                    Scalar::Object => "an object",
                };
                return Err(format!("expected {want}, found {found}"));
            }
        }
        Ok(())
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Float(v) => ColumnData::Float64(v),
            Builder::Int(v) => ColumnData::Int64(v),
            Builder::Bool(v) => ColumnData::Boolean(v),
            Builder::Text(v) => ColumnData::Text(v),
        }
    }
}

/// Types `n` values of `field` (none where a row lacks it), listing what is wrong in
/// `problems`.
pub(super) fn column_from<'a>(
    field: &Field,
    values: &mut dyn Iterator<Item = Option<Scalar<'a>>>,
    n: usize,
    problems: &mut Vec<FieldProblem>,
) -> Column {
    let mut b = Builder::new(field.data_type, n);
    let mut nulls = vec![false; n];
    for (row, v) in values.enumerate() {
        match v {
            None | Some(Scalar::Null) => {
                b.push_null();
                nulls[row] = true;
                if !field.nullable {
                    problems.push(FieldProblem {
                        field: field.name.clone(),
                        row: Some(row as u32),
                        problem: if v.is_none() {
                            "missing".into()
                        } else {
                            "null is not allowed".into()
                        },
                    });
                }
            }
            Some(v) => {
                if let Err(problem) = b.push(v) {
                    b.push_null();
                    problems.push(FieldProblem {
                        field: field.name.clone(),
                        row: Some(row as u32),
                        problem,
                    });
                }
            }
        }
    }
    Column {
        name: field.name.clone(),
        data: b.finish(),
        nulls: nulls.iter().any(|&x| x).then_some(nulls),
    }
}

fn value_at(c: &Column, i: usize) -> Value {
    if c.nulls.as_ref().is_some_and(|m| m[i]) {
        return Value::Null;
    }
    match &c.data {
        ColumnData::Float64(v) => serde_json::Number::from_f64(v[i])
            .map(Value::Number)
            .unwrap_or(Value::Null),
        ColumnData::Int64(v) => Value::from(v[i]),
        ColumnData::Boolean(v) => Value::Bool(v[i]),
        ColumnData::Text(v) => Value::String(v[i].clone()),
    }
}

/// One JSON object per row.
pub fn batch_to_rows(batch: &Batch) -> Vec<Value> {
    (0..batch.num_rows as usize)
        .map(|i| {
            Value::Object(
                batch
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), value_at(c, i)))
                    .collect(),
            )
        })
        .collect()
}

/// One JSON array per column.
pub fn batch_to_columns(batch: &Batch) -> Value {
    Value::Object(
        batch
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Value::Array(
                        (0..batch.num_rows as usize)
                            .map(|i| value_at(c, i))
                            .collect(),
                    ),
                )
            })
            .collect(),
    )
}
