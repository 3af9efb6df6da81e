#!/usr/bin/env bash
# An Extism transform against the same transform as a component, in one run (release build):
# builds examples/extism-log-transform for wasm32-unknown-unknown and runs
# host/benches/extism.rs, which serves the churn pipeline with a log step as the built-in
# component and as the Extism module, and prints the table with Extism / component ratios.
#
# Usage: bench/extism.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cd "$root"
cargo build --release --target wasm32-unknown-unknown -p extism-log-transform --quiet
export FERRY_EXTISM_PLUGIN="$target/wasm32-unknown-unknown/release/extism_log_transform.wasm"
cargo bench -p ferry-server --bench extism --quiet
