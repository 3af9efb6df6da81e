#!/usr/bin/env bash
# Drift: `ferry drift` (release) against Evidently 0.7.23 on the same 80,000 reference and
# 1,000,000 current rows, Evidently measured in the same run. Usage: bench/drift.sh [REPEATS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferry-release-target}"
cargo build --release --bin ferry
venv="${FERRY_CI_MONITORING_VENV:-$HOME/.cache/ferry-ci-monitoring}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/monitoring/requirements.txt pyarrow
"$venv/bin/python" bench/drift.py "$CARGO_TARGET_DIR/release/ferry" "$HOME/.cache/ferry-bench-drift" "${1:-3}"
