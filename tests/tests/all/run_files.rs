//! A file once written is never replaced: not a file of a run `ferry train` recorded (every
//! one of them, whatever new file training writes next), not a client's after it re-opens its
//! run, and not a file of a READY logged model. A run `ferry train` recorded cannot be
//! re-opened at all. Each attempt gets a 409 naming the file, goes to the audit log, and the
//! stored bytes, the lineage that pins them and the version that serves them are untouched.

use ferry_tests::repo_root;
use ferry_tests::server::{Server, text};
use serde_json::{Value, json};

async fn put(server: &Server, path: &str, bytes: &[u8]) -> (u16, Value) {
    let r = Server::http()
        .put(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}",
            server.url
        ))
        .bearer_auth(&server.admin)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(server: &Server, path: &str) -> Vec<u8> {
    let r = Server::http()
        .get(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}",
            server.url
        ))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.bytes().await.unwrap().to_vec()
}

async fn mlflow(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let r = Server::http()
        .post(format!("{}/api/2.0/mlflow/{path}", server.url))
        .bearer_auth(&server.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn predicts(server: &Server) {
    let r = Server::http()
        .post(format!("{}/v1/models/churn/1/predict", server.url))
        .json(&json!({"rows": [{"customer_id": "C09999", "tenure_months": 2, "monthly_charges": 95.5,
            "total_charges": 190.2, "contract": "month-to-month", "support_calls": 4, "paperless_billing": true}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_file_of_a_trained_run_can_be_replaced_and_the_run_never_reopens() {
    let server = Server::start(&[]);
    let o = server.ferry(&[
        "train",
        repo_root()
            .join("examples/churn/pipeline.toml")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let outcome: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (run, experiment) = (
        outcome["run_id"].as_str().unwrap(),
        outcome["experiment_id"].as_str().unwrap(),
    );
    let base = format!("{experiment}/{run}/artifacts");

    // Re-opening it is refused, and so are changes to Ferry's tags on it.
    let (status, body) = mlflow(
        &server,
        "runs/update",
        json!({"run_id": run, "status": "RUNNING"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("cannot be re-opened"),
        "{body}"
    );
    let (status, body) = mlflow(
        &server,
        "runs/set-tag",
        json!({"run_id": run, "key": "ferry.pipeline", "value": "forged"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Every file the run holds, whatever training wrote, is as it was.
    let o = server.ferry(&["runs", "show", run, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    let files: Vec<String> = shown["artifacts"]
        .as_array()
        .unwrap_or_else(|| panic!("no artifacts in {shown}"))
        .iter()
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect();
    for must in [
        "lineage.json",
        "model/model.bin",
        "reference/profile.json",
        "evaluation.json",
    ] {
        assert!(
            files.iter().any(|f| f == must),
            "{must} not among {files:?}"
        );
    }
    for file in &files {
        let path = format!("{base}/{file}");
        let before = get(&server, &path).await;
        let (status, body) = put(&server, &path, b"forged").await;
        assert_eq!(status, 409, "{file}: {body}");
        assert_eq!(body["error_code"], "RESOURCE_CONFLICT", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "artifact {file:?} of run {run} cannot be replaced"
            )),
            "{message}"
        );
        assert_eq!(get(&server, &path).await, before, "{file} changed");
        // The same bytes again are not a replacement.
        let (status, body) = put(&server, &path, &before).await;
        assert_eq!(status, 200, "{file}: {body}");
    }

    // Every refusal is in the audit log, and the version still serves.
    let audit = server.audit().await;
    let refused = audit
        .iter()
        .filter(|e| e["action"] == "mlflow.artifacts.upload" && e["outcome"] != "ok")
        .count();
    assert_eq!(refused, files.len(), "{audit:#?}");
    predicts(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reopened_client_run_keeps_its_files() {
    let server = Server::start(&[]);
    let (status, body) = mlflow(&server, "runs/create", json!({"experiment_id": "0"})).await;
    assert_eq!(status, 200, "{body}");
    let run = body["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let notes = format!("0/{run}/artifacts/notes.txt");
    assert_eq!(put(&server, &notes, b"first").await.0, 200);
    let (status, _) = put(&server, &notes, b"second").await;
    assert_eq!(status, 409, "not even while it runs");
    for state in ["FINISHED", "RUNNING"] {
        let (status, body) = mlflow(
            &server,
            "runs/update",
            json!({"run_id": run, "status": state}),
        )
        .await;
        assert_eq!(status, 200, "{state}: {body}");
    }
    let (status, body) = put(&server, &notes, b"third").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(get(&server, &notes).await, b"first");
    // New files may still be added to a running run.
    let added = format!("0/{run}/artifacts/more.txt");
    assert_eq!(put(&server, &added, b"added").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_logged_models_files_never_change() {
    let server = Server::start(&[]);
    let (status, body) = mlflow(
        &server,
        "logged-models",
        json!({"experiment_id": "0", "name": "lm"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mlmodel = format!("0/models/{id}/artifacts/MLmodel");
    assert_eq!(put(&server, &mlmodel, b"flavors: {}\n").await.0, 200);
    let r = Server::http()
        .patch(format!("{}/api/2.0/mlflow/logged-models/{id}", server.url))
        .bearer_auth(&server.admin)
        .json(&json!({"model_id": id, "status": "LOGGED_MODEL_READY"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());

    let (status, body) = put(&server, &mlmodel, b"forged").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("READY"),
        "{body}"
    );
    let (status, body) = put(&server, &format!("0/models/{id}/artifacts/extra.pkl"), b"x").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(get(&server, &mlmodel).await, b"flavors: {}\n");
    // A READY model stays READY.
    let r = Server::http()
        .patch(format!("{}/api/2.0/mlflow/logged-models/{id}", server.url))
        .bearer_auth(&server.admin)
        .json(&json!({"model_id": id, "status": "LOGGED_MODEL_PENDING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let audit = server.audit().await;
    assert!(
        audit
            .iter()
            .filter(|e| e["action"] == "mlflow.artifacts.upload" && e["outcome"] == "denied")
            .count()
            >= 2,
        "{audit:#?}"
    );
}
