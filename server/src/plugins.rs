//! The plugin endpoints.

use super::error::ErrorBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_registry::{AuditEntry, PackageSummary, PluginSignature, VersionRecord};
use ferry_registry::{PluginSpec, Published, Role, SearchQuery};
use serde::Deserialize;

use super::audit::{audited, with_request_id};
use super::auth::{Caller, caller, may_read};
use super::{AppState, error::ApiError, request_id};
use ferry_kit::publish::{self, MAX_PLUGIN_BYTES};

fn version_of(text: &str) -> Result<semver::Version, ApiError> {
    semver::Version::parse(text)
        .map_err(|e| ApiError::bad_request(format!("version {text:?} is not semver: {e}")))
}

/// A service's state.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StatusDoc {
    /// `ok` or `ready`.
    pub status: String,
}

/// A package: every version and the owners.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PackageDoc {
    /// The package.
    pub name: String,
    /// Who may publish and yank it.
    pub owners: Vec<String>,
    /// Every version, newest first.
    pub versions: Vec<VersionRecord>,
}

/// A package's owners.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OwnersDoc {
    /// The package.
    pub name: String,
    /// Its owners.
    pub owners: Vec<String>,
}

/// Who the caller is.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// The token's name (absent for an anonymous caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `reader`, `publisher`, `deployer`, `admin`, or `anonymous`.
    pub role: String,
}

#[utoipa::path(get, path = "/v1/whoami", tag = "service", responses((status = 200, description = "The caller's token and role", body = WhoAmI), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/whoami`: the caller's token and role, so a client can check it may do all of a
/// job before it starts.
pub async fn whoami(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<WhoAmI>, ApiError> {
    let who = super::auth::caller(&state, &headers).await?;
    super::auth::may_read(&state, &who)?;
    Ok(Json(match who {
        super::auth::Caller::Anonymous => WhoAmI {
            token: None,
            role: "anonymous".into(),
        },
        super::auth::Caller::Token(p) => WhoAmI {
            token: Some(p.name),
            role: p.role.name().into(),
        },
    }))
}

#[utoipa::path(get, path = "/v1/health", tag = "service", responses((status = 200, description = "The process is up", body = StatusDoc)))]
/// `GET /v1/health`: the process is up.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/v1/ready", tag = "service", responses((status = 200, description = "The database answers", body = StatusDoc), (status = 503, description = "The database does not answer", body = ErrorBody)))]
/// `GET /v1/ready`: the database answers.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.registry.db().ping().await {
        Ok(_) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer",
            )
            .into_response()
        }
    }
}

/// Query of `GET /v1/plugins`.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    kind: Option<String>,
    keyword: Option<String>,
}

#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    params(("q" = Option<String>, Query, description = "Words in the name, description or keywords"),
           ("kind" = Option<String>, Query, description = "validator, transform, model, deployer or alert-sink"),
           ("keyword" = Option<String>, Query, description = "A keyword")),
    responses((status = 200, description = "Matching packages", body = Vec<PackageSummary>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/plugins?q=&kind=&keyword=`: search.
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<SearchParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let found = state
        .registry
        .search(&SearchQuery {
            text: p.q,
            kind: p.kind,
            keyword: p.keyword,
        })
        .await?;
    Ok(Json(found).into_response())
}

#[utoipa::path(get, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The package")),
    responses((status = 200, description = "Every version and the owners", body = PackageDoc), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/plugins/{name}`: every version and the owners.
pub async fn package(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let versions = state.registry.versions(&name).await?;
    let owners = state.registry.owners(&name).await?;
    Ok(Json(PackageDoc {
        name,
        owners,
        versions,
    })
    .into_response())
}

#[utoipa::path(get, path = "/v1/plugins/{name}/{version}", tag = "plugins",
    params(VersionPath),
    responses((status = 200, description = "The version", body = VersionRecord), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/plugins/{name}/{version}`.
pub async fn version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(VersionPath { name, version }): Path<VersionPath>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(
        state
            .registry
            .version(&name, &version_of(&version)?)
            .await?,
    )
    .into_response())
}

/// Query of `GET /v1/resolve`.
#[derive(Debug, Deserialize)]
pub struct ResolveParams {
    spec: String,
}

#[utoipa::path(get, path = "/v1/resolve", tag = "plugins",
    params(("spec" = String, Query, description = "`name`, `name@^1.2`, `name@1.2.3` or `name@1.2.3#sha256:…`")),
    responses((status = 200, description = "The version it resolves to", body = VersionRecord), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/resolve?spec=name@^1.2`: the version a specification resolves to.
pub async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ResolveParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let spec = PluginSpec::parse(&p.spec)?;
    Ok(Json(state.registry.resolve(&spec).await?).into_response())
}

#[utoipa::path(get, path = "/v1/plugins/{name}/{version}/download", tag = "plugins",
    params(VersionPath, ("if-none-match" = Option<String>, Header, description = "The ETag already held")),
    responses((status = 200, description = "The component; its digest is the ETag and `x-ferry-digest`", content_type = "application/wasm", body = Vec<u8>),
              (status = 304, description = "Not modified"), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/plugins/{name}/{version}/download`: the component, with its digest as ETag.
pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(VersionPath { name, version }): Path<VersionPath>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let record = state
        .registry
        .version(&name, &version_of(&version)?)
        .await?;
    let etag = format!("\"{}\"", record.digest);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let bytes = state.registry.download(&record).await?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/wasm"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&record.digest) {
        h.insert("x-ferry-digest", v);
    }
    Ok(response)
}

/// Query parameters of a publish.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublishParams {
    /// Skip the conformance kit (the purity check still runs); only with an admin token.
    #[serde(default)]
    pub skip_checks: bool,
}

#[utoipa::path(post, path = "/v1/plugins", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component (sent as `application/wasm` or `application/octet-stream`); checked fully, including the purity check and the conformance kit (`ferry plugin test`), before anything is written"),
    params(("x-ferry-signature" = Option<String>, Header, description = "`ed25519:KEY:SIGNATURE` of the digest"), PublishParams),
    responses((status = 201, description = "Published", body = VersionRecord),
              (status = 200, description = "The same bytes were already published", body = VersionRecord), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)),
    security(("token" = [])))]
/// `POST /v1/plugins` with the component as the body: check it fully, then publish.
pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PublishParams>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = request_id();
    let result = match params {
        Ok(Query(p)) => publish_inner(&state, &headers, body, &id, p.skip_checks).await,
        Err(e) => Err(ApiError::bad_request(format!(
            "query: {}; `skip_checks` is true or false",
            e.body_text()
        ))),
    };
    let response = match result {
        Ok((status, record)) => (status, Json(record)).into_response(),
        Err(e) => e.into_response(),
    };
    with_request_id(response, &id)
}

async fn publish_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: &str,
    skip_checks: bool,
) -> Result<(StatusCode, ferry_registry::VersionRecord), ApiError> {
    let who = caller(state, headers).await;
    let actor = who
        .as_ref()
        .map(Caller::actor)
        .unwrap_or_else(|_| "invalid-token".into());
    let refuse = |e: ApiError| async move {
        let _ = state
            .registry
            .audit(&actor, "plugin.publish", "upload", "denied", id, &e.message)
            .await;
        e
    };
    let who = match who {
        Ok(w) => w,
        Err(e) => return Err(refuse(e).await),
    };
    let needed = if skip_checks {
        Role::Admin
    } else {
        Role::Publisher
    };
    let principal = match who.require(needed) {
        Ok(p) => p.clone(),
        Err(mut e) => {
            if skip_checks {
                e.message = format!("skip_checks: {}", e.message);
            }
            return Err(refuse(e).await);
        }
    };
    let bytes = match body {
        Ok(b) => b,
        Err(e) => {
            let err = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("a plugin may have at most {MAX_PLUGIN_BYTES} bytes"),
                )
            } else {
                ApiError::bad_request(format!("could not read the body: {}", e.body_text()))
            };
            return Err(refuse(err).await);
        }
    };
    // Check everything before writing anything: the signature, the plugin, ownership.
    let signature = match headers.get(ferry_pipeline::client::SIGNATURE_HEADER) {
        None => None,
        Some(v) => {
            let parsed = v
                .to_str()
                .ok()
                .and_then(|s| s.rsplit_once(':'))
                .map(|(key, sig)| ferry_registry::PluginSignature {
                    key: key.to_string(),
                    signature: sig.to_string(),
                });
            let checked = parsed
                .ok_or_else(|| "expected `ed25519:KEY:SIGNATURE`".to_string())
                .and_then(|s| {
                    s.verify(&ferry_registry::digest_of(&bytes))
                        .map(|()| s)
                        .map_err(|e| e.to_string())
                });
            match checked {
                Ok(s) => Some(s),
                Err(why) => {
                    let e = ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_signature",
                        format!("{}: {why}", ferry_pipeline::client::SIGNATURE_HEADER),
                    );
                    return Err(refuse(e).await);
                }
            }
        }
    };
    let plugin = match state
        .runtime
        .load("upload", &bytes, &Default::default())
        .await
    {
        Ok(p) => p,
        Err(e) => {
            return Err(refuse(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_plugin",
                e.to_string(),
            ))
            .await);
        }
    };
    match state.registry.may_change(&principal, plugin.name()).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(refuse(ApiError::forbidden(format!(
                "{} does not own {}",
                principal.name,
                plugin.name()
            )))
            .await);
        }
        Err(e) => return Err(refuse(e.into()).await),
    }
    let object = format!("plugin:{}@{}", plugin.name(), plugin.manifest().version);
    let outcome = publish::publish(
        &state.runtime,
        &state.registry,
        "upload",
        &bytes,
        Some(&principal.name),
        if skip_checks {
            publish::Checks::PurityOnly
        } else {
            publish::Checks::Conformance
        },
    )
    .await;
    match outcome.map(|o| o.published) {
        Ok(p) => {
            if let Some(s) = &signature {
                state.registry.add_signature(&p.record().digest, s).await?;
                state
                    .registry
                    .audit(&who.actor(), "plugin.sign", &object, "ok", id, &s.key)
                    .await?;
            }
            let status = if matches!(p, Published::Created(_)) {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            state
                .registry
                .audit(
                    &who.actor(),
                    "plugin.publish",
                    &object,
                    "ok",
                    id,
                    if status == StatusCode::CREATED {
                        "created"
                    } else {
                        "unchanged"
                    },
                )
                .await?;
            Ok((status, p.record().clone()))
        }
        Err(e) => {
            let err: ApiError = e.into();
            state
                .registry
                .audit(
                    &who.actor(),
                    "plugin.publish",
                    &object,
                    "denied",
                    id,
                    &err.message,
                )
                .await?;
            Err(err)
        }
    }
}

#[utoipa::path(get, path = "/v1/plugins/{name}/{version}/signatures", tag = "plugins",
    params(VersionPath),
    responses((status = 200, description = "The signatures of its digest", body = Vec<PluginSignature>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/plugins/{name}/{version}/signatures`: the signatures of a version's digest.
pub async fn signatures(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(VersionPath { name, version }): Path<VersionPath>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let record = state
        .registry
        .version(&name, &version_of(&version)?)
        .await?;
    Ok(Json(state.registry.signatures(&record.digest).await?).into_response())
}

/// Body of a yank.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct YankBody {
    /// `false` un-yanks (`true` when left out).
    #[serde(default = "yes")]
    yanked: bool,
}

/// A package and one of its exact versions, in the URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// The package.
    name: String,
    /// An exact version.
    #[param(schema_with = super::schema::semver)]
    version: String,
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/v1/plugins/{name}/{version}/yank", tag = "plugins",
    params(VersionPath),
    request_body(content = Option<YankBody>, description = "`{\"yanked\": false}` un-yanks"),
    responses((status = 200, description = "The version", body = VersionRecord), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)),
    security(("token" = [])))]
/// `POST /v1/plugins/{name}/{version}/yank` with `{"yanked": true|false}`.
pub async fn yank(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(VersionPath { name, version }): Path<VersionPath>,
    body: Option<Json<Option<YankBody>>>,
) -> Response {
    let object = format!("plugin:{name}@{version}");
    owner_change(
        &state,
        &headers,
        "plugin.yank",
        &object,
        &name,
        async || {
            let yanked = body.and_then(|Json(b)| b).is_none_or(|b| b.yanked);
            let r = state
                .registry
                .set_yanked(&name, &version_of(&version)?, yanked)
                .await?;
            let detail = if r.yanked { "yanked" } else { "unyanked" };
            Ok((
                serde_json::to_value(r).unwrap_or_default(),
                detail.to_string(),
            ))
        },
    )
    .await
}

/// Runs a change only an owner of `package` (or an admin) may make, answers with its result,
/// and audits it, refusals included, under a fresh request id.
async fn owner_change(
    state: &AppState,
    headers: &HeaderMap,
    action: &str,
    object: &str,
    package: &str,
    change: impl AsyncFnOnce() -> Result<(serde_json::Value, String), ApiError>,
) -> Response {
    let (id, result) = audited(
        state,
        headers,
        Role::Publisher,
        action,
        object,
        async |who| {
            let principal = who.require(Role::Publisher)?;
            state.registry.versions(package).await?;
            if !state.registry.may_change(principal, package).await? {
                return Err(ApiError::forbidden(format!(
                    "{} does not own {package}",
                    principal.name
                )));
            }
            change().await
        },
    )
    .await;
    let response = match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    };
    with_request_id(response, &id)
}

/// Body of `POST /v1/plugins/{name}/owners`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OwnerBody {
    /// The token name to add.
    #[schema(schema_with = super::schema::owner)]
    owner: String,
}

#[utoipa::path(post, path = "/v1/plugins/{name}/owners", tag = "plugins",
    params(("name" = String, Path, description = "The package")),
    request_body = OwnerBody,
    responses((status = 200, description = "The owners now", body = OwnersDoc), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)),
    security(("token" = [])))]
/// `POST /v1/plugins/{name}/owners` with `{"owner": "bob"}`: an owner (or admin) adds one.
pub async fn add_owner(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<OwnerBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let object = format!("package:{name}");
    owner_change(
        &state,
        &headers,
        "package.owner.add",
        &object,
        &name,
        async || {
            let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            ferry_registry::check_owner(&body.owner)?;
            let owner = body.owner.trim();
            state.registry.add_owner(&name, owner).await?;
            let owners = state.registry.owners(&name).await?;
            Ok((
                serde_json::json!({ "name": name, "owners": owners }),
                format!("added {owner}"),
            ))
        },
    )
    .await
}

/// Query of `GET /v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// How many entries, newest first (1 to 10,000; default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "service",
    params(AuditParams),
    responses((status = 200, description = "The newest entries", body = Vec<AuditEntry>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)),
    security(("token" = [])))]
/// `GET /v1/audit?limit=N`: the newest audit entries (admins only).
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<AuditParams>,
) -> Result<Response, ApiError> {
    caller(&state, &headers).await?.require(Role::Admin)?;
    Ok(Json(
        state
            .registry
            .audit_log(p.limit.unwrap_or(100).clamp(1, 10_000))
            .await?,
    )
    .into_response())
}

#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi_json(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/docs", tag = "service", responses((status = 200, description = "Interactive documentation of this document", content_type = "text/html", body = String)))]
/// `GET /docs`: interactive documentation built from `/openapi.json`, with no outside assets.
pub async fn docs() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("docs.html"),
    )
        .into_response()
}

/// Anything else: a JSON 404.
pub async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return super::mlflow::not_found(method.as_str(), uri.path());
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
    .into_response()
}
