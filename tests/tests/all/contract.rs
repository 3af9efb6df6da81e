//! The server holds every request to its own document (`/openapi.json`) before a handler runs:
//! what the document refuses is refused with 400 naming the place, a missing token is a 401
//! before any body is parsed, and what the document allows in unusual spellings (numbers as
//! text, `NaN`, `2.0` for an integer, letters beyond ASCII) is accepted. The document types
//! every MLflow body, and the one schema name two structs shared is gone.

use ferry_tests::server::Server;
use serde_json::{Value, json};

async fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = Server::http().request(method, format!("{}{path}", server.url));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn mlflow(server: &Server, path: &str, body: Value) -> (u16, Value) {
    call(
        server,
        reqwest::Method::POST,
        &format!("/api/2.0/mlflow/{path}"),
        Some(&server.admin),
        Some(body),
    )
    .await
}

fn message(v: &Value) -> String {
    v["message"]
        .as_str()
        .or(v["error"]["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_document_refuses_is_refused_naming_the_place() {
    let server = Server::start(&[]);
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    // A limit over the documented maximum (it was clamped and answered 200).
    let (status, v) = call(&server, get.clone(), "/v1/alerts?limit=10001", None, None).await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("`limit`"), "{v}");

    // A yank without a token: 401 before its body is looked at (it was a 422).
    let (status, v) = call(
        &server,
        post.clone(),
        "/v1/plugins/ratio/0.1.0/yank",
        None,
        Some(Value::Null),
    )
    .await;
    assert_eq!(status, 401, "{v}");

    let (_, v) = mlflow(&server, "runs/create", json!({"experiment_id": "0"})).await;
    let run = v["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for (path, body, place) in [
        (
            "runs/log-metric",
            json!({"run_id": run, "key": "a/../b", "value": 1}),
            "/key",
        ),
        (
            "runs/log-metric",
            json!({"run_id": run, "key": "loss", "value": "lots"}),
            "/value",
        ),
        (
            "runs/log-batch",
            json!({"run_id": run, "params": [{"key": "p", "value": "x".repeat(8001)}]}),
            "/params/0/value",
        ),
        ("registered-models/create", json!({"tags": []}), "name"),
        (
            "registered-models/create",
            json!({"name": " padded "}),
            "/name",
        ),
        (
            "runs/update",
            json!({"run_id": run, "status": "DONE"}),
            "/status",
        ),
        ("runs/delete", json!({"run_uuid": run}), "run_id"),
    ] {
        let (status, v) = mlflow(&server, path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        assert_eq!(v["error_code"], "INVALID_PARAMETER_VALUE", "{v}");
        assert!(message(&v).contains(place), "{path} {body}: {v}");
    }
    // Not JSON at all, and a required body left out.
    let raw = Server::http()
        .post(format!("{}/api/2.0/mlflow/runs/log-metric", server.url))
        .bearer_auth(&server.admin)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    assert!(raw.text().await.unwrap().contains("not valid JSON"));
    let (status, v) = call(
        &server,
        post.clone(),
        "/api/2.0/mlflow/runs/log-metric",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("missing"), "{v}");
    // Nothing of the refused calls was logged.
    let (_, v) = call(
        &server,
        get.clone(),
        &format!("/api/2.0/mlflow/runs/get?run_id={run}"),
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(v["run"]["data"]["metrics"], json!([]), "{v}");
    assert_eq!(v["run"]["data"]["params"], json!([]), "{v}");

    // A query parameter the document requires, and one of the wrong type.
    let (status, v) = call(
        &server,
        get.clone(),
        "/api/2.0/mlflow/model-versions/get?name=m",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("`version` is required"), "{v}");
    let (status, v) = call(
        &server,
        get,
        "/v1/deployments/d/shadow?limit=ten",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("not an integer"), "{v}");

    // Refusals of changes are audited, with the path they were sent to.
    let log = server.audit().await;
    assert!(
        log.iter().any(|e| e["action"] == "http.post"
            && e["object"] == "/api/2.0/mlflow/runs/log-metric"
            && e["outcome"] == "denied"),
        "{log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_document_allows_is_accepted() {
    let server = Server::start(&[]);
    let (status, v) = mlflow(&server, "experiments/create", json!({"name": "实验 é"})).await;
    assert_eq!(status, 200, "{v}");
    let experiment = v["experiment_id"].as_str().unwrap().to_string();
    // The same name again is a conflict (409), not a malformed request.
    let (status, v) = mlflow(&server, "experiments/create", json!({"name": "实验 é"})).await;
    assert_eq!(
        (status, v["error_code"].clone()),
        (409, json!("RESOURCE_ALREADY_EXISTS"))
    );

    // No body at all where every field is optional.
    let (status, v) = call(
        &server,
        reqwest::Method::POST,
        "/api/2.0/mlflow/runs/create",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = mlflow(&server, "runs/create", json!({"experiment_id": experiment})).await;
    let run = v["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for body in [
        // Numbers as protobuf's JSON spells them: int64 as text, NaN as text.
        json!({"run_id": run, "key": "loss", "value": "NaN", "timestamp": "1700000000000", "step": "3"}),
        // An integer written as a float is an integer to JSON Schema.
        json!({"run_id": run, "key": "µs/step", "value": 0.25, "timestamp": 1.7e12, "step": 2.0}),
    ] {
        let (status, v) = mlflow(&server, "runs/log-metric", body.clone()).await;
        assert_eq!(status, 200, "{body}: {v}");
    }
    let (status, v) = mlflow(
        &server,
        "runs/log-batch",
        json!({"run_id": run, "params": [{"key": "ÿ", "value": "1"}], "tags": [{"key": "team:risk", "value": "x".repeat(8000)}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // Changing a logged parameter is refused by what is stored: 409, with MLflow's code.
    let (status, v) = mlflow(
        &server,
        "runs/log-parameter",
        json!({"run_id": run, "key": "ÿ", "value": "2"}),
    )
    .await;
    assert_eq!(
        (status, v["error_code"].clone()),
        (409, json!("INVALID_PARAMETER_VALUE")),
        "{v}"
    );

    let (status, v) = mlflow(
        &server,
        "registered-models/create",
        json!({"name": "modèle 1"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // An alias that does not exist is not found (it was a 400).
    let (status, v) = call(
        &server,
        reqwest::Method::GET,
        "/api/2.0/mlflow/registered-models/alias?name=mod%C3%A8le%201&alias=champion",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(
        (status, v["error_code"].clone()),
        (404, json!("RESOURCE_DOES_NOT_EXIST"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_types_every_body_and_names_each_schema_once() {
    let server = Server::start(&[]);
    let doc = server.get_json("/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    // `POST /v1/models` takes a model, not the deployments' `{name, spec}`.
    let models = &doc["paths"]["/v1/models"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"];
    let model = &schemas[models
        .as_str()
        .unwrap()
        .trim_start_matches("#/components/schemas/")];
    assert!(model["properties"]["tags"].is_object(), "{model}");
    assert!(model["properties"]["spec"].is_null(), "{model}");
    let deployments = &doc["paths"]["/v1/deployments"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"];
    assert_ne!(models, deployments);

    let mut typed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/2.0/mlflow/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema")
            else {
                continue;
            };
            let named = schema["$ref"].is_string()
                || schema["oneOf"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|s| s["$ref"].is_string()));
            assert!(named, "{method} {path} takes a free-form body: {schema}");
            typed += 1;
        }
    }
    assert!(typed >= 39, "{typed} typed MLflow bodies");
    // Every path parameter is required, as OpenAPI has it.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    assert_eq!(p["required"], true, "{method} {path} {}", p["name"]);
                }
            }
        }
    }
}
