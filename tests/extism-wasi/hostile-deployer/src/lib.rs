//! `tests/guests/hostile-deployer`'s deployer, built as an Extism module for `wasm32-wasip1`:
//! its files, variables, clock and random source are WASI preview 1's, which the host builds
//! from the same grants as a component's, so the sandbox tests run unchanged against it.

use std::hash::BuildHasher;

use ferry_extism_pdk as sdk;

#[path = "../../../guests/hostile-deployer/src/deployer.rs"]
pub mod deployer;

/// 64 bits from the random source: std seeds each `RandomState` from WASI's `random_get`.
fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0u64)
}

ferry_extism_pdk::export_deployer!(deployer::HostileDeployer);
