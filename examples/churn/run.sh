#!/usr/bin/env bash
# The churn example end to end with the built-in plugins: train the pipeline (validate the
# data, learn the transforms, train and evaluate the model, record the run, register a model
# version), read the version's model card, score the file in batch, then serve the version and
# ask for a prediction over HTTP. Everything goes to examples/churn/out/ (the registry too,
# unless FERRY_DATA_DIR says otherwise).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
rustup toolchain install >/dev/null
cargo build --bin ferry
ferry="${CARGO_TARGET_DIR:-$root/target}/debug/ferry"
out="$here/out"
mkdir -p "$out"
export FERRY_DATA_DIR="${FERRY_DATA_DIR:-$out/data}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The built-in plugins"
"$ferry" plugin list

step "Train: validate, learn the transforms, train, evaluate, record, register"
"$ferry" train "$here/pipeline.toml"

step "The runs so far"
"$ferry" runs list --experiment churn

step "The model card of churn@challenger"
"$ferry" models card churn@challenger

step "Batch: the same features and predictions for the whole file"
"$ferry" transform --model churn@challenger "$here/customers.csv" --out "$out/scored.csv" --predictions --keep customer_id
head -4 "$out/scored.csv"

step "Drift: the file against the version's training data (the same data, so no drift)"
"$ferry" drift --model churn@challenger "$here/customers.csv"

step "Online: serve the registry and ask churn@challenger about one customer"
"$ferry" serve --addr 127.0.0.1:0 >"$out/serve.log" 2>&1 &
server=$!
# Stop the server and wait for it: on shutdown it writes the prediction log's last segment.
trap 'kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; true' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^ferry serving on //p' "$out/serve.log" | head -n 1)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$out/serve.log"; exit 1; }
set -x
curl -sS --fail-with-body -w '\n' -X POST "$url/v1/models/churn/challenger/predict" \
  -H 'content-type: application/json' \
  -d '{"rows": [{"customer_id": "C09999", "tenure_months": 2, "monthly_charges": 95.5,
                 "total_charges": 190.2, "contract": "month-to-month", "support_calls": 4,
                 "paperless_billing": true}]}'
{ set +x; } 2>/dev/null
