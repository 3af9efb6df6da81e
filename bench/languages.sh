#!/usr/bin/env bash
# What a plugin costs the host by the language it is written in. The same transform (the one
# `ferry plugin new --kind transform` writes: centre columns on learned means) is made in Rust,
# Python and JavaScript, built with each project's README command, and measured by
# host/examples/language_costs.rs in fresh processes: component size, a cold (compiling) and a
# cached load, a new instance, apply at 1 and 10,000 rows, and the resident memory one loaded
# plugin with one instance adds. Each figure is also given as a ratio to Rust's, measured in
# the same run.
#
# Usage: bench/languages.sh
# Needs componentize-py (COMPONENTIZE_PY, default ~/.cache/ferry-ci-lang/bin/componentize-py) and
# ComponentizeJS (FERRY_JS_MODULES, default ~/.cache/ferry-ci-js/node_modules), as .ci/run
# installs them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
componentize_py=${COMPONENTIZE_PY:-$HOME/.cache/ferry-ci-lang/bin/componentize-py}
export FERRY_JS_MODULES=${FERRY_JS_MODULES:-$HOME/.cache/ferry-ci-js/node_modules}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
# The dev profile optimises Cranelift and wasmtime, which do the compiling and the running.
cargo build --workspace --bins --examples --quiet
ferry="$target/debug/ferry"
costs="$target/debug/examples/language_costs"

for lang in rust python js; do
  dir="$work/$lang"
  "$ferry" plugin new "bench-$lang" --kind transform --lang "$lang" --dir "$dir" > /dev/null
  case $lang in
    rust) (cd "$dir" && CARGO_TARGET_DIR="$work/rust-target" cargo build --release --target wasm32-wasip2 --quiet)
          cp "$work/rust-target/wasm32-wasip2/release/bench_rust.wasm" "$work/$lang.wasm" ;;
    python) (cd "$dir" && "$componentize_py" -d wit -w transform-plugin componentize app -p . -o "$work/$lang.wasm" > /dev/null) ;;
    js) (cd "$dir" && node build.mjs plugin.js --world transform-plugin --out "$work/$lang.wasm" --wit wit) ;;
  esac
  mkdir -p "$work/cache-$lang"
  "$costs" timings "$work/$lang.wasm" "$work/cache-$lang" > "$work/$lang.timings.json"
  "$costs" memory "$work/$lang.wasm" "$work/cache-$lang" > "$work/$lang.memory.json"
done

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
rows = {}
for lang in ("rust", "python", "js"):
    r = json.load(open(f"{work}/{lang}.timings.json"))
    r.update(json.load(open(f"{work}/{lang}.memory.json")))
    rows[lang] = r
base = rows["rust"]
fields = [("size_bytes", "component size", lambda v: f"{v / 1e6:.2f} MB" if v >= 1e6 else f"{v / 1e3:.0f} KB"),
          ("compile_ms", "compile (cold load)", lambda v: f"{v:.0f} ms"),
          ("cached_load_ms", "cached load", lambda v: f"{v:.1f} ms"),
          ("instantiate_ms", "new instance", lambda v: f"{v:.2f} ms"),
          ("apply_1_ms", "apply, 1 row", lambda v: f"{v:.3f} ms"),
          ("apply_10k_ms", "apply, 10,000 rows × 4 columns", lambda v: f"{v:.2f} ms"),
          ("memory_mib", "host memory, one plugin and instance", lambda v: f"{v:.0f} MiB")]
print("| | Rust | Python | JavaScript | Python / Rust | JavaScript / Rust |")
print("|---|---:|---:|---:|---:|---:|")
for key, name, show in fields:
    ratio = lambda lang: f"{rows[lang][key] / base[key]:.0f}×" if base[key] > 0 else "–"
    print(f"| {name} | {show(base[key])} | {show(rows['python'][key])} | {show(rows['js'][key])} | {ratio('python')} | {ratio('js')} |")
PY
