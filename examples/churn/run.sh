#!/usr/bin/env bash
# The churn example end to end with the built-in plugins: validate the data, then learn and
# apply three feature transforms. Outputs go to examples/churn/out/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
rustup toolchain install >/dev/null
cargo build --bin ferry
ferry="${CARGO_TARGET_DIR:-$root/target}/debug/ferry"
out="$here/out"
mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The built-in plugins"
"$ferry" plugin list

step "Validate the data"
"$ferry" validate --plugin schema --config "$here/schema.toml" "$here/customers.csv"
"$ferry" validate --plugin expectations --config "$here/expectations.toml" "$here/customers.csv"

step "Learn and apply the feature transforms"
data="$here/customers.csv"
for t in impute:impute.json standard-scaler:scale.json one-hot:one-hot.json; do
  plugin="${t%%:*}"
  config="$here/${t#*:}"
  "$ferry" transform fit --plugin "$plugin" --config "$config" "$data" --state "$out/$plugin.state.json"
  "$ferry" transform apply --plugin "$plugin" --config "$config" --state "$out/$plugin.state.json" "$data" --out "$out/after-$plugin.csv"
  data="$out/after-$plugin.csv"
done

step "Features (first rows of $data)"
head -4 "$data"
