//! The HTTP API (`/v1`): the plugin registry and marketplace, tracking, the model registry and
//! online prediction.

mod audit;
mod auth;
mod error;
mod mlflow;
mod models;
mod plugins;
mod tracking;

use std::{net::SocketAddr, path::PathBuf};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use ferry_registry::{Registry, Role};

use crate::publish::MAX_PLUGIN_BYTES;
use crate::runtime::Runtime;

pub use error::ApiError;

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
    pub served: std::sync::Arc<crate::pipeline::Served>,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(plugins::health))
        .route("/v1/ready", get(plugins::ready))
        .route("/v1/plugins", get(plugins::search).post(plugins::publish))
        .route("/v1/plugins/{name}", get(plugins::package))
        .route("/v1/plugins/{name}/owners", post(plugins::add_owner))
        .route("/v1/plugins/{name}/{version}", get(plugins::version))
        .route(
            "/v1/plugins/{name}/{version}/download",
            get(plugins::download),
        )
        .route("/v1/plugins/{name}/{version}/yank", post(plugins::yank))
        .route(
            "/v1/plugins/{name}/{version}/signatures",
            get(plugins::signatures),
        )
        .route("/v1/resolve", get(plugins::resolve))
        .route("/v1/audit", get(plugins::audit))
        .route("/v1/experiments", get(tracking::experiments))
        .route("/v1/experiments/{id}", get(tracking::experiment))
        .route("/v1/runs", get(tracking::runs))
        .route("/v1/runs/{id}", get(tracking::run))
        .route("/v1/runs/{id}/metrics/{key}", get(tracking::metric_history))
        .route("/v1/runs/{id}/artifacts", get(tracking::artifacts))
        .route("/v1/runs/{id}/artifacts/{*path}", get(tracking::artifact))
        .route("/v1/blobs/{digest}", get(tracking::blob))
        .route("/v1/models", get(models::list).post(models::create))
        .route(
            "/v1/models/{name}",
            get(models::show).patch(models::patch_model),
        )
        .route(
            "/v1/models/{name}/versions",
            get(models::versions).post(models::register),
        )
        .route(
            "/v1/models/{name}/versions/{reference}",
            get(models::version).patch(models::patch_version),
        )
        .route(
            "/v1/models/{name}/versions/{reference}/card",
            get(models::card),
        )
        .route(
            "/v1/models/{name}/versions/{reference}/pipeline",
            put(models::attach),
        )
        .route(
            "/v1/models/{name}/versions/{reference}/stage",
            post(models::stage),
        )
        .route(
            "/v1/models/{name}/aliases/{alias}",
            put(models::set_alias).delete(models::delete_alias),
        )
        .route(
            "/v1/models/{name}/{reference}/predict",
            post(models::predict),
        )
        .route("/openapi.json", get(plugins::openapi))
        .route("/docs", get(plugins::docs))
        .merge(mlflow::routes())
        .fallback(plugins::not_found)
        .layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES + 1))
        .with_state(state)
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
    pub plugins: crate::pipeline::PluginPolicy,
}

/// Opens the registry (with the built-in plugins), creates the first admin token if there is
/// none, binds, prints the address and serves until Ctrl-C.
pub async fn serve(runtime: Runtime, options: ServeOptions) -> anyhow::Result<()> {
    let registry = Registry::open(&options.data_dir, options.database_url.as_deref()).await?;
    crate::publish::seed_builtins(&runtime, &registry).await?;
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
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    println!("ferry serving on http://{addr}");
    let state = AppState {
        registry,
        runtime,
        anonymous_read: !options.public,
        served: std::sync::Arc::new(crate::pipeline::Served::new(options.plugins)),
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// A random id for a request, echoed in `x-request-id` and the audit log.
pub fn request_id() -> String {
    let mut buf = [0u8; 8];
    let _ = getrandom::fill(&mut buf);
    hex::encode(buf)
}
