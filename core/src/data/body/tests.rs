use serde_json::json;

use super::*;
use ferry_runtime::bindings::types::{ColumnData, DataType};

fn schema() -> Vec<Field> {
    let field = |name: &str, data_type, nullable| Field {
        name: name.into(),
        data_type,
        nullable,
    };
    vec![
        field("id", DataType::Text, false),
        field("x", DataType::Float64, false),
        field("n", DataType::Int64, true),
        field("b", DataType::Boolean, false),
    ]
}

fn parse(body: Value) -> Result<RequestRows, BodyError> {
    let bytes = serde_json::to_vec(&body).unwrap();
    let parsed = RequestRows::parse(&bytes);
    let from_tree = RequestRows::from_value(&body);
    let seen = |r: &Result<RequestRows, BodyError>| match r {
        Ok(r) => format!(
            "{} {} {:?} {:?} {}",
            r.as_rows, r.rows, r.columns, r.not_objects, r.too_many
        ),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        seen(&parsed),
        seen(&from_tree),
        "bytes and a JSON tree read the same"
    );
    parsed
}

fn batch(body: Value) -> Result<Batch, Vec<FieldProblem>> {
    parse(body).unwrap().to_batch(&schema(), &["label"])
}

fn problems(body: Value) -> Vec<(String, Option<u32>, String)> {
    batch(body)
        .unwrap_err()
        .into_iter()
        .map(|p| (p.field, p.row, p.problem))
        .collect()
}

#[test]
fn rows_and_columns_give_the_same_batch() {
    let rows = json!({"rows": [
        {"id": "a", "x": 1.5, "n": 3, "b": true, "label": 1},
        {"b": false, "x": 2, "id": "b"},
    ]});
    let columns = json!({"inputs": {
        "id": ["a", "b"], "x": [1.5, 2], "n": [3, null], "b": [true, false], "label": [1, 0]
    }});
    let (r, c) = (batch(rows).unwrap(), batch(columns).unwrap());
    assert_eq!(r, c);
    assert_eq!(r.num_rows, 2);
    assert_eq!(
        r.columns[1].data,
        ColumnData::Float64(vec![1.5, 2.0]),
        "an integer where a number is expected"
    );
    assert_eq!(r.columns[2].nulls, Some(vec![false, true]));
    assert!(parse(json!({"rows": [{"id": "a"}]})).unwrap().as_rows());
    assert!(!parse(json!({"columns": {"id": ["a"]}})).unwrap().as_rows());
}

#[test]
fn every_problem_is_named_by_field_and_row() {
    let found = problems(json!({"dataframe_records": [
        {"id": 7, "x": "1", "n": 1.5, "b": true, "zz": 1},
        {"id": "b", "x": null, "b": [1], "aa": 2},
        {"id": "c", "x": 1, "n": 9007199254740993u64, "b": {"v": 1}},
    ]}));
    let expected = [
        ("zz", Some(0), "not an input of this model"),
        ("aa", Some(1), "not an input of this model"),
        ("id", Some(0), "expected a string, found a number"),
        ("x", Some(0), "expected a number, found a string"),
        ("x", Some(1), "null is not allowed"),
        ("n", Some(0), "expected an integer, found 1.5"),
        ("b", Some(1), "expected true or false, found an array"),
        ("b", Some(2), "expected true or false, found an object"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(f, r, p)| (f.to_string(), *r, p.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_missing_field_and_a_row_that_is_not_an_object() {
    assert_eq!(
        problems(json!({"rows": [{"id": "a", "x": 1, "b": true}, {"id": "b", "b": true}]})),
        [("x".to_string(), Some(1), "missing".to_string())]
    );
    assert_eq!(
        problems(json!({"instances": [{"id": "a"}, 5, [1], {"q": 1}]})),
        [
            (
                String::new(),
                Some(1),
                "a row must be a JSON object of column names to values".into()
            ),
            (
                String::new(),
                Some(2),
                "a row must be a JSON object of column names to values".into()
            ),
            ("q".into(), Some(3), "not an input of this model".into()),
        ]
    );
}

#[test]
fn columns_problems_name_the_column() {
    assert_eq!(
        problems(json!({"columns": {"id": ["a", "b"], "x": [1], "b": true, "zz": [1, 2]}})),
        [
            (
                "b".to_string(),
                None,
                "must be an array of values".to_string()
            ),
            (
                "x".into(),
                None,
                "has 1 values, another column has 2".into()
            ),
            ("zz".into(), None, "not an input of this model".into()),
            ("n".into(), None, "missing".into()),
        ]
    );
}

#[test]
fn the_last_of_a_repeated_field_counts() {
    let b = batch(json!({"rows": [{"id": "a", "x": "no", "b": true, "x": 2.5}]}));
    // serde_json's tree keeps the last of a repeated key; so does the parser.
    assert_eq!(b.unwrap().columns[1].data, ColumnData::Float64(vec![2.5]));
    let raw = br#"{"columns": {"id": ["a"], "x": ["no"], "n": [1], "b": [true], "x": [2.5]}}"#;
    let b = RequestRows::parse(raw).unwrap().to_batch(&schema(), &[]);
    assert_eq!(b.unwrap().columns[1].data, ColumnData::Float64(vec![2.5]));
}

#[test]
fn bodies_without_rows_are_refused_with_what_a_body_holds() {
    let refused = |raw: &[u8]| RequestRows::parse(raw).unwrap_err().to_string();
    assert!(refused(b"{\"rows\": [").starts_with("the body is not JSON: EOF"));
    assert!(refused(b"{\"rows\": [{}]} trailing").starts_with("the body is not JSON: trailing"));
    assert_eq!(
        refused(b"[{\"id\": \"a\"}]"),
        "the body must be a JSON object with `rows` or `columns`"
    );
    let no_shape = "send either `rows` (an array of objects) or `columns` (an object of arrays)";
    for raw in [
        &br#"{}"#[..],
        br#"{"rows": {"id": "a"}}"#,
        br#"{"columns": [1, 2]}"#,
        br#"{"rows": [{}], "columns": {"id": ["a"]}}"#,
        br#"{"rows": [{}], "instances": [{}]}"#,
    ] {
        assert_eq!(refused(raw), no_shape, "{}", String::from_utf8_lossy(raw));
    }
    assert_eq!(refused(br#"{"rows": []}"#), "no rows to predict");
    assert_eq!(refused(br#"{"columns": {"id": []}}"#), "no rows to predict");
    assert_eq!(
        parse(json!({"rows": [{"id": "a"}], "params": {"k": 1}}))
            .unwrap()
            .rows(),
        1,
        "other keys are ignored"
    );
}

#[test]
fn distinct_field_names_are_bounded() {
    let row: serde_json::Map<String, Value> = (0..=MAX_FIELDS)
        .map(|i| (format!("f{i}"), json!(i)))
        .collect();
    let err = parse(json!({"rows": [row]})).unwrap_err();
    assert!(matches!(err, BodyError::TooManyFields), "{err}");
    let spread: Vec<Value> = (0..=MAX_FIELDS)
        .map(|i| json!({format!("f{i}"): 1}))
        .collect();
    assert!(matches!(
        parse(json!({"rows": spread})),
        Err(BodyError::TooManyFields)
    ));
}

#[test]
fn the_first_rows_value_keys_stickiness() {
    let r = parse(json!({"rows": [{"id": "C1", "n": 4, "o": {"a": 1}}, {"id": "C2"}]})).unwrap();
    assert_eq!(r.first("id").as_deref(), Some("C1"));
    assert_eq!(r.first("n").as_deref(), Some("4"));
    assert_eq!(r.first("o"), None);
    assert_eq!(r.first("none"), None);
    let r = parse(json!({"rows": [{"x": 1}, {"id": "C2"}]})).unwrap();
    assert_eq!(r.first("id"), None, "the first row has no id");
    let r = parse(json!({"columns": {"id": ["C9", "C2"]}})).unwrap();
    assert_eq!((r.first("id").as_deref(), r.rows()), (Some("C9"), 2));
}
