#!/usr/bin/env bash
# Whether two builds of `ferry` write the same churn edge bundle: BEFORE trains the churn
# example and bundles it (edge-bundle deployer, signed with one fresh key); AFTER bundles the
# same registry again; the two files must be byte-identical. Used to check that the crate split
# changed no bundle byte (16003af against 6345240, 2026-12-06: identical; the size varies a few bytes with the key).
#
# Usage: bench/bundle.sh BEFORE_BINARY AFTER_BINARY
set -euo pipefail
before="${1:?usage: bench/bundle.sh BEFORE_BINARY AFTER_BINARY}"
after="${2:?usage: bench/bundle.sh BEFORE_BINARY AFTER_BINARY}"
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
export FERRY_DATA_DIR="$work/data" FERRY_CACHE_DIR="$work/cache"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
mkdir -p "$work/keys" "$work/before" "$work/after"
"$after" key generate --out "$work/keys/acme" > /dev/null 2>&1
echo '{"sign_with": "acme.key"}' > "$work/edge.json"
"$before" train examples/churn/pipeline.toml > /dev/null
"$before" deploy create churn --model churn@1 > /dev/null
for side in before after; do
  "${!side}" deploy target churn --plugin edge-bundle --allow-dir "/deploy=$work/$side" \
    --allow-dir "/keys=$work/keys:ro" --config "$work/edge.json" > /dev/null 2>&1
done
a="$work/before/churn/versions/1.ferry" b="$work/after/churn/versions/1.ferry"
sha256sum "$a" "$b"
if cmp -s "$a" "$b"; then
  echo "identical: $(stat -c %s "$a") bytes"
else
  echo "the bundles differ" >&2
  exit 1
fi
