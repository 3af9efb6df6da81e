"""Starts a `ferry serve` for the MLflow client tests: on SQLite in a temporary folder, and on
PostgreSQL in a database of its own (created and dropped here) unless FERRY_TEST_NO_POSTGRES
is set. FERRY_BIN names the ferry binary (default: target/debug/ferry of this checkout)."""

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ferry_bin():
    if os.environ.get("FERRY_BIN"):
        return os.environ["FERRY_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "ferry")


def component_cache():
    """The compiled-component cache the test suites share (keyed by digest and engine, written
    atomically): without it every new registry compiles the built-in plugins again."""
    return os.environ.get("FERRY_TEST_CACHE_DIR") or str(Path(ferry_bin()).parent / "ferry-test-components")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ferry:
    def __init__(self, data_dir, database_url):
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.env = dict(os.environ, FERRY_DATA_DIR=str(self.data_dir), FERRY_CACHE_DIR=component_cache())
        self.env.pop("FERRY_REGISTRY", None)
        self.env.pop("FERRY_TOKEN", None)
        if database_url:
            self.env["FERRY_DATABASE_URL"] = database_url
        else:
            self.env.pop("FERRY_DATABASE_URL", None)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(self.data_dir / "serve.log", "w")
        self.proc = subprocess.Popen([ferry_bin(), "serve", "--addr", f"127.0.0.1:{port}"], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        token_file = self.data_dir / "admin-token"
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError("ferry serve exited: " + (self.data_dir / "serve.log").read_text())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    if token_file.exists():
                        break
            except OSError:
                pass
            time.sleep(0.1)
        self.admin = token_file.read_text().strip()

    def cli(self, *args, check=True):
        out = subprocess.run([ferry_bin(), *args], env=self.env, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise AssertionError(f"ferry {' '.join(args)} exited {out.returncode}: {out.stdout}{out.stderr}")
        return out

    def token(self, name, role):
        return self.cli("token", "create", name, "--role", role).stdout.strip()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql],
                   check=True, capture_output=True)


@pytest.fixture(params=["sqlite", "postgres"])
def ferry(request, tmp_path):
    database_url = None
    name = None
    if request.param == "postgres":
        if os.environ.get("FERRY_TEST_NO_POSTGRES"):
            pytest.skip("FERRY_TEST_NO_POSTGRES is set")
        name = f"ferry_test_mlflow_{uuid.uuid4().hex[:12]}"
        psql(f"CREATE DATABASE {name}")
        database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    server = Ferry(tmp_path, database_url)
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    os.environ["MLFLOW_TRACKING_TOKEN"] = server.admin
    try:
        yield server
    finally:
        server.stop()
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        if name:
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
