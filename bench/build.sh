#!/usr/bin/env bash
# Build times of `ferry` at two commits, measured in one run on this machine: the cold dev
# build (a fresh clone and an empty target folder), then the incremental rebuild after one line
# changes in the HTTP server and in the plugin runtime, each with Cargo's default dev settings
# (incremental on). Prints a Markdown table with the ratios after/before.
#
# Usage: bench/build.sh BEFORE [AFTER]     (commits; AFTER defaults to HEAD)
# Needs: the toolchain of rust-toolchain.toml and crates.io; about 25 minutes on 2 cores.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
before="${1:?usage: bench/build.sh BEFORE [AFTER]}"
after="${2:-HEAD}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR CARGO_INCREMENTAL

seconds() { local start=$SECONDS; "$@" > /dev/null 2>&1; echo $((SECONDS - start)); }

# The file of the HTTP server and of the runtime at a commit (both were in the host before
# they were crates of their own).
server_file() {
  if [ -f "$1/server/src/lib.rs" ]; then echo server/src/lib.rs; else echo host/src/server/mod.rs; fi
}
runtime_file() {
  if [ -f "$1/runtime/src/engine.rs" ]; then echo runtime/src/engine.rs; else echo host/src/runtime/engine.rs; fi
}

declare -A cold server runtime
for name in before after; do
  commit=${!name}
  dir="$work/$name"
  git clone -q "$repo" "$dir"
  git -C "$dir" checkout -q "$commit"
  (cd "$dir" && rustup toolchain install > /dev/null 2>&1 && cargo fetch -q)
  cold[$name]=$(cd "$dir" && seconds cargo build --bin ferry)
  echo "// changed by bench/build.sh" >> "$dir/$(server_file "$dir")"
  server[$name]=$(cd "$dir" && seconds cargo build --bin ferry)
  echo "// changed by bench/build.sh" >> "$dir/$(runtime_file "$dir")"
  runtime[$name]=$(cd "$dir" && seconds cargo build --bin ferry)
  echo "$name ($(git -C "$dir" rev-parse --short HEAD)): cold ${cold[$name]} s, server ${server[$name]} s, runtime ${runtime[$name]} s" >&2
done

ratio() { python3 -c "print(f'{$2 / $1:.2f}')"; }
echo "| dev build of \`ferry\` ($(date -u +%F), $(nproc) cores) | before ($(git -C "$repo" rev-parse --short "$before")) | after ($(git -C "$repo" rev-parse --short "$after")) | after/before |"
echo "|---|---|---|---|"
echo "| cold, fresh clone | ${cold[before]} s | ${cold[after]} s | $(ratio "${cold[before]}" "${cold[after]}") |"
echo "| one line changed in the HTTP server | ${server[before]} s | ${server[after]} s | $(ratio "${server[before]}" "${server[after]}") |"
echo "| one line changed in the plugin runtime | ${runtime[before]} s | ${runtime[after]} s | $(ratio "${runtime[before]}" "${runtime[after]}") |"
