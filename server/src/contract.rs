//! The API's own document as the first check of a request: a query parameter, or a JSON body,
//! that does not fit what `/openapi.json` says the operation takes is refused with 400 before
//! a handler sees it, naming each place it does not fit. So the server never takes what the
//! document says it refuses; the schemas state each handler's own rules (`schema.rs`), so what
//! fits the document is not refused for its shape either.
//!
//! Each schema is compiled on its operation's first request, not all at once: compiling every
//! schema of the document (their patterns' regular expressions most of all) was a third of the
//! time a new server took to its first answer.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::http::Method;
use serde_json::{Map, Value, json};

/// What each operation of the document takes.
pub struct Contract {
    operations: HashMap<(Method, String), Operation>,
}

/// What one operation takes.
pub struct Operation {
    query: Vec<Param>,
    body: Option<Body>,
}

struct Param {
    name: String,
    required: bool,
    kind: Kind,
    validator: Lazy,
}

/// A schema of the document, compiled on first use (`None` if it does not compile: it is then
/// not enforced, and the error is logged).
struct Lazy {
    schema: Value,
    components: Arc<Value>,
    compiled: OnceLock<Option<jsonschema::Validator>>,
}

impl Lazy {
    fn new(schema: Value, components: &Arc<Value>) -> Self {
        Self {
            schema,
            components: components.clone(),
            compiled: OnceLock::new(),
        }
    }

    fn get(&self) -> Option<&jsonschema::Validator> {
        self.compiled
            .get_or_init(|| compile(&self.schema, &self.components))
            .as_ref()
    }
}

/// How a query parameter's text becomes the JSON value its schema judges.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    /// Every occurrence of the parameter, as texts.
    Texts,
}

struct Body {
    required: bool,
    validator: Lazy,
}

/// At most this many problems are listed in one refusal.
const LISTED: usize = 10;

/// `schema` as a document of its own, with the components it refers to (directly or through
/// other components) beside it, so that its `#/components/...` references resolve. Only those:
/// every validator keeps its document, and the whole of the API's components in each of its
/// hundreds of validators held about 40 MB.
fn standalone(schema: &Value, components: &Value) -> Value {
    let mut used = Map::new();
    let mut pending = vec![schema];
    while let Some(v) = pending.pop() {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref")
                    && let Some((kind, name)) = r
                        .strip_prefix("#/components/")
                        .and_then(|rest| rest.split_once('/'))
                    && let Some(target) = components.get(kind).and_then(|k| k.get(name))
                {
                    let entry = used
                        .entry(kind.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(entry) = entry.as_object_mut()
                        && !entry.contains_key(name)
                    {
                        entry.insert(name.to_string(), target.clone());
                        pending.push(target);
                    }
                }
                pending.extend(o.values());
            }
            Value::Array(a) => pending.extend(a),
            _ => {}
        }
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": used,
        "allOf": [schema],
    })
}

fn compile(schema: &Value, components: &Value) -> Option<jsonschema::Validator> {
    match jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&standalone(schema, components))
    {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(error = %e, "a schema of the API document does not compile; it is not enforced");
            None
        }
    }
}

fn kind_of(schema: &Value) -> Kind {
    let t = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match t.as_str() {
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("array") => Kind::Texts,
        _ => Kind::Text,
    }
}

impl Contract {
    /// The contract of an OpenAPI document. Bodies are held to it on the paths that start with
    /// one of `checked_bodies`.
    pub fn from_document(doc: &Value, checked_bodies: &[&str]) -> Self {
        let components = Arc::new(
            doc.get("components")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
        );
        let mut operations = HashMap::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                    continue;
                };
                let query = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| {
                        let schema = p.get("schema").cloned().unwrap_or(json!({}));
                        Some(Param {
                            name: p["name"].as_str()?.to_string(),
                            required: p["required"].as_bool().unwrap_or(false),
                            kind: kind_of(&schema),
                            validator: Lazy::new(schema, &components),
                        })
                    })
                    .collect();
                let body = checked_bodies
                    .iter()
                    .any(|prefix| path.starts_with(prefix))
                    .then(|| {
                        let rb = &op["requestBody"];
                        let schema = rb["content"]["application/json"].get("schema")?;
                        Some(Body {
                            required: rb["required"].as_bool().unwrap_or(false),
                            validator: Lazy::new(schema.clone(), &components),
                        })
                    })
                    .flatten();
                // Axum spells a path's rest-of-path parameter `{*name}`; the document `{name}`.
                let route = path.replace("/artifacts/{path}", "/artifacts/{*path}");
                operations.insert((method, route), Operation { query, body });
            }
        }
        Self { operations }
    }

    /// What the operation at `route` (as the router spells it) takes.
    pub fn operation(&self, method: &Method, route: &str) -> Option<&Operation> {
        self.operations.get(&(method.clone(), route.to_string()))
    }
}

impl Operation {
    /// Whether a JSON body is held to the document.
    pub fn checks_body(&self) -> bool {
        self.body.is_some()
    }

    /// Checks the query string against the documented query parameters.
    pub fn check_query(&self, query: Option<&str>) -> Result<(), String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut problems = Vec::new();
        for p in &self.query {
            let given: Vec<&str> = pairs
                .iter()
                .filter(|(k, _)| *k == p.name)
                .map(|(_, v)| v.as_str())
                .collect();
            let value = match (p.kind, given.as_slice()) {
                (_, []) => {
                    if p.required {
                        problems.push(format!("query parameter `{}` is required", p.name));
                    }
                    continue;
                }
                (Kind::Texts, all) => json!(all),
                (kind, [one, ..]) => match typed(kind, one) {
                    Some(v) => v,
                    None => {
                        problems.push(format!(
                            "query parameter `{}`: {one:?} is not {}",
                            p.name,
                            match kind {
                                Kind::Integer => "an integer",
                                Kind::Number => "a number",
                                _ => "true or false",
                            }
                        ));
                        continue;
                    }
                },
            };
            if let Some(v) = p.validator.get() {
                problems.extend(
                    v.iter_errors(&value)
                        .map(|e| format!("query parameter `{}`: {e}", p.name)),
                );
            }
        }
        verdict(problems)
    }

    /// Checks a JSON body against the documented request body (an empty body stands for no
    /// body).
    pub fn check_body(&self, bytes: &[u8]) -> Result<(), String> {
        let Some((body, validator)) = self
            .body
            .as_ref()
            .and_then(|b| Some((b, b.validator.get()?)))
        else {
            return Ok(());
        };
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            if body.required {
                return Err("the request body is missing: this call takes a JSON object".into());
            }
            return Ok(());
        } else {
            serde_json::from_slice(bytes)
                .map_err(|e| format!("the request body is not valid JSON: {e}"))?
        };
        verdict(
            validator
                .iter_errors(&value)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    format!("{}: {e}", if at.is_empty() { "the body" } else { &at })
                })
                .collect(),
        )
    }
}

fn typed(kind: Kind, text: &str) -> Option<Value> {
    match kind {
        Kind::Integer => text.parse::<i64>().ok().map(Value::from),
        Kind::Number => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from),
        Kind::Boolean => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        Kind::Text | Kind::Texts => Some(Value::String(text.to_string())),
    }
}

fn verdict(problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    let mut listed: Vec<String> = problems.into_iter().take(LISTED).collect();
    if n > LISTED {
        listed.push(format!("and {} more", n - LISTED));
    }
    Err(format!(
        "the request does not fit the API: {}",
        listed.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        let doc = json!({
            "paths": {"/api/x": {"post": {
                "parameters": [
                    {"name": "limit", "in": "query", "required": false,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 10}},
                    {"name": "name", "in": "query", "required": true, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}
            }}},
            "components": {"schemas": {"B": {"type": "object", "required": ["run_id"],
                "properties": {"run_id": {"type": "string", "minLength": 1}}}}}
        });
        Contract::from_document(&doc, &["/api/"])
    }

    #[test]
    fn a_validator_keeps_only_the_components_its_schema_reaches() {
        let components = json!({"schemas": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "object", "properties": {"c": {"$ref": "#/components/schemas/C"}}},
            "C": {"type": "integer", "minimum": 1},
            "Unused": {"type": "string"},
            "Tree": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}
        }});
        let kept = |schema: Value| -> Vec<String> {
            let doc = standalone(&schema, &components);
            let mut names: Vec<String> = doc["components"]["schemas"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            names.sort();
            names
        };
        assert_eq!(
            kept(json!({"$ref": "#/components/schemas/A"})),
            ["A", "B", "C"]
        );
        assert_eq!(kept(json!({"$ref": "#/components/schemas/Tree"})), ["Tree"]);
        assert!(kept(json!({"type": "integer"})).is_empty());

        let v = compile(&json!({"$ref": "#/components/schemas/A"}), &components).unwrap();
        assert!(v.is_valid(&json!({"b": {"c": 2}})));
        assert!(
            !v.is_valid(&json!({"b": {"c": 0}})),
            "a rule two references away holds"
        );
        let tree = compile(&json!({"$ref": "#/components/schemas/Tree"}), &components).unwrap();
        assert!(tree.is_valid(&json!([[], [[]]])));
        assert!(!tree.is_valid(&json!([1])));
    }

    #[test]
    fn every_schema_of_the_api_document_compiles_with_only_what_it_reaches() {
        let doc = serde_json::to_value(crate::finished(crate::api().into_openapi())).unwrap();
        let components = &doc["components"];
        let mut schemas = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let params = op["parameters"].as_array().into_iter().flatten();
                let body = op["requestBody"]["content"]["application/json"].get("schema");
                for schema in params.filter_map(|p| p.get("schema")).chain(body) {
                    schemas += 1;
                    assert!(compile(schema, components).is_some(), "{schema}");
                }
            }
        }
        assert!(schemas > 100, "{schemas} schemas");
    }

    #[test]
    fn queries_and_bodies_are_held_to_the_document() {
        let c = contract();
        let op = c.operation(&Method::POST, "/api/x").unwrap();
        assert!(op.check_query(Some("name=a&limit=3")).is_ok());
        let e = op.check_query(Some("limit=11")).unwrap_err();
        assert!(
            e.contains("`name` is required") && e.contains("`limit`"),
            "{e}"
        );
        assert!(
            op.check_query(Some("name=a&limit=x"))
                .unwrap_err()
                .contains("not an integer")
        );
        assert!(op.check_body(br#"{"run_id": "abc"}"#).is_ok());
        let e = op.check_body(br#"{"run_id": ""}"#).unwrap_err();
        assert!(e.contains("/run_id"), "{e}");
        assert!(op.check_body(b"  ").unwrap_err().contains("missing"));
        assert!(op.check_body(b"{").unwrap_err().contains("not valid JSON"));
    }

    /// Texts that probe each rule's edges: lengths, dots between slashes, spaces of every kind,
    /// letters beyond ASCII and beyond 16 bits, and version-like aliases.
    fn corpus() -> Vec<String> {
        let alphabet: Vec<char> = "aZ09 _-./:\\\0\n\tvVlLtesT+@#%?\u{AA}\u{B5}\u{BF}\u{C0}\u{D7}\u{E9}\u{85}\u{A0}\u{1680}\u{2000}\u{200A}\u{200B}\u{2028}\u{202F}\u{205F}\u{3000}\u{FEFF}\u{4E2D}\u{E000}\u{FFFF}\u{1F600}"
            .chars()
            .collect();
        let mut texts: Vec<String> = [
            "",
            ".",
            "..",
            "...",
            "a/./b",
            "a/../b",
            "a/b",
            "/a",
            "a/",
            "a//b",
            "./a",
            "a/..",
            "latest",
            "LaTeSt",
            "v12",
            "V7",
            "v",
            "12",
            "1a",
            "-",
            " a",
            "a ",
            " ",
            "a b",
            "1.2.3",
            "01.2.3",
            "1.2",
            "1.2.3-01",
            "1.2.3-0a",
            "1.2.3-rc.1+build.007",
            "1.2.3+",
            "99999999999999999999.0.0",
            "9999999999999999999.0.0",
            "production",
            "PRODUCTION",
            "None",
            "archived",
            "stage",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        texts.push(format!("sha256:{}", "a".repeat(64)));
        texts.push(format!("sha256:{}", "A".repeat(64)));
        texts.push(format!("sha256:{}", "a".repeat(63)));
        for n in [
            64, 65, 128, 129, 250, 251, 255, 256, 257, 500, 501, 1000, 1001,
        ] {
            texts.push("a".repeat(n));
            texts.push("\u{E9}".repeat(n));
        }
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..4000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 9) as usize;
            let mut t = String::new();
            let mut x = state;
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                t.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            texts.push(t);
        }
        texts
    }

    #[test]
    fn each_pattern_accepts_exactly_what_its_check_accepts() {
        use ferry_registry as r;
        type Check = fn(&str) -> bool;
        let rules: Vec<(&str, &str, Option<usize>, Check)> = vec![
            ("key", r::KEY_PATTERN, None, |t| {
                r::check_key("k", t).is_ok()
            }),
            ("model name", r::MODEL_NAME_PATTERN, None, |t| {
                r::check_model_name(t).is_ok()
            }),
            ("alias", r::ALIAS_PATTERN, None, |t| {
                r::check_alias(t).is_ok()
            }),
            ("experiment name", r::EXPERIMENT_NAME_PATTERN, None, |t| {
                r::check_experiment_name(t).is_ok()
            }),
            ("owner", r::OWNER_PATTERN, None, |t| {
                r::check_owner(t).is_ok()
            }),
            (
                "artifact path",
                r::ARTIFACT_PATH_PATTERN,
                Some(r::MAX_ARTIFACT_PATH),
                |t| r::check_artifact_path(t).is_ok(),
            ),
            ("deployment name", r::DEPLOYMENT_NAME_PATTERN, None, |t| {
                r::check_deployment_name(t).is_ok()
            }),
            ("digest", r::DIGEST_PATTERN, None, |t| {
                r::check_digest(t).is_ok()
            }),
            ("version", r::SEMVER_PATTERN, None, |t| {
                semver::Version::parse(t).is_ok()
            }),
            ("stage", r::STAGE_PATTERN, None, |t| {
                r::parse_stage(t).is_ok()
            }),
        ];
        let texts = corpus();
        for (what, pattern, max, check) in rules {
            let mut schema = json!({"type": "string", "pattern": pattern});
            if let Some(max) = max {
                schema["maxLength"] = json!(max);
            }
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("the {what} pattern does not compile: {e}"));
            for t in &texts {
                assert_eq!(
                    validator.is_valid(&json!(t)),
                    check(t),
                    "the {what} pattern and its check disagree on {t:?}"
                );
            }
        }
    }
}
