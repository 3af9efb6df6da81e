"""The prediction log: served requests land as Parquet segments in the blob store, cut by size
and by age, sampled, and read back by `ferry predictions export`; a corrupt segment is named."""

import json
import time
from pathlib import Path

import pandas as pd
import requests

from conftest import Server, train_churn
from test_metrics import ROW


def predict(server, tenure):
    r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [dict(ROW, tenure_months=tenure)]}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["request_id"], body["predictions"][0]


def segments(ferry):
    return json.loads(ferry.run("predictions", "segments", "churn", "--json").stdout)


def test_requests_are_logged_cut_by_size_and_read_back(tmp_path):
    ferry, _ = train_churn(tmp_path)
    server = Server(ferry, tmp_path, "--prediction-log-segment-rows", "5", "--prediction-log-segment-seconds", "3600")
    answers = {}
    try:
        for tenure in range(1, 13):
            rid, p = predict(server, tenure)
            answers[rid] = (tenure, p)
        r = requests.post(
            f"{server.url}/v1/deployments",
            headers={"Authorization": f"Bearer {server.admin}"},
            json={"name": "live", "spec": {"targets": [{"model": "churn", "version": "1"}]}},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        r = requests.post(f"{server.url}/v1/deployments/live/predict", json={"rows": [dict(ROW, tenure_months=40, customer_id=f"C0000{i}") for i in (2, 3, 4)]}, timeout=30)
        assert r.status_code == 200, r.text
        deployed = r.json()["request_id"]
    finally:
        server.stop()  # SIGTERM: the open segment is written before the process ends
    found = segments(ferry)
    assert sum(s["rows"] for s in found) == 15, found
    assert len(found) >= 3, "cut every 5 rows, plus what was open at shutdown"
    out = tmp_path / "log.parquet"
    printed = ferry.run("predictions", "export", "churn@1", "--out", out).stdout
    assert "15 logged predictions" in printed, printed
    log = pd.read_parquet(out)
    assert list(log.columns[:4]) == ["request_id", "at", "deployment", "row"]
    assert {"tenure_months", "contract", "output.prediction", "output.probability"} <= set(log.columns)
    single = log[log["deployment"] == ""]
    assert len(single) == 12
    for _, row in single.iterrows():
        tenure, p = answers[row["request_id"]]
        assert row["tenure_months"] == tenure and row["row"] == 0
        assert row["output.probability"] == p["probability"] and row["output.prediction"] == p["prediction"]
    batch = log[log["request_id"] == deployed]
    assert list(batch["row"]) == [0, 1, 2] and set(batch["deployment"]) == {"live"}
    assert log["at"].is_monotonic_increasing

    # A window by time, and CSV.
    middle = log["at"].iloc[6].isoformat()
    ferry.run("predictions", "export", "churn", "--since", middle, "--out", tmp_path / "late.csv")
    late = pd.read_csv(tmp_path / "late.csv")
    assert 0 < len(late) <= 9, len(late)


def test_segments_are_cut_by_age_and_sampling_can_turn_logging_off(tmp_path):
    ferry, _ = train_churn(tmp_path)
    server = Server(ferry, tmp_path, "--prediction-log-segment-seconds", "1")
    try:
        predict(server, 5)
        predict(server, 6)
        deadline = time.time() + 20
        while not segments(ferry) and time.time() < deadline:
            time.sleep(0.2)
        assert [s["rows"] for s in segments(ferry)] == [2], "written within a second, while serving"
    finally:
        server.stop()
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    ferry2, _ = train_churn(quiet)
    server = Server(ferry2, quiet, "--prediction-log-sample", "0")
    try:
        for t in range(1, 6):
            predict(server, t)
    finally:
        server.stop()
    assert segments(ferry2) == []
    bad = ferry2.run("serve", "--prediction-log-sample", "1.5", check=False)
    assert bad.returncode != 0 and "--prediction-log-sample" in bad.stderr


def test_a_corrupt_segment_is_named_and_can_be_skipped(tmp_path):
    ferry, _ = train_churn(tmp_path)
    server = Server(ferry, tmp_path, "--prediction-log-segment-rows", "2")
    try:
        for t in range(1, 7):
            predict(server, t)
    finally:
        server.stop()
    found = segments(ferry)
    assert len(found) == 3
    digest = found[1]["digest"]
    hexpart = digest.split(":")[1]
    blob = next(p for p in Path(ferry.env["FERRY_DATA_DIR"]).rglob("*") if p.is_file() and p.name.startswith(hexpart[:16]) or p.name == hexpart)
    blob.write_bytes(b"PAR1 not a parquet file PAR1")
    out = ferry.run("predictions", "export", "churn", "--out", tmp_path / "x.parquet", check=False)
    assert out.returncode != 0 and digest in out.stderr and "--skip-corrupt" in out.stderr, out.stderr
    out = ferry.run("predictions", "export", "churn", "--out", tmp_path / "x.parquet", "--skip-corrupt")
    assert digest in out.stderr and "4 logged predictions" in out.stdout, (out.stdout, out.stderr)
    assert len(pd.read_parquet(tmp_path / "x.parquet")) == 4


def test_past_the_rows_that_may_wait_records_are_dropped_and_counted(tmp_path):
    ferry, _ = train_churn(tmp_path)
    server = Server(ferry, tmp_path, "--prediction-log-queue", "5")
    try:
        rows = [dict(ROW, customer_id=f"C0{i:04d}") for i in range(10)]
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": rows}, timeout=30)
        assert r.status_code == 200, r.text
        predict(server, 7)
        scraped = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.admin}"}, timeout=30).text
        assert "ferry_prediction_log_dropped_total 10" in scraped, scraped
    finally:
        server.stop()
    assert sum(s["rows"] for s in segments(ferry)) == 1
