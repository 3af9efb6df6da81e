//! A prediction request's body, parsed from JSON straight into columns of raw values with no
//! JSON tree in between: a field's name is held once per column rather than once per row, and
//! each value once, so a body takes a small multiple of its own size at most. The columns are
//! typed against a version's schema only after the version is chosen (a deployment chooses it
//! by weight, stickiness or fallback), with the same problems, field by field, as
//! [`super::rows_to_batch`].

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::FieldProblem;
use super::json::{Scalar, column_from};
use ferry_runtime::bindings::types::{Batch, Field};

/// The most distinct field names one body may use.
pub const MAX_FIELDS: usize = 4096;

/// Why a body holds no rows to predict.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The bytes are not one JSON value.
    #[error("the body is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// The body is JSON but not an object.
    #[error("the body must be a JSON object with `rows` or `columns`")]
    NotObject,
    /// Neither or both of the shapes, or a shape of the wrong JSON type.
    #[error("send either `rows` (an array of objects) or `columns` (an object of arrays)")]
    NoShape,
    /// More distinct field names than any schema needs.
    #[error("the rows use more than {MAX_FIELDS} distinct field names")]
    TooManyFields,
    /// Zero rows.
    #[error("no rows to predict")]
    Empty,
}

/// One value of a request, as the JSON gave it (arrays and objects only by kind: no column
/// holds them).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Number(Number),
    Text(Box<str>),
    Array,
    Object,
}

impl Cell {
    /// The value as a column reads it.
    fn scalar(&self) -> Scalar<'_> {
        match self {
            Cell::Null => Scalar::Null,
            Cell::Bool(b) => Scalar::Bool(*b),
            Cell::Number(n) => Scalar::Number(n),
            Cell::Text(s) => Scalar::Text(s),
            Cell::Array => Scalar::Array,
            Cell::Object => Scalar::Object,
        }
    }
}

/// One field's values, by row. In the rows shape a row without the field has no entry.
#[derive(Debug, Default)]
struct RawColumn {
    name: String,
    cells: Vec<(u32, Cell)>,
    /// In the columns shape: whether the field's value was an array.
    array: bool,
}

/// A predict body's rows, before they are typed against a version's schema: `rows` (or
/// `dataframe_records`, `instances`), an array of objects, or `columns` (or `inputs`), an
/// object of arrays.
#[derive(Debug, Default)]
pub struct RequestRows {
    as_rows: bool,
    rows: usize,
    columns: Vec<RawColumn>,
    index: HashMap<String, usize>,
    /// Rows (in the rows shape) that were not objects.
    not_objects: Vec<u32>,
    /// The next field expected: rows usually list their fields in the same order.
    hint: usize,
    too_many: bool,
}

impl RequestRows {
    /// Parses a predict body.
    pub fn parse(bytes: &[u8]) -> Result<Self, BodyError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let top = Top::default().deserialize(&mut de)?;
        de.end()?;
        top.finish()
    }

    /// Reads a predict body already parsed as JSON.
    pub fn from_value(body: &Value) -> Result<Self, BodyError> {
        Top::default().deserialize(body)?.finish()
    }

    /// Reads rows given as JSON objects.
    pub fn from_rows(rows: &[Value]) -> Result<Self, BodyError> {
        let mut out = RequestRows {
            as_rows: true,
            ..Default::default()
        };
        let seq = de::value::SeqDeserializer::<_, serde_json::Error>::new(rows.iter());
        RowsSeed(&mut out).deserialize(seq)?;
        if out.too_many {
            return Err(BodyError::TooManyFields);
        }
        Ok(out)
    }

    /// Whether `key` names the rows of a predict body (`rows`, `columns` or their aliases).
    pub fn is_shape_key(key: &str) -> bool {
        TopKey::of(key) != TopKey::Other
    }

    /// Whether the answer is given as rows (else as columns).
    pub fn as_rows(&self) -> bool {
        self.as_rows
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn column(&self, name: &str) -> Option<&RawColumn> {
        self.index.get(name).map(|&i| &self.columns[i])
    }

    /// The first row's value of `field`, as text (for a stickiness key); none when the field
    /// is absent or holds an array or an object.
    pub fn first(&self, field: &str) -> Option<String> {
        let c = self.column(field)?;
        let (row, cell) = c.cells.first()?;
        if *row != 0 {
            return None;
        }
        Some(match cell {
            Cell::Text(s) => s.to_string(),
            Cell::Number(n) => n.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Null => "null".into(),
            Cell::Array | Cell::Object => return None,
        })
    }

    /// Types the rows against `schema`; fields named in `ignore` (the label) may be sent and
    /// are dropped. Every problem is listed, by field and row.
    pub fn to_batch(&self, schema: &[Field], ignore: &[&str]) -> Result<Batch, Vec<FieldProblem>> {
        let known = |name: &str| schema.iter().any(|f| f.name == name);
        let mut problems = Vec::new();
        let n = if self.as_rows {
            let mut found: Vec<(u32, &str, &str)> = Vec::new();
            for c in &self.columns {
                if known(&c.name) || ignore.contains(&c.name.as_str()) {
                    continue;
                }
                found.extend(
                    c.cells
                        .iter()
                        .map(|(row, _)| (*row, c.name.as_str(), "not an input of this model")),
                );
            }
            found.extend(self.not_objects.iter().map(|&row| {
                (
                    row,
                    "",
                    "a row must be a JSON object of column names to values",
                )
            }));
            found.sort_unstable();
            problems.extend(found.into_iter().map(|(row, field, problem)| FieldProblem {
                field: field.to_string(),
                row: Some(row),
                problem: problem.to_string(),
            }));
            if !self.not_objects.is_empty() {
                return Err(problems);
            }
            self.rows
        } else {
            let mut order: Vec<&RawColumn> = self.columns.iter().collect();
            order.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            let mut n: Option<usize> = None;
            for c in order {
                let problem = if !known(&c.name) {
                    (!ignore.contains(&c.name.as_str()))
                        .then(|| "not an input of this model".into())
                } else if !c.array {
                    Some("must be an array of values".into())
                } else {
                    match n {
                        None => {
                            n = Some(c.cells.len());
                            None
                        }
                        Some(m) if m != c.cells.len() => Some(format!(
                            "has {} values, another column has {m}",
                            c.cells.len()
                        )),
                        Some(_) => None,
                    }
                };
                if let Some(problem) = problem {
                    problems.push(FieldProblem {
                        field: c.name.clone(),
                        row: None,
                        problem,
                    });
                }
            }
            n.unwrap_or(0)
        };
        let mut columns = Vec::with_capacity(schema.len());
        for f in schema {
            match self.column(&f.name) {
                None if !self.as_rows => problems.push(FieldProblem {
                    field: f.name.clone(),
                    row: None,
                    problem: "missing".into(),
                }),
                Some(c) if !(self.as_rows || c.array && c.cells.len() == n) => {}
                c => {
                    let cells = c.map(|c| c.cells.as_slice()).unwrap_or_default();
                    let mut next = cells.iter().peekable();
                    let mut values = (0..n as u32).map(|row| {
                        next.next_if(|(r, _)| *r == row)
                            .map(|(_, cell)| cell.scalar())
                    });
                    columns.push(column_from(f, &mut values, n, &mut problems));
                }
            }
        }
        if problems.is_empty() {
            Ok(Batch {
                num_rows: n as u32,
                columns,
            })
        } else {
            Err(problems)
        }
    }

    /// The column a field name keys, added if new; none once there are too many.
    fn key(&mut self, name: &str) -> Option<usize> {
        if let Some(c) = self.columns.get(self.hint)
            && c.name == name
        {
            self.hint += 1;
            return Some(self.hint - 1);
        }
        let i = match self.index.get(name) {
            Some(&i) => i,
            None if self.columns.len() >= MAX_FIELDS => {
                self.too_many = true;
                return None;
            }
            None => {
                self.columns.push(RawColumn {
                    name: name.to_string(),
                    ..Default::default()
                });
                self.index.insert(name.to_string(), self.columns.len() - 1);
                self.columns.len() - 1
            }
        };
        self.hint = i + 1;
        Some(i)
    }

    /// Sets row `row` of column `i` (the last value wins when a row names a field twice).
    fn set(&mut self, i: usize, row: u32, cell: Cell) {
        let cells = &mut self.columns[i].cells;
        match cells.last_mut() {
            Some(last) if last.0 == row => last.1 = cell,
            _ => cells.push((row, cell)),
        }
    }
}

/// The top of a body, as read.
#[derive(Default)]
struct Top {
    rows: RequestRows,
    object: bool,
    shapes: usize,
    wrong_type: bool,
}

impl Top {
    fn finish(self) -> Result<RequestRows, BodyError> {
        let rows = self.rows;
        if !self.object {
            Err(BodyError::NotObject)
        } else if self.shapes != 1 || self.wrong_type {
            Err(BodyError::NoShape)
        } else if rows.too_many {
            Err(BodyError::TooManyFields)
        } else if rows.rows == 0 {
            Err(BodyError::Empty)
        } else {
            Ok(rows)
        }
    }
}

/// Answers `visit_*` for every JSON type but the ones a visitor reads, draining composite
/// values it does not read.
macro_rules! otherwise {
    ($value:expr; $($skip:ident),*) => {
        $(otherwise!(@one $skip, $value);)*
    };
    (@one bool, $value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok($value) }
    };
    (@one i64, $value:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok($value) }
    };
    (@one u64, $value:expr) => {
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok($value) }
    };
    (@one f64, $value:expr) => {
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok($value) }
    };
    (@one str, $value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok($value) }
    };
    (@one unit, $value:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($value) }
    };
    (@one seq, $value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
    (@one map, $value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
}

impl<'de> DeserializeSeed<'de> for Top {
    type Value = Top;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a predict body")
    }

    otherwise!(Top::default(); bool, i64, u64, f64, str, unit, seq);

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Top, A::Error> {
        self.object = true;
        while let Some(key) = map.next_key_seed(TopKeySeed)? {
            if key == TopKey::Other || self.shapes > 0 {
                self.shapes += usize::from(key != TopKey::Other);
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.shapes += 1;
            self.rows.as_rows = key == TopKey::Rows;
            let read = if self.rows.as_rows {
                map.next_value_seed(RowsSeed(&mut self.rows))?
            } else {
                map.next_value_seed(ColumnsSeed(&mut self.rows))?
            };
            self.wrong_type |= !read;
        }
        Ok(self)
    }
}

/// A top-level key: which shape it names, if any.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TopKey {
    Rows,
    Columns,
    Other,
}

impl TopKey {
    fn of(key: &str) -> TopKey {
        match key {
            "rows" | "dataframe_records" | "instances" => TopKey::Rows,
            "columns" | "inputs" => TopKey::Columns,
            _ => TopKey::Other,
        }
    }
}

/// Reads a top-level key.
struct TopKeySeed;

impl<'de> DeserializeSeed<'de> for TopKeySeed {
    type Value = TopKey;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TopKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TopKeySeed {
    type Value = TopKey;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<TopKey, E> {
        Ok(TopKey::of(key))
    }
}

/// The rows shape's array; reads false when the value is not an array.
struct RowsSeed<'a>(&'a mut RequestRows);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows")
    }

    otherwise!(false; bool, i64, u64, f64, str, unit, map);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut row = 0u32;
        while seq
            .next_element_seed(RowSeed { rows: self.0, row })?
            .is_some()
        {
            row = row.saturating_add(1);
        }
        self.0.rows = row as usize;
        Ok(true)
    }
}

/// One row of the rows shape.
struct RowSeed<'a> {
    rows: &'a mut RequestRows,
    row: u32,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let object = d.deserialize_any(RowVisitor {
            rows: &mut *self.rows,
            row: self.row,
        })?;
        if !object {
            self.rows.not_objects.push(self.row);
        }
        Ok(())
    }
}

/// Reads one row's fields; false when the row is not an object.
struct RowVisitor<'a> {
    rows: &'a mut RequestRows,
    row: u32,
}

impl<'de> Visitor<'de> for RowVisitor<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row")
    }

    otherwise!(false; bool, i64, u64, f64, str, unit, seq);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        self.rows.hint = 0;
        while let Some(i) = map.next_key_seed(FieldKey(self.rows))? {
            let cell = map.next_value_seed(CellSeed)?;
            if let Some(i) = i {
                self.rows.set(i, self.row, cell);
            }
        }
        Ok(true)
    }
}

/// A field name: the index of its column (none once there are too many fields).
struct FieldKey<'a>(&'a mut RequestRows);

impl<'de> DeserializeSeed<'de> for FieldKey<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldKey<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.key(name))
    }
}

/// The columns shape's object of arrays; reads false when the value is not an object.
struct ColumnsSeed<'a>(&'a mut RequestRows);

impl<'de> DeserializeSeed<'de> for ColumnsSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ColumnsSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of columns")
    }

    otherwise!(false; bool, i64, u64, f64, str, unit, seq);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(i) = map.next_key_seed(FieldKey(self.0))? {
            match i {
                Some(i) => {
                    let column = &mut self.0.columns[i];
                    column.cells.clear();
                    column.array = map.next_value_seed(ColumnSeed(&mut column.cells))?;
                    let len = if column.array { column.cells.len() } else { 0 };
                    self.0.rows = self.0.rows.max(len);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(true)
    }
}

/// One column's array of values; reads false when the value is not an array.
struct ColumnSeed<'a>(&'a mut Vec<(u32, Cell)>);

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ColumnSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of values")
    }

    otherwise!(false; bool, i64, u64, f64, str, unit, map);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut row = 0u32;
        while let Some(cell) = seq.next_element_seed(CellSeed)? {
            self.0.push((row, cell));
            row = row.saturating_add(1);
        }
        Ok(true)
    }
}

/// One value.
struct CellSeed;

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Cell;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = Cell;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }

    otherwise!(Cell::Array; seq);
    otherwise!(Cell::Object; map);

    fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Cell, E> {
        Ok(Cell::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
        Ok(Cell::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
        Ok(Cell::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell, E> {
        Ok(Number::from_f64(v).map_or(Cell::Null, Cell::Number))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cell, E> {
        Ok(Cell::Text(s.into()))
    }
}

/// Builds a batch from JSON objects, one per row.
pub fn rows_to_batch(
    rows: &[Value],
    schema: &[Field],
    ignore: &[&str],
) -> Result<Batch, Vec<FieldProblem>> {
    RequestRows::from_rows(rows)
        .map_err(|e| {
            vec![FieldProblem {
                field: String::new(),
                row: None,
                problem: e.to_string(),
            }]
        })?
        .to_batch(schema, ignore)
}

#[cfg(test)]
mod tests;
