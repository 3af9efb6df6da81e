#!/usr/bin/env bash
# Where the time goes in `ferry serve` under load: trains and deploys the churn pipeline,
# serves it (release build, with the plugins' compiled code named for perf), puts wrk on the
# deployment endpoint at 32 connections and samples the server with `perf record -g`, then
# groups the samples: plugin code, wasmtime, the kernel, malloc, JSON, tokio and the rest.
#
# Usage: bench/profile.sh [SECONDS] [PATH]   (needs wrk and perf: apt-get install wrk linux-perf)
#   PATH defaults to /v1/deployments/churn/predict; the report is left in $PERF_OUT (perf.txt).
#   FERRY_DEPLOY_ARGS adds options to the deployment (e.g. "--batch-max-rows 64" to profile
#   adaptive batching); FERRY_FEATURES builds the binary with features (e.g. mimalloc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
seconds=${1:-10}
path=${2:-/v1/deployments/churn/predict}
out=${PERF_OUT:-$PWD/perf.txt}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$root"
cargo build --release -p ferry --bin ferry ${FERRY_FEATURES:+--features "$FERRY_FEATURES"}
ferry="$target/release/ferry"
export FERRY_DATA_DIR="$work/data" FERRY_CACHE_DIR="$work/cache"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
"$ferry" train examples/churn/pipeline.toml > /dev/null
# shellcheck disable=SC2086  # the options are meant to split
"$ferry" deploy create churn --model churn@1 ${FERRY_DEPLOY_ARGS:-} > /dev/null
FERRY_PERF_MAP=1 "$ferry" serve --addr 127.0.0.1:0 --max-in-flight 1024 > "$work/out" 2> /dev/null &
server=$!
url=""
while [ -z "$url" ]; do url=$(sed -n 's/^.* serving on //p' "$work/out"); sleep 0.05; done
cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"rows": [{"customer_id": "C00001", "tenure_months": 12, "monthly_charges": 46.05, "total_charges": 47.14, "contract": "one-year", "support_calls": 1, "paperless_billing": false}]}'
LUA
wrk -t1 -c4 -d2s -s "$work/post.lua" "$url$path" > /dev/null   # warm up
perf record -F 2000 -g -p "$server" -o "$work/perf.data" -- sleep "$seconds" 2> /dev/null &
recorder=$!
wrk -t2 -c32 -d"${seconds}s" -s "$work/post.lua" "$url$path" | grep -E "Requests/sec|Latency"
wait "$recorder" || true
perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio 2> /dev/null > "$out"
python3 - "$out" <<'PY'
import re, sys
groups = {}
total = 0.0
for line in open(sys.argv[1]):
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m[1]), m[2], m[3], m[4]
    total += pct
    if kind == "k" or dso.startswith("[kernel"):
        g = "kernel"
    elif dso.startswith("perf-") or dso.startswith("[JIT") or "wasm" in sym and "wasmtime" not in sym:
        g = "plugin code (Wasm)"
    elif re.search(r"malloc|free|realloc|calloc|_int_|memcpy|memmove|memset", sym):
        g = "malloc, free, memcpy"
    elif "wasmtime" in sym or "cranelift" in sym:
        g = "wasmtime (instantiate, lower, lift, call)"
    elif "serde_json" in sym or "serde::" in sym:
        g = "JSON"
    elif "tokio" in sym or "mio" in sym or "parking_lot" in sym:
        g = "tokio"
    elif "hyper" in sym or "axum" in sym or "http" in sym:
        g = "hyper, axum"
    else:
        g = "other host code"
    groups[g] = groups.get(g, 0.0) + pct
print(f"{'where':45} share of samples")
for g, pct in sorted(groups.items(), key=lambda kv: -kv[1]):
    print(f"{g:45} {pct / total * 100:5.1f} %")
PY
echo "perf report: $out"
