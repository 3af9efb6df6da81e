//! Ferry at the edge: one bundle's model version, checked against the trust policy and served
//! with nothing behind it. It holds the HTTP pieces every Ferry server shares ([`http`]:
//! errors as JSON, admission control, refusals, request ids), the edge server ([`serve`]) and
//! the command line the `ferry-edge` binary and the full `ferry` share ([`cli`]: exit codes,
//! limits, logging and the `verify`, `predict` and `run` subcommands).
//!
//! It builds on `ferry-core` (the data path and the serving pipeline), `ferry-runtime` without
//! its network feature and `ferry-bundle`, with axum for HTTP. It must not depend on the
//! registry, sqlx, NATS, `ferry-pipeline`, `ferry-ops` or the full server: the edge build is
//! this crate and what it depends on, a choice of crates rather than feature flags.
//!
//! Start reading from [`cli::bundle::run`], which opens, checks and serves a bundle.

pub mod cli;
pub mod http;
pub mod serve;
