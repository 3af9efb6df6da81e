"""One client's latency of churn predict on `ferry serve` (release) with the Python scaler
(examples/python-scaler) in place of standard-scaler, built for `transform-plugin` and for
`prepared-transform-plugin`, in one run: 200 requests of one row per round, three rounds
alternating between the two servers.

Usage: python3 bench/python-prepared.py   (needs componentize-py==0.25.1 on the PATH or in
~/.cache/ferry-ci-lang/bin, and `cargo build --release -p ferry` in $CARGO_TARGET_DIR)"""

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
FERRY = TARGET / "release" / "ferry"
TOOL = shutil.which("componentize-py") or str(Path.home() / ".cache/ferry-ci-lang/bin/componentize-py")
ROW = {"customer_id": "C00001", "tenure_months": 12, "monthly_charges": 46.05, "total_charges": 47.14,
       "contract": "one-year", "support_calls": 1, "paperless_billing": False}


def serve(work, world):
    plugin = work / f"{world}.wasm"
    subprocess.run([TOOL, "-d", ROOT / "wit", "-w", world, "componentize", "app", "-p", ROOT / "examples/python-scaler",
                    "-p", ROOT / "sdk/python", "-o", plugin], check=True, capture_output=True, cwd=work)
    env = dict(os.environ, FERRY_DATA_DIR=str(work / world), FERRY_CACHE_DIR=str(work / "cache"))
    for k in ("FERRY_REGISTRY", "FERRY_TOKEN", "FERRY_DATABASE_URL"):
        env.pop(k, None)
    subprocess.run([FERRY, "plugin", "publish", plugin], env=env, check=True, capture_output=True)
    churn = work / world / "churn"
    shutil.copytree(ROOT / "examples/churn", churn, ignore=shutil.ignore_patterns("out"))
    pipeline = churn / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace('"standard-scaler@^0.1"', '"py-standard-scaler@^0.1"'))
    subprocess.run([FERRY, "train", pipeline], env=env, check=True, capture_output=True)
    server = subprocess.Popen([FERRY, "serve", "--addr", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    return server, server.stdout.readline().split()[-1]


def once(url):
    request = urllib.request.Request(f"{url}/v1/models/churn/1/predict", data=json.dumps({"rows": [ROW]}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    start = time.perf_counter()
    urllib.request.urlopen(request, timeout=60).read()
    return (time.perf_counter() - start) * 1e3


def main():
    with tempfile.TemporaryDirectory() as tmp:
        servers = {world: serve(Path(tmp), world) for world in ("transform-plugin", "prepared-transform-plugin")}
        try:
            rounds = {world: [] for world in servers}
            for _, url in servers.values():
                for _ in range(20):
                    once(url)
            for _ in range(3):
                for world, (_, url) in servers.items():
                    took = sorted(once(url) for _ in range(200))
                    rounds[world].append((statistics.mean(took), took[100], took[198]))
            print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; per round: mean, p50, p99 (ms)")
            for world, found in rounds.items():
                print(f"{world:28}", "  ".join(f"{m:.2f} {p50:.2f} {p99:.2f}" for m, p50, p99 in found))
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
