"""The real `mlflow` client against `ferry serve`: the beginner's workflow end to end, the
errors the client relies on, Ferry's own view of what the client logged (and the reverse),
and many clients logging at once."""

import json
import multiprocessing
import os

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from conftest import ROOT


def data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(int)
    return x, y


def test_beginner_workflow(ferry, tmp_path):
    x, y = data()
    mlflow.set_experiment("churn")
    with mlflow.start_run() as run:
        mlflow.log_param("learning_rate", 0.001)
        mlflow.log_param("epochs", 10)
        for step, loss in enumerate([1.0, 0.6, 0.4, 0.3, 0.2]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("accuracy", 0.76)
        mlflow.set_tag("team", "growth")
        notes = tmp_path / "notes.txt"
        notes.write_text("trained on the churn sample, seed 3\n")
        mlflow.log_artifact(str(notes))
        model = LogisticRegression().fit(x, y)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:2])
    run_id = run.info.run_id
    client = MlflowClient()

    got = client.get_run(run_id)
    assert got.data.params == {"learning_rate": "0.001", "epochs": "10"}
    assert got.data.metrics["loss"] == 0.2
    assert got.data.tags["team"] == "growth"
    assert got.info.status == "FINISHED"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.6), (2, 0.4), (3, 0.3), (4, 0.2)]
    assert [a.path for a in client.list_artifacts(run_id)] == ["notes.txt"]
    local = client.download_artifacts(run_id, "notes.txt", str(tmp_path / "down"))
    assert open(local).read() == notes.read_text()

    mv = mlflow.register_model(f"runs:/{run_id}/model", "customer_churn_predictor")
    assert mv.version == "1"
    client.transition_model_version_stage("customer_churn_predictor", "1", "Production")
    client.set_registered_model_alias("customer_churn_predictor", "champion", "1")
    by_alias = client.get_model_version_by_alias("customer_churn_predictor", "champion")
    assert by_alias.version == "1" and by_alias.current_stage == "Production"

    runs = mlflow.search_runs(experiment_names=["churn"])
    assert list(runs["run_id"]) == [run_id]
    assert list(mlflow.search_runs(experiment_names=["churn"], filter_string="metrics.accuracy > 0.9")["run_id"]) == []
    models = client.search_registered_models()
    assert [m.name for m in models] == ["customer_churn_predictor"]
    assert models[0].aliases == {"champion": "1"}

    expected = model.predict(x)
    for uri in ["models:/customer_churn_predictor/1", "models:/customer_churn_predictor@champion", info.model_uri]:
        loaded = mlflow.pyfunc.load_model(uri)
        assert (loaded.predict(x) == expected).all(), uri

    # One store: Ferry's CLI sees what the client logged.
    ferry_runs = json.loads(ferry.cli("runs", "list", "--json").stdout)
    assert run_id in [r["info"]["id"] for r in ferry_runs]
    shown = json.loads(ferry.cli("runs", "show", run_id, "--json").stdout)
    assert "notes.txt" in [a["path"] for a in shown["artifacts"]]
    registered = json.loads(ferry.cli("models", "show", "customer_churn_predictor", "--json").stdout)
    assert registered["versions"][0]["stage"] == "Production"
    assert registered["aliases"] == [["champion", 1]]


def test_errors_the_client_relies_on(ferry):
    client = MlflowClient()
    with pytest.raises(MlflowException) as e:
        client.get_run("0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.get_registered_model("nope")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.create_registered_model("dup")
    with pytest.raises(MlflowException) as e:
        client.create_registered_model("dup")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    exp = client.create_experiment("errors")
    run = client.create_run(exp)
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as e:
        client.log_param(run.info.run_id, "lr", "0.2")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert mlflow.get_experiment_by_name("absent") is None


def test_tokens_and_roles(ferry):
    reader = ferry.token("rita", "reader")
    os.environ["MLFLOW_TRACKING_TOKEN"] = reader
    client = MlflowClient()
    assert client.search_experiments()
    with pytest.raises(MlflowException) as e:
        client.create_experiment("not-allowed")
    assert e.value.error_code == "PERMISSION_DENIED"
    os.environ["MLFLOW_TRACKING_TOKEN"] = "not-a-token"
    with pytest.raises(MlflowException):
        MlflowClient().search_experiments()
    os.environ["MLFLOW_TRACKING_TOKEN"] = ferry.admin
    audit = ferry.cli("audit", "--limit", "50").stdout
    assert "mlflow.experiments.create" in audit and "denied" in audit


def test_ferry_train_is_visible_to_the_client(ferry):
    ferry.cli("train", str(ROOT / "examples/churn/pipeline.toml"))
    runs = mlflow.search_runs(experiment_names=["churn"])
    assert len(runs) == 1
    assert runs["metrics.roc_auc"][0] > 0.75
    assert runs["params.split.seed"][0] == "42"
    models = MlflowClient().search_registered_models()
    assert [m.name for m in models] == ["churn"]
    assert models[0].aliases == {"challenger": "1"}
    files = [a.path for a in MlflowClient().list_artifacts(runs["run_id"][0])]
    assert "lineage.json" in files and "model" in files


FEATURES_PIPELINE = """
name = "churn-features"
description = "The churn features, for models trained outside Ferry."

[data]
path = "{churn}/customers.csv"
label = "churned"

[[validators]]
plugin = "schema@^0.1"
config = "{churn}/schema.toml"

[[transforms]]
plugin = "impute@^0.1"
config = "{churn}/impute.json"

[[transforms]]
plugin = "standard-scaler@^0.1"
config = "{churn}/scale.json"

[[transforms]]
plugin = "one-hot@^0.1"
config = "{churn}/one-hot.json"
"""


def test_an_onnx_model_logged_by_the_client_is_served_with_a_ferry_pipeline(ferry, tmp_path):
    import pandas as pd
    import requests
    from skl2onnx import to_onnx

    churn = ROOT / "examples/churn"
    # Ferry learns the features (no model): the run pins the plugins and their learned states.
    (tmp_path / "features.toml").write_text(FEATURES_PIPELINE.format(churn=churn))
    run = json.loads(ferry.cli("train", str(tmp_path / "features.toml"), "--json").stdout)["run_id"]
    ferry.cli("transform", "--run", run, str(churn / "customers.csv"), "--out", str(tmp_path / "features.csv"),
              "--keep", "customer_id")
    table = pd.read_csv(tmp_path / "features.csv")
    assert list(table.columns).count("customer_id") == 1
    features = list(table.select_dtypes("number").columns)
    assert features == ["tenure_months", "monthly_charges", "total_charges", "support_calls",
                        "contract=month-to-month", "contract=one-year", "contract=two-year"], features
    labels = (pd.read_csv(churn / "customers.csv")["churned"] == "yes").astype(int).to_numpy()
    x = table[features].to_numpy(dtype=np.float32)

    # The data scientist trains and logs with their own tools; skl2onnx without ZipMap.
    model = LogisticRegression(max_iter=1000).fit(x, labels)
    onx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    mlflow.set_experiment("churn-onnx")
    with mlflow.start_run():
        mlflow.log_param("features_run", run)
        info = mlflow.onnx.log_model(onx, name="model")
    mv = mlflow.register_model(info.model_uri, "churn-onnx")
    client = MlflowClient()
    client.set_registered_model_alias("churn-onnx", "champion", mv.version)

    auth = {"Authorization": f"Bearer {ferry.admin}"}
    rows = pd.read_csv(churn / "customers.csv").head(50).drop(columns=["churned"])
    body = {"rows": json.loads(rows.to_json(orient="records"))}
    # Until a pipeline is attached Ferry refuses to serve it, and says how to attach one.
    r = requests.post(f"{ferry.url}/v1/models/churn-onnx/champion/predict", json=body, headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "no_lineage" and "/pipeline" in r.json()["error"]["message"]

    attach = {"run": run, "plugin": "onnx", "features": features}
    r = requests.put(f"{ferry.url}/v1/models/churn-onnx/versions/{mv.version}/pipeline", json=attach,
                     headers={"Authorization": f"Bearer {ferry.token('rita', 'reader')}"})
    assert r.status_code == 403, r.text
    r = requests.put(f"{ferry.url}/v1/models/churn-onnx/versions/{mv.version}/pipeline",
                     json=dict(attach, features=features[:-1]), headers=auth)
    assert r.status_code == 422 and "the model reads" in r.json()["error"]["message"], r.text
    r = requests.put(f"{ferry.url}/v1/models/churn-onnx/versions/{mv.version}/pipeline", json=attach, headers=auth)
    assert r.status_code == 200, r.text
    lineage = r.json()["lineage"]
    assert lineage["run_id"] == run and lineage["model"]["plugin"]["name"] == "onnx"
    assert [t["plugin"]["name"] for t in lineage["transforms"]] == ["impute", "standard-scaler", "one-hot"]
    r = requests.put(f"{ferry.url}/v1/models/churn-onnx/versions/{mv.version}/pipeline", json=attach, headers=auth)
    assert r.status_code == 409, r.text

    # Served by alias and by version from raw rows: Ferry's features, then the ONNX graph.
    expected = model.predict_proba(x[:50])[:, 1]
    for reference in ["champion", mv.version]:
        r = requests.post(f"{ferry.url}/v1/models/churn-onnx/{reference}/predict?features=true", json=body,
                          headers=auth)
        assert r.status_code == 200, r.text
        got = np.array([p["probability"] for p in r.json()["predictions"]])
        assert np.abs(got - expected).max() < 1e-5, (reference, np.abs(got - expected).max())
        served = np.array([[f[c] for c in features] for f in r.json()["features"]])
        assert np.abs(served - x[:50]).max() < 1e-5
    # The client still sees one registry, and Ferry's card names the pipeline.
    assert client.get_model_version_by_alias("churn-onnx", "champion").version == mv.version
    card = ferry.cli("models", "card", "churn-onnx@champion").stdout
    assert "onnx" in card and "one-hot" in card


def test_deleting_and_restoring_runs_and_experiments(ferry):
    from mlflow.entities import ViewType

    client = MlflowClient()
    exp = client.create_experiment("cleanup")
    keep = client.create_run(exp).info.run_id
    gone = client.create_run(exp).info.run_id
    client.log_metric(gone, "loss", 0.5)
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    assert list(mlflow.search_runs([exp])["run_id"]) == [keep]
    assert [r.info.run_id for r in client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)] == [gone]
    assert len(client.search_runs([exp], run_view_type=ViewType.ALL)) == 2
    with pytest.raises(MlflowException) as e:
        client.log_metric(gone, "loss", 0.4)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    listed = json.loads(ferry.cli("runs", "list", "--experiment", "cleanup", "--json").stdout)
    assert [r["info"]["id"] for r in listed] == [keep]
    client.restore_run(gone)
    client.log_metric(gone, "loss", 0.4)
    assert client.get_run(gone).data.metrics["loss"] == 0.4

    client.delete_experiment(exp)
    assert client.get_experiment(exp).lifecycle_stage == "deleted"
    assert exp not in [e.experiment_id for e in client.search_experiments()]
    assert exp in [e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)]
    assert client.get_run(keep).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException):
        mlflow.set_experiment("cleanup")
    client.restore_experiment(exp)
    assert sorted(mlflow.search_runs([exp])["run_id"]) == sorted([keep, gone])
    with pytest.raises(MlflowException) as e:
        client.delete_experiment("0")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.delete_run("0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    audit = ferry.cli("audit", "--limit", "50").stdout
    assert "mlflow.runs.delete" in audit and "mlflow.experiments.restore" in audit


def log_many(uri, token, run_id, worker):
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    client = MlflowClient()
    for i in range(1000):
        client.log_metric(run_id, f"worker{worker}", float(i), step=i)


def test_eight_clients_logging_at_once_lose_nothing(ferry):
    client = MlflowClient()
    run = client.create_run(client.create_experiment("load"))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=log_many, args=(ferry.url, ferry.admin, run.info.run_id, w)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    for w in range(8):
        history = client.get_metric_history(run.info.run_id, f"worker{w}")
        assert [m.step for m in history] == list(range(1000))
