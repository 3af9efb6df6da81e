"""`GET /metrics` scraped by the real Prometheus parser (`prometheus_client` from PyPI) after
answered, malformed and rejected predictions; and JSON logs that carry the request id."""

import json

import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, train_churn

ROW = {
    "customer_id": "C00001",
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract": "month-to-month",
    "support_calls": 2,
    "paperless_billing": True,
}


def scrape(server):
    r = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.admin}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def samples(families, family, sample, **labels):
    return [
        s.value
        for s in families[family].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_metrics_parse_and_count_every_outcome(tmp_path):
    ferry, _ = train_churn(tmp_path)
    server = Server(ferry, tmp_path, "--log-format", "json", "-v")
    try:
        predict = f"{server.url}/v1/models/churn/1/predict"
        ids = []
        for tenure in (3, 24, 60):
            r = requests.post(predict, json={"rows": [dict(ROW, tenure_months=tenure)]}, timeout=30)
            assert r.status_code == 200, r.text
            ids.append(r.json()["request_id"])
        r = requests.post(predict, json={"rows": [dict(ROW, tenure_months="twelve")]}, timeout=30)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", r.text
        r = requests.post(predict, json={"rows": [dict(ROW, tenure_months=0)]}, timeout=30)
        assert r.status_code == 422 and r.json()["error"]["code"] == "rejected", r.text
        r = requests.post(predict, data=b"{not json", timeout=30)
        assert r.status_code == 400, r.text

        families = scrape(server)
        def count(outcome):
            return sum(samples(families, "ferry_requests", "ferry_requests_total", deployment="", outcome=outcome))

        assert count("ok") == 3
        assert count("invalid_input") == 2
        assert count("rejected") == 1
        assert samples(families, "ferry_request_seconds", "ferry_request_seconds_count", version="1", outcome="ok") == [3]
        # Every plugin call is timed, per plugin and contract function.
        calls = families["ferry_plugin_call_seconds"].samples
        plugins = {s.labels["plugin"].split("@")[0].removeprefix("registry:") for s in calls}
        assert {"schema", "impute", "standard-scaler", "one-hot", "linear"} <= plugins, plugins
        assert any(s.labels["call"] == "predictor.predict" and s.name.endswith("_count") and s.value >= 3 for s in calls)
        assert samples(families, "ferry_instances_created", "ferry_instances_created_total")[0] >= 6
        assert samples(families, "ferry_instances_live", "ferry_instances_live")[0] >= 0
        # The distribution of the version's probabilities: three rows observed.
        assert samples(families, "ferry_predictions", "ferry_predictions_count", model="churn", version="1") == [3]
        buckets = {
            float(b.labels["le"]): b.value
            for b in families["ferry_predictions"].samples
            if b.name == "ferry_predictions_bucket" and b.labels["model"] == "churn"
        }
        assert buckets[0.0] == 0 and buckets[1.0] == 3, buckets
    finally:
        server.stop()

    logs = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    requests_logged = [l for l in logs if l.get("fields", {}).get("message") == "prediction request"]
    assert len(requests_logged) == 6, requests_logged
    logged_ids = {l["span"]["request_id"] for l in requests_logged}
    assert set(ids) <= logged_ids, (ids, logged_ids)
    outcomes = sorted(l["fields"]["outcome"] for l in requests_logged)
    assert outcomes == ["invalid_input", "invalid_input", "ok", "ok", "ok", "rejected"], outcomes
