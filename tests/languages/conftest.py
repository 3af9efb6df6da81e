"""Builds plugins written in other languages from source and runs them through the ferry CLI.

Components are built once per source: a build is kept under ~/.cache/ferry-lang-builds by the
sha256 of everything that goes into it (the sources, the SDK, the WIT contract and the
toolchain's version), since a Python component takes about 30 s to build. FERRY_BIN names the
ferry binary (default: $CARGO_TARGET_DIR/debug/ferry or target/debug/ferry of this checkout)."""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "examples" / "churn"
BUILDS = Path(os.environ.get("FERRY_LANG_BUILDS", Path.home() / ".cache" / "ferry-lang-builds"))


def ferry_bin():
    if os.environ.get("FERRY_BIN"):
        return os.environ["FERRY_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "ferry")


def _digest(paths, extra):
    h = hashlib.sha256(extra.encode())
    for base in paths:
        for p in sorted(Path(base).rglob("*")):
            built = "build" in p.relative_to(base).parts or p.suffix == ".wasm"
            if p.is_file() and "__pycache__" not in p.parts and not built:
                h.update(str(p.relative_to(base)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:24]


def _build(argv, **kwargs):
    out = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")


def build_python(app_dir, world):
    """The component built from `app_dir/app.py` with the Python SDK, for `world`."""
    tool = Path(sys.executable).parent / "componentize-py"
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    sdk = ROOT / "sdk" / "python"
    key = _digest([app_dir, sdk / "ferry_plugin", ROOT / "wit"], world + version)
    out = BUILDS / f"{Path(app_dir).name}-{key}.wasm"
    if not out.exists():
        BUILDS.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        _build([tool, "-d", ROOT / "wit", "-w", world, "componentize", "app", "-p", app_dir, "-p", sdk, "-o", tmp],
               cwd=app_dir)
        tmp.rename(out)
    return out


def build_js(source, world):
    """The component built from the JavaScript module `source` with the JavaScript SDK, for
    `world`. ComponentizeJS comes from $FERRY_JS_MODULES (a node_modules folder)."""
    modules = Path(os.environ.get("FERRY_JS_MODULES", ROOT / "sdk" / "js" / "node_modules"))
    package = json.loads((modules / "@bytecodealliance" / "componentize-js" / "package.json").read_text())
    sdk = ROOT / "sdk" / "js"
    key = _digest([Path(source).parent, ROOT / "wit"], world + package["version"]
                  + (sdk / "ferry-plugin.js").read_text() + (sdk / "build.mjs").read_text())
    out = BUILDS / f"{Path(source).stem}-{key}.wasm"
    if not out.exists():
        BUILDS.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        _build(["node", sdk / "build.mjs", source, "--world", world, "--out", tmp],
               env=dict(os.environ, FERRY_JS_MODULES=str(modules)))
        tmp.rename(out)
    return out


def c_tools():
    """The tools a C plugin builds with, as make variables: `wit-bindgen` from $FERRY_WIT_BINDGEN
    or CI's ~/.cache/ferry-ci-tools, and `jco` from $FERRY_JS_MODULES (clang-19 from the PATH)."""
    bindgen = os.environ.get("FERRY_WIT_BINDGEN") or shutil.which("wit-bindgen") \
        or str(Path.home() / ".cache" / "ferry-ci-tools" / "bin" / "wit-bindgen")
    modules = Path(os.environ.get("FERRY_JS_MODULES", ROOT / "sdk" / "js" / "node_modules"))
    jco = modules / ".bin" / "jco"
    for tool in (bindgen, str(jco)):
        assert Path(tool).exists(), f"{tool} is missing: .ci/run installs the C toolchain"
    assert shutil.which("clang-19"), "clang-19 is missing: .ci/run installs the C toolchain"
    return {"WIT_BINDGEN": bindgen, "JCO": str(jco)}


def build_c(project_dir, world):
    """The component `make` builds from the C project in `project_dir` (whose Makefile includes
    sdk/c/ferry.mk) for `world`, built outside the source folder."""
    tools = c_tools()
    versions = "".join(subprocess.run([t, "--version"], capture_output=True, text=True).stdout
                       for t in ("clang-19", tools["WIT_BINDGEN"]))
    key = _digest([project_dir, ROOT / "sdk" / "c", ROOT / "wit"], world + versions)
    out = BUILDS / f"c-{Path(project_dir).name}-{key}.wasm"
    if not out.exists():
        BUILDS.mkdir(parents=True, exist_ok=True)
        work = BUILDS / f"c-{Path(project_dir).name}-{key}.build"
        tmp = out.with_suffix(".tmp")
        _build(["make", "-C", project_dir, f"FERRY_WORLD={world}", f"FERRY_BUILD={work}", f"COMPONENT={tmp}",
                *(f"{k}={v}" for k, v in tools.items())])
        tmp.rename(out)
        shutil.rmtree(work, ignore_errors=True)
    return out


def build_assemblyscript(project_dir):
    """The Extism module `asc` builds from the AssemblyScript project in `project_dir`, with
    its packages (assemblyscript, @extism/as-pdk, assemblyscript-json) from $FERRY_AS_MODULES
    (a node_modules folder installed from the project's package-lock.json)."""
    modules = Path(os.environ.get("FERRY_AS_MODULES", Path(project_dir) / "node_modules"))
    asc = modules / "assemblyscript" / "bin" / "asc.js"
    assert asc.exists(), f"{asc} is missing: .ci/run installs the AssemblyScript packages"
    version = json.loads((modules / "assemblyscript" / "package.json").read_text())["version"]
    key = _digest([Path(project_dir) / "assembly"], version + (Path(project_dir) / "package.json").read_text())
    out = BUILDS / f"as-{Path(project_dir).name}-{key}.wasm"
    if not out.exists():
        BUILDS.mkdir(parents=True, exist_ok=True)
        work = BUILDS / f"as-{Path(project_dir).name}-{key}.build"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(Path(project_dir) / "assembly", work / "assembly")
        (work / "node_modules").symlink_to(modules)
        tmp = out.with_suffix(".tmp")
        _build(["node", asc, "assembly/index.ts", "--outFile", tmp, "--use", "abort=assembly/index/abort",
                "--optimize", "--runtime", "incremental"], cwd=work)
        tmp.rename(out)
        shutil.rmtree(work, ignore_errors=True)
    return out


def extism_guest(package):
    """The Extism module cargo built for the integration tests (tests/build.rs) from the Rust
    crate `package`, for wasm32-unknown-unknown."""
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    wasm = Path(target) / "wasm-plugins" / "wasm32-unknown-unknown" / "release" / f"{package.replace('-', '_')}.wasm"
    assert wasm.exists(), f"{wasm} is missing: `cargo test --workspace --no-run` builds it"
    return wasm


class Ferry:
    """The ferry CLI on a registry of its own, sharing one compiled-component cache."""

    def __init__(self, data_dir, cache_dir):
        self.data_dir = Path(data_dir)
        self.env = dict(os.environ, FERRY_DATA_DIR=str(data_dir), FERRY_CACHE_DIR=str(cache_dir))
        for k in ("FERRY_REGISTRY", "FERRY_TOKEN", "FERRY_DATABASE_URL"):
            self.env.pop(k, None)

    def run(self, *args, check=True):
        out = subprocess.run([ferry_bin(), *map(str, args)], env=self.env, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise AssertionError(f"ferry {' '.join(map(str, args))} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out

    def fit_apply(self, plugin, config, data, out):
        """Fits a transform on `data`, applies it to the same data into `out`; returns the
        learned state (as JSON) and the CSV written."""
        state = out.with_suffix(".state")
        self.run("transform", "fit", "--plugin", plugin, "--config", config, "--state", state, data)
        self.run("transform", "apply", "--plugin", plugin, "--config", config, "--state", state, "--out", out, data)
        return json.loads(state.read_bytes()), out.read_bytes()

    def careless_apply(self, plugin, do, folder):
        """Fits the careless transform `plugin` told to misbehave as `do` says, then applies it
        to the churn data, which must fail; returns the error."""
        config = folder / "careless.json"
        config.write_text(json.dumps({"do": do}))
        state = folder / "careless.state"
        data = CHURN / "customers.csv"
        self.run("transform", "fit", "--plugin", plugin, "--config", config, "--state", state, data)
        return self.fails("transform", "apply", "--plugin", plugin, "--config", config, "--state", state,
                          "--out", folder / "careless.csv", "--timeout-ms", "3000", data)

    def fails(self, *args):
        """Runs a command that must fail; returns its stderr."""
        out = self.run(*args, check=False)
        assert out.returncode != 0, f"ferry {' '.join(map(str, args))} succeeded:\n{out.stdout}"
        return out.stderr


def post(url, body):
    """POSTs `body` as JSON; returns the status and the JSON answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def assert_keeps_serving(ferry, *expected, paths=("/v1/models/churn/1/predict",)):
    """Serves churn version 1, whose pipeline holds a plugin that traps on a batch holding
    total_charges 12345: at each of `paths`, a normal row answers 200, the sentinel row a 5xx
    whose body holds each of `expected`, and the next normal rows the first answer again."""
    server = subprocess.Popen([ferry_bin(), "serve", "--addr", "127.0.0.1:0"], env=ferry.env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("ferry serving on "), line
        row = {"customer_id": "C00001", "tenure_months": 12, "monthly_charges": 50.5, "total_charges": 606.0,
               "contract": "one-year", "support_calls": 1, "paperless_billing": False}
        for path in paths:
            url = line.split()[-1] + path
            status, body = post(url, {"rows": [row]})
            assert status == 200, body
            first = body["predictions"]
            status, body = post(url, {"rows": [dict(row, total_charges=12345.0)]})
            assert status >= 500, body
            assert all(text in json.dumps(body) for text in expected), body
            for _ in range(3):
                status, body = post(url, {"rows": [row]})
                assert status == 200 and body["predictions"] == first, body
    finally:
        server.terminate()
        server.wait(timeout=30)


def customers():
    """The churn customers as predict rows, typed as the model's input."""
    types = {"tenure_months": int, "monthly_charges": float, "total_charges": float, "support_calls": int,
             "paperless_billing": lambda v: v == "true"}
    with open(CHURN / "customers.csv") as f:
        return [{k: (types[k](v) if v else None) if k in types else v for k, v in r.items() if k != "churned"}
                for r in csv.DictReader(f)]


def _served(ferry, rows, requests):
    """Serves churn version 1 of `ferry`'s registry: its answer for all of `rows` at once, and
    how many instances it built from scratch (not from a snapshot) for `requests` more
    requests of one row each."""
    server = subprocess.Popen([ferry_bin(), "serve", "--addr", "127.0.0.1:0"], env=ferry.env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().split()[-1]

        def from_scratch():
            time.sleep(0.5)  # the sets of instances built ahead are refilled off the request path
            metrics = urllib.request.urlopen(f"{url}/metrics", timeout=30).read().decode()
            value = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
                     if line.startswith("ferry_instances_")}
            return value["ferry_instances_created_total"] - value["ferry_instances_from_snapshots_total"]

        status, all_rows = post(f"{url}/v1/models/churn/1/predict", {"rows": rows})
        assert status == 200, all_rows
        before = from_scratch()
        for row in rows[:requests]:
            status, body = post(f"{url}/v1/models/churn/1/predict", {"rows": [row]})
            assert status == 200, body
        return all_rows["predictions"], from_scratch() - before
    finally:
        server.terminate()
        server.wait(timeout=30)



def assert_prepared_serves_alike(tmp_path, cache_dir, builtin, name, prepared, plain):
    """Trains churn with plugin `name` in place of the built-in `builtin` in two registries,
    one with the `prepared` build of it and one with the `plain` one, and serves each: the
    same predictions for all 2,000 customers, and with the prepared build no instance built
    from scratch over 20 requests (the plain one builds its plugin's each time)."""
    rows = customers()
    answers = {}
    for world, plugin in (("prepared", prepared), ("plain", plain)):
        registry = Ferry(tmp_path / world / "registry", cache_dir)
        registry.run("plugin", "publish", plugin)
        work = tmp_path / world / "churn"
        shutil.copytree(CHURN, work, ignore=shutil.ignore_patterns("out"))
        pipeline = work / "pipeline.toml"
        pipeline.write_text(pipeline.read_text().replace(f'"{builtin}@^0.1"', f'"{name}@^0.1"'))
        registry.run("train", pipeline)
        answers[world] = _served(registry, rows, 20)
    (prepared_answer, prepared_scratch), (plain_answer, plain_scratch) = answers["prepared"], answers["plain"]
    assert len(prepared_answer) == 2000
    assert prepared_answer == plain_answer, "the same bits with and without the snapshot"
    assert plain_scratch >= 20, plain_scratch
    assert prepared_scratch == 0, prepared_scratch


@pytest.fixture(scope="session")
def cache_dir():
    """The compiled-component cache the test suites share: a Python or JavaScript component
    takes 10 to 25 s to compile, a cached load tens of milliseconds."""
    return os.environ.get("FERRY_TEST_CACHE_DIR") or str(Path(ferry_bin()).parent / "ferry-test-components")


@pytest.fixture
def ferry(tmp_path, cache_dir):
    return Ferry(tmp_path / "registry", cache_dir)


@pytest.fixture
def churn(tmp_path):
    """A copy of the churn example to edit."""
    work = tmp_path / "churn"
    shutil.copytree(CHURN, work, ignore=shutil.ignore_patterns("out"))
    return work
