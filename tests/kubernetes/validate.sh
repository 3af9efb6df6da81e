#!/usr/bin/env bash
# The `kubernetes` deployer's objects against the Kubernetes API schema: trains the churn
# example, renders its deployment with default and with custom settings, and validates every
# object strictly (unknown fields are errors) with kubernetes-validate, for the oldest and the
# newest Kubernetes versions its schemas cover.
#
# Usage: tests/kubernetes/validate.sh FERRY_BINARY KUBERNETES_VALIDATE_BINARY
set -euo pipefail
ferry=$1
validate=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Compiled components are shared with the other test suites (keyed by digest and engine).
export FERRY_DATA_DIR="$work/data"
export FERRY_CACHE_DIR="${FERRY_TEST_CACHE_DIR:-$(dirname "$ferry")/ferry-test-components}"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
"$ferry" train "$root/examples/churn/pipeline.toml" > /dev/null
"$ferry" deploy create churn --model churn@1 > /dev/null
"$ferry" deploy create churn-eu --model churn@1 > /dev/null
mkdir -p "$work/out"
echo '{"namespace": "ml-prod", "replicas": 4, "max_replicas": 20, "cpu_target": 60, "min_available": 3, "cpu": "2", "memory": "512Mi", "image": "registry.example.com/ferry@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}' > "$work/custom.json"
"$ferry" deploy target churn --plugin kubernetes --allow-dir "/deploy=$work/out" > /dev/null
"$ferry" deploy target churn-eu --plugin kubernetes --allow-dir "/deploy=$work/out" --config "$work/custom.json" > /dev/null
files=("$work/out/churn/churn.yaml" "$work/out/churn-eu/churn-eu.yaml")
for kind in ConfigMap Deployment Service HorizontalPodAutoscaler PodDisruptionBudget; do
  for f in "${files[@]}"; do
    grep -q "^kind: $kind\$" "$f" || { echo "$f has no $kind"; exit 1; }
  done
done
echo "Kubernetes 1.25 (the oldest schema kubernetes-validate holds):"
"$validate" --strict -k 1.25.0 "${files[@]}"
echo "Kubernetes $("$validate" --version | awk '{print $NF}') (its newest):"
"$validate" --strict "${files[@]}"
