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
