//! A model version registered through the MLflow API (its files in Ferry's artifact store, no
//! lineage) gets a Ferry run's pipeline attached, with the CLI and over HTTP, and is served by
//! version and alias; every wrong attachment is refused, named, and leaves the version as it
//! was.

use std::path::PathBuf;

use ferry_tests::repo_root;
use ferry_tests::server::{Server, text};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/models")
}

const ONNX_MLMODEL: &str = "artifact_path: model\nflavors:\n  onnx:\n    code: null\n    data: model.onnx\n    onnx_version: 1.23.2\n  python_function:\n    data: model.onnx\n    loader_module: mlflow.onnx\nmlflow_version: 3.17.2\n";

/// An MLflow REST call as the admin; its JSON answer, whatever the status.
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

/// Registers the next version of `name` the way the MLflow client does: a logged model, its
/// files uploaded to the artifact store, then a version whose source is `models:/ID`.
async fn register_through_mlflow(server: &Server, name: &str, files: &[(&str, Vec<u8>)]) -> i64 {
    let (status, created) = mlflow(
        server,
        "logged-models",
        json!({"experiment_id": "0", "name": "model"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["model"]["info"]["model_id"].as_str().unwrap();
    let uri = created["model"]["info"]["artifact_uri"].as_str().unwrap();
    let dir = uri.strip_prefix("mlflow-artifacts:/").unwrap();
    for (file, bytes) in files {
        let r = Server::http()
            .put(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}",
                server.url
            ))
            .bearer_auth(&server.admin)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    mlflow(server, "registered-models/create", json!({"name": name})).await;
    let (status, v) = mlflow(
        server,
        "model-versions/create",
        json!({"name": name, "source": format!("models:/{id}")}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["model_version"]["version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The fixture's input rows as JSON objects.
fn input_rows() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("inputs.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let values = l.split(',').map(|v| v.parse::<f64>().unwrap());
            Value::Object(
                header
                    .iter()
                    .map(|h| h.to_string())
                    .zip(values.map(|v| json!(v)))
                    .collect(),
            )
        })
        .collect()
}

fn expected_probabilities() -> Vec<f64> {
    std::fs::read_to_string(fixtures().join("expected_logreg.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

async fn predict(server: &Server, model: &str, reference: &str) -> (u16, Value) {
    let r = Server::http()
        .post(format!(
            "{}/v1/models/{model}/{reference}/predict",
            server.url
        ))
        .bearer_auth(&server.admin)
        .json(&json!({"rows": input_rows()}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn attach_over_http(server: &Server, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = Server::http()
        .put(format!("{}/v1/models/{path}/pipeline", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn lineage_of(server: &Server, model: &str) -> Value {
    let o = server.ferry(&["models", "show", model, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["lineage"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_registered_through_mlflow_is_attached_and_served() {
    let server = Server::start(&[]);
    let features = server.data.path().join("features.toml");
    std::fs::write(
        &features,
        format!(
            "name = \"sk-features\"\n[data]\npath = {:?}\nlabel = \"label\"\ncolumns = [\"x0\", \"x1\", \"x2\", \"x3\"]\n",
            fixtures().join("train.csv").display().to_string()
        ),
    )
    .unwrap();
    let o = server.ferry(&["train", features.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let trained: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = trained["run_id"].as_str().unwrap().to_string();

    // The run's features, for training elsewhere: what serving will compute.
    let inputs = fixtures().join("inputs.csv");
    let out = server.data.path().join("features.csv");
    let batch = |args: &[&str]| {
        let mut all = vec!["transform"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[inputs.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        server.ferry(&all)
    };
    let o = batch(&["--run", &run, "--keep", "x0"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written.lines().next(),
        Some("x0,x1,x2,x3"),
        "a kept column once"
    );
    assert_eq!(written.lines().count(), input_rows().len() + 1);
    let o = batch(&["--run", "0123456789abcdef0123456789abcdef"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("no recorded pipeline"), "{}", text(&o));
    let o = batch(&["--run", &run, "--model", "sk@1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    let onnx = std::fs::read(fixtures().join("logreg.onnx")).unwrap();
    let v1 = register_through_mlflow(
        &server,
        "sk",
        &[
            ("MLmodel", ONNX_MLMODEL.as_bytes().to_vec()),
            ("model.onnx", onnx.clone()),
        ],
    )
    .await;
    assert_eq!(v1, 1);
    let (status, refused) = predict(&server, "sk", "1").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "no_lineage");

    // Wrong attachments are refused, named, and change nothing.
    let attach = |extra: &[&str]| {
        let mut args = vec!["models", "attach", "sk@1", "--plugin", "onnx"];
        args.extend_from_slice(extra);
        server.ferry(&args)
    };
    let (a_mlflow_run, _) = mlflow(
        &server,
        "runs/create",
        json!({"experiment_id": "0", "start_time": 1}),
    )
    .await;
    assert_eq!(a_mlflow_run, 200);
    let (_, client_run) = mlflow(
        &server,
        "runs/create",
        json!({"experiment_id": "0", "start_time": 2}),
    )
    .await;
    let client_run = client_run["run"]["info"]["run_id"].as_str().unwrap();
    for (args, expected) in [
        (
            vec!["--run", "0123456789abcdef0123456789abcdef"],
            "run".to_string(),
        ),
        (
            vec!["--run", client_run],
            "no lineage.json (only `ferry train` runs".to_string(),
        ),
        (
            vec!["--run", &run, "--features", "x0,x1"],
            "2 columns named but the model reads 4".to_string(),
        ),
        (
            vec!["--run", &run, "--features", "x0,x1,x2,x9"],
            "`x9` is not computed by run".to_string(),
        ),
        (
            vec!["--run", &run, "--file", "nope.onnx"],
            "\"nope.onnx\" among the files of version 1 of \"sk\" (it has: MLmodel, model.onnx)"
                .to_string(),
        ),
        (
            vec!["--run", &run, "--file", "MLmodel"],
            "not a readable ONNX model".to_string(),
        ),
    ] {
        let o = attach(&args);
        assert_ne!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains(&expected),
            "{args:?}: expected {expected:?} in {}",
            text(&o)
        );
        assert_eq!(lineage_of(&server, "sk@1"), Value::Null, "{args:?}");
    }
    let o = server.ferry(&["models", "attach", "sk", "--run", &run, "--plugin", "onnx"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("NAME@VERSION"), "{}", text(&o));

    // The right one: the features from the version's files, named in the order the graph reads.
    let o = server.ferry(&["models", "alias", "sk", "champion", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = attach(&["--run", &run, "--features", "x0,x1,x2,x3"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("reading x0, x1, x2, x3"), "{}", text(&o));
    let lineage = lineage_of(&server, "sk@1");
    assert_eq!(lineage["run_id"], run.as_str());
    assert_eq!(lineage["model"]["plugin"]["name"], "onnx");
    assert_eq!(lineage["model"]["task"], "binary-classification");
    let again = attach(&["--run", &run, "--features", "x0,x1,x2,x3"]);
    assert_eq!(again.status.code(), Some(6), "{}", text(&again));
    assert!(text(&again).contains("already has a lineage"));

    let expected = expected_probabilities();
    for reference in ["1", "champion"] {
        let (status, answer) = predict(&server, "sk", reference).await;
        assert_eq!(status, 200, "{answer}");
        let got: Vec<f64> = answer["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["probability"].as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-5, "{reference}: {g} vs {e}");
        }
    }

    // Over HTTP: roles, a version whose MLmodel names no file, a source outside the store.
    let v2 = register_through_mlflow(
        &server,
        "sk",
        &[
            (
                "MLmodel",
                b"flavors:\n  custom:\n    weights: w.bin\n".to_vec(),
            ),
            ("w.bin", onnx.clone()),
        ],
    )
    .await;
    let body = json!({"run": run, "plugin": "onnx", "features": ["x0", "x1", "x2", "x3"]});
    let reader = server.token("rita", "reader");
    let (status, denied) =
        attach_over_http(&server, &reader, &format!("sk/versions/{v2}"), body.clone()).await;
    assert_eq!(status, 403, "{denied}");
    let (status, no_file) = attach_over_http(
        &server,
        &server.admin,
        &format!("sk/versions/{v2}"),
        body.clone(),
    )
    .await;
    assert_eq!(status, 422, "{no_file}");
    let message = no_file["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("names no data file") && message.contains("(it has: MLmodel, w.bin)"),
        "{message}"
    );
    let (status, unknown) = attach_over_http(
        &server,
        &server.admin,
        &format!("sk/versions/{v2}"),
        json!({"run": run, "plugin": "onnx", "flavour": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{unknown}");
    let mut with_file = body.clone();
    with_file["file"] = json!("w.bin");
    let (status, attached) = attach_over_http(
        &server,
        &server.admin,
        &format!("sk/versions/{v2}"),
        with_file,
    )
    .await;
    assert_eq!(status, 200, "{attached}");
    assert_eq!(
        attached["lineage"]["model"]["features"],
        json!(["x0", "x1", "x2", "x3"])
    );
    let (status, answer) = predict(&server, "sk", &v2.to_string()).await;
    assert_eq!(status, 200, "{answer}");

    let (_, elsewhere) = mlflow(
        &server,
        "model-versions/create",
        json!({"name": "sk", "source": "s3://bucket/model"}),
    )
    .await;
    let v3 = elsewhere["model_version"]["version"].as_str().unwrap();
    let (status, outside) =
        attach_over_http(&server, &server.admin, &format!("sk/versions/{v3}"), body).await;
    assert_eq!(status, 400, "{outside}");
    assert!(
        outside["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"s3://bucket/model\" is not in Ferry's artifact store"),
        "{outside}"
    );

    let audit = server.audit().await;
    let attached: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "model.attach")
        .map(|e| e["outcome"].as_str().unwrap_or(""))
        .collect();
    assert!(
        attached.contains(&"ok") && attached.contains(&"denied"),
        "{attached:?}"
    );
}
