#!/usr/bin/env bash
# Batch scoring from outside (release build): `ferry transform --model churn@1 … --predictions`
# over the churn customers repeated to 100,000 and 400,000 rows, on one worker and on one per
# core. Reports wall time, rows per second and peak RSS (GNU time), and checks that every run
# wrote the same bytes as one worker. Peak RSS should not grow with the file: input and
# output are streamed in 8,192-row batches, at most two per worker in memory.
#
# Usage: bench/batch.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
cargo build --release -p ferry --bin ferry
ferry="$target/release/ferry"
export FERRY_DATA_DIR="$work/data" FERRY_CACHE_DIR="$work/cache"
unset FERRY_REGISTRY FERRY_TOKEN FERRY_DATABASE_URL FERRY_WORKERS
"$ferry" train examples/churn/pipeline.toml > /dev/null 2>&1

# The example's customers, repeated with new ids (they repeat every 100,000 rows).
make_rows() { # ROWS FILE
  python3 - "$1" "$2" <<'PY'
import sys
rows, out = int(sys.argv[1]), sys.argv[2]
lines = open("examples/churn/customers.csv").read().splitlines()
header, body = lines[0], lines[1:]
with open(out, "w") as f:
    f.write(header + "\n")
    for i in range(rows):
        fields = body[i % len(body)].split(",")
        fields[0] = f"C{i % 100000:05d}"  # the pattern the expectations hold ids to; unique per batch
        f.write(",".join(fields) + "\n")
PY
}

cores=$(nproc)
echo "| $(date +%Y-%m-%d), $cores cores | rows | workers | wall | rows/s | peak RSS | same bytes as 1 worker |"
echo "|---|---:|---:|---:|---:|---:|---|"
for rows in 100000 400000; do
  make_rows "$rows" "$work/in.csv"
  "$ferry" transform --model churn@1 "$work/in.csv" --out "$work/warm.csv" --predictions --workers 1 > /dev/null
  for workers in 1 "$cores"; do
    /usr/bin/time -f "%e %M" -o "$work/time" \
      "$ferry" transform --model churn@1 "$work/in.csv" --out "$work/out-$workers.csv" \
      --predictions --keep customer_id --workers "$workers" > /dev/null
    read -r wall rss_kib < "$work/time"
    same=yes
    cmp -s "$work/out-1.csv" "$work/out-$workers.csv" || same=NO
    awk -v r="$rows" -v w="$workers" -v t="$wall" -v m="$rss_kib" -v s="$same" \
      'BEGIN { printf "| | %d | %d | %.2f s | %.0f | %.0f MiB | %s |\n", r, w, t, r / t, m / 1024, s }'
  done
done
