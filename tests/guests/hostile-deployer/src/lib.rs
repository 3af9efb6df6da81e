//! A deployer that reaches for files, variables and the network as its settings name, to show
//! that a plugin that acts on the world gets exactly what it asked for and was granted.
//! `status(name, {"do": "..."})` picks the action; the status message says what happened.
//! The deployer is `deployer.rs`, which `tests/extism-wasi/hostile-deployer` builds as an
//! Extism module.

use ferry_sdk as sdk;

pub mod deployer;

#[cfg(target_arch = "wasm32")]
fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}

#[cfg(not(target_arch = "wasm32"))]
fn random_u64() -> u64 {
    0
}

ferry_sdk::export_deployer!(deployer::HostileDeployer);
