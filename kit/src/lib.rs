//! Ferry's kit for plugin authors and publishers: publishing a plugin to a registry with every
//! check made before anything is written ([`publish`]), the conformance kit behind `ferry
//! plugin test` ([`conformance`]), the project templates of `ferry plugin new` ([`scaffold`]),
//! `ferry.lock` ([`lockfile`]) and installing pinned plugins into a project under its trust
//! policy ([`install`]).
//!
//! It depends on `ferry-runtime`, `ferry-core` (the purity check and the step engine the
//! probes run), `ferry-registry` and `ferry-pipeline` (the store plugins are installed from);
//! the built-in plugins come through the [`ferry_runtime::Runtime`] it is handed, not from
//! `ferry-builtins`. It must not depend on `ferry-server` or
//! on the HTTP server; it uses axum only for the loopback listener that deployers and alert
//! sinks under test deliver to, which serves no Ferry route.
//!
//! Start reading from [`conformance::run`].

pub mod conformance;
pub mod install;
pub mod lockfile;
pub mod publish;
pub mod scaffold;
