//! JSON rows and columns to and from batches, checked against a schema field by field.

use serde_json::{Map, Value};

use super::FieldProblem;
use crate::runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};

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
    fn push(&mut self, value: &Value) -> Result<(), String> {
        match (self, value) {
            (Builder::Float(v), Value::Number(n)) => {
                v.push(n.as_f64().ok_or("not a representable number")?)
            }
            (Builder::Int(v), Value::Number(n)) => match n.as_i64() {
                Some(i) => v.push(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => v.push(f as i64),
                    _ => return Err(format!("expected an integer, found {n}")),
                },
            },
            (Builder::Bool(v), Value::Bool(b)) => v.push(*b),
            (Builder::Text(v), Value::String(s)) => v.push(s.clone()),
            (b, other) => {
                let want = match b {
                    Builder::Float(_) => "a number",
                    Builder::Int(_) => "an integer",
                    Builder::Bool(_) => "true or false",
                    Builder::Text(_) => "a string",
                };
                let found = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "an array",
                    Value::Object(_) => "an object",
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

fn column_from(
    field: &Field,
    values: &mut dyn Iterator<Item = Option<&Value>>,
    n: usize,
    problems: &mut Vec<FieldProblem>,
) -> Column {
    let mut b = Builder::new(field.data_type, n);
    let mut nulls = vec![false; n];
    for (row, v) in values.enumerate() {
        match v {
            None | Some(Value::Null) => {
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

/// Builds a batch from JSON objects, one per row.
pub fn rows_to_batch(
    rows: &[Value],
    schema: &[Field],
    ignore: &[&str],
) -> Result<Batch, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut objects: Vec<&Map<String, Value>> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        match r.as_object() {
            Some(o) => {
                for k in o.keys() {
                    if !schema.iter().any(|f| &f.name == k) && !ignore.contains(&k.as_str()) {
                        problems.push(FieldProblem {
                            field: k.clone(),
                            row: Some(i as u32),
                            problem: "not an input of this model".into(),
                        });
                    }
                }
                objects.push(o);
            }
            None => problems.push(FieldProblem {
                field: String::new(),
                row: Some(i as u32),
                problem: "a row must be a JSON object of column names to values".into(),
            }),
        }
    }
    if objects.len() != rows.len() {
        return Err(problems);
    }
    let n = objects.len();
    let columns = schema
        .iter()
        .map(|f| {
            column_from(
                f,
                &mut objects.iter().map(|o| o.get(&f.name)),
                n,
                &mut problems,
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(Batch {
            num_rows: n as u32,
            columns,
        })
    } else {
        Err(problems)
    }
}

/// Builds a batch from a JSON object of column names to arrays of values.
pub fn columns_to_batch(
    columns: &Map<String, Value>,
    schema: &[Field],
    ignore: &[&str],
) -> Result<Batch, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut n: Option<usize> = None;
    for (k, v) in columns {
        if !schema.iter().any(|f| &f.name == k) {
            if !ignore.contains(&k.as_str()) {
                problems.push(FieldProblem {
                    field: k.clone(),
                    row: None,
                    problem: "not an input of this model".into(),
                });
            }
            continue;
        }
        match v.as_array() {
            None => problems.push(FieldProblem {
                field: k.clone(),
                row: None,
                problem: "must be an array of values".into(),
            }),
            Some(a) => match n {
                None => n = Some(a.len()),
                Some(m) if m != a.len() => problems.push(FieldProblem {
                    field: k.clone(),
                    row: None,
                    problem: format!("has {} values, another column has {m}", a.len()),
                }),
                _ => {}
            },
        }
    }
    let n = n.unwrap_or(0);
    let mut out = Vec::with_capacity(schema.len());
    for f in schema {
        match columns.get(&f.name) {
            Some(Value::Array(a)) if a.len() == n => {
                out.push(column_from(f, &mut a.iter().map(Some), n, &mut problems))
            }
            Some(_) => {}
            None => {
                problems.push(FieldProblem {
                    field: f.name.clone(),
                    row: None,
                    problem: "missing".into(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(Batch {
            num_rows: n as u32,
            columns: out,
        })
    } else {
        Err(problems)
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
