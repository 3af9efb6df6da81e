"""`ferry drift` against Evidently's DataDriftPreset on the churn example: the reference is the
training data a registered version pins, the current data a resampled and shifted copy. Below
and above 1,000 reference rows Evidently picks different tests (K-S, chi-square and Z; then
Wasserstein and Jensen-Shannon); every column's score must equal Evidently's to 1e-6, with
the same drift decisions and the same dataset verdict."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import train_churn

warnings.filterwarnings("ignore")

from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

NUMERICAL = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["contract", "paperless_billing"]
METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}


def shifted(data, rows, seed, shift):
    """`rows` rows drawn from `data`; with `shift`, charges and tenure move and the contracts
    lean to month-to-month."""
    rng = np.random.default_rng(seed)
    cur = data.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    if shift:
        cur["monthly_charges"] = (cur["monthly_charges"] * 1.15 + 4).round(2)
        cur["tenure_months"] = (cur["tenure_months"] + rng.integers(-6, 2, rows)).clip(lower=1, upper=72)
        flip = rng.random(rows) < 0.3
        cur.loc[flip, "contract"] = "month-to-month"
        cur.loc[rng.random(rows) < 0.2, "paperless_billing"] = True
    return cur


def evidently_scores(reference, current):
    cols = NUMERICAL + CATEGORICAL
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current[cols], data_definition=definition),
        Dataset.from_pandas(reference[cols], data_definition=definition),
    )
    scores, count = {}, None
    for m in snapshot.dict()["metrics"]:
        config = m["config"]
        if config["type"].endswith("ValueDrift"):
            scores[config["column"]] = (METHODS[config["method"]], float(m["value"]), config["threshold"])
        elif config["type"].endswith("DriftedColumnsCount"):
            count = m["value"]
    return scores, count


def drifted(method, score, threshold):
    if method == "ks":
        return score <= threshold
    if method in ("chisquare", "z"):
        return score < threshold
    return score >= threshold


def ferry_report(ferry, tmp, current, name):
    path = tmp / f"{name}.csv"
    current.to_csv(path, index=False)
    out = ferry.run("drift", "--model", "churn@1", path, "--format", "json")
    return json.loads(out.stdout)


@pytest.mark.parametrize("reference_rows", [900, None], ids=["900-reference-rows", "2000-reference-rows"])
def test_scores_equal_evidentlys(tmp_path, reference_rows):
    ferry, reference = train_churn(tmp_path, reference_rows)
    verdicts = set()
    for rows, shift in [(600, True), (2500, True), (700, False), (1800, False)]:
        current = shifted(reference, rows, seed=rows, shift=shift)
        report = ferry_report(ferry, tmp_path, current, f"current-{rows}")
        expected, count = evidently_scores(reference, current)
        got = {c["column"]: c for c in report["columns"]}
        assert sorted(got) == sorted(expected), (sorted(got), sorted(expected))
        assert [s["column"] for s in report["skipped"]] == ["customer_id"]
        for column, (method, score, threshold) in expected.items():
            c = got[column]
            where = f"{column} ({rows} current rows, {reference_rows or 2000} reference rows)"
            assert c["method"] == method, f"{where}: {c['method']} against Evidently's {method}"
            assert c["threshold"] == pytest.approx(threshold), where
            assert abs(c["score"] - score) <= 1e-6, f"{where}: {c['score']!r} against Evidently's {score!r}"
            assert c["drifted"] == drifted(method, score, threshold), where
        assert report["drifted_columns"] == count["count"]
        assert report["share"] == pytest.approx(count["share"])
        assert report["dataset_drift"] == (count["share"] >= 0.5)
        verdicts.add(report["dataset_drift"])
    assert verdicts == {True, False}, "the shifted copies drift and the resampled ones do not"


def test_the_features_drift_as_evidently_sees_the_pinned_transforms_output(tmp_path):
    ferry, reference = train_churn(tmp_path)
    current = shifted(reference, 1500, seed=7, shift=True)
    # `ferry transform` runs the validators, which refuse repeated ids; `ferry drift` does not.
    current["customer_id"] = [f"C{90000 + i}" for i in range(len(current))]
    current.to_csv(tmp_path / "current.csv", index=False)
    report = json.loads(
        ferry.run("drift", "--model", "churn@1", tmp_path / "current.csv", "--features", "--format", "json").stdout
    )
    features = [c for c in report["columns"] if c["role"] == "feature"]
    assert features, report
    ferry.run("transform", "--model", "churn@1", tmp_path / "churn" / "customers.csv", "--out", tmp_path / "ref-f.csv")
    ferry.run("transform", "--model", "churn@1", tmp_path / "current.csv", "--out", tmp_path / "cur-f.csv")
    ref_f = pd.read_csv(tmp_path / "ref-f.csv")
    cur_f = pd.read_csv(tmp_path / "cur-f.csv")
    names = [c["column"] for c in features]
    numerical = [n for n in names if pd.api.types.is_numeric_dtype(ref_f[n]) and ref_f[n].dtype != bool]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=[n for n in names if n not in numerical])
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur_f[names], data_definition=definition),
        Dataset.from_pandas(ref_f[names], data_definition=definition),
    )
    expected = {
        m["config"]["column"]: float(m["value"])
        for m in snapshot.dict()["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    for c in features:
        assert abs(c["score"] - expected[c["column"]]) <= 1e-6, (c["column"], c["score"], expected[c["column"]])


def test_reports_as_a_table_and_a_self_contained_page(tmp_path):
    ferry, reference = train_churn(tmp_path)
    shifted(reference, 800, seed=3, shift=True).to_csv(tmp_path / "current.csv", index=False)
    table = ferry.run("drift", "--model", "churn@1", tmp_path / "current.csv").stdout
    assert "monthly_charges" in table and "wasserstein" in table and "DATASET DRIFT" in table, table
    out = ferry.run(
        "drift", "--model", "churn@1", tmp_path / "current.csv", "--format", "html", "--out", tmp_path / "drift.html"
    )
    assert "report in" in out.stderr
    page = (tmp_path / "drift.html").read_text()
    assert page.count("<svg") == 6
    for outside in ("http://", "https://", "src=", "<link", "<script"):
        assert outside not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), outside
    code = ferry.run("drift", "--model", "churn@1", tmp_path / "current.csv", "--fail-on-drift", check=False)
    assert code.returncode == 11, code
    # Parquet is read as Arrow, without typed rows in between: the same report.
    pd.read_csv(tmp_path / "current.csv").to_parquet(tmp_path / "current.parquet")
    as_csv = json.loads(ferry.run("drift", "--model", "churn@1", tmp_path / "current.csv", "--format", "json").stdout)
    as_parquet = json.loads(ferry.run("drift", "--model", "churn@1", tmp_path / "current.parquet", "--format", "json").stdout)
    assert as_parquet["columns"] == as_csv["columns"] and as_parquet["skipped"] == as_csv["skipped"]


def test_bad_input_is_named(tmp_path):
    ferry, reference = train_churn(tmp_path)
    current = shifted(reference, 300, seed=5, shift=False)
    current.drop(columns=["contract"]).to_csv(tmp_path / "missing.csv", index=False)
    out = ferry.run("drift", "--model", "churn@1", tmp_path / "missing.csv", check=False)
    assert out.returncode != 0 and "no column `contract`" in out.stderr, out.stderr
    current.assign(monthly_charges="high").to_csv(tmp_path / "typed.csv", index=False)
    out = ferry.run("drift", "--model", "churn@1", tmp_path / "typed.csv", check=False)
    assert out.returncode != 0 and "`monthly_charges`" in out.stderr and "numerical" in out.stderr, out.stderr
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    out = ferry.run("drift", "--model", "churn@1", tmp_path / "corrupt.parquet", check=False)
    assert out.returncode != 0 and "corrupt.parquet" in out.stderr, out.stderr
    out = ferry.run("drift", "--model", "churn@1", tmp_path / "missing.csv", "--method", "magic", check=False)
    assert out.returncode != 0 and "unknown drift method" in out.stderr, out.stderr
    out = ferry.run("drift", "--model", "churn@9", tmp_path / "missing.csv", check=False)
    assert out.returncode != 0 and "9" in out.stderr, out.stderr


def test_the_endpoint_answers_as_the_cli_does(tmp_path):
    import requests

    from conftest import Server

    ferry, reference = train_churn(tmp_path)
    current = shifted(reference, 800, seed=11, shift=True)
    expected = ferry_report(ferry, tmp_path, current, "current")
    server = Server(ferry, tmp_path)
    try:
        url = f"{server.url}/v1/models/churn/versions/1/drift"
        rows = json.loads(current.to_json(orient="records"))
        r = requests.post(url, json={"rows": rows}, timeout=60)
        assert r.status_code == 200, r.text
        got = r.json()
        assert [(c["column"], c["method"], c["score"], c["drifted"]) for c in got["columns"]] == [
            (c["column"], c["method"], c["score"], c["drifted"]) for c in expected["columns"]
        ]
        assert got["dataset_drift"] == expected["dataset_drift"]
        r = requests.post(url, json={"rows": [{k: v for k, v in row.items() if k != "contract"} for row in rows]}, timeout=60)
        assert r.status_code == 422 and "contract" in r.text, r.text
        r = requests.post(url, params={"method": "magic"}, json={"rows": rows}, timeout=60)
        assert r.status_code == 422 and "unknown drift method" in r.text, r.text
        r = requests.post(f"{server.url}/v1/models/churn/versions/7/drift", json={"rows": rows}, timeout=60)
        assert r.status_code == 404, r.text
        r = requests.get(f"{server.url}/v1/health", timeout=10)
        assert r.status_code == 200
    finally:
        server.stop()
