"""Plugins written in Python (sdk/python, componentize-py) against the Rust built-ins they
mirror: the same bits out, in a lone transform and in a trained pipeline, and typed errors for
a careless plugin. Built for the `prepared-transform-plugin` world, a Python transform is
prepared once and served from its snapshot with the same bits."""

import json

import pytest

from conftest import CHURN, ROOT, assert_prepared_serves_alike, build_python

SCALER = ROOT / "examples" / "python-scaler"
HOSTILE = ROOT / "tests" / "languages" / "python" / "hostile"


@pytest.fixture(scope="module")
def scaler():
    return build_python(SCALER, "transform-plugin")


@pytest.fixture(scope="module")
def hostile():
    return build_python(HOSTILE, "transform-plugin")


def test_the_python_scaler_matches_the_rust_one_bit_for_bit(ferry, scaler, tmp_path):
    config = tmp_path / "scale.json"
    config.write_text(json.dumps({"columns": ["tenure_months", "monthly_charges", "support_calls"]}))
    data = CHURN / "customers.csv"
    rust_state, rust_out = ferry.fit_apply("standard-scaler", config, data, tmp_path / "rust.csv")
    py_state, py_out = ferry.fit_apply(scaler, config, data, tmp_path / "python.csv")
    assert py_state == rust_state
    assert py_out == rust_out
    assert len(rust_out.splitlines()) == 2001


def test_the_python_scaler_trains_the_same_model(ferry, scaler, churn, tmp_path):
    published = ferry.run("plugin", "publish", scaler)
    assert "py-standard-scaler" in published.stdout + published.stderr
    rust = json.loads(ferry.run("train", churn / "pipeline.toml", "--json").stdout)
    pipeline = churn / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace('"standard-scaler@^0.1"', '"py-standard-scaler@^0.1"'))
    python = json.loads(ferry.run("train", pipeline, "--json").stdout)
    assert python["metrics"] == rust["metrics"]
    features = {}
    for name, run in (("rust", rust), ("python", python)):
        out = tmp_path / f"{name}-features.csv"
        ferry.run("transform", "--run", run["run_id"], CHURN / "customers.csv", "--out", out)
        features[name] = out.read_bytes()
    assert features["python"] == features["rust"]


def test_bad_configuration_and_data_are_named(ferry, scaler, tmp_path):
    data = CHURN / "customers.csv"
    state = tmp_path / "s.json"
    bad_key = tmp_path / "bad-key.json"
    bad_key.write_text('{"colums": ["tenure_months"]}')
    err = ferry.fails("transform", "fit", "--plugin", scaler, "--config", bad_key, "--state", state, data)
    assert "unknown key `colums`" in err, err
    text_column = tmp_path / "text.json"
    text_column.write_text('{"columns": ["contract"]}')
    err = ferry.fails("transform", "fit", "--plugin", scaler, "--config", text_column, "--state", state, data)
    assert "`columns` names `contract`, a text column; this plugin needs numbers" in err, err
    wrong_type = tmp_path / "wrong-type.json"
    wrong_type.write_text('{"with_mean": "yes"}')
    err = ferry.fails("transform", "fit", "--plugin", scaler, "--config", wrong_type, "--state", state, data)
    assert '`with_mean` must be a boolean, not "yes"' in err, err
    config = tmp_path / "ok.json"
    config.write_text('{"columns": ["tenure_months"]}')
    ferry.run("transform", "fit", "--plugin", scaler, "--config", config, "--state", state, data)
    state.write_text("not json")
    err = ferry.fails("transform", "apply", "--plugin", scaler, "--config", config, "--state", state,
                      "--out", tmp_path / "o.csv", data)
    assert "the state is not a valid py-standard-scaler state" in err, err


@pytest.mark.parametrize("do, expected", [
    ("raise", "ValueError: a careless plugin raised (at app.py:"),
    ("keyerror", "KeyError: 'missing' (at app.py:"),
    # Raised inside Python's own library: both where, and the plugin's own line.
    ("stdlib", "KeyError: 'FERRY_SURELY_NOT_SET' (at <frozen os>:"),
    ("stdlib", ", from app.py:"),
    # Python's `random` keeps its generator in memory; the SDK sends a draw through the host,
    # which refuses it while a batch is computed.
    ("random", "(transform, `transformer.apply`): drew random bytes while computing a batch"),
    ("exit", "SystemExit: 3"),
    ("bad-return", "apply returned int; it must return a Batch or a list of Columns"),
    ("bad-column", "returned invalid output: 1 rows returned for an input of 2000 rows"),
    ("loop", "deadline"),
    ("hog", "needed more memory than its cap of 256 MiB"),
])
def test_a_careless_python_plugin_is_stopped_with_a_typed_error(ferry, hostile, tmp_path, do, expected):
    err = ferry.careless_apply(hostile, do, tmp_path)
    assert expected in err, err


def test_noise_drawn_on_every_row_and_rarely_shown_is_refused_wherever_it_runs(ferry, tmp_path):
    """The careless plugin the purity check once let through: `random.random()` on every row,
    added on 4 rows of 2,000. Refused by the kit, at publish, and wherever it is applied."""
    noise = build_python(ROOT / "tests" / "languages" / "python" / "rare-noise", "transform-plugin")
    drew = "(transform, `transformer.apply`): drew random bytes while computing a batch"
    kit = ferry.run("plugin", "test", noise, check=False)
    assert kit.returncode != 0 and drew in kit.stdout + kit.stderr, kit.stdout + kit.stderr
    assert drew in ferry.fails("plugin", "publish", noise)
    assert "py-rare-noise" not in ferry.run("plugin", "search", "noise").stdout
    config = tmp_path / "noise.json"
    config.write_text('{"column": "monthly_charges", "threshold": 119.64}')
    state = tmp_path / "state.json"
    data = CHURN / "customers.csv"
    ferry.run("transform", "fit", "--plugin", noise, "--config", config, "--state", state, data)
    err = ferry.fails("transform", "apply", "--plugin", noise, "--config", config, "--state", state,
                      "--out", tmp_path / "o.csv", data)
    assert drew in err, err


def test_a_python_validator_reports_what_the_rust_one_does(ferry, tmp_path):
    ranges = build_python(ROOT / "tests" / "languages" / "python" / "ranges", "validator-plugin")
    data = tmp_path / "dirty.csv"
    lines = (CHURN / "customers.csv").read_text().splitlines()
    lines[4] = lines[4].replace(",37,", ",100,", 1)
    lines[5] = "C00004,0,250.5,,one-year,0,false,no"
    data.write_text("\n".join(lines) + "\n")
    config = tmp_path / "ranges.json"
    config.write_text(json.dumps({"expectations": [
        {"column": "tenure_months", "min": 1, "max": 72}, {"column": "monthly_charges", "min": 0, "max": 200},
        {"column": "contract", "min": 0}, {"column": "nothing", "max": 1}]}))
    reports = []
    for plugin in ("expectations", ranges):
        out = ferry.run("validate", "--plugin", plugin, "--config", config, "--json", data, check=False)
        assert out.returncode == 1, out.stderr
        body = json.loads(out.stdout)
        for identity in ("plugin", "version", "digest"):
            body.pop(identity, None)
        reports.append(body)
    assert reports[0] == reports[1]
    assert {v["rule"] for v in reports[0]["violations"]} == {"min", "max", "min_max", "column_exists"}


def test_the_python_plugins_conform_and_a_careless_one_is_refused_at_publish(ferry, scaler, hostile):
    for plugin in (scaler, build_python(ROOT / "tests" / "languages" / "python" / "ranges", "validator-plugin")):
        out = ferry.run("plugin", "test", plugin)
        assert "0 failed" in out.stdout, out.stdout
    report = ferry.run("plugin", "test", hostile, "--json", check=False)
    assert report.returncode == 12, report.stderr
    failed = {p["check"]: p["detail"] for p in json.loads(report.stdout)["points"] if p["outcome"] == "failed"}
    assert set(failed) == {"manifest", "config-schema"} or set(failed) == {"manifest"}, failed
    refused = ferry.fails("plugin", "publish", hostile)
    assert "py-hostile 0.1.0 does not conform: manifest: the manifest has no license" in refused, refused
    assert "py-hostile" not in ferry.run("plugin", "search", "hostile").stdout
    published = ferry.run("plugin", "publish", hostile, "--skip-checks")
    assert "published py-hostile 0.1.0" in published.stdout, published.stdout


def test_a_prepared_python_transform_is_served_from_its_snapshot_with_the_same_bits(
        scaler, tmp_path, cache_dir):
    prepared = build_python(SCALER, "prepared-transform-plugin")
    # Without `prepared-transform`, the Python scaler is built from its state for each request;
    # with it, every instance of every step starts from a snapshot.
    assert_prepared_serves_alike(tmp_path, cache_dir, "standard-scaler", "py-standard-scaler", prepared, scaler)


# A hand-written `prepared-transform` export that does not compute what `new-transformer` does:
# it shifts every value of its first column, on every row alike, so every other comparison of
# the purity check passes.
DRIFTING = '''
_Prepared = ferry.prepared(Transform)


class PreparedTransform(_Prepared):
    def apply(self, data):
        out = super().apply(data)
        first = out.columns[0].data.value
        first[:] = [v + 1.0 for v in first]
        return out
'''


def test_a_prepared_export_that_differs_from_the_plain_one_is_refused_at_publish(ferry, tmp_path):
    app = tmp_path / "drifting-scaler"
    app.mkdir()
    source = (SCALER / "app.py").read_text().replace('name="py-standard-scaler"', 'name="py-drifting-scaler"')
    (app / "app.py").write_text(source.replace("PreparedTransform = ferry.prepared(Transform)\n", DRIFTING))
    drifting = build_python(app, "prepared-transform-plugin")
    refused = ferry.fails("plugin", "publish", drifting)
    assert "an instance prepared once (prepared-*) and in one built from its configuration" in refused, refused
    assert "column `amount`, row 0" in refused, refused
    # The same code built without `prepared-transform` computes one way only, and is published.
    plain = build_python(app, "transform-plugin")
    published = ferry.run("plugin", "publish", plain)
    assert "published py-drifting-scaler 0.1.0" in published.stdout, published.stdout
