"""Labels that arrive later, joined with the prediction log by request id or business key:
live metrics equal scikit-learn's on the same pairs, over a time window and the last N; labels
for unknown requests are counted and kept; malformed labels are refused label by label."""

import json
import time

import pandas as pd
import pytest
import requests
from sklearn.metrics import accuracy_score, log_loss, precision_score, recall_score, roc_auc_score

from conftest import CHURN, Server, train_churn
from test_prediction_log import segments


def test_live_metrics_equal_sklearns_and_unknown_labels_are_kept(tmp_path):
    ferry, _ = train_churn(tmp_path)
    data = pd.read_csv(CHURN / "customers.csv").head(60)
    server = Server(ferry, tmp_path, "--prediction-log-segment-seconds", "1")
    auth = {"Authorization": f"Bearer {server.admin}"}
    try:
        answered = []
        for _, row in data.iterrows():
            record = row.drop("churned").to_dict()
            record["paperless_billing"] = bool(record["paperless_billing"])
            if pd.isna(record["total_charges"]):
                record["total_charges"] = None
            r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [record]}, timeout=30)
            assert r.status_code == 200, r.text
            body = r.json()
            answered.append((body["request_id"], row["customer_id"], row["churned"], body["predictions"][0]))
        deadline = time.time() + 20
        while sum(s["rows"] for s in segments(ferry)) < 60 and time.time() < deadline:
            time.sleep(0.2)

        labels = [{"request_id": rid, "row": 0, "label": y} for rid, _, y, _ in answered[:45]]
        labels += [{"key": {"customer_id": cid}, "label": y} for _, cid, y, _ in answered[45:]]
        labels += [{"request_id": f"unknown{i}", "label": "yes"} for i in range(3)]
        url = f"{server.url}/v1/models/churn/versions/1/feedback"
        r = requests.post(url, json={"labels": labels}, headers=auth, timeout=30)
        assert r.status_code == 202 and r.json()["accepted"] == 63, r.text

        live = requests.get(f"{server.url}/v1/models/churn/versions/1/live-metrics", timeout=60).json()
        assert (live["predictions"], live["labelled"], live["unmatched"]) == (60, 60, 3), live
        y = [a[2] for a in answered]
        pred = [a[3]["prediction"] for a in answered]
        prob = [a[3]["probability"] for a in answered]
        positive = [v == "yes" for v in y]
        expected = {
            "accuracy": accuracy_score(y, pred),
            "precision": precision_score(y, pred, pos_label="yes", zero_division=0),
            "recall": recall_score(y, pred, pos_label="yes", zero_division=0),
            "roc_auc": roc_auc_score(positive, prob),
            "log_loss": log_loss(positive, prob),
        }
        for name, want in expected.items():
            assert live["metrics"][name] == pytest.approx(want, abs=1e-9), (name, live["metrics"][name], want)
        assert set(live["training"]) >= set(expected)

        last = requests.get(f"{server.url}/v1/models/churn/versions/1/live-metrics", params={"last": 10}, timeout=60).json()
        assert last["labelled"] == 10
        assert last["metrics"]["accuracy"] == pytest.approx(accuracy_score(y[-10:], pred[-10:]), abs=1e-12)

        scraped = requests.get(f"{server.url}/metrics", headers=auth, timeout=30).text
        line = next(l for l in scraped.splitlines() if l.startswith("ferry_live_metric{") and 'metric="accuracy"' in l and 'window="time"' in l)
        assert float(line.split()[-1]) == pytest.approx(expected["accuracy"])
        assert 'ferry_feedback_unmatched{model="churn",version="1"} 3' in scraped

        # Through a deployment: labels for whichever version answered.
        r = requests.post(f"{server.url}/v1/deployments", headers=auth,
                          json={"name": "live", "spec": {"targets": [{"model": "churn", "version": "1"}]}}, timeout=30)
        assert r.status_code == 201, r.text
        record = data.iloc[0].drop("churned").to_dict()
        record["paperless_billing"] = bool(record["paperless_billing"])
        r = requests.post(f"{server.url}/v1/deployments/live/predict", json={"rows": [record]}, timeout=30)
        rid = r.json()["request_id"]
        r = requests.post(f"{server.url}/v1/deployments/live/feedback", headers=auth,
                          json={"labels": [{"request_id": rid, "label": "no"}]}, timeout=30)
        assert r.status_code == 202, r.text
        deadline = time.time() + 20
        while time.time() < deadline:
            live = requests.get(f"{server.url}/v1/models/churn/versions/1/live-metrics", timeout=60).json()
            if live["labelled"] == 61:
                break
            time.sleep(0.3)
        assert live["labelled"] == 61, live
    finally:
        server.stop()


def test_malformed_labels_are_refused_label_by_label(tmp_path):
    ferry, _ = train_churn(tmp_path)
    server = Server(ferry, tmp_path)
    auth = {"Authorization": f"Bearer {server.admin}"}
    url = f"{server.url}/v1/models/churn/versions/1/feedback"
    try:
        r = requests.post(url, json={"labels": [{"request_id": "a", "label": "yes"}]}, timeout=30)
        assert r.status_code == 401, r.text
        bad = [
            {"request_id": "a", "key": {"customer_id": "C1"}, "label": "yes"},
            {"label": "yes"},
            {"request_id": "a"},
            {"key": {"customer_id": "C1", "contract": "x"}, "label": "no"},
            {"request_id": "a", "label": ["yes"]},
            {"request_id": "a", "row": -1, "label": "no"},
            {"request_id": "a", "label": "no", "extra": 1},
            "yes",
        ]
        r = requests.post(url, json={"labels": bad}, headers=auth, timeout=30)
        assert r.status_code == 422, r.text
        problems = r.json()["error"]["labels"]
        assert [p["label"] for p in problems] == list(range(len(bad))), problems
        assert "not both" in problems[0]["problem"] and "extra" in problems[6]["problem"]
        assert requests.post(url, json={"labels": []}, headers=auth, timeout=30).status_code == 422
        assert requests.post(url, data=b"{nope", headers=dict(auth, **{"Content-Type": "application/json"}), timeout=30).status_code == 400
        r = requests.post(f"{server.url}/v1/models/churn/versions/9/feedback", json={"labels": [{"request_id": "a", "label": "no"}]}, headers=auth, timeout=30)
        assert r.status_code == 404, r.text
        assert requests.get(f"{server.url}/v1/models/churn/versions/1/live-metrics", params={"last": 0}, timeout=30).status_code == 422
        # Nothing malformed was stored: no label, so no live metric.
        live = requests.get(f"{server.url}/v1/models/churn/versions/1/live-metrics", timeout=30).json()
        assert (live["labelled"], live["unmatched"], live["metrics"]) == (0, 0, {}), live
    finally:
        server.stop()


def test_live_metrics_show_in_metrics_as_labels_join_and_drop_when_the_window_empties(tmp_path):
    ferry, _ = train_churn(tmp_path)
    data = pd.read_csv(CHURN / "customers.csv").head(20)
    server = Server(ferry, tmp_path, "--prediction-log-segment-seconds", "1",
                    "--live-metrics-window-seconds", "6", "--live-metrics-every-seconds", "1")
    auth = {"Authorization": f"Bearer {server.admin}"}

    def scraped():
        text = requests.get(f"{server.url}/metrics", headers=auth, timeout=30).text
        accuracy = [l for l in text.splitlines() if l.startswith("ferry_live_metric{") and 'metric="accuracy"' in l]
        labelled = [l for l in text.splitlines() if l.startswith("ferry_live_labelled{") and 'window="time"' in l]
        return accuracy, labelled

    try:
        answered = []
        for _, row in data.iterrows():
            record = row.drop("churned").to_dict()
            record["paperless_billing"] = bool(record["paperless_billing"])
            if pd.isna(record["total_charges"]):
                record["total_charges"] = None
            r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [record]}, timeout=30)
            assert r.status_code == 200, r.text
            answered.append((r.json()["request_id"], row["churned"], r.json()["predictions"][0]["prediction"]))
        labels = [{"request_id": rid, "row": 0, "label": y} for rid, y, _ in answered]
        r = requests.post(f"{server.url}/v1/models/churn/versions/1/feedback", json={"labels": labels}, headers=auth, timeout=30)
        assert r.status_code == 202, r.text
        # Without anyone asking for live metrics, /metrics shows them once the labels join.
        deadline = time.time() + 15
        while time.time() < deadline and not scraped()[0]:
            time.sleep(0.2)
        accuracy, labelled = scraped()
        assert accuracy, "ferry_live_metric never appeared"
        want = accuracy_score([a[1] for a in answered], [a[2] for a in answered])
        assert float(accuracy[0].split()[-1]) == pytest.approx(want)
        assert labelled and float(labelled[0].split()[-1]) == 20
        # Once the window holds nothing, the metric is dropped and the window marked empty.
        deadline = time.time() + 20
        while time.time() < deadline and scraped()[0]:
            time.sleep(0.3)
        accuracy, labelled = scraped()
        assert not accuracy, accuracy
        assert labelled and float(labelled[0].split()[-1]) == 0, labelled
    finally:
        server.stop()
