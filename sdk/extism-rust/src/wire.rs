//! What an Extism plugin and the host exchange: the `ferry:plugin` WIT types, spelled with
//! their WIT names (`num-rows`, `data-type`, `alert-sink`), so the contract has one source.
//!
//! Calls and answers travel as JSON, or as MessagePack when the plugin's manifest offers it
//! ([`Payload`]): the same maps under the same names, with floats as MessagePack floats and
//! byte strings as MessagePack binaries. In JSON, byte strings (a transform's state, a model's
//! artifact) travel as base64, and floats JSON cannot hold as the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"`. The manifest itself is always JSON.

use serde::{Deserialize, Serialize};

/// The version of the `ferry:plugin` contract this wire format carries.
pub const CONTRACT: &str = "0.1.0";

/// A column's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ColumnData {
    /// 64-bit floats.
    Float64(#[serde(with = "floats")] Vec<f64>),
    /// 64-bit integers.
    Int64(Vec<i64>),
    /// Booleans.
    Boolean(Vec<bool>),
    /// UTF-8 text.
    Text(Vec<String>),
}

/// A named column, with a null mask when some values are missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// Its values (a null row holds a placeholder).
    pub data: ColumnData,
    /// `true` where a row is null; absent when none is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<Vec<bool>>,
}

/// Rows in columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Batch {
    /// The number of rows; every column has this many values.
    pub num_rows: u32,
    /// The columns.
    pub columns: Vec<Column>,
}

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataType {
    /// 64-bit floats.
    Float64,
    /// 64-bit integers.
    Int64,
    /// Booleans.
    Boolean,
    /// UTF-8 text.
    Text,
}

/// A column's name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Field {
    /// The name.
    pub name: String,
    /// The type.
    pub data_type: DataType,
    /// Whether it may hold nulls.
    pub nullable: bool,
}

/// Bad input, with the column and row where they apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct InputError {
    /// The column.
    #[serde(default)]
    pub column: Option<String>,
    /// The row.
    #[serde(default)]
    pub row: Option<u32>,
    /// What was wrong.
    pub message: String,
}

/// An error a plugin returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum PluginError {
    /// Bad configuration.
    Config(String),
    /// Bad input.
    Input(InputError),
    /// The operation is not supported.
    Unsupported(String),
    /// Something failed inside the plugin.
    Internal(String),
}

/// The five kinds of plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Checks data.
    Validator,
    /// Computes features.
    Transform,
    /// Trains and serves a model.
    Model,
    /// Deploys a model.
    Deployer,
    /// Delivers alerts.
    AlertSink,
}

/// A directory a plugin asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DirectoryRequest {
    /// The path the plugin sees.
    pub guest_path: String,
    /// Whether it writes there.
    #[serde(default)]
    pub writable: bool,
    /// Why it needs it.
    #[serde(default)]
    pub purpose: String,
}

/// What a plugin asks the operator for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Capabilities {
    /// Directories.
    #[serde(default)]
    pub directories: Vec<DirectoryRequest>,
    /// Hosts it sends HTTP requests to.
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// Configuration values it reads (Extism's `config_get`), granted as environment values.
    #[serde(default)]
    pub env: Vec<String>,
}

/// The limits a plugin suggests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    /// Memory cap, in MiB.
    #[serde(default)]
    pub memory_mib: Option<u32>,
    /// Call deadline, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
}

/// What a plugin says about itself. The export `ferry_manifest` answers it with one more
/// key, `contract`: the `ferry:plugin` version it was written against ([`encode_manifest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Its name.
    pub name: String,
    /// Its version (semver).
    pub version: String,
    /// Its kind.
    pub kind: PluginKind,
    /// One line on what it does.
    #[serde(default)]
    pub description: String,
    /// Its authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Its licence (SPDX).
    #[serde(default)]
    pub license: Option<String>,
    /// Where its source lives.
    #[serde(default)]
    pub repository: Option<String>,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// What it asks for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Its suggested limits.
    #[serde(default)]
    pub limits: Limits,
    /// A JSON Schema of its configuration.
    #[serde(default = "empty_schema")]
    pub config_schema: String,
}

/// How a call and its answer are encoded. A plugin answers in the encoding of the call, and
/// its manifest lists the encodings it reads (`"payloads"`); the host picks MessagePack when
/// the plugin offers it, JSON otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Payload {
    /// JSON: what every Extism plugin reads.
    #[default]
    #[serde(rename = "json")]
    Json,
    /// MessagePack, with maps under the same names as the JSON.
    #[serde(rename = "msgpack")]
    MessagePack,
}

impl Payload {
    /// The encoding of `bytes`, a call: a JSON call is an object, so it opens with `{`; a
    /// MessagePack call is a map, which never does.
    pub fn of_call(bytes: &[u8]) -> Payload {
        match bytes.first() {
            Some(b'{') | None => Payload::Json,
            Some(_) => Payload::MessagePack,
        }
    }

    /// Its name in prose: `JSON` or `MessagePack`.
    pub fn label(self) -> &'static str {
        match self {
            Payload::Json => "JSON",
            Payload::MessagePack => "MessagePack",
        }
    }

    /// `value` in this encoding.
    pub fn encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, String> {
        match self {
            Payload::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
            Payload::MessagePack => rmp_serde::to_vec_named(value).map_err(|e| e.to_string()),
        }
    }

    /// Reads `bytes` in this encoding.
    pub fn decode<T: serde::de::DeserializeOwned>(self, bytes: &[u8]) -> Result<T, String> {
        match self {
            Payload::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Payload::MessagePack => rmp_serde::from_slice(bytes).map_err(|e| e.to_string()),
        }
    }
}

/// The answer of `ferry_manifest`: the manifest's JSON with `contract` set to [`CONTRACT`] and,
/// unless it is JSON alone, `payloads` listing the encodings the plugin reads.
pub fn encode_manifest(m: &Manifest, payloads: &[Payload]) -> serde_json::Result<Vec<u8>> {
    let mut value = serde_json::to_value(m)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("contract".into(), CONTRACT.into());
        if payloads != [Payload::Json] {
            object.insert("payloads".into(), serde_json::to_value(payloads)?);
        }
    }
    serde_json::to_vec(&value)
}

/// What `ferry_manifest` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The `ferry:plugin` version the plugin was written against.
    pub contract: String,
    /// The encodings it reads (JSON alone when it names none).
    pub payloads: Vec<Payload>,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Reads the answer of `ferry_manifest`.
pub fn decode_manifest(bytes: &[u8]) -> Result<Described, String> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let object = value.as_object_mut().ok_or("it is not a JSON object")?;
    let contract = match object.remove("contract") {
        Some(serde_json::Value::String(c)) => c,
        Some(other) => return Err(format!("`contract` must be a version string, not {other}")),
        None => return Err("it names no `contract` (the ferry:plugin version)".into()),
    };
    let payloads = match object.remove("payloads") {
        None => vec![Payload::Json],
        Some(listed) => serde_json::from_value::<Vec<Payload>>(listed.clone())
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                format!(
                    "`payloads` must list one or more of \"json\" and \"msgpack\", not {listed}"
                )
            })?,
    };
    let manifest = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(Described {
        contract,
        payloads,
        manifest,
    })
}

fn empty_schema() -> String {
    "{}".to_string()
}

/// One rule broken at one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Violation {
    /// The rule.
    pub rule: String,
    /// The column.
    #[serde(default)]
    pub column: Option<String>,
    /// The row.
    #[serde(default)]
    pub row: Option<u32>,
    /// What was wrong.
    pub message: String,
}

/// How often a rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ViolationCount {
    /// The rule.
    pub rule: String,
    /// The column.
    #[serde(default)]
    pub column: Option<String>,
    /// How many times.
    pub count: u64,
}

/// A validator's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Report {
    /// Rows checked.
    pub rows_checked: u32,
    /// Violations listed.
    pub violations: Vec<Violation>,
    /// Complete counts per rule and column.
    #[serde(default)]
    pub counts: Vec<ViolationCount>,
    /// Whether the list was cut short.
    #[serde(default)]
    pub truncated: bool,
}

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Two classes.
    BinaryClassification,
    /// More than two classes.
    MulticlassClassification,
    /// A number.
    Regression,
}

/// One output of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ModelOutput {
    /// Its column name.
    pub name: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
}

/// What a loaded model expects and returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ModelInfo {
    /// Its task.
    pub task: Task,
    /// The features it reads.
    pub inputs: Vec<Field>,
    /// The columns it writes.
    pub outputs: Vec<ModelOutput>,
}

/// A file that belongs to a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Artifact {
    /// Where it goes.
    pub path: String,
    /// Its digest.
    pub digest: String,
    /// Its bytes.
    #[serde(with = "bytes")]
    pub contents: Vec<u8>,
}

/// A plugin pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PluginRef {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its digest.
    pub digest: String,
}

/// What a deployer is asked to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Deployment {
    /// The deployment's name.
    pub name: String,
    /// The registered model.
    pub model_name: String,
    /// Its version.
    pub model_version: String,
    /// The model adapter.
    pub model_plugin: PluginRef,
    /// The feature pipeline.
    pub pipeline: Vec<PluginRef>,
    /// Files to ship.
    pub artifacts: Vec<Artifact>,
    /// The target's settings (JSON).
    pub settings: String,
}

/// What `apply` would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeploymentPlan {
    /// The steps.
    pub actions: Vec<String>,
}

/// Where a deployment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeploymentStatus {
    /// The deployment.
    pub name: String,
    /// The version serving.
    #[serde(default)]
    pub active_version: Option<String>,
    /// Earlier versions, newest first.
    #[serde(default)]
    pub history: Vec<String>,
    /// A human-readable summary.
    #[serde(default)]
    pub message: String,
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs a look.
    Warning,
    /// Needs action now.
    Critical,
}

/// An alert to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Alert {
    /// Its severity.
    pub severity: Severity,
    /// A short title.
    pub title: String,
    /// The text.
    pub text: String,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// What raised it.
    pub source: String,
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: i64,
}

/// The envelope every export answers with: `{"ok": …}` or `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Answer<T> {
    /// The call's result.
    Ok(T),
    /// The plugin's error.
    Error(PluginError),
}

impl<T> From<Result<T, PluginError>> for Answer<T> {
    fn from(r: Result<T, PluginError>) -> Self {
        match r {
            Ok(v) => Answer::Ok(v),
            Err(e) => Answer::Error(e),
        }
    }
}

/// A handle to an analyzer, transformer or predictor living in the plugin's instance.
pub type Handle = u32;

/// Input of `analyzer_new` and `output_schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SchemaCall {
    /// The configuration (JSON).
    pub config: String,
    /// The input schema.
    pub input: Vec<Field>,
}

/// Input of `analyzer_update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpdateCall {
    /// The analyzer.
    pub analyzer: Handle,
    /// The batch.
    pub data: Batch,
}

/// Input of `analyzer_finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FinishCall {
    /// The analyzer.
    pub analyzer: Handle,
}

/// Input of `transformer_new`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TransformerCall {
    /// The configuration (JSON).
    pub config: String,
    /// The learned state.
    #[serde(with = "bytes")]
    pub state: Vec<u8>,
}

/// Input of `transformer_apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApplyCall {
    /// The transformer.
    pub transformer: Handle,
    /// The batch.
    pub data: Batch,
}

/// Input of `validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ValidateCall {
    /// The rules (JSON).
    pub config: String,
    /// The batch.
    pub data: Batch,
}

/// Input of `train`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrainCall {
    /// The features.
    pub features: Batch,
    /// The labels.
    pub labels: Column,
    /// The configuration (JSON).
    pub config: String,
}

/// Input of `load`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LoadCall {
    /// The artifact.
    #[serde(with = "bytes")]
    pub artifact: Vec<u8>,
    /// The configuration (JSON).
    pub config: String,
}

/// Input of `predictor_describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DescribeCall {
    /// The predictor.
    pub predictor: Handle,
}

/// Input of `predictor_predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PredictCall {
    /// The predictor.
    pub predictor: Handle,
    /// The features.
    pub features: Batch,
}

/// Input of `plan` and `apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TargetCall {
    /// The deployment.
    pub target: Deployment,
}

/// Input of `status` and `rollback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NamedCall {
    /// The deployment.
    pub name: String,
    /// The target's settings (JSON).
    pub settings: String,
}

/// Input of `deliver`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeliverCall {
    /// The sink's configuration (JSON).
    pub config: String,
    /// The alert.
    pub alert: Alert,
}

/// The exports each kind must have, besides `ferry_manifest`.
pub fn exports_of(kind: PluginKind) -> &'static [&'static str] {
    match kind {
        PluginKind::Validator => &["validate"],
        PluginKind::Transform => &[
            "analyzer_new",
            "analyzer_update",
            "analyzer_finish",
            "transformer_new",
            "transformer_apply",
            "output_schema",
        ],
        PluginKind::Model => &["train", "load", "predictor_describe", "predictor_predict"],
        PluginKind::Deployer => &["plan", "apply", "status", "rollback"],
        PluginKind::AlertSink => &["deliver"],
    }
}

/// Floats as JSON numbers, and the three JSON cannot hold as strings.
mod floats {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum F {
        N(f64),
        S(String),
    }

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return s.collect_seq(v);
        }
        s.collect_seq(v.iter().map(|&x| {
            if x.is_finite() {
                F::N(x)
            } else if x.is_nan() {
                F::S("NaN".into())
            } else if x > 0.0 {
                F::S("Infinity".into())
            } else {
                F::S("-Infinity".into())
            }
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        if !d.is_human_readable() {
            return Vec::<f64>::deserialize(d);
        }
        Vec::<F>::deserialize(d)?
            .into_iter()
            .map(|f| match f {
                F::N(x) => Ok(x),
                F::S(s) => match s.as_str() {
                    "NaN" => Ok(f64::NAN),
                    "Infinity" => Ok(f64::INFINITY),
                    "-Infinity" => Ok(f64::NEG_INFINITY),
                    other => Err(serde::de::Error::custom(format!(
                        "`{other}` is not a float64 (a number, or \"NaN\", \"Infinity\" or \"-Infinity\")"
                    ))),
                },
            })
            .collect()
    }
}

/// Bytes as a base64 string in JSON, as a binary in MessagePack.
pub mod bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `v` as base64, or as a binary.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return s.serialize_bytes(v);
        }
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    /// Reads base64, or a binary.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if !d.is_human_readable() {
            return d.deserialize_byte_buf(Binary);
        }
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
    }

    struct Binary;

    impl<'de> serde::de::Visitor<'de> for Binary {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a binary")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_as_its_wit_names_and_keeps_non_finite_floats() {
        let b = Batch {
            num_rows: 3,
            columns: vec![Column {
                name: "x".into(),
                data: ColumnData::Float64(vec![1.5, f64::NAN, f64::NEG_INFINITY]),
                nulls: Some(vec![false, true, false]),
            }],
        };
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(
            json,
            r#"{"num-rows":3,"columns":[{"name":"x","data":{"float64":[1.5,"NaN","-Infinity"]},"nulls":[false,true,false]}]}"#
        );
        let back: Batch = serde_json::from_str(&json).unwrap();
        let ColumnData::Float64(v) = &back.columns[0].data else {
            panic!("float64 expected")
        };
        assert!(v[1].is_nan() && v[2] == f64::NEG_INFINITY);
    }

    #[test]
    fn an_unknown_float_word_is_named() {
        let e = serde_json::from_str::<ColumnData>(r#"{"float64":["nan"]}"#).unwrap_err();
        assert!(e.to_string().contains("`nan` is not a float64"), "{e}");
    }

    #[test]
    fn the_manifest_carries_its_contract_beside_it() {
        let m: Manifest =
            serde_json::from_str(r#"{"name":"x","version":"0.1.0","kind":"alert-sink"}"#).unwrap();
        let d = decode_manifest(&encode_manifest(&m, &[Payload::Json]).unwrap()).unwrap();
        assert_eq!(
            (d.contract.as_str(), d.payloads, d.manifest),
            (CONTRACT, vec![Payload::Json], m.clone())
        );
        let both = [Payload::Json, Payload::MessagePack];
        let text = encode_manifest(&m, &both).unwrap();
        assert!(String::from_utf8_lossy(&text).contains(r#""payloads":["json","msgpack"]"#));
        assert_eq!(decode_manifest(&text).unwrap().payloads, both);
        let e = decode_manifest(
            br#"{"contract":"0.1.0","payloads":["cbor"],"name":"x","version":"0.1.0","kind":"model"}"#,
        )
        .unwrap_err();
        assert!(e.contains(r#"not ["cbor"]"#), "{e}");
        let e = decode_manifest(br#"{"name":"x","version":"0.1.0","kind":"model"}"#).unwrap_err();
        assert!(e.contains("no `contract`"), "{e}");
        let e = decode_manifest(
            br#"{"contract":"0.1.0","name":"x","version":"0.1.0","kind":"model","colour":1}"#,
        )
        .unwrap_err();
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn messagepack_carries_the_same_values_with_floats_and_bytes_as_they_are() {
        let b = Batch {
            num_rows: 3,
            columns: vec![Column {
                name: "x".into(),
                data: ColumnData::Float64(vec![0.1, f64::NAN, f64::NEG_INFINITY]),
                nulls: Some(vec![false, true, false]),
            }],
        };
        let packed = Payload::MessagePack.encode(&b).unwrap();
        assert_eq!(Payload::of_call(&packed), Payload::MessagePack);
        assert_eq!(
            Payload::of_call(&Payload::Json.encode(&b).unwrap()),
            Payload::Json
        );
        // A float is 9 bytes (0xcb and its bits), not its decimal text.
        let bits = [&[0xcb][..], &0.1f64.to_bits().to_be_bytes()].concat();
        assert!(packed.windows(9).any(|w| w == bits));
        let back: Batch = Payload::MessagePack.decode(&packed).unwrap();
        let ColumnData::Float64(v) = &back.columns[0].data else {
            panic!("float64 expected")
        };
        assert_eq!(v[0].to_bits(), 0.1f64.to_bits());
        assert!(v[1].is_nan() && v[2] == f64::NEG_INFINITY);
        assert_eq!(back.columns[0].nulls, b.columns[0].nulls);

        let call = FinishAnswer(vec![0, 159, 146, 150]);
        let packed = Payload::MessagePack.encode(&call).unwrap();
        assert_eq!(packed, [0xc4, 4, 0, 159, 146, 150], "a binary, not base64");
        let back: FinishAnswer = Payload::MessagePack.decode(&packed).unwrap();
        assert_eq!(back.0, call.0);

        let e = Payload::MessagePack
            .decode::<Batch>(&Payload::MessagePack.encode(&Answer::Ok(7u32)).unwrap())
            .unwrap_err();
        assert!(e.contains("num-rows"), "{e}");
    }

    #[derive(Serialize, Deserialize)]
    struct FinishAnswer(#[serde(with = "bytes")] Vec<u8>);

    #[test]
    fn answers_are_tagged_ok_or_error() {
        let ok: Answer<u32> = Ok(7).into();
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"ok":7}"#);
        let err: Answer<u32> = Err(PluginError::Input(InputError {
            column: Some("age".into()),
            row: Some(2),
            message: "negative".into(),
        }))
        .into();
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"error":{"input":{"column":"age","row":2,"message":"negative"}}}"#
        );
    }
}
