#!/usr/bin/env bash
# Cross-builds `ferry-edge` (the edge crate alone) for aarch64-unknown-linux-gnu and
# runs the churn bundle under qemu-aarch64: it verifies the bundle, predicts the 2,000 churn
# customers (compared byte for byte with the x86_64 build's predictions), and serves it, timed
# from start to the first answer under emulation.
#
# Needs: rustup target add aarch64-unknown-linux-gnu (in this folder) and
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
# Usage: bench/edge-aarch64.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
server=""
cd "$root"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
cargo build --release -p ferry-edge --bin ferry-edge --target aarch64-unknown-linux-gnu
arm="$target/aarch64-unknown-linux-gnu/release/ferry-edge"
cargo build --release -p ferry --bin ferry
x86="$target/release/ferry"
file "$arm" | sed 's/, BuildID[^,]*//'
echo "aarch64 edge binary: $(( $(stat -c %s "$arm") / 1024 / 1024 )) MiB"

export FERRY_DATA_DIR="$work/data" FERRY_CACHE_DIR="$work/cache"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
"$x86" train examples/churn/pipeline.toml > /dev/null
"$x86" deploy create churn --model churn@1 > /dev/null
"$x86" key generate --out "$work/acme" > /dev/null 2>&1
key=$(cat "$work/acme.pub")
echo '{"sign_with": "acme.key"}' > "$work/edge.json"
mkdir -p "$work/out"
"$x86" deploy target churn --plugin edge-bundle --allow-dir "/deploy=$work/out" \
  --allow-dir "/keys=$work:ro" --config "$work/edge.json" > /dev/null
bundle="$work/out/churn/churn.ferry"

qemu="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# qemu-user cannot hold the instance pool's address-space reservation (it tracks every page).
export FERRY_INSTANCE_POOL=off
export FERRY_CACHE_DIR="$work/arm-cache"
$qemu "$arm" verify "$bundle" --trust-key "$key"
start=$(date +%s.%N)
$qemu "$arm" predict "$bundle" examples/churn/customers.csv --out "$work/arm.csv" --keep customer_id --trust-key "$key"
end=$(date +%s.%N)
FERRY_CACHE_DIR="$work/cache" "$x86" edge predict "$bundle" examples/churn/customers.csv --out "$work/x86.csv" --keep customer_id --trust-key "$key"
if cmp -s "$work/arm.csv" "$work/x86.csv"; then
  echo "aarch64 predictions of 2,000 rows: identical to x86_64, byte for byte ($(printf '%.1f' "$(echo "$end - $start" | bc)") s under qemu, cold compile cache)"
else
  echo "aarch64 and x86_64 predictions differ:"; diff "$work/arm.csv" "$work/x86.csv" | head; exit 1
fi
: > "$work/serve.out"
start=$(date +%s.%N)
$qemu "$arm" run "$bundle" --addr 127.0.0.1:0 --trust-key "$key" > "$work/serve.out" 2> /dev/null &
server=$!
url=""
while [ -z "$url" ]; do url=$(sed -n 's/^ferry edge serving on //p' "$work/serve.out"); sleep 0.01; done
until curl -sf -X POST "$url/v1/predict" -H 'content-type: application/json' \
  -d '{"rows":[{"customer_id":"C00000","tenure_months":1,"monthly_charges":46.05,"total_charges":47.14,"contract":"one-year","support_calls":1,"paperless_billing":false}]}' > "$work/answer.json"; do
  sleep 0.01
done
end=$(date +%s.%N)
echo "ferry edge run under qemu-aarch64, warm compile cache: first answer after $(printf '%.2f' "$(echo "$end - $start" | bc)") s: $(cat "$work/answer.json")"
echo "RSS under qemu (emulator included): $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MiB"
