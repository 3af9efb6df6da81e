#!/usr/bin/env bash
# The serving benchmark, in one run on this machine (release builds): a deployment's predict
# (with and without adaptive batching) and a model version's predict on the churn pipeline,
# against a bare axum JSON echo of the same body (server/examples/echo.rs) as the baseline.
# wrk reports requests per second at 32 connections with p50 and p99, and the single-client
# p50; the table gives each as a ratio to the echo's. Then the server's RSS with three deployments (three versions) loaded, and the
# time a new server on the same data and compile cache takes from exec to its first answer.
# The ferry measures are taken twice, with the system allocator and with mimalloc
# (`--features mimalloc`), one binary after the other; or, with FERRY_BINARIES="NAME=PATH ...",
# once per binary named (say, a build of main against a build of a change); FERRY_ECHO names
# an echo binary already built.
#
# Usage: bench/serving.sh [SECONDS]    (needs wrk: apt-get install wrk)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
seconds=${1:-10}
work=$(mktemp -d)
trap 'kill $(jobs -p) $(cat "$work"/pid.* 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$root"
if [ -n "${FERRY_BINARIES:-}" ]; then
  builds=()
  for named in $FERRY_BINARIES; do
    cp "${named#*=}" "$work/ferry-${named%%=*}"
    builds+=("${named%%=*}")
  done
else
  cargo build --release -p ferry --bin ferry --features mimalloc
  cp "$target/release/ferry" "$work/ferry-mimalloc"
  cargo build --release -p ferry --bin ferry
  cp "$target/release/ferry" "$work/ferry-system"
  builds=(system mimalloc)
fi
if [ -z "${FERRY_ECHO:-}" ]; then
  cargo build --release -p ferry-server --example echo
fi
ferry="$work/ferry-${builds[0]}"
echo="${FERRY_ECHO:-$target/release/examples/echo}"

export FERRY_DATA_DIR="$work/data" FERRY_CACHE_DIR="$work/cache"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL
# Three versions (three trainings of the same pipeline) and a deployment on each.
for v in 1 2 3; do "$ferry" train examples/churn/pipeline.toml > /dev/null 2>&1; done
"$ferry" deploy create churn --model churn@1 > /dev/null
"$ferry" deploy create churn-2 --model churn@2 > /dev/null
"$ferry" deploy create churn-3 --model churn@3 > /dev/null
# Version 1 again, with adaptive batching: concurrent requests share calls.
"$ferry" deploy create churn-batched --model churn@1 --batch-max-rows 64 --batch-max-wait-us 500 > /dev/null

start() { # NAME COMMAND... -> URL; the process id goes to $work/pid.NAME
  local name=$1 url=""
  shift
  "$@" > "$work/out.$name" 2> /dev/null &
  echo $! > "$work/pid.$name"
  while [ -z "$url" ]; do url=$(sed -n 's/^.* serving on //p' "$work/out.$name"); sleep 0.05; done
  echo "$url"
}

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"rows": [{"customer_id": "C00001", "tenure_months": 12, "monthly_charges": 46.05, "total_charges": 47.14, "contract": "one-year", "support_calls": 1, "paperless_billing": false}]}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

run() { # URL CONNECTIONS THREADS -> "req/s p50_ms p99_ms errors"
  wrk -t"$3" -c"$2" -d"${seconds}s" -s "$work/post.lua" "$1" | sed -n 's/^RESULT //p'
}
body='{"rows": [{"customer_id": "C00001", "tenure_months": 12, "monthly_charges": 46.05, "total_charges": 47.14, "contract": "one-year", "support_calls": 1, "paperless_billing": false}]}'
predict() { curl -sf -o /dev/null -H 'content-type: application/json' -d "$body" "$1"; }

declare -A many one rss warm
echo_url=$(start echo "$echo" 127.0.0.1:0)
run "$echo_url/echo" 4 1 > /dev/null
many[echo]=$(run "$echo_url/echo" 32 2)
one[echo]=$(run "$echo_url/echo" 1 1)
kill "$(cat "$work/pid.echo")"

# Each binary in turn, on the same data and compile cache.
for alloc in "${builds[@]}"; do
  ferry_url=$(start "ferry-$alloc" "$work/ferry-$alloc" serve --addr 127.0.0.1:0 --max-in-flight 1024)
  for what in model deployment batched; do
    case $what in
      model) url="$ferry_url/v1/models/churn/1/predict" ;;
      deployment) url="$ferry_url/v1/deployments/churn/predict" ;;
      batched) url="$ferry_url/v1/deployments/churn-batched/predict" ;;
    esac
    run "$url" 4 1 > /dev/null   # warm up: instances, caches
    many[$what-$alloc]=$(run "$url" 32 2)
    one[$what-$alloc]=$(run "$url" 1 1)
  done
  # RSS with all three deployments loaded and answering (the batched one serves version 1 too).
  for d in churn churn-2 churn-3; do
    for _ in $(seq 100); do predict "$ferry_url/v1/deployments/$d/predict"; done
  done
  ferry_pid=$(cat "$work/pid.ferry-$alloc")
  rss[$alloc]=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$ferry_pid/status")
  kill "$ferry_pid"; wait "$ferry_pid" 2> /dev/null || true
  # Warm start: a new server on the same data and compile cache, from exec to the first answer.
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  t0=$(date +%s%N)
  "$work/ferry-$alloc" serve --addr "127.0.0.1:$port" > /dev/null 2>&1 &
  warm_pid=$!
  until predict "http://127.0.0.1:$port/v1/deployments/churn/predict"; do sleep 0.002; done
  warm[$alloc]=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill "$warm_pid" 2> /dev/null || true
  wait "$warm_pid" 2> /dev/null || true
done

read -r e_rps e_p50 e_p99 _ <<< "${many[echo]}"
read -r _ e1_p50 _ _ <<< "${one[echo]}"
echo "| $(date +%Y-%m-%d), $(nproc) cores, ${seconds} s per run | req/s at 32 connections | p50 | p99 | single-client p50 | errors |"
echo "|---|---|---|---|---|---|"
printf "| echo | %.0f | %.2f ms | %.2f ms | %.3f ms | 0 |\n" "$e_rps" "$e_p50" "$e_p99" "$e1_p50"
for alloc in "${builds[@]}"; do
  for what in model deployment batched; do
    read -r rps p50 p99 err <<< "${many[$what-$alloc]}"
    read -r _ s50 _ err1 <<< "${one[$what-$alloc]}"
    printf "| %s (%s) | %.0f (%.2f× echo) | %.2f ms | %.2f ms | %.3f ms (%.1f× echo) | %d |\n" \
      "$what" "$alloc" "$rps" "$(echo "$rps / $e_rps" | bc -l)" "$p50" "$p99" "$s50" "$(echo "$s50 / $e1_p50" | bc -l)" "$((err + err1))"
  done
done
echo
row() { # LABEL ARRAY UNIT TARGET
  local -n of=$2
  printf "| %s |" "$1"
  for b in "${builds[@]}"; do printf " %s %s |" "${of[$b]}" "$3"; done
  printf " %s |\n" "$4"
}
echo "| ferry serve |$(printf ' %s |' "${builds[@]}") target |"
echo "|---|$(printf -- '---:|%.0s' "${builds[@]}")---:|"
row "RSS with three deployments loaded (three versions, 100 requests each)" rss MiB "≤ 60 MB"
row "warm start to first answer (same compile cache and data)" warm ms "≤ 100 ms"
