//! Every command works against a remote Ferry: `ferry train --registry URL --token T` computes
//! locally and records the run, its files, the lineage and the registration on the server (here
//! on PostgreSQL); `runs`, `models` and `transform --model` read from it; the local data folder
//! stays empty; what cannot work remotely is refused, never done locally instead.

use std::path::Path;
use std::process::{Command, Output};

use ferry_tests::server::{PgDatabase, Server, text};
use ferry_tests::{ferry_bin, repo_root};
use serde_json::{Value, json};

/// `ferry` with an empty local data folder of its own and the remote Ferry in the environment,
/// as `MLFLOW_TRACKING_URI` users work.
fn remote(local: &Path, server: &Server, token: &str, args: &[&str]) -> Output {
    Command::new(ferry_bin())
        .args(args)
        .env("FERRY_DATA_DIR", local.join("data"))
        .env("FERRY_CACHE_DIR", ferry_tests::component_cache())
        .env("FERRY_REGISTRY", &server.url)
        .env("FERRY_TOKEN", token)
        .env_remove("FERRY_DATABASE_URL")
        .output()
        .unwrap()
}

fn files_under(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flat_map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() {
                    files_under(&p)
                } else {
                    vec![p.display().to_string()]
                }
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn train_runs_models_and_transform_work_against_a_remote_ferry_on_postgresql() {
    let db = PgDatabase::create();
    let url = db.url();
    let server = Server::start(&["--database-url", &url]);
    let deployer = server.token("ci", "deployer");
    let local = tempfile::tempdir().unwrap();
    let pipeline = repo_root().join("examples/churn/pipeline.toml");

    let o = remote(
        local.path(),
        &server,
        &deployer,
        &["train", pipeline.to_str().unwrap(), "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let outcome: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = outcome["run_id"].as_str().unwrap().to_string();
    assert_eq!(outcome["model_version"]["version"], 1, "{outcome}");
    assert_eq!(outcome["model_version"]["aliases"], json!(["challenger"]));
    assert!(
        files_under(&local.path().join("data")).is_empty(),
        "the local data folder was written: {:?}",
        files_under(&local.path().join("data"))
    );

    // The server has the run, its files, the version (with the run's lineage) and serves it.
    let http = Server::http();
    let got: Value = http
        .get(format!("{}/v1/runs/{run}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["info"]["status"], "FINISHED", "{got}");
    assert_eq!(
        got["info"]["user_id"], "token:ci",
        "the run is the token holder's"
    );
    let files: Value = http
        .get(format!("{}/v1/runs/{run}/artifacts", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for expected in [
        "lineage.json",
        "model/model.bin",
        "transforms/02-standard-scaler/state.bin",
        "features/sample.csv",
        "evaluation.json",
        "pipeline.toml",
    ] {
        assert!(paths.contains(&expected), "{expected} missing: {paths:?}");
    }
    let answer = http
        .post(format!("{}/v1/models/churn/challenger/predict", server.url))
        .json(&json!({"rows": [{"customer_id": "C09999", "tenure_months": 2, "monthly_charges": 95.5,
            "total_charges": 190.2, "contract": "month-to-month", "support_calls": 4, "paperless_billing": true}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);

    // runs and models read from the server.
    let o = remote(
        local.path(),
        &server,
        &deployer,
        &["runs", "list", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(runs[0]["info"]["id"], run.as_str(), "{runs}");
    let o = remote(local.path(), &server, &deployer, &["runs", "show", &run]);
    assert!(text(&o).contains("file   lineage.json"), "{}", text(&o));
    let o = remote(
        local.path(),
        &server,
        &deployer,
        &["models", "show", "churn@challenger", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let version: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(version["lineage"]["run_id"], run.as_str());
    let o = remote(
        local.path(),
        &server,
        &deployer,
        &["models", "alias", "churn", "champion", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // transform --model computes locally with what the server pins.
    let out = local.path().join("scored.csv");
    let o = remote(
        local.path(),
        &server,
        &deployer,
        &[
            "transform",
            "--model",
            "churn@champion",
            repo_root()
                .join("examples/churn/customers.csv")
                .to_str()
                .unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--predictions",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2001);
    assert!(files_under(&local.path().join("data")).is_empty());

    // Commands that only work on a data folder refuse, naming the remote Ferry.
    for args in [
        vec!["token", "list"],
        vec!["serve"],
        vec![
            "models",
            "register",
            "churn-elsewhere",
            "--run",
            &run,
            "--artifact",
            pipeline.to_str().unwrap(),
            "--plugin",
            "onnx",
        ],
    ] {
        let o = remote(local.path(), &server, &deployer, &args);
        assert_ne!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        let said = text(&o);
        assert!(
            said.contains("remote Ferry") && said.contains(&server.url),
            "{args:?}: {said}"
        );
    }
    assert!(files_under(&local.path().join("data")).is_empty());
    drop(server);
    drop(db);
}

#[test]
fn a_remote_train_with_a_token_that_may_not_write_is_refused_and_records_nothing() {
    let server = Server::start(&[]);
    let reader = server.token("viewer", "reader");
    let local = tempfile::tempdir().unwrap();
    let pipeline = repo_root().join("examples/churn/pipeline.toml");
    let o = remote(
        local.path(),
        &server,
        &reader,
        &["train", pipeline.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(text(&o).contains("HTTP 403"), "{}", text(&o));
    let o = server.ferry(&["runs", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");

    // A publisher may record runs and register, but not point an alias (a deployer's right):
    // the run needs all three, so it is refused before any of it is done, saying what it
    // needed; nothing is recorded or registered.
    let publisher = server.token("ds", "publisher");
    let o = remote(
        local.path(),
        &server,
        &publisher,
        &["train", pipeline.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    for part in [
        "this run needs the deployer role",
        "sets its alias `challenger`",
        "token ds has the publisher role",
        "Nothing was done",
    ] {
        assert!(text(&o).contains(part), "{part:?} missing: {}", text(&o));
    }
    let o = server.ferry(&["runs", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    let o = server.ferry(&["models", "show", "churn", "--json"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "nothing was registered: {}",
        text(&o)
    );
    // Without the registration, a publisher's token is enough.
    let o = remote(
        local.path(),
        &server,
        &publisher,
        &["train", pipeline.to_str().unwrap(), "--no-register"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(files_under(&local.path().join("data")).is_empty());
}
