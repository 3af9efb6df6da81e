#!/usr/bin/env bash
# What each built-in plugin costs in a cold build: every crate in plugins/ built as
# ferry-sdk-build builds it (alone, in folder order, into one empty target folder, release,
# wasm32-wasip2), with the wall time and the CPU of each. The first plugin pays for what all
# share (wit-bindgen, serde); later ones only for their own dependencies. Prints a Markdown
# table; each plugin's `--timings` report is kept under the printed folder.
#
# Usage: bench/plugins.sh        Needs: the toolchain of rust-toolchain.toml; about 7 minutes
# on 2 cores with onnx (tract), 2 without.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
target="$(mktemp -d)"
reports="$(mktemp -d)"
echo "target folder $target, reports in $reports" >&2
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo
export CARGO_ENCODED_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"$'\x1f'"--remap-path-prefix=$target=/target"
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_BUILD_RUSTFLAGS

echo "| plugin | wall | CPU (user + sys) |"
echo "|---|---|---|"
for dir in plugins/*/; do
  package=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n 1)
  times="$target/times"
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$times" cargo build -q --release --target wasm32-wasip2 \
    --target-dir "$target" -p "$package" --timings 2> /dev/null
  end=$(date +%s.%N)
  read -r user sys < "$times"
  printf '| `%s` | %.1f s | %.1f s + %.1f s |\n' "$package" "$(echo "$end - $start" | bc)" "$user" "$sys"
  cp "$target/cargo-timings/cargo-timing.html" "$reports/$package.html"
done
rm -rf "$target"
