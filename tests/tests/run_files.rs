//! A finished run's files, and the files Ferry writes into a run, cannot be replaced through the
//! MLflow artifact proxy: the attempt gets a 409 naming the file, goes to the audit log, and the
//! stored bytes and the version that pins them are untouched.

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
    assert_eq!(r.status().as_u16(), 200);
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trained_runs_files_cannot_be_replaced_through_the_artifact_proxy() {
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

    for file in [
        "lineage.json",
        "model/model.bin",
        "transforms/02-standard-scaler/state.bin",
        "evaluation.json",
    ] {
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
    // The run has finished: a file of the user's may be added, but not replaced.
    let notes = format!("{base}/notes.txt");
    assert_eq!(put(&server, &notes, b"first").await.0, 200);
    let (status, body) = put(&server, &notes, b"second").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the run has ended"),
        "{body}"
    );

    // Every refusal is in the audit log, and the version still serves.
    let audit = server.audit().await;
    let refused = audit
        .iter()
        .filter(|e| e["action"] == "mlflow.artifacts.upload" && e["outcome"] != "ok")
        .count();
    assert_eq!(refused, 5, "{audit:#?}");
    let r = Server::http()
        .post(format!("{}/v1/models/churn/1/predict", server.url))
        .json(&json!({"rows": [{"customer_id": "C09999", "tenure_months": 2, "monthly_charges": 95.5,
            "total_charges": 190.2, "contract": "month-to-month", "support_calls": 4, "paperless_billing": true}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}
