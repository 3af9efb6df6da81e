"""Plugins written in JavaScript (sdk/js, ComponentizeJS) against the Rust built-ins they
mirror: the same report, violation for violation, and typed errors for a careless plugin. Built
for the `prepared-validator-plugin` world, a JavaScript validator is prepared once and served
from its snapshot with the same answers."""

import csv
import json
import math

import pytest

from conftest import CHURN, ROOT, assert_prepared_serves_alike, build_js

EXPECTATIONS = ROOT / "examples" / "js-expectations" / "expectations.js"
HOSTILE = ROOT / "tests" / "languages" / "js" / "hostile" / "hostile.js"


@pytest.fixture(scope="module")
def expectations():
    return build_js(EXPECTATIONS, "validator-plugin")


@pytest.fixture(scope="module")
def hostile():
    return build_js(HOSTILE, "validator-plugin")


@pytest.fixture
def dirty(tmp_path):
    """The churn data with every kind of violation the churn expectations check for."""
    rows = list(csv.DictReader(open(CHURN / "customers.csv")))
    rows[3]["tenure_months"] = "100"
    rows[4]["tenure_months"] = "0"
    rows[5]["monthly_charges"] = "250.5"
    rows[6]["contract"] = "weekly"
    rows[7]["contract"] = 'say "hi"\t'
    rows[8]["customer_id"] = "C00001"
    rows[9]["customer_id"] = "X123"
    rows[10]["churned"] = "maybe"
    for row in rows[:150]:
        row["total_charges"] = ""
    path = tmp_path / "dirty.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def report(ferry, plugin, config, data):
    out = ferry.run("validate", "--plugin", plugin, "--config", config, "--json", data, check=False)
    assert out.returncode in (0, 1), out.stderr
    body = json.loads(out.stdout)
    for identity in ("plugin", "version", "digest"):
        body.pop(identity, None)
    return out.returncode, body


def test_the_javascript_validator_reports_what_the_rust_one_does(ferry, expectations, dirty):
    config = CHURN / "expectations.toml"
    rust_code, rust = report(ferry, "expectations", config, dirty)
    js_code, js = report(ferry, expectations, config, dirty)
    assert rust_code == js_code == 1
    assert js == rust
    rules = {v["rule"] for v in rust["violations"]}
    assert {"min", "max", "allowed", "unique", "regex", "max_null_fraction"} <= rules, rules
    clean_code, clean = report(ferry, expectations, config, CHURN / "customers.csv")
    assert clean_code == 0, clean


def test_bad_configuration_is_named(ferry, expectations, tmp_path):
    data = CHURN / "customers.csv"
    for text, expected in [
        ('{"expectations": [{"column": "tenure_months", "min": 5, "max": 1}]}',
         "expectations[0] (`tenure_months`): `min` 5 is above `max` 1"),
        ('{"expectations": [{"column": "customer_id", "regex": "("}]}',
         "expectations[0] (`customer_id`): invalid `regex`"),
        ('{"expectation": []}', "unknown key `expectation`"),
        ('{"expectations": [{"column": "x", "maxx": 1}]}', "expectations[0] (`x`): unknown key `maxx`"),
        ("[1, 2]", "the configuration must be a JSON object"),
    ]:
        config = tmp_path / "c.json"
        config.write_text(text)
        err = ferry.fails("validate", "--plugin", expectations, "--config", config, data)
        assert expected in err, (text, err)


@pytest.mark.parametrize("do, expected", [
    ("throw-number", "threw a non-error value: 42"),
    ("throw-undefined", "threw a non-error value: undefined"),
    ("throw-object", 'threw a non-error value: {"reason":"not an Error"}'),
    ("type-error", "TypeError: "),
    ("bad-return", "validate must return a Report"),
    ("loop", "deadline"),
    ("hog", "memory"),
])
def test_a_careless_javascript_plugin_is_stopped_with_a_typed_error(ferry, hostile, tmp_path, do, expected):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"do": do}))
    err = ferry.fails("validate", "--plugin", hostile, "--config", config, "--timeout-ms", "3000",
                      CHURN / "customers.csv")
    assert expected in err, err


def test_a_javascript_transform_computes_what_the_rust_one_does(ferry, tmp_path):
    """`Math.log` (SpiderMonkey's fdlibm) and Rust's `f64::ln` (wasi-libc's musl) are each
    within one unit in the last place of the true logarithm, so the two may differ by one ulp;
    everything else (the columns, the nulls, the rows) must be identical."""
    log = build_js(ROOT / "tests" / "languages" / "js" / "log" / "log.js", "transform-plugin")
    config = tmp_path / "log.json"
    config.write_text(json.dumps({"columns": ["monthly_charges", "total_charges"], "offset": 1}))
    data = CHURN / "customers.csv"
    outputs = {}
    for name, plugin in (("rust", "log-transform"), ("js", log)):
        state = tmp_path / f"{name}.state"
        out = tmp_path / f"{name}.csv"
        ferry.run("transform", "fit", "--plugin", plugin, "--config", config, "--state", state, data)
        ferry.run("transform", "apply", "--plugin", plugin, "--config", config, "--state", state, "--out", out, data)
        outputs[name] = list(csv.DictReader(open(out)))
    assert len(outputs["js"]) == len(outputs["rust"]) == 2000
    for rust_row, js_row in zip(outputs["rust"], outputs["js"]):
        assert rust_row.keys() == js_row.keys()
        for key, rust_value in rust_row.items():
            js_value = js_row[key]
            if key in ("monthly_charges", "total_charges") and rust_value != "":
                a, b = float(rust_value), float(js_value)
                assert abs(a - b) <= math.ulp(max(abs(a), abs(b))), (key, rust_value, js_value)
            else:
                assert rust_value == js_value, (key, rust_value, js_value)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"columns": ["monthly_charges"], "offset": -1000}))
    state = tmp_path / "bad.state"
    ferry.run("transform", "fit", "--plugin", log, "--config", bad, "--state", state, data)
    err = ferry.fails("transform", "apply", "--plugin", log, "--config", bad, "--state", state,
                      "--out", tmp_path / "o.csv", data)
    assert "column `monthly_charges`" in err and "row 0" in err and "+ offset -1000 is not positive" in err, err
    # A column the transform cannot take is refused in the Rust SDK's words (ferry.numericColumns).
    for columns, said in ((["contract"], "`columns` names `contract`, a text column; this plugin needs numbers"),
                          (["nope"], "`columns` names `nope`, which the data does not have (it has [customer_id, ")):
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps({"columns": columns}))
        for plugin in ("log-transform", log):
            err = ferry.fails("transform", "fit", "--plugin", plugin, "--config", wrong, "--state", tmp_path / "w", data)
            assert said in err, (plugin, err)


def test_the_javascript_plugins_conform(ferry, expectations):
    for plugin in (expectations, build_js(ROOT / "tests" / "languages" / "js" / "log" / "log.js", "transform-plugin")):
        out = ferry.run("plugin", "test", plugin)
        assert "0 failed" in out.stdout, out.stdout


def test_a_prepared_javascript_validator_is_served_from_its_snapshot_alike(expectations, tmp_path, cache_dir):
    prepared = build_js(EXPECTATIONS, "prepared-validator-plugin")
    assert_prepared_serves_alike(tmp_path, cache_dir, "expectations", "js-expectations", prepared, expectations)
