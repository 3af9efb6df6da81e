"""Extism plugins (core modules built with an Extism PDK) through the ferry CLI: the
AssemblyScript and Rust log-transforms against the Rust built-in they mirror, bit for bit; the
Rust one published, signed, pinned and trained in a pipeline; both through the conformance
kit; and a served model that keeps answering when its Extism transform traps."""

import hashlib
import json
import math
import struct

import pytest

from conftest import CHURN, ROOT, assert_keeps_serving, build_assemblyscript, extism_guest

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]


@pytest.fixture(scope="module")
def as_log():
    return build_assemblyscript(ROOT / "examples" / "as-log-transform")


@pytest.fixture(scope="module")
def rust_log():
    return extism_guest("extism-log-transform")


@pytest.fixture(scope="module")
def hostile():
    return extism_guest("extism-hostile")


def ulps(a, b):
    """How many doubles apart `a` and `b` are (both finite, of one sign)."""
    bits = lambda x: struct.unpack("<q", struct.pack("<d", x))[0]
    return abs(bits(a) - bits(b))


def cells_within_an_ulp(ours, theirs, close=lambda p, q: ulps(p, q) <= 1):
    """Compares two CSVs cell by cell: the same text, or floats at most 1 ulp apart (or as
    `close` says). Returns how many cells differ."""
    a, b = ours.decode().splitlines(), theirs.decode().splitlines()
    assert len(a) == len(b)
    differing = 0
    for line, (x, y) in enumerate(zip(a, b)):
        for p, q in zip(x.split(","), y.split(","), strict=True):
            if p != q:
                assert close(float(p), float(q)), (line, p, q)
                differing += 1
    return differing


@pytest.mark.parametrize("settings", [
    {"columns": NUMERIC},
    {"base": "2", "offset": 3.5},
    {"base": "10", "offset": 0.25, "columns": ["monthly_charges", "paperless_billing"]},
])
def test_the_assemblyscript_log_transform_matches_the_builtin_bit_for_bit(ferry, as_log, tmp_path, settings):
    # AssemblyScript's Math.log, log2 and log10 are the same musl routines wasi-libc gives the
    # Rust built-in, so the features are byte-identical.
    config = tmp_path / "log.json"
    config.write_text(json.dumps(settings))
    data = CHURN / "customers.csv"
    builtin_state, builtin_out = ferry.fit_apply("log-transform", config, data, tmp_path / "builtin.csv")
    state, out = ferry.fit_apply(as_log, config, data, tmp_path / "extism.csv")
    assert state == builtin_state
    assert out == builtin_out
    assert len(out.splitlines()) == 2001


@pytest.mark.parametrize("settings", [
    {"columns": NUMERIC},
    {"base": "2", "offset": 3.5},
    {"base": "10", "offset": 0.25, "columns": ["monthly_charges", "paperless_billing"]},
])
def test_the_rust_extism_log_transform_matches_the_builtin_within_an_ulp(ferry, rust_log, tmp_path, settings):
    # Rust on wasm32-unknown-unknown takes ln, log2 and log10 from the `libm` crate, not from
    # wasi-libc: both are within 1 ulp of the true value, so a value may differ by 1 ulp.
    config = tmp_path / "log.json"
    config.write_text(json.dumps(settings))
    data = CHURN / "customers.csv"
    builtin_state, builtin_out = ferry.fit_apply("log-transform", config, data, tmp_path / "builtin.csv")
    state, out = ferry.fit_apply(rust_log, config, data, tmp_path / "extism.csv")
    assert state == builtin_state
    differing = cells_within_an_ulp(out, builtin_out)
    assert differing < 2000, differing


@pytest.mark.parametrize("which, name", [("as_log", "as-log-transform"), ("rust_log", "extism-log-transform")])
def test_an_extism_transform_is_signed_pinned_and_trains_the_same_model(ferry, request, churn, tmp_path, which, name):
    plugin = request.getfixturevalue(which)
    digest = "sha256:" + hashlib.sha256(plugin.read_bytes()).hexdigest()
    ferry.run("key", "generate", "--out", tmp_path / "acme")
    key = (tmp_path / "acme.pub").read_text().strip()
    ferry.run("plugin", "publish", plugin, "--sign-key", tmp_path / "acme.key")
    info = ferry.run("plugin", "info", name, "--json").stdout
    assert digest in info, info
    project = tmp_path / "project"
    project.mkdir()
    ferry.run("plugin", "install", f"{name}@^0.1", "--project", project)
    lock = (project / "ferry.lock").read_text()
    assert name in lock and digest in lock, lock
    # Training holds the Extism plugin to a trust policy like any other: it must carry acme's
    # signature.
    trust = tmp_path / "trust.toml"
    trust.write_text(f'[[require]]\nnamespace = "{name}"\nkeys = ["{key}"]\n')

    pipeline = churn / "pipeline.toml"
    text = pipeline.read_text()
    step = '[[transforms]]\nplugin = "{}"\nconfig = "log.json"\n\n[[transforms]]'
    (churn / "log.json").write_text(json.dumps({"columns": ["total_charges"]}))
    runs = {}
    for label, spec in (("builtin", "log-transform@^0.1"), ("extism", f"{name}@^0.1")):
        pipeline.write_text(text.replace("[[transforms]]", step.format(spec), 1))
        runs[label] = json.loads(ferry.run("train", pipeline, "--trust", trust, "--json").stdout)
    features = {}
    for label, run in runs.items():
        out = tmp_path / f"{label}-features.csv"
        ferry.run("transform", "--run", run["run_id"], CHURN / "customers.csv", "--out", out)
        features[label] = out.read_bytes()
    if which == "as_log":
        assert runs["extism"]["metrics"] == runs["builtin"]["metrics"]
        assert features["extism"] == features["builtin"]
    else:
        # Logarithms within 1 ulp (see above), standardised and one-hot encoded after, give
        # features and metrics that agree to 1e-12.
        assert runs["extism"]["metrics"] == pytest.approx(runs["builtin"]["metrics"], rel=1e-12)
        near = lambda p, q: math.isclose(p, q, rel_tol=1e-12, abs_tol=1e-15)
        assert cells_within_an_ulp(features["extism"], features["builtin"], near) < 2000


@pytest.mark.parametrize("which", ["as_log", "rust_log"])
def test_an_extism_transform_conforms(ferry, request, which):
    out = ferry.run("plugin", "test", request.getfixturevalue(which))
    assert "0 failed" in out.stdout, out.stdout


def test_the_assemblyscript_transform_names_bad_configuration_and_data(ferry, as_log, tmp_path):
    data = CHURN / "customers.csv"
    state = tmp_path / "s.json"

    def refused(config_text, expected):
        config = tmp_path / "c.json"
        config.write_text(config_text)
        err = ferry.fails("transform", "fit", "--plugin", as_log, "--config", config, "--state", state, data)
        assert expected in err, err

    refused('{"colums": ["tenure_months"]}', "unknown field `colums`, expected one of `columns`, `offset`, `base`")
    refused('{"columns": ["contract"]}', "`columns` names `contract`, a text column; this plugin needs numbers")
    refused('{"columns": ["nope"]}', "`columns` names `nope`, which the data does not have (it has [customer_id,")
    refused('{"base": "3"}', '`base` must be "e", "2" or "10", not "3"')
    refused('{"columns": "tenure_months"}', "`columns` must be an array of column names")
    refused('{"columns": [1]}', "`columns` must be an array of column names")
    refused('{"offset": "1"}', "`offset` must be a number")
    config = tmp_path / "neg.json"
    config.write_text('{"columns": ["monthly_charges"], "offset": -1000}')
    ferry.run("transform", "fit", "--plugin", as_log, "--config", config, "--state", state, data)
    err = ferry.fails("transform", "apply", "--plugin", as_log, "--config", config, "--state", state,
                      "--out", tmp_path / "o.csv", data)
    assert "column `monthly_charges` at row 0" in err and "is not positive, so it has no logarithm" in err, err


def test_extism_plugins_log_through_the_host(ferry, as_log, hostile, tmp_path):
    config = tmp_path / "log.json"
    config.write_text('{"columns": ["tenure_months", "support_calls"]}')
    out = ferry.run("-v", "transform", "fit", "--plugin", as_log, "--config", config, "--state",
                    tmp_path / "s.json", CHURN / "customers.csv")
    lines = [line for line in out.stderr.splitlines() if "log-transform of 2 columns" in line]
    assert len(lines) == 1 and "as-log-transform" in lines[0], out.stderr
    # The Rust PDK's `log::info`, from the hostile plugin told to log.
    config.write_text('{"mode": "log"}')
    state = tmp_path / "h.json"
    ferry.run("transform", "fit", "--plugin", hostile, "--config", config, "--state", state, CHURN / "customers.csv")
    out = ferry.run("-v", "transform", "apply", "--plugin", hostile, "--config", config, "--state", state,
                    "--out", tmp_path / "o.csv", CHURN / "customers.csv")
    lines = [line for line in out.stderr.splitlines() if "extism-hostile logs through the host" in line]
    assert lines and "extism-hostile" in lines[0], out.stderr


def test_a_served_model_and_its_deployment_keep_serving_when_an_extism_transform_traps(ferry, hostile, churn):
    ferry.run("plugin", "publish", hostile, "--skip-checks")
    (churn / "hostile.json").write_text('{"mode": "sentinel"}')
    pipeline = churn / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace(
        "[[transforms]]", '[[transforms]]\nplugin = "extism-hostile@^0.1"\nconfig = "hostile.json"\n\n[[transforms]]', 1))
    ferry.run("train", pipeline)
    ferry.run("deploy", "create", "churn", "--model", "churn@1")
    assert_keeps_serving(ferry, "extism-hostile", "lie outside every block",
                         paths=("/v1/models/churn/1/predict", "/v1/deployments/churn/predict"))
