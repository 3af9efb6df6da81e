"""Plugins written in C (sdk/c: wit-bindgen, clang and wasi-libc, jco) against the Rust built-ins
they mirror: the same bits out, in a lone transform and in a trained pipeline, and typed errors
for a careless plugin that writes out of bounds, aborts, overflows its stack, loops or hogs
memory."""

import json

import pytest

from conftest import CHURN, ROOT, assert_keeps_serving, assert_prepared_serves_alike, build_c

SCALER = ROOT / "examples" / "c-min-max-scaler"
HOSTILE = ROOT / "tests" / "languages" / "c" / "hostile"


@pytest.fixture(scope="module")
def scaler():
    return build_c(SCALER, "transform-plugin")


@pytest.fixture(scope="module")
def hostile():
    return build_c(HOSTILE, "transform-plugin")


@pytest.mark.parametrize("settings", [
    {"columns": ["tenure_months", "monthly_charges", "total_charges", "support_calls"]},
    {"feature_range": [-1, 1], "clip": True},
])
def test_the_c_scaler_matches_the_rust_one_bit_for_bit(ferry, scaler, tmp_path, settings):
    config = tmp_path / "scale.json"
    config.write_text(json.dumps(settings))
    data = CHURN / "customers.csv"
    rust_state, rust_out = ferry.fit_apply("min-max-scaler", config, data, tmp_path / "rust.csv")
    c_state, c_out = ferry.fit_apply(scaler, config, data, tmp_path / "c.csv")
    # The C state is its own JSON (17 significant digits); every number in it reads back to the
    # same double as the Rust state's.
    assert c_state == rust_state
    assert c_out == rust_out
    assert len(rust_out.splitlines()) == 2001


def test_the_c_scaler_trains_the_same_model(ferry, scaler, churn, tmp_path):
    published = ferry.run("plugin", "publish", scaler)
    assert "c-min-max-scaler" in published.stdout + published.stderr
    pipeline = churn / "pipeline.toml"
    text = pipeline.read_text()
    runs = {}
    for name, plugin in (("rust", "min-max-scaler@^0.1"), ("c", "c-min-max-scaler@^0.1")):
        pipeline.write_text(text.replace('"standard-scaler@^0.1"', f'"{plugin}"'))
        runs[name] = json.loads(ferry.run("train", pipeline, "--json").stdout)
    assert runs["c"]["metrics"] == runs["rust"]["metrics"]
    features = {}
    for name, run in runs.items():
        out = tmp_path / f"{name}-features.csv"
        ferry.run("transform", "--run", run["run_id"], CHURN / "customers.csv", "--out", out)
        features[name] = out.read_bytes()
    assert features["c"] == features["rust"]


def test_bad_configuration_state_and_data_are_named(ferry, scaler, tmp_path):
    data = CHURN / "customers.csv"
    state = tmp_path / "s.json"

    def refused(config_text, *expected):
        config = tmp_path / "c.json"
        config.write_text(config_text)
        err = ferry.fails("transform", "fit", "--plugin", scaler, "--config", config, "--state", state, data)
        for text in expected:
            assert text in err, err

    refused('{"colums": ["tenure_months"]}', "unknown key `colums` (expected one of: columns, feature_range, clip)")
    refused('{"columns": ["contract"]}', "`columns` names `contract`, a text column; this plugin needs numbers")
    refused('{"columns": ["nope"]}', "`columns` names `nope`, which the data does not have (it has [customer_id,")
    refused('{"columns": ["tenure_months", "tenure_months"]}', "`columns` names `tenure_months` twice")
    refused('{"clip": "yes"}', '`clip` must be a boolean, not "yes"')
    refused('{"feature_range": [1, 0]}', "`feature_range` must be [low, high] with low < high, got [1, 0]")
    refused('{"feature_range": [0, 1, 2]}', "`feature_range` must be an array of 2 numbers, not [0,1,2]")
    # The host parses a configuration file before the plugin sees it; a state reaches the
    # plugin's own JSON reader as it is.
    config = tmp_path / "ok.json"
    config.write_text('{"columns": ["tenure_months"]}')
    ferry.run("transform", "fit", "--plugin", scaler, "--config", config, "--state", state, data)
    for broken, why in [
        ("not json", "expected a value at line 1 column 1"),
        ('{"feature_range": [0, 1],\n "clip": false', "expected `,` or `}` at line 2 column 15"),
        ('{"feature_range": [0, 1], "clip": false}', "it needs feature_range, clip and columns"),
        ("[" * 100_000, "nesting too deep"),
        ('{"name": "\\ud800"}', "a lone surrogate in a \\u escape"),
        ('{"a": 1, "a": 2}', "has the key `a` twice"),
        ('{"feature_range": [0, 1], "clip": false, "columns": [{"name": "x"}]}', "a column needs name, min and max"),
    ]:
        state.write_text(broken)
        err = ferry.fails("transform", "apply", "--plugin", scaler, "--config", config, "--state", state,
                          "--out", tmp_path / "o.csv", data)
        assert "the state is not a valid c-min-max-scaler state" in err and why in err, err
    # A large state reads in memory proportional to its size: 50,000 names in 2.5 MB (a reader
    # that sized each string by the rest of the text would need gigabytes). It is read whole,
    # then apply names the first column the data lacks.
    columns = [{"name": f"c{i:07d}", "min": 0, "max": 1} for i in range(50_000)]
    state.write_text(json.dumps({"feature_range": [0, 1], "clip": False, "columns": columns}))
    err = ferry.fails("transform", "apply", "--plugin", scaler, "--config", config, "--state", state,
                      "--out", tmp_path / "o.csv", data)
    assert "c0000000" in err and "no such column" in err, err


def test_the_c_scaler_logs_through_the_host(ferry, scaler, tmp_path):
    config = tmp_path / "scale.json"
    config.write_text('{"columns": ["tenure_months", "support_calls"]}')
    out = ferry.run("-v", "transform", "fit", "--plugin", scaler, "--config", config, "--state",
                    tmp_path / "s.json", CHURN / "customers.csv")
    lines = [line for line in out.stderr.splitlines() if "learned the range of 2 columns" in line]
    assert len(lines) == 1 and "c-min-max-scaler" in lines[0], out.stderr


def test_the_c_plugins_conform(ferry, scaler):
    out = ferry.run("plugin", "test", scaler)
    assert "0 failed" in out.stdout, out.stdout


@pytest.mark.parametrize("do, expected", [
    ("out-of-bounds", "out of bounds memory access"),
    ("overrun", "out of bounds memory access"),
    ("abort", "wasm `unreachable` instruction executed"),
    ("stack", "out of bounds memory access"),
    ("loop", "deadline"),
    ("hog", "needed more memory than its cap of 64 MiB"),
])
def test_a_careless_c_plugin_is_stopped_with_a_typed_error(ferry, hostile, tmp_path, do, expected):
    err = ferry.careless_apply(hostile, do, tmp_path)
    assert expected in err, err


def test_a_served_model_keeps_serving_when_its_c_transform_traps(ferry, hostile, churn, tmp_path):
    ferry.run("plugin", "publish", hostile, "--skip-checks")
    (churn / "hostile.json").write_text('{"do": "sentinel"}')
    pipeline = churn / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace(
        "[[transforms]]", '[[transforms]]\nplugin = "c-hostile@^0.1"\nconfig = "hostile.json"\n\n[[transforms]]', 1))
    ferry.run("train", pipeline)
    assert_keeps_serving(ferry, "c-hostile", "out of bounds memory access")


def test_a_prepared_c_transform_is_served_from_its_snapshot_with_the_same_bits(scaler, tmp_path, cache_dir):
    prepared = build_c(SCALER, "prepared-transform-plugin")
    assert_prepared_serves_alike(tmp_path, cache_dir, "standard-scaler", "c-min-max-scaler", prepared, scaler)
