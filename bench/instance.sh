#!/usr/bin/env bash
# Where one fresh instance's time goes: runs `cargo bench --bench instance` (one instance of
# each of the churn pipeline's kinds against wasmtime's floor for the same component), then
# profiles `TransformInstance::new` of standard-scaler alone under `perf record` with DWARF
# call graphs and prints each part's share of creating and dropping one instance.
#
# Usage: bench/instance.sh [SECONDS]   (needs perf: apt-get install linux-perf)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root/server"
bench=$(cargo bench -p ferry-server --bench instance --no-run --message-format json |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instance" and m.get("executable"):
        print(m["executable"])')
"$bench" "$seconds"
perf record -F 2000 --call-graph dwarf,16384 -o "$work/perf.data" -- "$bench" "$seconds" ferry:standard-scaler > /dev/null 2> "$work/perf.log"
perf report -i "$work/perf.data" --children --sort sym --stdio -g none 2> /dev/null > "$work/report.txt"
python3 - "$work/report.txt" <<'PY'
import re, sys
inclusive = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s+([\d.]+)%\s+[\d.]+%\s+\[.\]\s+(.*)", line)
    if m:
        inclusive.setdefault(m[2], float(m[1]))
def share(pattern):
    return max((p for s, p in inclusive.items() if re.search(pattern, s)), default=0.0)
create = share(r"^ferry_runtime::kinds::TransformInstance::new")
drop = share(r"^drop_in_place<ferry_runtime::kinds::TransformInstance>")
session = share(r"^ferry_runtime::session::Session::new")
state = share(r"^ferry_runtime::state::StoreState::new")
# The world's `load` calls each exported interface's; either may be inlined into its caller.
exports = max(
    share(r"TransformPluginIndices>::load"),
    sum(p for s, p in inclusive.items() if re.search(r"::GuestIndices::load$", s)),
)
reset = share(r"^wasmtime::runtime::vm::sys::unix::pagemap::reset_with_pagemap")
whole = create + drop
if whole == 0:
    sys.exit("no samples of TransformInstance::new: is perf allowed to sample (perf_event_paranoid)?")
rows = [
    ("create (`TransformInstance::new`)", create),
    ("  the `Store` and its data (`Session::new`)", session),
    ("    of which the WASI context, output pipe, grants (`StoreState::new`)", state),
    ("  the bindings looking up every export (`GuestIndices::load` of each interface)", exports),
    ("  the rest of instantiation: core instances, pool slots, module registration", create - session - exports),
    ("drop (`Store` and pooled slots)", drop),
    ("  resetting the pooled linear memory (`PAGEMAP_SCAN` and copying back)", reset),
    ("  the rest of deallocation", drop - reset),
]
print("\n| part of one fresh `standard-scaler` instance | share |")
print("|---|---:|")
for name, p in rows:
    print(f"| {name.replace('  ', '&nbsp;&nbsp;')} | {100 * p / whole:.0f} % |")
PY
