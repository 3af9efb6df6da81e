"""The drift benchmark: 80,000 reference rows against 1,000,000 current rows, 8 columns (5
numerical, 3 categorical), with Evidently's DataDriftPreset as the baseline in the same run.

Evidently is timed around `Report.run` on frames already in memory; Ferry is timed as a whole
`ferry drift --reference ref.parquet cur.parquet` process, reading both files and profiling the
reference included. Peak memory is each process's maximum resident set. Both must agree on every
column's score (1e-6). Run by bench/drift.sh."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

NUMERICAL = ["age", "income", "balance", "tenure", "score"]
CATEGORICAL = ["region", "plan", "channel"]


def make(rows, seed, shift):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "income": np.round(rng.lognormal(10 + shift * 0.05, 0.6, rows), 2),
            "balance": np.round(rng.normal(1000 + shift * 80, 400, rows), 2),
            "tenure": rng.integers(0, 120, rows),
            "score": rng.beta(2 + shift, 5, rows),
            "region": rng.choice(["north", "south", "east", "west", "centre"], rows, p=[0.3, 0.2, 0.2, 0.2, 0.1]),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.5 - shift * 0.1, 0.3, 0.2 + shift * 0.1]),
            "channel": rng.choice([f"c{i}" for i in range(12)], rows),
        }
    )


def evidently_run(folder):
    import warnings

    warnings.filterwarnings("ignore")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref = pd.read_parquet(folder / "ref.parquet")
    cur = pd.read_parquet(folder / "cur.parquet")
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    seconds = time.perf_counter() - start
    scores = {
        m["config"]["column"]: float(m["value"])
        for m in snapshot.dict()["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    print(json.dumps({"seconds": seconds, "scores": scores}))


def child(args):
    """Runs a process under GNU time; returns its output, wall seconds and peak RSS (MiB)."""
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "peak-kib %M", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{out.stdout}\n{out.stderr}")
    peak = next(int(l.split()[1]) for l in out.stderr.splitlines() if l.startswith("peak-kib "))
    return out.stdout, seconds, peak / 1024


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--evidently":
        evidently_run(Path(sys.argv[2]))
        return
    ferry, folder, repeats = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "cur.parquet").exists():
        make(80_000, 1, 0).to_parquet(folder / "ref.parquet")
        make(1_000_000, 2, 1).to_parquet(folder / "cur.parquet")
    ev_times, ferry_times, ev_peak, ferry_peak = [], [], 0.0, 0.0
    for _ in range(repeats):
        # Each in a fresh process, so every peak is that tool's own.
        out, _, peak = child([sys.executable, __file__, "--evidently", str(folder)])
        ev = json.loads(out)
        ev_times.append(ev["seconds"])
        ev_peak = max(ev_peak, peak)
        out, seconds, peak = child(
            [ferry, "drift", "--reference", str(folder / "ref.parquet"), str(folder / "cur.parquet"), "--format", "json"]
        )
        report = json.loads(out)
        ferry_times.append(seconds)
        ferry_peak = max(ferry_peak, peak)
        for c in report["columns"]:
            want = ev["scores"][c["column"]]
            if abs(c["score"] - want) > 1e-6:
                sys.exit(f"{c['column']}: Ferry {c['score']!r} against Evidently {want!r}")
    e, f = min(ev_times), min(ferry_times)
    print(f"drift, 80,000 reference rows against 1,000,000 current rows, 8 columns; best of {repeats}")
    print("| | seconds | vs Evidently | peak RSS (MiB) |")
    print("|---|---|---|---|")
    print(f"| Evidently 0.7.23 `Report.run` (frames in memory) | {e:.2f} | 1.00× | {ev_peak:.0f} |")
    print(f"| `ferry drift --reference` (whole process, Parquet read and reference profiled) | {f:.2f} | {e / f:.1f}× faster | {ferry_peak:.0f} |")
    print("every column's score equal to Evidently's within 1e-6")


if __name__ == "__main__":
    main()
