"""The prediction log: served requests land as Parquet segments in the blob store, cut by size
and by age, sampled, and read back by `ferry predictions export`; a corrupt segment is named;
a store that stalls never holds up a prediction."""

import json
import subprocess
import time
import uuid
from pathlib import Path

import pandas as pd
import requests

from conftest import Server, psql, train_churn
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
    assert list(log.columns[:7]) == ["request_id", "at", "model", "version", "deployment", "revision", "row"]
    assert set(log["model"]) == {"churn"} and set(log["version"]) == {1}
    assert {"tenure_months", "contract", "output.prediction", "output.probability"} <= set(log.columns)
    single = log[log["deployment"] == ""]
    assert len(single) == 12
    for _, row in single.iterrows():
        tenure, p = answers[row["request_id"]]
        assert row["tenure_months"] == tenure and row["row"] == 0
        assert row["output.probability"] == p["probability"] and row["output.prediction"] == p["prediction"]
    assert single["revision"].isna().all(), "the model endpoint has no deployment revision"
    batch = log[log["request_id"] == deployed]
    assert list(batch["row"]) == [0, 1, 2] and set(batch["deployment"]) == {"live"}
    assert set(batch["revision"]) == {1}
    assert log["at"].is_monotonic_increasing

    # A window by time, and CSV.
    middle = log["at"].iloc[6].isoformat()
    ferry.run("predictions", "export", "churn", "--since", middle, "--out", tmp_path / "late.csv")
    late = pd.read_csv(tmp_path / "late.csv")
    assert 0 < len(late) <= 9, len(late)


def test_segments_merge_whatever_their_nullability_and_every_row_names_its_version(tmp_path):
    ferry, _ = train_churn(tmp_path)
    work = tmp_path / "churn"
    pipeline = work / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace("l2 = 1.0", "l2 = 10.0"))
    ferry.run("train", pipeline)
    server = Server(ferry, tmp_path, "--prediction-log-segment-rows", "1")
    try:
        for version, row in [(1, dict(ROW, total_charges=None)), (1, ROW), (2, ROW), (2, dict(ROW, total_charges=None))]:
            r = requests.post(f"{server.url}/v1/models/churn/{version}/predict", json={"rows": [row]}, timeout=30)
            assert r.status_code == 200, r.text
    finally:
        server.stop()
    # One version: a segment with a null and one without merge.
    out = tmp_path / "one.parquet"
    printed = ferry.run("predictions", "export", "churn@1", "--out", out).stdout
    assert "2 logged predictions" in printed, printed
    one = pd.read_parquet(out)
    assert one["total_charges"].isna().sum() == 1 and set(one["version"]) == {1}
    # Every version: each row says which version answered it.
    out = tmp_path / "all.csv"
    ferry.run("predictions", "export", "churn", "--out", out)
    every = pd.read_csv(out)
    assert sorted(every["version"]) == [1, 1, 2, 2]
    assert set(every["model"]) == {"churn"}


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


def test_a_stalled_store_never_holds_up_a_prediction(tmp_path):
    """PostgreSQL's segment table is locked, so the log's writer blocks storing a segment as it
    would on a stuck disk: every request is still answered while it stays blocked, rows past the
    queue are dropped and counted, and the rest are written once the lock goes."""
    name = f"ferry_test_predlog_{uuid.uuid4().hex[:12]}"
    psql(f"CREATE DATABASE {name}")
    held = lambda granted: int(psql(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        f"WHERE c.relname = 'prediction_segments' AND l.granted = {granted}", name))
    try:
        ferry, _ = train_churn(tmp_path, database_url=f"postgres://postgres@127.0.0.1:5432/{name}")
        server = Server(ferry, tmp_path, "--prediction-log-segment-seconds", "1", "--prediction-log-queue", "40")
        lock = subprocess.Popen(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", name, "-q"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            lock.stdin.write("BEGIN;\nLOCK TABLE prediction_segments IN ACCESS EXCLUSIVE MODE;\n")
            lock.stdin.flush()
            deadline = time.time() + 20
            while time.time() < deadline and held("true") == 0:
                time.sleep(0.1)
            assert held("true") >= 1, "the lock was not taken"
            # One row opens a segment; a second later the writer stores it and blocks.
            predict(server, 1)
            while time.time() < deadline + 10 and held("false") == 0:
                time.sleep(0.1)
            assert held("false") >= 1, "the writer never waited on the locked table"
            for i in range(10):
                rows = [dict(ROW, customer_id=f"C1{i:02d}{j:02d}") for j in range(10)]
                r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": rows}, timeout=30)
                assert r.status_code == 200, r.text
            # All answered with the writer still blocked; 40 rows may wait, the other 60 are dropped.
            assert held("false") >= 1
            scraped = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.admin}"}, timeout=30).text
            assert "ferry_prediction_log_dropped_total 60" in scraped, scraped
        finally:
            lock.stdin.write("COMMIT;\n")
            lock.stdin.close()
            lock.wait(timeout=30)
        server.stop()
        assert sum(s["rows"] for s in segments(ferry)) == 41
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
