"""One client's latency of churn predict on `ferry serve` (release) with a plugin written in
Python or JavaScript in place of the built-in it mirrors, built for its kind's plain world and
for the `prepared-` one, in one run: 200 requests of one row per round, three rounds
alternating between the two servers.

- python: examples/python-scaler for standard-scaler (transform);
- js: examples/js-expectations for expectations (validator).

Usage: python3 bench/prepared.py python|js   (needs `cargo build --release -p ferry` in
$CARGO_TARGET_DIR; for python, componentize-py==0.25.1 on the PATH or in
~/.cache/ferry-ci-lang/bin; for js, ComponentizeJS in $FERRY_JS_MODULES or sdk/js/node_modules)"""

import json
import os
import shutil
import statistics
import subprocess
import sys
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


LANGUAGES = {
    # language: (kind, the built-in it replaces, the plugin's name)
    "python": ("transform", "standard-scaler", "py-standard-scaler"),
    "js": ("validator", "expectations", "js-expectations"),
}


def build(language, world, out):
    if language == "python":
        subprocess.run([TOOL, "-d", ROOT / "wit", "-w", world, "componentize", "app", "-p",
                        ROOT / "examples/python-scaler", "-p", ROOT / "sdk/python", "-o", out],
                       check=True, capture_output=True, cwd=out.parent)
    else:
        subprocess.run(["node", ROOT / "sdk/js/build.mjs", ROOT / "examples/js-expectations/expectations.js",
                        "--world", world, "--out", out], check=True, capture_output=True)


def serve(work, language, world):
    _, builtin, name = LANGUAGES[language]
    plugin = work / f"{world}.wasm"
    build(language, world, plugin)
    env = dict(os.environ, FERRY_DATA_DIR=str(work / world), FERRY_CACHE_DIR=str(work / "cache"))
    for k in ("FERRY_REGISTRY", "FERRY_TOKEN", "FERRY_DATABASE_URL"):
        env.pop(k, None)
    subprocess.run([FERRY, "plugin", "publish", plugin], env=env, check=True, capture_output=True)
    churn = work / world / "churn"
    shutil.copytree(ROOT / "examples/churn", churn, ignore=shutil.ignore_patterns("out"))
    pipeline = churn / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace(f'"{builtin}@^0.1"', f'"{name}@^0.1"'))
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
    language = sys.argv[1] if len(sys.argv) > 1 else ""
    if language not in LANGUAGES:
        sys.exit("usage: bench/prepared.py python|js")
    kind = LANGUAGES[language][0]
    with tempfile.TemporaryDirectory() as tmp:
        worlds = (f"{kind}-plugin", f"prepared-{kind}-plugin")
        servers = {world: serve(Path(tmp), language, world) for world in worlds}
        try:
            rounds = {world: [] for world in servers}
            for _, url in servers.values():
                for _ in range(20):
                    once(url)
            for _ in range(3):
                for world, (_, url) in servers.items():
                    took = sorted(once(url) for _ in range(200))
                    rounds[world].append((statistics.mean(took), took[100], took[198]))
            print(f"{language}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; per round: mean, p50, p99 (ms)")
            for world, found in rounds.items():
                print(f"{world:28}", "  ".join(f"{m:.2f} {p50:.2f} {p99:.2f}" for m, p50, p99 in found))
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
