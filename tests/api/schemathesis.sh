#!/usr/bin/env bash
# The generated OpenAPI document against a real `ferry serve`: schemathesis generates requests
# for every operation it describes (examples, coverage, fuzzing and stateful sequences, with an
# admin token so that changes go through) and runs every check: no 5xx, answers as documented,
# schema-valid requests accepted, schema-violating ones refused, a missing token answered 401.
# What a check cannot judge is listed, with why, in schemathesis.toml beside this script. The
# server first holds a trained churn model, so runs, files, versions and predictions are there
# to be found.
#
# One worker: hypothesis describes its strategies with `ast.parse`, which CPython 3.11 does not
# run safely on two threads at once ("AST constructor recursion depth mismatch").
#
# Usage: tests/api/schemathesis.sh FERRY_BINARY SCHEMATHESIS_BINARY
set -euo pipefail
ferry=$1
st=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
# Compiled components are shared with the other test suites (keyed by digest and engine).
export FERRY_DATA_DIR="$work/data"
export FERRY_CACHE_DIR="${FERRY_TEST_CACHE_DIR:-$(dirname "$ferry")/ferry-test-components}"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
"$ferry" train "$root/examples/churn/pipeline.toml" > /dev/null
"$ferry" serve --addr 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
server=$!
url=""
for _ in $(seq 300); do
  url=$(sed -n 's/^ferry serving on //p' "$work/serve.out")
  [ -n "$url" ] && break
  kill -0 "$server" || { cat "$work/serve.err"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "ferry serve did not start"; exit 1; }
token=$(cat "$FERRY_DATA_DIR/admin-token")
cd "$work"
"$st" --config-file "$root/tests/api/schemathesis.toml" run "$url/openapi.json" \
  -H "Authorization: Bearer $token" \
  --max-examples "${FERRY_SCHEMATHESIS_EXAMPLES:-50}" \
  --workers 1 \
  --seed "${FERRY_SCHEMATHESIS_SEED:-20261129}"
