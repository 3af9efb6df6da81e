"""Start-to-first-answer and RSS of `ferry edge run` and `ferry serve` on the same version.

Called by bench/edge.sh with its work folder (holding ferry-full, ferry-edge, the data folder
and the bundle) and the publisher key. Prints a Markdown table.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

work, key = sys.argv[1], sys.argv[2]
bundle = os.path.join(work, "out", "churn", "churn.ferry")
row = {
    "customer_id": "C00000", "tenure_months": 1, "monthly_charges": 46.05,
    "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
    "paperless_billing": False,
}


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(name, argv, path, env_extra):
    env = dict(os.environ, **env_extra)
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    url = p.stdout.readline().strip().split(" on ")[-1]
    while True:
        try:
            post(url + path, {"rows": [row]})
            break
        except Exception:
            if p.poll() is not None:
                raise SystemExit(f"{name} exited")
            time.sleep(0.005)
    first = time.monotonic() - start
    rows = [dict(row, customer_id=f"C{i:05d}") for i in range(10)]
    for _ in range(1000):
        post(url + path, {"rows": rows})
    rss = rss_kib(p.pid, "VmRSS")
    hwm = rss_kib(p.pid, "VmHWM")
    p.terminate()
    p.wait()
    return first, rss, hwm


def run(cold):
    results = {}
    for name, argv, path in [
        ("ferry serve", [os.path.join(work, "ferry-full"), "serve", "--addr", "127.0.0.1:0"],
         "/v1/models/churn/1/predict"),
        ("ferry edge run", [os.path.join(work, "ferry-edge"), "run", bundle,
                            "--addr", "127.0.0.1:0", "--trust-key", key], "/v1/predict"),
    ]:
        cache = os.path.join(work, "bench-cache-" + name.replace(" ", "-"))
        if cold:
            shutil.rmtree(cache, ignore_errors=True)
        results[name] = measure(name, argv, path, {"FERRY_CACHE_DIR": cache})
    return results


sizes = {n: os.path.getsize(os.path.join(work, n))
         for n in ["ferry-full", "ferry-edge", "ferry-full.stripped", "ferry-edge.stripped"]}
cold = run(True)
warm = run(False)
mib = 1 << 20
print(f"| | ferry serve (full build) | ferry edge run (edge build) | ratio |")
print(f"|---|---|---|---|")
print(f"| binary size | {sizes['ferry-full'] / mib:.1f} MiB | {sizes['ferry-edge'] / mib:.1f} MiB "
      f"| {sizes['ferry-edge'] / sizes['ferry-full']:.2f} |")
print(f"| binary size, stripped | {sizes['ferry-full.stripped'] / mib:.1f} MiB "
      f"| {sizes['ferry-edge.stripped'] / mib:.1f} MiB "
      f"| {sizes['ferry-edge.stripped'] / sizes['ferry-full.stripped']:.2f} |")
for label, r in [("start to first answer, cold compile cache", cold),
                 ("start to first answer, warm compile cache", warm)]:
    a, b = r["ferry serve"][0] * 1000, r["ferry edge run"][0] * 1000
    print(f"| {label} | {a:.0f} ms | {b:.0f} ms | {b / a:.2f} |")
a, b = warm["ferry serve"][1] / 1024, warm["ferry edge run"][1] / 1024
print(f"| RSS after 1,000 requests of 10 rows | {a:.1f} MiB | {b:.1f} MiB | {b / a:.2f} |")
a, b = warm["ferry serve"][2] / 1024, warm["ferry edge run"][2] / 1024
print(f"| peak RSS | {a:.1f} MiB | {b:.1f} MiB | {b / a:.2f} |")
print(f"\nchurn bundle: {os.path.getsize(bundle) / 1024:.0f} KiB "
      f"({os.path.getsize(bundle)} bytes, signed)")
