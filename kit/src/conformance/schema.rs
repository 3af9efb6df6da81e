//! The manifest and the configuration schema: what a plugin says about itself, and whether its
//! own example configuration fits its own schema.

use serde_json::Value;

use super::{Outcome, Point};
use ferry_runtime::manifest::{Manifest, PluginKind};

/// The manifest says what the plugin is for and who to ask.
pub(super) fn manifest_point(m: &Manifest) -> Point {
    let mut missing = Vec::new();
    if m.description.trim().is_empty() {
        missing.push("description");
    }
    if m.license.is_none() {
        missing.push("license");
    }
    let placeholder = m.description.contains(crate::scaffold::PLACEHOLDER);
    let outcome = if placeholder {
        Outcome::Failed(format!(
            "the description is still the one `ferry plugin new` wrote ({:?}); say what the plugin does, which is what the registry shows users",
            m.description
        ))
    } else if missing.is_empty() {
        Outcome::Passed(format!(
            "{} {}: {}",
            m.name,
            m.version,
            m.description.lines().next().unwrap_or_default()
        ))
    } else {
        Outcome::Failed(format!(
            "the manifest has no {}, which the registry shows to users",
            missing.join(" and no ")
        ))
    };
    Point {
        check: "manifest",
        asks: "a name, a semantic version, a description of its own and a license",
        outcome,
    }
}

/// The configuration schema is an object schema, and each of its examples fits it.
pub(super) fn schema_point(m: &Manifest) -> Point {
    // Validators and transforms are checked on sample data with their first example, so they
    // need one; models train with it, and deployers and sinks are not run on sample data.
    let needs_example = matches!(m.kind, PluginKind::Validator | PluginKind::Transform);
    Point {
        check: "config-schema",
        asks: "an object schema whose `examples` fit it (validators and transforms need one: the first is the configuration these checks and the purity check at publish use)",
        outcome: check_schema(&m.config_schema, needs_example),
    }
}

fn check_schema(schema: &Value, needs_example: bool) -> Outcome {
    let Some(object) = schema.as_object() else {
        return Outcome::Failed("the configuration schema is not a JSON object".into());
    };
    if let Some(t) = object.get("type")
        && t != "object"
    {
        return Outcome::Failed(format!(
            "the configuration schema's `type` is {t}; a configuration is a JSON object"
        ));
    }
    let examples = match object.get("examples") {
        None => Vec::new(),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(_) => return Outcome::Failed("`examples` must be a list".into()),
    };
    for (i, example) in examples.iter().enumerate() {
        if let Err(why) = fits(schema, example, "") {
            return Outcome::Failed(format!("examples[{i}] does not fit the schema: {why}"));
        }
    }
    let has_properties = object
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    match (examples.len(), has_properties) {
        (0, true) if needs_example => Outcome::Failed(
            "the schema has properties but no `examples`: give one that suits the sample data (columns amount, score, count, flag, segment, label)".into(),
        ),
        (0, true) => Outcome::Passed("an object schema, without examples".into()),
        (0, false) => Outcome::Passed("no configuration".into()),
        (n, _) => Outcome::Passed(format!("{n} example(s), each fitting the schema")),
    }
}

/// Whether `value` fits the parts of JSON Schema plugins use: `type`, `properties`,
/// `required`, `additionalProperties: false`, `items`, `enum`, `minimum` and `maximum`.
fn fits(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let here = if at.is_empty() {
        "the configuration"
    } else {
        at
    };
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            return Err(format!("{here} is {value}, not {}", types.join(" or ")));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        return Err(format!(
            "{here} is {value}, not one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{here} is {n}, below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{here} is {n}, above the maximum {max}"));
        }
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(key) {
                    return Err(format!("{here} has no `{key}`, which is required"));
                }
            }
        }
        for (key, v) in fields {
            let path = if at.is_empty() {
                format!("`{key}`")
            } else {
                format!("{at}.{key}")
            };
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => fits(sub, v, &path)?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path} is not a property the schema allows"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            fits(item_schema, item, &format!("{here}[{i}]"))?;
        }
    }
    Ok(())
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn examples_are_checked_against_their_schema() {
        let schema = json!({
            "type": "object", "additionalProperties": false, "required": ["columns"],
            "properties": {"columns": {"type": "array", "items": {"type": "string"}},
                           "k": {"type": "integer", "minimum": 1}},
            "examples": [{"columns": ["a"], "k": 2}]
        });
        assert!(matches!(check_schema(&schema, true), Outcome::Passed(_)));
        let mut bad = schema.clone();
        bad["examples"] = json!([{"columns": ["a"], "kk": 2}]);
        assert_eq!(
            check_schema(&bad, true),
            Outcome::Failed(
                "examples[0] does not fit the schema: `kk` is not a property the schema allows"
                    .into()
            )
        );
        bad["examples"] = json!([{"columns": [1]}]);
        assert_eq!(
            check_schema(&bad, true),
            Outcome::Failed(
                "examples[0] does not fit the schema: `columns`[0] is 1, not string".into()
            )
        );
        bad["examples"] = json!([{"columns": [], "k": 0}]);
        assert!(
            matches!(check_schema(&bad, true), Outcome::Failed(m) if m.contains("below the minimum 1"))
        );
        bad["examples"] = json!([{}]);
        assert!(
            matches!(check_schema(&bad, true), Outcome::Failed(m) if m.contains("has no `columns`"))
        );
        bad["examples"] = json!([]);
        assert!(
            matches!(check_schema(&bad, true), Outcome::Failed(m) if m.contains("no `examples`"))
        );
        assert!(matches!(check_schema(&bad, false), Outcome::Passed(_)));
        assert!(matches!(check_schema(&json!({}), true), Outcome::Passed(_)));
    }
}
