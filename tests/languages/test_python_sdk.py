"""The Python SDK's plain-Python parts, without a component: what authors can unit-test."""

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "sdk" / "python"))

import ferry_plugin as ferry  # noqa: E402


@pytest.mark.parametrize("value, rust", [
    (100.0, "100"), (250.5, "250.5"), (1e-7, "0.0000001"), (1e20, "100000000000000000000"),
    (-0.0, "-0"), (float("nan"), "NaN"), (float("-inf"), "-inf"), (0.1, "0.1"), (72, "72"),
])
def test_numbers_read_as_rust_writes_them(value, rust):
    assert ferry.text.number(value) == rust


def test_strings_are_quoted_as_rust_debug_quotes_them():
    assert ferry.text.quote('say "hi"\t\\') == '"say \\"hi\\"\\t\\\\"'
    assert ferry.text.quote("\x01é") == '"\\u{1}é"'


def test_configuration_errors_name_the_key():
    with pytest.raises(ferry.ConfigError, match="unknown key `colums` \\(expected one of: columns\\)"):
        ferry.config.parse('{"colums": []}', ["columns"])
    with pytest.raises(ferry.ConfigError, match="not valid JSON"):
        ferry.config.parse("{", None)
    with pytest.raises(ferry.ConfigError, match="must be a JSON object, not list"):
        ferry.config.parse("[]", None)
    with pytest.raises(ferry.ConfigError, match='`offset` must be a number, not "1"'):
        ferry.config.get({"offset": "1"}, "offset", float)
    with pytest.raises(ferry.ConfigError, match="`flag` must be a boolean, not 1"):
        ferry.config.get({"flag": 1}, "flag", bool)
    assert ferry.config.get({"offset": 2}, "offset", float) == 2
    assert ferry.config.get({}, "offset", float, 1.0) == 1.0


def test_columns_are_chosen_and_refused_by_name():
    schema = [ferry.Field("a", ferry.DataType.FLOAT64), ferry.Field("s", ferry.DataType.TEXT),
              ferry.Field("n", ferry.DataType.INT64)]
    assert ferry.numeric_columns({}, schema) == ["a", "n"]
    with pytest.raises(ferry.ConfigError, match="`columns` names `z`, which the data does not have \\(it has \\[a, s, n\\]\\)"):
        ferry.numeric_columns({"columns": ["z"]}, schema)
    with pytest.raises(ferry.ConfigError, match="`columns` names `a` twice"):
        ferry.numeric_columns({"columns": ["a", "a"]}, schema)


def test_batches_name_what_is_wrong():
    batch = ferry.Batch.of([ferry.Column.float64("x", [1, 2]),
                            ferry.Column.from_optional("y", ferry.DataType.TEXT, ["a", None])])
    assert list(batch["y"]) == ["a", None] and batch["y"].null_count() == 1
    assert batch.schema[1] == ferry.Field("y", ferry.DataType.TEXT, True)
    with pytest.raises(ferry.InputError) as missing:
        batch["z"]
    assert str(missing.value) == "column `z`: no such column (the batch has [x, y])"
    with pytest.raises(ferry.InputError, match="expected a numeric column, found text"):
        batch["y"].numeric()
    with pytest.raises(ValueError, match="column `x` has 2 values in a batch of 3 rows"):
        ferry.Batch(3, [batch["x"]])


def test_state_round_trips_floats_to_the_bit():
    values = [0.1, 1 / 3, 2.0 ** -1074, 1.7976931348623157e308]
    assert ferry.state.decode(ferry.state.encode({"v": values}), "p")["v"] == values
    with pytest.raises(ferry.PluginError, match="could not encode state"):
        ferry.state.encode({"v": float("nan")})
    with pytest.raises(ferry.ConfigError, match="not a valid p state"):
        ferry.state.decode(b"\xff", "p")


def test_reports_count_everything_and_list_a_few():
    report = ferry.Report(10, max_listed=2)
    for row in range(5):
        report.add("min", "too small", column="a", row=row)
    report.add("max", "too big", column="a", row=9)
    assert len(report.violations) == 2 and report.truncated
    assert report.counts == {("min", "a"): 5, ("max", "a"): 1}


def test_a_target_keeps_the_live_version_and_its_history_as_the_rust_sdk_does(tmp_path):
    path = str(tmp_path / "state.json")
    state = ferry.TargetState.load(path)
    assert state.summary() == "not deployed"
    for version in ["1", "2", "3", "2"]:
        state.promote(version, keep=2)
    assert (state.active, state.history) == ("2", ["3", "1"])
    state.save(path)
    again = ferry.TargetState.load(path)
    assert again == state
    assert again.step_back("churn") == ("2", "3")
    assert again.status("churn", "ok") == ferry.DeploymentStatus("churn", "3", ["1"], "ok")
    again.step_back("churn")
    with pytest.raises(ferry.InputError, match="no earlier version"):
        again.step_back("churn")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ferry.PluginError, match="damaged"):
        ferry.TargetState.load(str(tmp_path / "broken.json"))


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "x" * 129, "naïve"])
def test_path_segments_outside_the_safe_set_are_refused(bad):
    with pytest.raises(ferry.ConfigError, match="deployment name"):
        ferry.check_segment("deployment name", bad)


def test_alerts_serialize_as_the_rust_sinks_send_them():
    alert = ferry.Alert(ferry.Severity.CRITICAL, "Drift", "x drifted", {"z": "1", "a": "2"}, "monitor/churn", 7)
    assert list(alert.to_json()) == ["severity", "title", "text", "labels", "source", "time_ms"]
    assert alert.to_json()["severity"] == "critical"
    assert list(alert.to_json()["labels"]) == ["a", "z"]


def test_prepared_takes_only_a_class_the_sdk_made():
    with pytest.raises(TypeError, match=r"prepared\(\) takes the Validator, Transform or Model class"):
        ferry.prepared(dict)
