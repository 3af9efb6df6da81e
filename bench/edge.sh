#!/usr/bin/env bash
# Edge numbers, measured in one run on this machine: the size of `ferry-edge` (the edge crate
# alone: no registry, sqlx, HTTP client, NATS or built-in plugins) against the full `ferry`; the churn bundle's size; start-to-first-answer and RSS of `ferry edge run` against
# `ferry serve` on the same version, cold (no compile cache) and warm.
#
# Usage: bench/edge.sh            (release builds under $CARGO_TARGET_DIR or ./target)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
cargo build --release -p ferry --bin ferry
cp "$target/release/ferry" "$work/ferry-full"
cargo build --release -p ferry-edge --bin ferry-edge
cp "$target/release/ferry-edge" "$work/ferry-edge"
strip -o "$work/ferry-full.stripped" "$work/ferry-full"
strip -o "$work/ferry-edge.stripped" "$work/ferry-edge"
# Leave the full binary in place, as a plain `cargo build --release` would.
cargo build --release -p ferry --bin ferry

export FERRY_DATA_DIR="$work/data" FERRY_CACHE_DIR="$work/cache"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
"$work/ferry-full" train examples/churn/pipeline.toml > /dev/null
"$work/ferry-full" deploy create churn --model churn@1 > /dev/null
"$work/ferry-full" key generate --out "$work/acme" > /dev/null 2>&1
echo '{"sign_with": "acme.key"}' > "$work/edge.json"
mkdir -p "$work/out"
"$work/ferry-full" deploy target churn --plugin edge-bundle --allow-dir "/deploy=$work/out" \
  --allow-dir "/keys=$work:ro" --config "$work/edge.json" > /dev/null
python3 bench/edge_measure.py "$work" "$(cat "$work/acme.pub")"
