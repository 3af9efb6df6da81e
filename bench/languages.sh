#!/usr/bin/env bash
# What a plugin costs the host by the language it is written in. The same transform (the one
# `ferry plugin new --kind transform` writes: centre columns on learned means) is made in Rust,
# Python, JavaScript and C, and in Rust as an Extism plugin, built with each project's README
# command, and measured by
# server/examples/language_costs.rs in fresh processes: component size, a cold (compiling) and a
# cached load, a new instance, apply at 1 and 10,000 rows, and the resident memory one loaded
# plugin with one instance adds. Each figure is also given as a ratio to Rust's, measured in
# the same run.
#
# Usage: bench/languages.sh
# Needs componentize-py (COMPONENTIZE_PY, default ~/.cache/ferry-ci-lang/bin/componentize-py) and
# ComponentizeJS and jco (FERRY_JS_MODULES, default ~/.cache/ferry-ci-js/node_modules), clang-19
# and wit-bindgen (FERRY_WIT_BINDGEN, default ~/.cache/ferry-ci-tools/bin/wit-bindgen), as .ci/run
# installs them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
componentize_py=${COMPONENTIZE_PY:-$HOME/.cache/ferry-ci-lang/bin/componentize-py}
export FERRY_JS_MODULES=${FERRY_JS_MODULES:-$HOME/.cache/ferry-ci-js/node_modules}
wit_bindgen=${FERRY_WIT_BINDGEN:-$HOME/.cache/ferry-ci-tools/bin/wit-bindgen}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
# The dev profile optimises Cranelift and wasmtime, which do the compiling and the running.
cargo build --workspace --bins --examples --quiet
ferry="$target/debug/ferry"
costs="$target/debug/examples/language_costs"

languages=(rust python js c extism-rust)
for lang in "${languages[@]}"; do
  dir="$work/$lang"
  "$ferry" plugin new "bench-$lang" --kind transform --lang "$lang" --dir "$dir" > /dev/null
  case $lang in
    rust) (cd "$dir" && CARGO_TARGET_DIR="$work/rust-target" cargo build --release --target wasm32-wasip2 --quiet)
          cp "$work/rust-target/wasm32-wasip2/release/bench_rust.wasm" "$work/$lang.wasm" ;;
    python) (cd "$dir" && "$componentize_py" -d wit -w transform-plugin componentize app -p . -o "$work/$lang.wasm" > /dev/null) ;;
    js) (cd "$dir" && node build.mjs plugin.js --world transform-plugin --out "$work/$lang.wasm" --wit wit) ;;
    c) make -s -C "$dir" WIT_BINDGEN="$wit_bindgen" JCO="$FERRY_JS_MODULES/.bin/jco" > /dev/null 2> >(grep -v "^Generating" >&2)
       cp "$dir/bench-c.wasm" "$work/$lang.wasm" ;;
    extism-rust) (cd "$dir" && CARGO_TARGET_DIR="$work/extism-target" cargo build --release --target wasm32-unknown-unknown --quiet)
                 cp "$work/extism-target/wasm32-unknown-unknown/release/bench_extism_rust.wasm" "$work/$lang.wasm" ;;
  esac
  mkdir -p "$work/cache-$lang"
  "$costs" timings "$work/$lang.wasm" "$work/cache-$lang" > "$work/$lang.timings.json"
  "$costs" memory "$work/$lang.wasm" "$work/cache-$lang" > "$work/$lang.memory.json"
done

python3 - "$work" "${languages[@]}" <<'PY'
import json, sys
work, languages = sys.argv[1], sys.argv[2:]
names = {"rust": "Rust", "python": "Python", "js": "JavaScript", "c": "C", "extism-rust": "Extism (Rust)"}
rows = {}
for lang in languages:
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
others = languages[1:]
print("| | " + " | ".join(names[l] for l in languages) + " | " + " | ".join(f"{names[l]} / Rust" for l in others) + " |")
print("|---|" + "---:|" * (len(languages) + len(others)))
for key, name, show in fields:
    def ratio(lang):
        if base[key] <= 0:
            return "–"
        r = rows[lang][key] / base[key]
        return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"
    print(f"| {name} | " + " | ".join(show(rows[l][key]) for l in languages) + " | " + " | ".join(ratio(l) for l in others) + " |")
PY
