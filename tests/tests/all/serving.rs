//! Online prediction and the model registry over HTTP: a version trained with `ferry train`
//! answers through its pinned pipeline; bad requests get a 422 naming each field; roles guard
//! every change and the audit log records it; a lineage that does not match what is stored is
//! refused on registration and on serving, while the server goes on serving the rest.

use ferry_tests::server::{PgDatabase, Server, text};
use ferry_tests::{churn_copy, repo_root};
use serde_json::{Value, json};

fn pipeline() -> String {
    repo_root()
        .join("examples/churn/pipeline.toml")
        .display()
        .to_string()
}

fn train(server: &Server, pipeline: &str) -> Value {
    let o = server.ferry(&["train", pipeline, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn row() -> Value {
    json!({
        "customer_id": "C00000", "tenure_months": 1, "monthly_charges": 46.05,
        "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
        "paperless_billing": false
    })
}

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value, String) {
    let r = Server::http()
        .post(format!("{}{path}", server.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let id = r
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, r.json().await.unwrap_or(Value::Null), id)
}

#[tokio::test(flavor = "multi_thread")]
async fn predictions_over_http_on_sqlite() {
    online(Server::start(&[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn predictions_over_http_on_postgresql() {
    let db = PgDatabase::create();
    online(Server::start(&["--database-url", &db.url()])).await;
}

async fn online(server: Server) {
    let trained = train(&server, &pipeline());
    let path = "/v1/models/churn/challenger/predict";

    // Rows in, predictions out, with the version and the request id.
    let (status, body, id) = post(&server, path, json!({ "rows": [row()] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(body["model"], "churn");
    assert_eq!(body["request_id"], Value::from(id));
    let p = body["predictions"][0]["probability"].as_f64().unwrap();
    assert!(p > 0.0 && p < 1.0);
    assert!(matches!(
        body["predictions"][0]["prediction"].as_str(),
        Some("yes" | "no")
    ));

    // Columns in, columns out; the label and features when asked for.
    let mut with_label = row();
    with_label["churned"] = json!("yes");
    let cols = json!({ "columns": {
        "customer_id": ["C00000", "C00001"], "tenure_months": [1, 1],
        "monthly_charges": [46.05, 40.3], "total_charges": [47.14, null],
        "contract": ["one-year", "month-to-month"], "support_calls": [1, 0],
        "paperless_billing": [false, false], "churned": ["yes", "no"]
    }});
    let (status, body, _) = post(&server, "/v1/models/churn/1/predict?features=true", cols).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predictions"]["probability"][0].as_f64(), Some(p));
    assert_eq!(body["features"]["contract=one-year"], json!([1.0, 0.0]));
    assert!(body["features"].get("customer_id").is_none());
    let (status, _, _) = post(&server, path, json!({ "rows": [with_label] })).await;
    assert_eq!(status, 200);

    // Each bad field is named with its problem.
    let mut bad = row();
    bad["tenure_months"] = json!("twelve");
    bad["colour"] = json!("red");
    bad.as_object_mut().unwrap().remove("contract");
    let (status, body, _) = post(&server, path, json!({ "rows": [row(), bad] })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");
    let fields = body["error"]["fields"].to_string();
    for needle in [
        r#""field":"colour""#,
        "not an input of this model",
        r#""field":"tenure_months""#,
        "expected an integer, found a string",
        r#""field":"contract""#,
        "missing",
        r#""row":1"#,
    ] {
        assert!(fields.contains(needle), "{needle} not in {fields}");
    }
    // The pinned validators judge each row.
    let mut out_of_range = row();
    out_of_range["monthly_charges"] = json!(500.0);
    out_of_range["contract"] = json!("weekly");
    let (status, body, _) = post(&server, path, json!({ "rows": [out_of_range] })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
    let fields = body["error"]["fields"].to_string();
    assert!(
        fields.contains("monthly_charges") && fields.contains("weekly"),
        "{fields}"
    );
    // Malformed bodies, unknown models and versions.
    for (path, body, status) in [
        (path, json!({ "rows": "x" }), 400),
        (path, json!([1, 2]), 400),
        (path, json!({ "rows": [] }), 400),
        (path, json!({ "rows": [1] }), 422),
        ("/v1/models/nope/1/predict", json!({ "rows": [row()] }), 404),
        (
            "/v1/models/churn/7/predict",
            json!({ "rows": [row()] }),
            404,
        ),
        (
            "/v1/models/churn/ghost/predict",
            json!({ "rows": [row()] }),
            404,
        ),
    ] {
        let (got, answer, _) = post(&server, path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{answer}");
    }
    let raw = Server::http()
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);

    // Many requests at once are served in parallel, and all agree.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let url = format!("{}{path}", server.url);
        tasks.push(tokio::spawn(async move {
            let r: Value = Server::http()
                .post(url)
                .json(&json!({ "rows": [row()] }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["predictions"][0]["probability"].as_f64()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(p));
    }

    // Moving an alias moves the answers: train again with another seed and point at it.
    let dir = churn_copy(|t| t.replace("seed = 42", "seed = 7"));
    let second = train(
        &server,
        &dir.path().join("pipeline.toml").display().to_string(),
    );
    assert_eq!(second["model_version"]["version"], 2);
    assert_ne!(second["transform_states"], trained["transform_states"]);
    // The server resolves aliases from memory; `ferry train` moved this one from another
    // process, which the server sees within a second.
    let moved = std::time::Instant::now();
    let body = loop {
        let (_, body, _) = post(&server, path, json!({ "rows": [row()] })).await;
        if body["version"] == 2 {
            break body;
        }
        assert!(
            moved.elapsed() < std::time::Duration::from_secs(1),
            "still version {} a second after the alias moved",
            body["version"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_ne!(body["predictions"][0]["probability"].as_f64(), Some(p));
    let (_, body, _) = post(
        &server,
        "/v1/models/churn/1/predict",
        json!({ "rows": [row()] }),
    )
    .await;
    assert_eq!(body["predictions"][0]["probability"].as_f64(), Some(p));

    // What `ferry train` recorded is visible over HTTP.
    let runs: Vec<Value> = Server::http()
        .get(format!("{}/v1/runs?filter=metrics.roc_auc%20%3E%3D%200.75&order_by=attributes.start_time%20ASC", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["info"]["id"], trained["run_id"]);
    let files: Vec<Value> = Server::http()
        .get(format!(
            "{}/v1/runs/{}/artifacts",
            server.url,
            trained["run_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "model/model.bin" && f["digest"] == trained["model_artifact"])
    );
    let model = Server::http()
        .get(format!(
            "{}/v1/runs/{}/artifacts/model/model.bin",
            server.url,
            trained["run_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        model.headers()["x-ferry-digest"].to_str().unwrap(),
        trained["model_artifact"].as_str().unwrap()
    );
}

async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let client = Server::http();
    let url = format!("{}{path}", server.url);
    let mut req = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        "PATCH" => client.patch(url),
        "DELETE" => client.delete(url),
        _ => client.post(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if !body.is_null() {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_model_registry_api_checks_roles_and_audits_changes() {
    let server = Server::start(&[]);
    let trained = train(&server, &pipeline());
    let reader = server.token("rita", "reader");
    let publisher = server.token("pat", "publisher");
    let deployer = server.token("dee", "deployer");

    let (s, list) = call(&server, "GET", "/v1/models", None, Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["name"], "churn");
    let (s, m) = call(
        &server,
        "GET",
        "/v1/models/churn",
        Some(&reader),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        m["versions"][0]["lineage"]["model"]["artifact_digest"],
        trained["model_artifact"]
    );
    let (s, v) = call(
        &server,
        "GET",
        "/v1/models/churn/versions/challenger",
        None,
        Value::Null,
    )
    .await;
    assert_eq!((s, v["version"].clone()), (200, json!(1)));
    let (s, card) = call(
        &server,
        "GET",
        "/v1/models/churn/versions/1/card",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert!(card.as_str().unwrap().contains("## Lineage"));

    // Who may do what.
    let cases = [
        (
            "PUT",
            "/v1/models/churn/aliases/champion",
            None,
            json!({"version": 1}),
            401,
        ),
        (
            "PUT",
            "/v1/models/churn/aliases/champion",
            Some(&reader),
            json!({"version": 1}),
            403,
        ),
        (
            "PUT",
            "/v1/models/churn/aliases/champion",
            Some(&publisher),
            json!({"version": 1}),
            403,
        ),
        (
            "PUT",
            "/v1/models/churn/aliases/champion",
            Some(&deployer),
            json!({"version": 1}),
            200,
        ),
        (
            "PUT",
            "/v1/models/churn/aliases/latest",
            Some(&deployer),
            json!({"version": 1}),
            400,
        ),
        (
            "PUT",
            "/v1/models/churn/aliases/champion",
            Some(&deployer),
            json!({"version": 9}),
            404,
        ),
        (
            "PUT",
            "/v1/models/churn/aliases/champion",
            Some(&deployer),
            json!({"v": 1}),
            400,
        ),
        (
            "POST",
            "/v1/models/churn/versions/1/stage",
            Some(&publisher),
            json!({"stage": "Production"}),
            403,
        ),
        (
            "POST",
            "/v1/models/churn/versions/1/stage",
            Some(&deployer),
            json!({"stage": "Live"}),
            400,
        ),
        (
            "POST",
            "/v1/models/churn/versions/1/stage",
            Some(&deployer),
            json!({"stage": "production"}),
            200,
        ),
        (
            "PATCH",
            "/v1/models/churn",
            Some(&reader),
            json!({"description": "x"}),
            403,
        ),
        (
            "PATCH",
            "/v1/models/churn",
            Some(&publisher),
            json!({"description": "Churn next month", "tags": {"team": "growth"}}),
            200,
        ),
        (
            "PATCH",
            "/v1/models/churn/versions/1",
            Some(&publisher),
            json!({"tags": {"reviewed": "yes"}}),
            200,
        ),
        (
            "POST",
            "/v1/models",
            Some(&publisher),
            json!({"name": "churn"}),
            409,
        ),
        (
            "POST",
            "/v1/models",
            Some(&publisher),
            json!({"name": "a/b"}),
            400,
        ),
        (
            "POST",
            "/v1/models",
            Some(&reader),
            json!({"name": "fraud"}),
            403,
        ),
        (
            "POST",
            "/v1/models",
            Some(&publisher),
            json!({"name": "fraud", "description": "d"}),
            201,
        ),
        (
            "DELETE",
            "/v1/models/churn/aliases/nope",
            Some(&deployer),
            Value::Null,
            404,
        ),
    ];
    for (method, path, token, body, status) in cases {
        let (got, answer) = call(
            &server,
            method,
            path,
            token.map(String::as_str),
            body.clone(),
        )
        .await;
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
    }
    let (_, v) = call(
        &server,
        "GET",
        "/v1/models/churn/versions/champion",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(v["stage"], "Production");
    assert_eq!(v["tags"], json!([["reviewed", "yes"]]));
    let (_, m) = call(&server, "GET", "/v1/models/churn", None, Value::Null).await;
    assert_eq!(m["description"], "Churn next month");
    assert_eq!(m["tags"], json!([["team", "growth"]]));
    let (s, _) = call(
        &server,
        "POST",
        "/v1/models/churn/champion/predict",
        None,
        json!({"rows": [row()]}),
    )
    .await;
    assert_eq!(s, 200);

    let (_, openapi) = call(&server, "GET", "/openapi.json", None, Value::Null).await;
    for p in [
        "/v1/models",
        "/v1/models/{name}/versions",
        "/v1/models/{name}/{reference}/predict",
        "/v1/models/{name}/aliases/{alias}",
        "/v1/models/{name}/versions/{reference}/pipeline",
    ] {
        assert!(openapi["paths"][p].is_object(), "{p} is not described");
    }

    let audit = server.audit().await;
    let seen = |action: &str, outcome: &str| {
        audit
            .iter()
            .any(|e| e["action"] == action && e["outcome"] == outcome)
    };
    assert!(seen("model.alias.set", "ok") && seen("model.alias.set", "denied"));
    assert!(seen("model.stage", "ok") && seen("model.stage", "denied"));
    assert!(seen("model.update", "ok") && seen("model.create", "denied"));
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "model.alias.set" && e["actor"] == "token:dee")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lineage_that_does_not_match_is_refused_on_registration_and_on_serving() {
    let server = Server::start(&[]);
    let trained = train(&server, &pipeline());
    let publisher = server.token("pat", "publisher");
    let (_, v) = call(
        &server,
        "GET",
        "/v1/models/churn/versions/1",
        None,
        Value::Null,
    )
    .await;
    let lineage = v["lineage"].clone();
    let states = trained["transform_states"].as_array().unwrap().clone();

    // Registration checks every digest, and the run's own record of its transforms.
    let mut other_state = lineage.clone();
    other_state["transforms"][1]["state_digest"] = states[0].clone();
    let mut missing_state = lineage.clone();
    missing_state["transforms"][1]["state_digest"] = json!(format!("sha256:{}", "0".repeat(64)));
    let mut other_plugin = lineage.clone();
    other_plugin["transforms"][0]["plugin"]["digest"] =
        lineage["transforms"][1]["plugin"]["digest"].clone();
    let mut unknown_version = lineage.clone();
    unknown_version["transforms"][0]["plugin"]["version"] = json!("9.9.9");
    let mut no_artifact = lineage.clone();
    no_artifact["model"]["artifact_digest"] = json!(format!("sha256:{}", "1".repeat(64)));
    let mut other_config = lineage.clone();
    other_config["transforms"][1]["config"] = json!("{\"columns\":[\"tenure_months\"]}");
    for (what, l, needle) in [
        (
            "another transform's state",
            other_state,
            "transform 2 (standard-scaler)",
        ),
        ("a state never stored", missing_state, "no stored bytes"),
        ("another plugin's digest", other_plugin, "the lineage pins"),
        (
            "a version not in the registry",
            unknown_version,
            "impute@9.9.9 is not in the registry",
        ),
        (
            "a model artifact never stored",
            no_artifact,
            "the model artifact",
        ),
        (
            "another configuration",
            other_config,
            "another configuration",
        ),
    ] {
        let (s, answer) = call(
            &server,
            "POST",
            "/v1/models/churn/versions",
            Some(&publisher),
            json!({"lineage": l}),
        )
        .await;
        assert_eq!(s, 409, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "lineage_mismatch", "{what}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{what}: {needle:?} not in {message}"
        );
    }
    let (s, answer) = call(
        &server,
        "POST",
        "/v1/models/churn/versions",
        Some(&publisher),
        json!({"lineage": {"format": "x"}}),
    )
    .await;
    assert_eq!(s, 422, "{answer}");
    // The unchanged lineage registers.
    let (s, answer) = call(
        &server,
        "POST",
        "/v1/models/churn/versions",
        Some(&publisher),
        json!({"lineage": lineage, "description": "same"}),
    )
    .await;
    assert_eq!(s, 201, "{answer}");
    assert_eq!(answer["version"], 2);
    let audit = server.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "model.register" && e["outcome"] == "denied")
    );

    // A second model trained with another split: its own states.
    let dir = churn_copy(|t| {
        t.replace("seed = 42", "seed = 3")
            .replace("alias = \"challenger\"", "model = \"churn-b\"")
    });
    train(
        &server,
        &dir.path().join("pipeline.toml").display().to_string(),
    );

    // Serving: a stored state whose bytes no longer match its digest is refused with a clear
    // error (after a restart, so nothing is cached), and the server goes on serving the rest.
    let digest = states[1]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let data = server.kill();
    let blob = std::fs::read_dir(data.path().join("blobs"))
        .unwrap()
        .flat_map(|d| walk(&d.unwrap().path()))
        .find(|p| p.to_string_lossy().contains(&digest[2..]))
        .expect("the scaler state's blob");
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let server = Server::start_in(data, &[]);
    let (s, answer) = call(
        &server,
        "POST",
        "/v1/models/churn/1/predict",
        None,
        json!({"rows": [row()]}),
    )
    .await;
    assert_eq!(s, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "lineage_mismatch");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the state of transform 2 (standard-scaler)")
            && message.contains("hash to"),
        "{message}"
    );
    let (s, answer) = call(
        &server,
        "POST",
        "/v1/models/churn-b/1/predict",
        None,
        json!({"rows": [row()]}),
    )
    .await;
    assert_eq!(s, 200, "{answer}");
    let (s, _) = call(&server, "GET", "/v1/health", None, Value::Null).await;
    assert_eq!(s, 200);
    // The same refusal in batch, with its own exit code.
    let out = data_file("features.csv");
    let o = server.ferry(&[
        "transform",
        "--model",
        "churn@1",
        &repo_root()
            .join("examples/churn/customers.csv")
            .display()
            .to_string(),
        "--out",
        &out,
    ]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    assert!(text(&o).contains("lineage mismatch"), "{}", text(&o));
}

fn data_file(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("ferry-{}-{name}", std::process::id()))
        .display()
        .to_string()
}

fn walk(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    if path.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .flat_map(|e| walk(&e.unwrap().path()))
            .collect()
    } else {
        vec![path.to_path_buf()]
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operators_limits_hold_for_served_plugins() {
    let server = Server::start(&[]);
    train(&server, &pipeline());
    let data = server.kill();
    // A memory cap below what the plugins need: the version cannot start, and says why.
    let capped = Server::start_in(data, &["--memory-mib", "1"]);
    let (status, body, _) = post(
        &capped,
        "/v1/models/churn/1/predict",
        json!({"rows": [row()]}),
    )
    .await;
    assert_eq!(status, 500, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("memory than its cap of 1 MiB"),
        "{message}"
    );
    // The server goes on, and without the cap the same version serves.
    let health = Server::http()
        .get(format!("{}/v1/health", capped.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let data = capped.kill();
    let normal = Server::start_in(data, &[]);
    let (status, body, _) = post(
        &normal,
        "/v1/models/churn/1/predict",
        json!({"rows": [row()]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Sends `n` prediction requests at once; every one must succeed.
async fn burst(server: &Server, n: usize) {
    let calls = (0..n).map(|_| {
        post(
            server,
            "/v1/models/churn/1/predict",
            json!({"rows": [row()]}),
        )
    });
    for (status, body, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_version_holds_no_more_instance_sets_than_the_operator_allows() {
    let server = Server::start(&[]);
    train(&server, &pipeline());
    let data = server.kill();
    // Unbounded by a small limit, a burst builds sets beside the ones built ahead.
    let open = Server::start_in(data, &[]);
    burst(&open, 24).await;
    assert_eq!(
        open.metric("ferry_instance_sets_per_version", &[]).await,
        8.0
    );
    let peak = open.metric("ferry_instance_sets_peak", &[]).await;
    assert!((2.0..=8.0).contains(&peak), "{peak}");
    // With one set allowed, the same burst is served one call at a time, all of it.
    let data = open.kill();
    let capped = Server::start_in(data, &["--max-instance-sets", "1"]);
    burst(&capped, 24).await;
    assert_eq!(
        capped.metric("ferry_instance_sets_per_version", &[]).await,
        1.0
    );
    assert_eq!(capped.metric("ferry_instance_sets_peak", &[]).await, 1.0);
    let data = capped.kill();
    let refused = std::process::Command::new(ferry_tests::ferry_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--max-instance-sets", "0"])
        .env("FERRY_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_ne!(refused.status.code(), Some(0));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--max-instance-sets must each be at least 1"),
        "{said}"
    );
}
