//! The schemas of the names, keys and numbers requests carry, for the request types'
//! `#[schema(schema_with = ...)]` and `#[param(schema_with = ...)]`: each states exactly what
//! the handler (or the registry's own check) accepts, so the document and the server agree on
//! every request.

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};

/// The bound of integers as JSON numbers: exact as a float, and within 64 bits.
pub const INT_BOUND: f64 = 9e18;

/// An integer as text: what `"123"` must look like to parse as a 64-bit integer.
pub const INTEGER_TEXT: &str = "^-?[0-9]{1,18}$";

/// A number as text: a decimal, or `NaN`, `Infinity` and `-Infinity`.
const NUMBER_TEXT: &str =
    r"^(NaN|Infinity|-Infinity|-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?)$";

fn object(b: ObjectBuilder) -> Schema {
    Schema::Object(b.build())
}

fn text(pattern: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
}

/// A 64-bit integer, as a JSON number or its decimal text (MLflow's JSON spells int64s
/// either way).
pub fn int64() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(-INT_BOUND))
                    .maximum(Some(INT_BOUND)),
            )
            .item(text(INTEGER_TEXT, "an integer, as decimal text"))
            .description(Some("a 64-bit integer, as a number or as decimal text"))
            .build(),
    )
}

/// A floating-point value: a JSON number, or text (`"0.5"`, `"NaN"`, `"Infinity"`).
pub fn float() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(f64::MIN))
                    .maximum(Some(f64::MAX)),
            )
            .item(text(NUMBER_TEXT, "a number, as text"))
            .description(Some(
                "a number, or its text (NaN, Infinity and -Infinity as text)",
            ))
            .build(),
    )
}

/// A parameter, metric or tag key of a run or experiment.
pub fn key() -> Schema {
    object(text(
        ferry_registry::KEY_PATTERN,
        "1 to 250 letters, digits, spaces and _ - . / :, without `.` or `..` between slashes",
    ))
}

/// A parameter or tag value.
pub fn value() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(ferry_registry::MAX_VALUE)),
    )
}

/// A parameter's value: text, or a number or boolean (kept as its JSON text).
pub fn param_value() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([
                Type::String,
                Type::Number,
                Type::Boolean,
                Type::Null,
            ]))
            .max_length(Some(ferry_registry::MAX_VALUE))
            .minimum(Some(-1e300))
            .maximum(Some(1e300)),
    )
}

/// A registered model's or version's tag key.
pub fn tag_key() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(ferry_registry::MAX_KEY)),
    )
}

/// A run id (MLflow also accepts it as `run_uuid`).
pub fn run_id() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .description(Some("the run's id")),
    )
}

/// An experiment's name.
pub fn experiment_name() -> Schema {
    object(text(
        ferry_registry::EXPERIMENT_NAME_PATTERN,
        "1 to 500 characters, not all of them spaces",
    ))
}

/// A registered model's name, where one is created or renamed.
pub fn model_name() -> Schema {
    object(text(
        ferry_registry::MODEL_NAME_PATTERN,
        "1 to 256 letters, digits, spaces and _ - ., no space at either end",
    ))
}

/// An alias, where one is set.
pub fn alias() -> Schema {
    object(text(
        ferry_registry::ALIAS_PATTERN,
        "letters, digits, _ and -; not `latest`, a number or `v` and a number",
    ))
}

/// A stage, in any case.
pub fn stage() -> Schema {
    object(text(
        ferry_registry::STAGE_PATTERN,
        "None, Staging, Production or Archived, in any case",
    ))
}

/// An integer as text (in a query string).
pub fn integer_text() -> Schema {
    object(text(INTEGER_TEXT, "an integer"))
}

/// A version number as text (in a query string).
pub fn version_text() -> Schema {
    object(text(INTEGER_TEXT, "the version number"))
}

/// One of `values`.
fn one_of(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
}

/// A run status.
pub fn run_status() -> Schema {
    object(one_of(&[
        "RUNNING",
        "SCHEDULED",
        "FINISHED",
        "FAILED",
        "KILLED",
    ]))
}

/// Which runs or experiments a search sees.
pub fn view_type() -> Schema {
    object(one_of(&["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]))
}

/// A logged model's status.
pub fn logged_model_status() -> Schema {
    object(one_of(&[
        "LOGGED_MODEL_PENDING",
        "LOGGED_MODEL_READY",
        "LOGGED_MODEL_UPLOAD_FAILED",
    ]))
}

/// Nothing: Ferry keeps artifacts in its own store, so an artifact location must be empty.
pub fn nothing() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .max_length(Some(0))
            .description(Some(
                "Ferry keeps artifacts in its blob store: empty or left out",
            )),
    )
}

/// A search's filter (MLflow's search syntax).
pub fn filter() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "MLflow's search syntax, e.g. `metrics.rmse < 1 and tags.team = 'risk'`",
            )),
    )
}

/// A page token from an earlier answer.
pub fn page_token() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("`next_page_token` of the page before")),
    )
}

/// An artifact's path.
pub fn artifact_path() -> Schema {
    object(
        text(
            ferry_registry::ARTIFACT_PATH_PATTERN,
            "a relative path like `model/model.bin`, without `.`, `..` or empty parts",
        )
        .max_length(Some(ferry_registry::MAX_ARTIFACT_PATH)),
    )
}

/// Tags as an object: keys of 1 to 250 characters, values of at most 8,000.
pub fn tag_map() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(ferry_registry::MAX_KEY)),
            ))
            .additional_properties(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(ferry_registry::MAX_VALUE)),
            ))
            .description(Some(
                "tags: keys of 1 to 250 characters, values of at most 8,000",
            )),
    )
}

/// A deployment's name.
pub fn deployment_name() -> Schema {
    object(text(
        ferry_registry::DEPLOYMENT_NAME_PATTERN,
        "1 to 128 ASCII letters, digits, _ and -",
    ))
}

/// A blob's digest.
pub fn digest() -> Schema {
    object(text(
        ferry_registry::DIGEST_PATTERN,
        "`sha256:` and 64 lowercase hex digits",
    ))
}

/// An exact plugin version.
pub fn semver() -> Schema {
    object(text(
        ferry_registry::SEMVER_PATTERN,
        "an exact version (semantic versioning), e.g. `1.2.3`",
    ))
}

/// A package owner's token name.
pub fn owner() -> Schema {
    object(text(
        ferry_registry::OWNER_PATTERN,
        "a token name of 1 to 64 characters",
    ))
}

/// A revision or version number in a body, or `null`.
pub fn some_number() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(-INT_BOUND))
            .maximum(Some(INT_BOUND)),
    )
}

/// A revision or version number in a body.
pub fn number() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(-INT_BOUND))
            .maximum(Some(INT_BOUND)),
    )
}

/// An integer as JSON Schema has it: `3` or `3.0` (within the document's bounds).
pub fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::Deserialize;
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (-INT_BOUND..=INT_BOUND).contains(f))
                .map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer")))
}

/// [`integer`], or `null`.
pub fn some_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "integer")] i64);
    use serde::Deserialize;
    Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(n)| n))
}

/// A JSON object, or its text.
pub fn object_or_text() -> Schema {
    object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([
                Type::Object,
                Type::String,
                Type::Null,
            ]))
            .description(Some("a JSON object, or its text")),
    )
}
