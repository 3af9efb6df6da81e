//! Ferry's operations: what keeps a registered model answering in production. Named
//! deployments ([`deploy`]): which versions answer a deployment and in what shares, the
//! routing of each request through them with circuit breakers, fallbacks, defaults and
//! shadows, live revisions shared by replicas, and deployer targets. Monitoring
//! ([`monitor`]): the Prometheus metrics, the prediction log and its export, live metrics from
//! labels, the last hour of requests, and alert rules with their sinks.
//!
//! It builds on `ferry-pipeline` (the served versions), `ferry-core`, `ferry-runtime` and
//! `ferry-registry`; alert sinks named as built-ins load through the runtime it is handed, not
//! from `ferry-builtins`. It has no HTTP: no axum and no hyper server; the
//! HTTP routes and the NATS stream workers in `ferry-server` call into it. Its answers are JSON
//! values and domain errors, never HTTP responses.
//!
//! Start reading from [`deploy::Routing::route`], which answers one request through a
//! deployment.

pub mod deploy;
pub mod monitor;
