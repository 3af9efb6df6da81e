"""Every public method of `MlflowClient` for tracking and the model registry, against
`ferry serve` on SQLite and PostgreSQL: experiments, runs, metrics, params, tags, inputs and
outputs, artifacts (files, folders, dicts, text, figures, images, tables), logged models, and
registered models with their versions, tags, aliases and stages; every search paged with
`page_token` until `next_page_token` runs out. What is left out (tracing, prompts, webhooks,
workspaces, MCP servers, evaluation datasets) is listed in docs/src/guides/mlflow.md."""

import json
import os

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


def every_page(search, **kwargs):
    """Calls a search until its last page; returns the pages and all their items."""
    pages, items, token = [], [], None
    while True:
        page = search(page_token=token, **kwargs)
        pages.append(list(page))
        items.extend(page)
        token = page.token
        if not token:
            return pages, items


def test_experiments(ferry):
    client = MlflowClient()
    ids = [client.create_experiment(f"exp-{i:02}", tags={"team": "a" if i % 2 else "b"}) for i in range(12)]
    e = client.get_experiment(ids[0])
    assert e.name == "exp-00" and e.tags == {"team": "b"} and e.lifecycle_stage == "active"
    assert client.get_experiment_by_name("exp-01").experiment_id == ids[1]
    assert client.get_experiment_by_name("no-such") is None

    client.rename_experiment(ids[0], "renamed")
    assert client.get_experiment(ids[0]).name == "renamed"
    assert client.get_experiment_by_name("exp-00") is None
    with pytest.raises(MlflowException) as err:
        client.rename_experiment(ids[1], "renamed")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.set_experiment_tag(ids[0], "owner", "ana")
    assert client.get_experiment(ids[0]).tags["owner"] == "ana"
    client.delete_experiment_tag(ids[0], "owner")
    assert "owner" not in client.get_experiment(ids[0]).tags
    with pytest.raises(MlflowException) as err:
        client.delete_experiment_tag(ids[0], "owner")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    pages, found = every_page(client.search_experiments, max_results=5, filter_string="name LIKE 'exp-%'")
    assert [len(p) for p in pages] == [5, 5, 1]
    assert sorted(e.name for e in found) == [f"exp-{i:02}" for i in range(1, 12)]
    team_a = client.search_experiments(filter_string="tags.team = 'a'", order_by=["name ASC"])
    assert [e.name for e in team_a] == [f"exp-{i:02}" for i in range(1, 12, 2)]
    newest = client.search_experiments(order_by=["creation_time DESC"], max_results=1)
    assert newest[0].name == "exp-11"

    client.delete_experiment(ids[2])
    assert client.get_experiment(ids[2]).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [ids[2]]
    client.restore_experiment(ids[2])
    assert client.get_experiment(ids[2]).lifecycle_stage == "active"


def test_runs(ferry):
    client = MlflowClient()
    exp = client.create_experiment("runs")
    run = client.create_run(exp, run_name="first", tags={"team": "ml"})
    rid = run.info.run_id
    assert run.info.run_name == "first" and run.data.tags["team"] == "ml"

    client.log_param(rid, "lr", 0.1)
    client.log_metric(rid, "loss", 0.5, step=1)
    client.log_metric(rid, "loss", 0.25, step=2)
    client.set_tag(rid, "stage", "dev")
    client.log_batch(
        rid,
        metrics=[Metric("acc", 0.9, 0, 3)],
        params=[Param("epochs", "3")],
        tags=[RunTag("note", "batch")],
    )
    client.delete_tag(rid, "stage")
    with pytest.raises(MlflowException) as err:
        client.delete_tag(rid, "stage")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    got = client.get_run(rid)
    assert got.data.params == {"lr": "0.1", "epochs": "3"}
    assert got.data.metrics == {"loss": 0.25, "acc": 0.9}
    assert "stage" not in got.data.tags and got.data.tags["note"] == "batch"
    assert [(m.step, m.value) for m in client.get_metric_history(rid, "loss")] == [(1, 0.5), (2, 0.25)]

    dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train")
    client.log_inputs(rid, [mlflow.entities.DatasetInput(dataset._to_mlflow_entity(), [])])
    model = client.create_logged_model(exp, name="out")
    client.log_outputs(rid, [LoggedModelOutput(model.model_id, 0)])

    client.update_run(rid, status="RUNNING", name="renamed")
    assert client.get_run(rid).info.run_name == "renamed"
    client.set_terminated(rid, status="KILLED")
    assert client.get_run(rid).info.status == "KILLED"

    child = client.create_run(exp, tags={"mlflow.parentRunId": rid})
    assert client.get_parent_run(child.info.run_id).info.run_id == rid
    assert client.get_parent_run(rid) is None

    for i in range(60):
        r = client.create_run(exp, run_name=f"r{i:02}")
        client.log_metric(r.info.run_id, "score", float(i))
    pages, runs = every_page(client.search_runs, experiment_ids=[exp], max_results=25,
                             filter_string="metrics.score >= 0", order_by=["metrics.score DESC"])
    assert [len(p) for p in pages] == [25, 25, 10]
    assert [r.data.metrics["score"] for r in runs] == [float(i) for i in range(59, -1, -1)]
    with pytest.raises(MlflowException) as err:
        client.search_runs([exp], page_token="not-a-token")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    deleted = client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [rid]
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"


def test_artifacts(ferry, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    client = MlflowClient()
    exp = client.create_experiment("artifacts")
    rid = client.create_run(exp).info.run_id
    single = tmp_path / "notes.txt"
    single.write_text("notes\n")
    client.log_artifact(rid, str(single))
    client.log_artifact(rid, str(single), artifact_path="model")
    folder = tmp_path / "folder"
    (folder / "deep").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "deep" / "b.txt").write_text("b")
    client.log_artifacts(rid, str(folder), artifact_path="data")
    client.log_dict(rid, {"k": [1, 2]}, "config/settings.json")
    client.log_text(rid, "hello", "texts/hello.txt")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    client.log_figure(rid, fig, "plots/line.png")
    client.log_image(rid, np.zeros((4, 4, 3), dtype=np.uint8), "images/black.png")
    client.log_table(rid, {"a": [1, 2], "b": ["x", "y"]}, "tables/t.json")

    assert [(a.path, a.is_dir) for a in client.list_artifacts(rid)] == [
        ("config", True), ("data", True), ("images", True), ("model", True), ("notes.txt", False),
        ("plots", True), ("tables", True), ("texts", True),
    ]
    assert [a.path for a in client.list_artifacts(rid, "data")] == ["data/a.txt", "data/deep"]
    assert [a.path for a in client.list_artifacts(rid, "data/deep")] == ["data/deep/b.txt"]
    assert client.list_artifacts(rid, "notes.txt") == []
    assert client.list_artifacts(rid, "absent") == []

    down = client.download_artifacts(rid, "data", str(tmp_path / "down"))
    assert open(os.path.join(down, "deep", "b.txt")).read() == "b"
    model = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="model", dst_path=str(tmp_path / "m"))
    assert os.listdir(model) == ["notes.txt"]
    settings = mlflow.artifacts.load_dict(f"runs:/{rid}/config/settings.json")
    assert settings == {"k": [1, 2]}
    assert mlflow.artifacts.load_text(f"runs:/{rid}/texts/hello.txt") == "hello"
    table = client.load_table(exp, "tables/t.json", run_ids=[rid])
    assert list(table["b"]) == ["x", "y"]


def test_logged_models(ferry, tmp_path):
    client = MlflowClient()
    exp = client.create_experiment("logged")
    rid = client.create_run(exp).info.run_id
    ids = [client.create_logged_model(exp, name=f"m{i}", source_run_id=rid, params={"i": str(i)},
                                      tags={"kind": "even" if i % 2 == 0 else "odd"}).model_id
           for i in range(7)]
    m = client.get_logged_model(ids[0])
    assert m.name == "m0" and m.params == {"i": "0"} and m.source_run_id == rid
    client.set_logged_model_tags(ids[0], {"owner": "ana"})
    assert client.get_logged_model(ids[0]).tags["owner"] == "ana"
    client.delete_logged_model_tag(ids[0], "owner")
    assert "owner" not in client.get_logged_model(ids[0]).tags
    client.log_model_params(ids[0], {"extra": "yes"})
    assert client.get_logged_model(ids[0]).params == {"i": "0", "extra": "yes"}

    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01")
    client.log_model_artifact(ids[0], str(weights))
    files = tmp_path / "files"
    (files / "sub").mkdir(parents=True)
    (files / "sub" / "c.txt").write_text("c")
    client.log_model_artifacts(ids[0], str(files))
    listed = sorted(a.path for a in client.list_logged_model_artifacts(ids[0]))
    assert listed == ["sub", "weights.bin"], listed
    assert client.finalize_logged_model(ids[0], "READY").status.to_int() == 2
    # A READY model's files never change: neither replaced nor added to (the same bytes again
    # are accepted, so an interrupted upload can be retried).
    client.log_model_artifact(ids[0], str(weights))
    weights.write_bytes(b"\x00\x02")
    late = tmp_path / "late.txt"
    late.write_text("late")
    for path in (weights, late):
        with pytest.raises(Exception, match="409"):
            client.log_model_artifact(ids[0], str(path))
    assert sorted(a.path for a in client.list_logged_model_artifacts(ids[0])) == listed

    pages, found = every_page(client.search_logged_models, experiment_ids=[exp], max_results=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(m.model_id for m in found) == sorted(ids)
    odd = client.search_logged_models([exp], filter_string="tags.kind = 'odd'")
    assert sorted(m.name for m in odd) == ["m1", "m3", "m5"]

    client.delete_logged_model(ids[6])
    with pytest.raises(MlflowException) as err:
        client.get_logged_model(ids[6])
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert len(client.search_logged_models([exp], max_results=100)) == 6


def test_model_registry(ferry, tmp_path):
    client = MlflowClient()
    exp = client.create_experiment("registry")
    rid = client.create_run(exp).info.run_id
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    client.log_artifact(rid, str(weights), artifact_path="model")

    for i in range(7):
        client.create_registered_model(f"model-{i}", tags={"i": str(i)}, description=f"number {i}")
    rm = client.get_registered_model("model-0")
    assert rm.description == "number 0" and rm.tags == {"i": "0"}
    client.update_registered_model("model-0", description="changed")
    assert client.get_registered_model("model-0").description == "changed"
    client.set_registered_model_tag("model-0", "owner", "ana")
    client.delete_registered_model_tag("model-0", "i")
    assert client.get_registered_model("model-0").tags == {"owner": "ana"}
    pages, models = every_page(client.search_registered_models, max_results=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(m.name for m in models) == [f"model-{i}" for i in range(7)]
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'model-1%'")] == ["model-1"]

    source = f"runs:/{rid}/model"
    for _ in range(3):
        client.create_model_version("model-0", source, run_id=rid, tags={"t": "x"})
    v = client.get_model_version("model-0", "2")
    assert v.version == "2" and v.tags == {"t": "x"} and v.run_id == rid
    client.update_model_version("model-0", "2", description="second")
    assert client.get_model_version("model-0", "2").description == "second"
    client.set_model_version_tag("model-0", "2", "checked", "yes")
    client.delete_model_version_tag("model-0", "2", "t")
    assert client.get_model_version("model-0", "2").tags == {"checked": "yes"}

    pages, versions = every_page(client.search_model_versions, filter_string="name = 'model-0'", max_results=2)
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    assert [v.version for v in client.search_model_versions(f"run_id = '{rid}' and tags.checked = 'yes'")] == ["2"]

    client.transition_model_version_stage("model-0", "1", "Staging")
    client.transition_model_version_stage("model-0", "3", "Production")
    latest = {v.current_stage: v.version for v in client.get_latest_versions("model-0")}
    assert latest == {"Staging": "1", "Production": "3", "None": "2"}
    assert client.get_latest_versions("model-0", stages=["Production"])[0].version == "3"
    assert client.get_model_version_stages("model-0", "1") == ["None", "Staging", "Production", "Archived"]
    assert client.get_model_version_download_uri("model-0", "1").endswith(f"/{rid}/artifacts/model")

    client.set_registered_model_alias("model-0", "champion", "3")
    assert client.get_model_version_by_alias("model-0", "champion").version == "3"
    client.delete_registered_model_alias("model-0", "champion")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("model-0", "champion")

    copied = client.copy_model_version("models:/model-0/2", "model-copy")
    assert copied.name == "model-copy" and copied.version == "1"
    down = mlflow.artifacts.download_artifacts(f"models:/model-copy/1", dst_path=str(tmp_path / "copy"))
    assert open(os.path.join(down, "model.bin"), "rb").read() == b"weights"

    client.set_registered_model_alias("model-0", "latest-good", "3")
    client.delete_model_version("model-0", "3")
    with pytest.raises(MlflowException) as err:
        client.get_model_version("model-0", "3")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_registered_model("model-0").aliases == {}
    # A deleted version's number is never given again.
    assert client.create_model_version("model-0", source, run_id=rid).version == "4"

    client.rename_registered_model("model-0", "model-zero")
    assert [v.version for v in client.search_model_versions("name = 'model-zero'")] == ["4", "2", "1"]
    with pytest.raises(MlflowException):
        client.get_registered_model("model-0")
    client.delete_registered_model("model-zero")
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("model-zero")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_model_versions("name = 'model-zero'") == []
    # Ferry's own view agrees.
    shown = json.loads(ferry.cli("models", "list", "--json").stdout)
    assert sorted(m["name"] for m in shown) == ["model-1", "model-2", "model-3", "model-4", "model-5", "model-6", "model-copy"]
