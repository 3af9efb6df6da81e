//! Ferry's HTTP server: the `/v1` API (the plugin registry and marketplace, tracking, the model
//! registry, online prediction, deployments and monitoring), auth, admission, the OpenAPI
//! document, the MLflow routes and the NATS stream workers.
//!
//! It turns the library crates' domain answers and errors into HTTP and holds no domain logic
//! of its own: deployments and monitoring are `ferry-ops`, training and the registry's pipelines
//! `ferry-pipeline`, publishing and the conformance kit `ferry-kit`, the data path and serving
//! `ferry-core`, the sandbox `ferry-runtime`. It may depend on all of them and on
//! `ferry-registry`; nothing but the `ferry` binary depends on it. The HTTP pieces it shares
//! with the edge server (errors, admission, refusals, request ids) are `ferry-edge`'s.
//!
//! Start reading from [`router`] and [`AppState`].

mod alerts;
mod audit;
mod auth;
mod contract;
mod deployments;
mod drift;
mod error;
mod feedback;
mod gate;
mod metrics;
mod mlflow;
mod models;
mod plugins;
mod schema;
pub mod secret;
mod stream;
mod tracking;

use std::{net::SocketAddr, path::PathBuf};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use ferry_registry::{Registry, Role};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use ferry_kit::publish::MAX_PLUGIN_BYTES;
use ferry_runtime::Runtime;

pub use error::ApiError;
pub use ferry_edge::http::PredictLimits;
pub use ferry_edge::serve::{EdgeService, edge_router, serve_edge};

/// The server's shared state.
#[derive(Clone)]
pub struct AppState {
    /// The registry.
    pub registry: Registry,
    /// The plugin runtime (to check what is published).
    pub runtime: Runtime,
    /// Whether reads need no token.
    pub anonymous_read: bool,
    /// Model versions loaded for serving.
    pub served: std::sync::Arc<ferry_pipeline::Served>,
    /// Deployments as this server routes them: revisions, circuit breakers, shadow counters.
    pub deployments: std::sync::Arc<ferry_ops::deploy::Deployments>,
    /// What a prediction request may cost.
    pub limits: PredictLimits,
    /// Prediction requests in flight, per deployment or model.
    pub in_flight: std::sync::Arc<ferry_edge::http::InFlight>,
    /// The prediction log, when it is on.
    pub predictions: Option<ferry_ops::monitor::predlog::PredictionLog>,
    /// The rules file (its rules and sinks), when the server evaluates alerts.
    pub alerts: Option<std::sync::Arc<ferry_ops::monitor::alerts::RulesFile>>,
    /// Woken when labels arrive, so the live metrics in `/metrics` are scored again.
    pub live: std::sync::Arc<tokio::sync::Notify>,
}

impl AppState {
    /// What a deployment's batching is checked against: the built-in plugins and the trust
    /// policy served plugins are held to.
    pub fn gate(&self) -> ferry_ops::deploy::Gate<'_> {
        ferry_ops::deploy::Gate {
            runtime: &self.runtime,
            trust: self.served.options().trust.as_deref(),
        }
    }

    /// The handles a deployment's routing needs.
    pub fn routing(&self) -> ferry_ops::deploy::Routing {
        ferry_ops::deploy::Routing {
            registry: self.registry.clone(),
            runtime: self.runtime.clone(),
            served: self.served.clone(),
            deployments: self.deployments.clone(),
            predictions: self.predictions.clone(),
        }
    }
}

/// The routes, with the generated OpenAPI document served at `/openapi.json`.
pub fn router(state: AppState) -> Router {
    let (router, api) = api().split_for_parts();
    let _ = OPENAPI.set(finished(api).to_pretty_json().unwrap_or_default());
    router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .fallback(plugins::not_found)
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES + 1))
        .with_state(state)
}

/// The OpenAPI document, generated from the routes (the first router built fills it).
static OPENAPI: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What the OpenAPI document says each operation takes, which every request is held to.
fn contract() -> &'static contract::Contract {
    static CONTRACT: std::sync::OnceLock<contract::Contract> = std::sync::OnceLock::new();
    CONTRACT.get_or_init(|| {
        let doc = serde_json::to_value(finished(api().into_openapi())).unwrap_or_default();
        contract::Contract::from_document(&doc, &["/api/2.0/mlflow/", "/v1/"])
    })
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    OPENAPI
        .get_or_init(|| {
            finished(api().into_openapi())
                .to_pretty_json()
                .unwrap_or_default()
        })
        .clone()
}

/// The generated document, with every path parameter marked required (as OpenAPI demands; a
/// parameter whose schema is given by `schema_with` loses the mark in utoipa's derive).
fn finished(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::ParameterIn;
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ];
        for op in operations.into_iter().flatten() {
            for p in op.parameters.iter_mut().flatten() {
                if p.parameter_in == ParameterIn::Path {
                    p.required = utoipa::openapi::Required::True;
                }
            }
        }
    }
    api
}

/// Every route with its OpenAPI description: a route exists only through `routes!`, so the
/// document describes every route there is.
pub fn api() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::with_openapi(document())
        .routes(routes!(plugins::health))
        .routes(routes!(plugins::ready))
        .routes(routes!(plugins::whoami))
        .routes(routes!(plugins::search, plugins::publish))
        .routes(routes!(plugins::package))
        .routes(routes!(plugins::add_owner))
        .routes(routes!(plugins::version))
        .routes(routes!(plugins::download))
        .routes(routes!(plugins::yank))
        .routes(routes!(plugins::signatures))
        .routes(routes!(plugins::resolve))
        .routes(routes!(plugins::audit))
        .routes(routes!(tracking::experiments))
        .routes(routes!(tracking::experiment))
        .routes(routes!(tracking::runs))
        .routes(routes!(tracking::run))
        .routes(routes!(tracking::metric_history))
        .routes(routes!(tracking::artifacts))
        .routes(routes!(tracking::blob))
        .routes(routes!(models::list, models::create))
        .routes(routes!(models::show, models::patch_model))
        .routes(routes!(models::versions, models::register))
        .routes(routes!(models::version, models::patch_version))
        .routes(routes!(models::card))
        .routes(routes!(models::attach))
        .routes(routes!(models::stage))
        .routes(routes!(models::set_alias, models::delete_alias))
        .routes(routes!(models::predict))
        .routes(routes!(drift::drift))
        .routes(routes!(feedback::for_version))
        .routes(routes!(feedback::for_deployment))
        .routes(routes!(feedback::live))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::rules))
        .routes(routes!(alerts::put_rule, alerts::delete_rule))
        .routes(routes!(metrics::metrics))
        .routes(routes!(deployments::list, deployments::create))
        .routes(routes!(
            deployments::show,
            deployments::update,
            deployments::delete
        ))
        .routes(routes!(deployments::revisions))
        .routes(routes!(deployments::rollback))
        .routes(routes!(deployments::shadow))
        .routes(routes!(deployments::targets))
        .routes(routes!(deployments::record_target))
        .routes(routes!(deployments::predict))
        .routes(routes!(plugins::openapi))
        .routes(routes!(plugins::docs));
    let router = wildcard(
        router,
        "/v1/runs/{id}/artifacts/{*path}",
        routes!(tracking::artifact),
        |m| m,
    );
    router.merge(mlflow::routes())
}

/// Routes a path whose last segment takes the rest of the URL (`{*path}` for axum) and
/// describes it as OpenAPI spells it (`{path}`).
pub(crate) fn wildcard(
    mut router: OpenApiRouter<AppState>,
    axum_path: &str,
    (schemas, paths, method_router): utoipa_axum::router::UtoipaMethodRouter<AppState>,
    wrap: impl FnOnce(axum::routing::MethodRouter<AppState>) -> axum::routing::MethodRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let api = router.get_openapi_mut();
    for (path, item) in paths.paths {
        match api.paths.paths.get_mut(&path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                api.paths.paths.insert(path, item);
            }
        }
    }
    api.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    router.route(axum_path, wrap(method_router))
}

/// The document's description, servers aside: title, version, security scheme and tags.
fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::openapi::tag::TagBuilder;
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};
    let tag = |name: &str, description: &str| {
        TagBuilder::new()
            .name(name)
            .description(Some(description))
            .build()
    };
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Ferry")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Ferry's HTTP API: the plugin registry and marketplace, experiment tracking, the model registry and online prediction (`/v1`), and the MLflow REST API the `mlflow` client uses (`/api/2.0/mlflow`, `/api/2.0/mlflow-artifacts`). Reads need a token only on a server started with `--public`; changes need a token with the right role (`Authorization: Bearer TOKEN`).",
                ))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "token",
                    SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
                )
                .build(),
        ))
        .tags(Some(vec![
            tag("service", "Health, readiness, the audit log and this document"),
            tag("plugins", "The plugin registry and marketplace"),
            tag("tracking", "Experiments, runs and their files"),
            tag("models", "The model registry and online prediction"),
            tag(
                "deployments",
                "Named deployments: traffic splits, shadows, fallbacks, circuit breakers, revisions",
            ),
            tag(
                "alerts",
                "Alerts raised by the monitoring rules, and the rules managed through the API",
            ),
            tag("mlflow", "MLflow's REST API, as the `mlflow` client calls it"),
        ]))
        .build()
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The data folder.
    pub data_dir: PathBuf,
    /// The database URL (default: SQLite in the data folder).
    pub database_url: Option<String>,
    /// Public mode: reads need a token.
    pub public: bool,
    /// Grants, limits and the trust policy for the plugins of served model versions.
    pub plugins: ferry_pipeline::PluginPolicy,
    /// What a prediction request may cost.
    pub predict: PredictLimits,
    /// A NATS server to consume the streams of deployments from (`nats://host:4222`).
    pub nats: Option<String>,
    /// The prediction log's settings (off when absent).
    pub prediction_log: Option<ferry_ops::monitor::predlog::LogSettings>,
    /// Alert rules, and the grants their sinks are loaded with.
    pub alerts: Option<(
        ferry_ops::monitor::alerts::RulesFile,
        ferry_runtime::LoadOptions,
    )>,
}

/// Opens the registry (with the built-in plugins), creates the first admin token if there is
/// none, binds, prints the address and serves until Ctrl-C.
pub async fn serve(runtime: Runtime, options: ServeOptions) -> anyhow::Result<()> {
    let registry = Registry::open(&options.data_dir, options.database_url.as_deref()).await?;
    ferry_kit::publish::seed_builtins(&runtime, &registry).await?;
    if registry.tokens().await?.is_empty() {
        let (token, info) = registry.create_token("admin", Role::Admin).await?;
        let path = options.data_dir.join("admin-token");
        crate::secret::write_private(&path, &token, true)?;
        registry
            .audit(
                "server",
                "token.create",
                &format!("token:{}", info.id),
                "ok",
                "startup",
                "first admin token",
            )
            .await?;
        eprintln!(
            "created the first admin token; it is in {} (readable only by you)",
            path.display()
        );
    }
    registry.refresh_generation().await?;
    let watched = registry.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(GENERATION_POLL);
        loop {
            tick.tick().await;
            if let Err(e) = watched.refresh_generation().await {
                tracing::warn!(error = %e, "could not read the registry's generation");
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    println!("ferry serving on http://{addr}");
    let live_windows = options
        .prediction_log
        .as_ref()
        .map(|s| (s.live_window, s.live_every));
    let predictions = options.prediction_log.map(|settings| {
        ferry_ops::monitor::predlog::PredictionLog::start(registry.clone(), settings)
    });
    let state = AppState {
        registry,
        runtime,
        anonymous_read: !options.public,
        served: std::sync::Arc::new(ferry_pipeline::Served::new(options.plugins)),
        deployments: Default::default(),
        limits: options.predict,
        in_flight: Default::default(),
        predictions,
        alerts: options
            .alerts
            .as_ref()
            .map(|(rules, _)| std::sync::Arc::new(rules.clone())),
        live: Default::default(),
    };
    if let Some((window, every)) = live_windows {
        tokio::spawn(ferry_ops::monitor::live::keep_live_metrics(
            state.registry.clone(),
            window,
            every,
            state.live.clone(),
        ));
    }
    if let Some((rules, sink_options)) = options.alerts {
        let alerting = std::sync::Arc::new(ferry_ops::monitor::alerts::Alerting::new(
            state.registry.clone(),
            state.runtime.clone(),
            rules,
            sink_options,
            state.deployments.clone(),
        ));
        tokio::spawn(alerting.run());
    }
    let streams = options
        .nats
        .map(|url| tokio::spawn(stream::supervise(state.clone(), url)));
    let log = state.predictions.clone();
    // A client refused before its body is read (401, 503, 413) gets the answer, not a reset.
    let listener = ferry_edge::http::LingeringListener::new(
        listener,
        state.limits.max_body_bytes.max(gate::LARGE_BODY),
    );
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    if let Some(s) = streams {
        s.abort();
    }
    if let Some(log) = log {
        log.flush().await;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How often a server reads the registry's generation, to drop what it resolved from memory
/// when another process changed a version, an alias or a deployment.
pub const GENERATION_POLL: std::time::Duration = std::time::Duration::from_millis(200);

pub use ferry_core::ids::request_id;
