//! Choosing the columns a plugin works on, and storing learned state.

use serde::{Serialize, de::DeserializeOwned};

use crate::{DataType, Field, Result, config_error, internal_error};

/// The columns named in `requested` (each must exist and be accepted), or every column of
/// `input` that `accept` takes when nothing was requested. Errors name the configuration
/// `key` the list came from and say what the plugin `needs` (e.g. "numbers").
pub fn select_columns(
    key: &str,
    requested: Option<&[String]>,
    input: &[Field],
    accept: impl Fn(DataType) -> bool,
    needs: &str,
) -> Result<Vec<String>> {
    match requested {
        Some(names) => {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                let field = input.iter().find(|f| &f.name == name).ok_or_else(|| {
                    let have: Vec<&str> = input.iter().map(|f| f.name.as_str()).collect();
                    config_error(format!(
                        "`{key}` names `{name}`, which the data does not have (it has [{}])",
                        have.join(", ")
                    ))
                })?;
                if !accept(field.data_type) {
                    return Err(config_error(format!(
                        "`{key}` names `{name}`, a {} column; this plugin needs {needs}",
                        field.data_type.name()
                    )));
                }
                if out.contains(name) {
                    return Err(config_error(format!("`{key}` names `{name}` twice")));
                }
                out.push(name.clone());
            }
            Ok(out)
        }
        None => Ok(input
            .iter()
            .filter(|f| accept(f.data_type))
            .map(|f| f.name.clone())
            .collect()),
    }
}

/// True for float64, int64 and boolean.
pub fn is_numeric(t: DataType) -> bool {
    t != DataType::Text
}

/// Serialises a learned state (JSON, so it can be read and diffed).
pub fn encode_state<T: Serialize>(state: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(state).map_err(|e| internal_error(format!("could not encode state: {e}")))
}

/// Reads a learned state, naming the plugin whose state was expected.
pub fn decode_state<T: DeserializeOwned>(bytes: &[u8], plugin: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| config_error(format!("the state is not a valid {plugin} state: {e}")))
}

/// The numeric columns named by the `columns` key, or all numeric columns when it is absent.
pub fn numeric_columns(requested: Option<&[String]>, input: &[Field]) -> Result<Vec<String>> {
    select_columns("columns", requested, input, is_numeric, "numbers")
}

/// The schema of columns a transform writes in place of the named input columns: each of
/// `data_type`, nullable where the input column was.
pub fn replaced_columns(names: Vec<String>, input: &[Field], data_type: DataType) -> Vec<Field> {
    names
        .into_iter()
        .map(|name| Field {
            nullable: input.iter().any(|f| f.name == name && f.nullable),
            name,
            data_type,
        })
        .collect()
}
