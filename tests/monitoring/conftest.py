"""Shared pieces of the monitoring tests: the ferry binary (FERRY_BIN, or target/debug/ferry of
this checkout), a registry in a temporary folder, and the churn example trained into it."""

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "examples" / "churn"


def ferry_bin():
    if os.environ.get("FERRY_BIN"):
        return os.environ["FERRY_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "ferry")


def component_cache():
    """The compiled-component cache the test suites share (keyed by digest and engine, written
    atomically): without it every new registry compiles the built-in plugins again."""
    return os.environ.get("FERRY_TEST_CACHE_DIR") or str(Path(ferry_bin()).parent / "ferry-test-components")


class Ferry:
    """The ferry CLI on a registry of its own."""

    def __init__(self, data_dir):
        self.env = dict(os.environ, FERRY_DATA_DIR=str(data_dir), FERRY_CACHE_DIR=component_cache())
        for k in ("FERRY_REGISTRY", "FERRY_TOKEN", "FERRY_DATABASE_URL"):
            self.env.pop(k, None)

    def run(self, *args, check=True):
        out = subprocess.run([ferry_bin(), *map(str, args)], env=self.env, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise AssertionError(f"ferry {' '.join(map(str, args))} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out


def train_churn(tmp, rows=None, database_url=None):
    """Trains the churn example on its first `rows` rows (all when None) in a registry under
    `tmp` (its metadata in `database_url` when given); returns the CLI and the training data as
    pandas reads it."""
    work = tmp / "churn"
    shutil.copytree(CHURN, work, ignore=shutil.ignore_patterns("out"))
    data = pd.read_csv(CHURN / "customers.csv")
    if rows is not None:
        data = data.head(rows)
        data.to_csv(work / "customers.csv", index=False)
    ferry = Ferry(tmp / "registry")
    if database_url:
        ferry.env["FERRY_DATABASE_URL"] = database_url
    ferry.run("train", work / "pipeline.toml")
    return ferry, data


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory):
    return tmp_path_factory.mktemp("monitoring")


class Server:
    """`ferry serve` on a free port over `ferry`'s registry, logging JSON to a file."""

    def __init__(self, ferry, folder, *extra):
        self.log_path = folder / "serve.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [ferry_bin(), "serve", "--addr", "127.0.0.1:0", *extra],
            env=ferry.env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("ferry serving on "), line + self.log_path.read_text()
        self.url = line.split()[-1]
        self.admin = (Path(ferry.env["FERRY_DATA_DIR"]) / "admin-token").read_text().strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def psql(sql, database="postgres"):
    """Runs `sql` on the local PostgreSQL; returns what it printed, unaligned."""
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()
