//! Named deployments on a real `ferry serve`: single, canary (split and stickiness),
//! blue-green under concurrent load, shadows off the request path, rollback through the
//! revision history, fallback and default answers when a target traps, overruns the
//! deployment's timeout or its memory cap, and the circuit breaker. Bad definitions are
//! refused with the field named, and nothing stored changes.

use std::collections::HashMap;
use std::time::Duration;

use ferry_tests::server::hostile::{FAIL, HUNGRY, SLOW};
use ferry_tests::server::{Server, ok_json as ok, text};
use serde_json::{Value, json};

fn row(customer: &str, tenure: i64) -> Value {
    json!({
        "customer_id": customer, "tenure_months": tenure, "monthly_charges": 46.05,
        "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
        "paperless_billing": false
    })
}

async fn post(server: &Server, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = Server::http()
        .post(format!("{}{path}", server.url))
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Each version's probability for a row, from the model endpoint.
async fn probability(server: &Server, version: i64, row: &Value) -> f64 {
    let (status, body) = post(
        server,
        &format!("/v1/models/churn/{version}/predict"),
        &json!({"rows": [row]}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["predictions"][0]["probability"].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn single_canary_and_sticky_routing() {
    let server = Server::start(&[]);
    server.two_churn_versions();
    let deployer = server.token("dep", "deployer");
    let created = ok(server.deploy(
        &deployer,
        &["create", "churn", "--model", "churn@1", "--json"],
    ));
    assert_eq!(created["revision"], 1);
    assert_eq!(created["spec"]["targets"][0]["resolved"]["number"], 1);

    // Single: every answer from version 1, as its primary, equal to the model endpoint's.
    let r = row("C00001", 12);
    let p1 = probability(&server, 1, &r).await;
    let p2 = probability(&server, 2, &r).await;
    assert_ne!(p1.to_bits(), p2.to_bits(), "the two versions must differ");
    let (status, body) = post(
        &server,
        "/v1/deployments/churn/predict",
        &json!({"rows": [r]}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["version"].as_i64(), body["reason"].as_str()),
        (Some(1), Some("primary"))
    );
    assert_eq!(body["predictions"][0]["probability"].as_f64(), Some(p1));
    assert_eq!(body["deployment"], "churn");
    assert!(body["request_id"].is_string());

    // Canary: 10% to version 2. Over 10,000 requests the split is within 2 points.
    let o = ok(server.deploy(
        &deployer,
        &[
            "update",
            "churn",
            "--model",
            "churn@1=90",
            "--model",
            "churn@2=10",
            "--json",
        ],
    ));
    assert_eq!(o["revision"], 2);
    let counts = split(&server, 10_000, |_| vec![]).await;
    let canary = counts.get(&(2, "canary".into())).copied().unwrap_or(0);
    let primary = counts.get(&(1, "primary".into())).copied().unwrap_or(0);
    assert_eq!(canary + primary, 10_000, "{counts:?}");
    let share = canary as f64 / 100.0;
    assert!(
        (8.0..=12.0).contains(&share),
        "canary share {share}% of 10,000"
    );

    // Sticky by a header: one customer always gets the same version; the split still holds.
    ok(server.deploy(
        &deployer,
        &[
            "update",
            "churn",
            "--model",
            "churn@1=50",
            "--model",
            "churn@2=50",
            "--sticky-header",
            "x-customer",
            "--json",
        ],
    ));
    let mut seen: HashMap<String, i64> = HashMap::new();
    for round in 0..3 {
        for c in 0..200 {
            let key = format!("customer-{c}");
            let (status, body) = post(
                &server,
                "/v1/deployments/churn/predict",
                &json!({"rows": [row("C00001", 12)]}),
                &[("x-customer", &key)],
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let v = body["version"].as_i64().unwrap();
            if round == 0 {
                seen.insert(key, v);
            } else {
                assert_eq!(
                    seen[&key], v,
                    "{key} moved from version {} to {v}",
                    seen[&key]
                );
            }
        }
    }
    let on_two = seen.values().filter(|v| **v == 2).count();
    assert!(
        (60..=140).contains(&on_two),
        "{on_two} of 200 keys on version 2"
    );
    // Sticky by a field of the first row.
    ok(server.deploy(
        &deployer,
        &[
            "update",
            "churn",
            "--model",
            "churn@1=50",
            "--model",
            "churn@2=50",
            "--sticky-field",
            "customer_id",
            "--json",
        ],
    ));
    let mut versions = Vec::new();
    for _ in 0..20 {
        let (_, body) = post(
            &server,
            "/v1/deployments/churn/predict",
            &json!({"rows": [row("C00077", 12)]}),
            &[],
        )
        .await;
        versions.push(body["version"].as_i64().unwrap());
    }
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");

    // The same body shapes and 422 details as the model endpoint.
    let mut bad = row("C00001", 12);
    bad["tenure_months"] = json!("twelve");
    let (status, body) = post(
        &server,
        "/v1/deployments/churn/predict",
        &json!({"rows": [bad]}),
        &[],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]
            .to_string()
            .contains("tenure_months"),
        "{body}"
    );
    let cols = json!({"columns": {"customer_id": ["C00001"], "tenure_months": [12], "monthly_charges": [46.05], "total_charges": [47.14], "contract": ["one-year"], "support_calls": [1], "paperless_billing": [false]}});
    let (status, body) = post(&server, "/v1/deployments/churn/predict", &cols, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["predictions"]["probability"].is_array(), "{body}");
    for (body, status) in [
        (json!({"rows": []}), 400),
        (json!([1]), 400),
        (json!({"rows": "x"}), 400),
    ] {
        let (s, b) = post(&server, "/v1/deployments/churn/predict", &body, &[]).await;
        assert_eq!(s, status, "{b}");
    }
    let (s, _) = post(
        &server,
        "/v1/deployments/ghost/predict",
        &json!({"rows": [row("C00001", 1)]}),
        &[],
    )
    .await;
    assert_eq!(s, 404);

    refusals(&server, &deployer).await;
}

/// Sends `n` requests, 16 at a time; counts answers by version and reason.
async fn split(
    server: &Server,
    n: usize,
    headers: impl Fn(usize) -> Vec<(String, String)>,
) -> HashMap<(i64, String), usize> {
    let client = Server::http();
    let url = format!("{}/v1/deployments/churn/predict", server.url);
    let body = json!({"rows": [row("C00001", 12)]});
    let mut counts = HashMap::new();
    let mut i = 0;
    while i < n {
        let batch: Vec<_> = (i..(i + 16).min(n))
            .map(|k| {
                let mut req = client.post(&url).json(&body);
                for (h, v) in headers(k) {
                    req = req.header(h, v);
                }
                async move {
                    let r = req.send().await.unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    let v: Value = r.json().await.unwrap();
                    (
                        v["version"].as_i64().unwrap(),
                        v["reason"].as_str().unwrap().to_string(),
                    )
                }
            })
            .collect();
        for key in futures_util::future::join_all(batch).await {
            *counts.entry(key).or_insert(0) += 1;
        }
        i += 16;
    }
    counts
}

/// Bad definitions get an exit code and a message naming the field; nothing stored changes.
async fn refusals(server: &Server, deployer: &str) {
    let before = server.get_json("/v1/deployments/churn/revisions").await;
    for (args, needle) in [
        (
            vec!["--model", "churn@1=90", "--model", "churn@2=20"],
            "must sum to 100, not 110",
        ),
        (
            vec!["--model", "churn@7"],
            "targets[0] (churn@7): version 7 of model \"churn\"",
        ),
        (vec!["--model", "nope@1"], "targets[0] (nope@1)"),
        (
            vec!["--model", "churn@1", "--shadow", "churn@1"],
            "shadows[0] (churn@1) is the same version as the target churn@1",
        ),
        (
            vec!["--model", "churn@2", "--fallback", "churn@challenger"],
            "fallback (churn@challenger) is the same version as the target churn@2",
        ),
        (
            vec!["--model", "churn@1", "--timeout-ms", "0"],
            "timeout_ms: 0 is not between",
        ),
        (
            vec!["--model", "churn@1", "--default", "[1]"],
            "default: expected a JSON object",
        ),
        (
            vec!["--model", "churn@1=0", "--model", "churn@2=100"],
            "weight 0 is not between 1 and 100",
        ),
        (
            vec!["--model", "churn@1=50", "--model", "churn@v1=50"],
            "is the same version as targets[0]",
        ),
        (
            vec!["--model", "churn@1", "--batch-max-rows", "1"],
            "batch.max_rows: 1 is not between 2 and 8192",
        ),
        (
            vec![
                "--model",
                "churn@1",
                "--batch-max-rows",
                "8",
                "--batch-max-wait-us",
                "200000",
            ],
            "batch.max_wait_us: 200000 must be at most 100000 and below the timeout",
        ),
        (
            vec![
                "--model",
                "churn@1",
                "--timeout-ms",
                "1",
                "--batch-max-rows",
                "8",
                "--batch-max-wait-us",
                "1000",
            ],
            "batch.max_wait_us: 1000 must be at most 100000 and below the timeout (1 ms)",
        ),
    ] {
        let mut all = vec!["update", "churn"];
        all.extend(args);
        let o = server.deploy(deployer, &all);
        assert_eq!(o.status.code(), Some(10), "{needle}: {}", text(&o));
        assert!(text(&o).contains(needle), "{needle} not in {}", text(&o));
    }
    // Over HTTP: 422 with the same message; a reader may not change a deployment.
    let spec = json!({"spec": {"targets": [{"model": "churn", "version": "1", "weight": 60}]}});
    let r = Server::http()
        .put(format!("{}/v1/deployments/churn", server.url))
        .bearer_auth(deployer)
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_deployment");
    let reader = server.token("reader", "reader");
    let o = server.deploy(&reader, &["update", "churn", "--model", "churn@1"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let r = Server::http()
        .post(format!("{}/v1/deployments", server.url))
        .bearer_auth(deployer)
        .json(
            &json!({"name": "bad/name", "spec": {"targets": [{"model": "churn", "version": "1"}]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        server.get_json("/v1/deployments/churn/revisions").await,
        before,
        "nothing stored changed"
    );
    let audit = server.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "deployment.update" && e["outcome"] == "denied"),
        "refusals are audited"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blue_green_switch_and_rollback() {
    let server = Server::start(&[]);
    server.two_churn_versions();
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &["create", "churn", "--model", "churn@1", "--json"],
    ));
    let rows = json!({"rows": [row("C00001", 3), row("C00002", 40)]});
    let mut expected = HashMap::new();
    for v in [1, 2] {
        let (_, body) = post(
            &server,
            &format!("/v1/models/churn/{v}/predict"),
            &rows,
            &[],
        )
        .await;
        expected.insert(v, body["predictions"].clone());
    }

    // Eight clients keep predicting while the deployment switches to version 2.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url, rows, stop) = (
                format!("{}/v1/deployments/churn/predict", server.url),
                rows.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let client = Server::http();
                let mut answers = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = client.post(&url).json(&rows).send().await.unwrap();
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap();
                    answers.push((status, v));
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    ok(server.deploy(
        &deployer,
        &["update", "churn", "--model", "churn@2", "--json"],
    ));
    // Every request that starts after the switch is answered by version 2.
    let (_, after) = post(&server, "/v1/deployments/churn/predict", &rows, &[]).await;
    assert_eq!(after["version"], 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut by_version = HashMap::new();
    for c in clients {
        for (status, v) in c.await.unwrap() {
            assert_eq!(status, 200, "{v}");
            let version = v["version"].as_i64().unwrap();
            // Never a mixed answer: every row from the version the answer names, and that
            // version from the revision the answer names.
            assert_eq!(v["predictions"], expected[&version], "{v}");
            assert_eq!(v["revision"].as_i64().unwrap(), version, "{v}");
            *by_version.entry(version).or_insert(0) += 1;
        }
    }
    assert!(
        by_version.get(&1).is_some_and(|n| *n > 0) && by_version.get(&2).is_some_and(|n| *n > 0),
        "{by_version:?}"
    );

    // Rollback: back to revision 1's versions, as revision 3; history kept.
    let back = ok(server.deploy(&deployer, &["rollback", "churn", "--json"]));
    assert_eq!(
        (back["revision"].as_i64(), back["reason"].as_str()),
        (Some(3), Some("rollback to 1"))
    );
    let (_, body) = post(&server, "/v1/deployments/churn/predict", &rows, &[]).await;
    assert_eq!(
        (body["version"].as_i64(), body["revision"].as_i64()),
        (Some(1), Some(3))
    );
    let o = server.deploy(&deployer, &["history", "churn"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let history = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(history.lines().count(), 3, "{history}");
    assert!(history.contains("revision 3 (rollback to 1"), "{history}");
    // Rolling back to the current revision, or past the first, is refused.
    let o = server.deploy(&deployer, &["rollback", "churn", "--to", "3"]);
    assert_eq!(o.status.code(), Some(10), "{}", text(&o));
    let o = server.deploy(&deployer, &["rollback", "churn", "--to", "9"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let actions: Vec<String> = server
        .audit()
        .await
        .iter()
        .filter(|e| e["outcome"] == "ok")
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .filter(|a| a.starts_with("deployment."))
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "deployment.create").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "deployment.update").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "deployment.rollback")
            .count(),
        1,
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shadows_are_mirrored_and_never_answer() {
    let server = Server::start(&[]);
    server.two_churn_versions();
    let hostile = server.train_hostile_churn();
    let deployer = server.token("dep", "deployer");
    let h = format!("churn@{hostile}");
    ok(server.deploy(
        &deployer,
        &[
            "create", "churn", "--model", "churn@1", "--shadow", "churn@2", "--shadow", &h,
            "--json",
        ],
    ));
    let p1 = probability(&server, 1, &row("C00001", 12)).await;
    for customer in ["C00001", FAIL, "C00001", FAIL, "C00001"] {
        let (status, body) = post(
            &server,
            "/v1/deployments/churn/predict",
            &json!({"rows": [row(customer, 12)]}),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["version"].as_i64(), body["reason"].as_str()),
            (Some(1), Some("primary"))
        );
        assert_eq!(body["predictions"][0]["probability"].as_f64(), Some(p1));
        assert!(body.get("failed").is_none(), "{body}");
    }
    // The shadows run off the request path; wait for them.
    let mut log = Value::Null;
    for _ in 0..100 {
        log = ok(server.deploy(&deployer, &["shadow", "churn", "--json"]));
        let mirrored: u64 = log["counters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["mirrored"].as_u64().unwrap())
            .sum();
        let done: u64 = log["counters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["agreed"].as_u64().unwrap()
                    + c["disagreed"].as_u64().unwrap()
                    + c["failed"].as_u64().unwrap()
            })
            .sum();
        // A disagreement or failure is counted first, then written to the sample log.
        let sampled = log["samples"].as_array().map_or(0, Vec::len);
        if mirrored == 10 && done == 10 && sampled >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counters = log["counters"].as_array().unwrap();
    let of = |label: &str| {
        counters
            .iter()
            .find(|c| c["shadow"] == label)
            .unwrap_or_else(|| panic!("{label} in {log}"))
    };
    assert_eq!(of("churn@2")["disagreed"], 5, "{log}");
    assert_eq!(of(&h)["failed"], 2, "{log}");
    assert_eq!(of(&h)["agreed"], 3, "{log}");
    let samples = log["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 7, "{log}");
    let failure = samples.iter().find(|s| s["shadow"] == h.as_str()).unwrap();
    assert!(
        failure["shadow_answer"]["error"]
            .as_str()
            .unwrap()
            .contains("panic"),
        "{failure}"
    );
    assert_eq!(failure["answered"], "churn@1");
    let disagreement = samples.iter().find(|s| s["shadow"] == "churn@2").unwrap();
    assert_eq!(disagreement["answer"][0]["probability"].as_f64(), Some(p1));
    assert_ne!(disagreement["shadow_answer"], disagreement["answer"]);
    // The primary's health is untouched by its shadow's failures.
    let status = server.get_json("/v1/deployments/churn").await;
    assert_eq!(
        status["status"]["targets"][0]["breaker"]["state"], "closed",
        "{status}"
    );
    assert_eq!(
        status["status"]["targets"][0]["breaker"]["recent_failures"], 0,
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fallback_default_and_circuit_breaker() {
    // Alert rules on the deployment's circuit, its error rate and plugin failures, delivered by
    // the built-in `file` sink into a granted folder.
    let alerts = tempfile::tempdir().unwrap();
    let rules = alerts.path().join("alerts.toml");
    std::fs::write(
        &rules,
        r#"
[[sinks]]
name = "log"
plugin = "file"

[[rules]]
name = "circuit"
deployment = "churn"
when = "circuit_open >= 1"
every_seconds = 1
sinks = ["log"]

[[rules]]
name = "errors"
deployment = "churn"
when = "error_rate > 0"
window_seconds = 3600
every_seconds = 1
sinks = ["log"]

[[rules]]
name = "misbehaving"
when = "plugin_failures >= 3"
window_seconds = 3600
every_seconds = 1
sinks = ["log"]
"#,
    )
    .unwrap();
    let out = alerts.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let server = Server::start(&[
        "--alerts",
        rules.to_str().unwrap(),
        "--allow-dir",
        &format!("/alerts={}", out.display()),
    ]);
    assert_eq!(server.train_churn(|t| t), 1);
    let hostile = server.train_hostile_churn();
    let deployer = server.token("dep", "deployer");
    let h = format!("churn@{hostile}");
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "churn",
            "--model",
            &h,
            "--fallback",
            "churn@1",
            "--timeout-ms",
            "300",
            "--breaker-failures",
            "3",
            "--breaker-window-ms",
            "60000",
            "--breaker-open-ms",
            "2500",
            "--json",
        ],
    ));
    let predict = |customer: &'static str| {
        let server = &server;
        async move {
            post(
                server,
                "/v1/deployments/churn/predict",
                &json!({"rows": [row(customer, 12)]}),
                &[],
            )
            .await
        }
    };
    let (status, body) = predict("C00001").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["version"].as_i64(), body["reason"].as_str()),
        (Some(hostile), Some("primary"))
    );

    // A trap, the deployment's timeout and the memory cap each fall back to version 1, and
    // the answer says why.
    for (customer, needle) in [
        (FAIL, "panic"),
        (SLOW, "timeout of 300 ms"),
        (HUNGRY, "memory"),
    ] {
        let (status, body) = predict(customer).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["version"].as_i64(), body["reason"].as_str()),
            (Some(1), Some("fallback")),
            "{body}"
        );
        let why = body["failed"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(why.contains(needle), "{needle} not in {why}");
        assert_eq!(body["failed"][0]["target"], h.as_str());
    }
    // A request-side 422 is the request's: no fallback, no failure counted.
    let mut bad = row("C00001", 12);
    bad["tenure_months"] = json!("twelve");
    let (status, _) = post(
        &server,
        "/v1/deployments/churn/predict",
        &json!({"rows": [bad]}),
        &[],
    )
    .await;
    assert_eq!(status, 422);

    // Three failures opened the circuit: requests go straight to the fallback.
    let shown = server.get_json("/v1/deployments/churn").await;
    let breaker = &shown["status"]["targets"][0]["breaker"];
    assert_eq!(breaker["state"], "open", "{shown}");
    assert_eq!(breaker["opened"], 1, "{shown}");
    let (_, body) = predict("C00001").await;
    assert_eq!(body["reason"], "fallback", "{body}");
    assert!(
        body["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("circuit is open"),
        "{body}"
    );
    // /metrics shows the open circuit and each kind of failure of the hostile plugin.
    let target = [("deployment", "churn"), ("target", h.as_str())];
    assert_eq!(server.metric("ferry_circuit_state", &target).await, 1.0);
    for failure in ["trap", "memory"] {
        let failures = server
            .metric("ferry_plugin_failures_total", &[("failure", failure)])
            .await;
        assert!(failures >= 1.0, "{failure}: {failures}");
    }
    // After open_ms it is half-open; a good probe closes it.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let shown = server.get_json("/v1/deployments/churn").await;
    assert_eq!(
        shown["status"]["targets"][0]["breaker"]["state"], "half-open",
        "{shown}"
    );
    let (_, body) = predict("C00001").await;
    assert_eq!(body["reason"], "primary", "{body}");
    let shown = server.get_json("/v1/deployments/churn").await;
    assert_eq!(
        shown["status"]["targets"][0]["breaker"]["state"], "closed",
        "{shown}"
    );

    // Without a fallback, the default answers; with neither, a 500 that names the failure.
    ok(server.deploy(
        &deployer,
        &[
            "update",
            "churn",
            "--model",
            &h,
            "--default",
            r#"{"prediction": "no", "probability": 0.0}"#,
            "--json",
        ],
    ));
    let (status, body) = predict(FAIL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reason"], "default");
    assert_eq!(body["version"], Value::Null);
    assert_eq!(
        body["predictions"],
        json!([{"prediction": "no", "probability": 0.0}])
    );
    ok(server.deploy(&deployer, &["update", "churn", "--model", &h, "--json"]));
    let (status, body) = predict(FAIL).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "prediction_failed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&h),
        "{body}"
    );
    // The server keeps serving.
    let (status, _) = predict("C00001").await;
    assert_eq!(status, 200);

    // Every request was counted by its outcome: the primary's answers, the fallbacks (three
    // failures, the open circuit, the default), the 422 and the 500.
    let count = |outcome: &'static str| {
        let server = &server;
        async move {
            server
                .metric(
                    "ferry_requests_total",
                    &[("deployment", "churn"), ("outcome", outcome)],
                )
                .await
        }
    };
    assert_eq!(count("ok").await, 3.0);
    assert_eq!(count("fallback").await, 5.0);
    assert_eq!(count("invalid_input").await, 1.0);
    assert_eq!(count("error").await, 1.0);
    let answered_by_1 = server
        .metric(
            "ferry_request_seconds_count",
            &[
                ("deployment", "churn"),
                ("version", "1"),
                ("outcome", "fallback"),
            ],
        )
        .await;
    assert_eq!(answered_by_1, 4.0);

    // Each rule fired once: the open circuit (then resolved once it closed), the 500 in the
    // error rate, and three plugin calls stopped.
    let log = out.join("alerts.jsonl");
    let fired = |rule: &str, state: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|a| a["labels"]["rule"] == rule && a["labels"]["state"] == state)
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline
        && !(fired("circuit", "resolved") == 1
            && fired("errors", "firing") == 1
            && fired("misbehaving", "firing") == 1)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    for (rule, state) in [
        ("circuit", "firing"),
        ("circuit", "resolved"),
        ("errors", "firing"),
        ("misbehaving", "firing"),
    ] {
        assert_eq!(fired(rule, state), 1, "{rule} {state}: {text}");
    }
}

/// The local CLI writes deployments into the data folder, and a server on that folder
/// serves them from its next request.
#[tokio::test(flavor = "multi_thread")]
async fn local_deployments_are_served() {
    let server = Server::start(&[]);
    server.two_churn_versions();
    let o = server.ferry(&["deploy", "create", "local", "--model", "churn@2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("local revision 1"), "{}", text(&o));
    let (status, body) = post(
        &server,
        "/v1/deployments/local/predict",
        &json!({"rows": [row("C00001", 1)]}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    let o = server.ferry(&["deploy", "list"]);
    assert!(text(&o).contains("churn@2 (v2)=100%"), "{}", text(&o));
    let o = server.ferry(&["deploy", "delete", "local"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Another process changed the registry: the server notices within a second.
    let deleted = std::time::Instant::now();
    loop {
        let (status, _) = post(
            &server,
            "/v1/deployments/local/predict",
            &json!({"rows": [row("C00001", 1)]}),
            &[],
        )
        .await;
        if status == 404 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            deleted.elapsed() < Duration::from_secs(1),
            "still served a second after it was deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Online validation judges each row by itself: two rows with the same id in one request are
/// both answered, on the model and the deployment endpoints, while a row that breaks a rule
/// by itself is still refused, naming its row. A refusal is counted under the version that
/// refused it.
#[tokio::test(flavor = "multi_thread")]
async fn online_requests_are_validated_row_by_row() {
    let server = Server::start(&[]);
    // The example's expectations hold customer_id unique: a rule about the batch.
    assert_eq!(server.train_churn(|t| t), 1);
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &["create", "churn", "--model", "churn@1", "--json"],
    ));
    let twice = json!({"rows": [row("C00000", 12), row("C00000", 30)]});
    for path in [
        "/v1/models/churn/1/predict",
        "/v1/deployments/churn/predict",
    ] {
        let (status, body) = post(&server, path, &twice, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body["predictions"].as_array().map(Vec::len),
            Some(2),
            "{body}"
        );
    }
    // A row that breaks a rule alone is refused, with its row number.
    let mut bad = row("C00001", 12);
    bad["tenure_months"] = json!(-5);
    let mixed = json!({"rows": [row("C00002", 1), row("C00002", 2), bad]});
    for path in [
        "/v1/models/churn/1/predict",
        "/v1/deployments/churn/predict",
    ] {
        let (status, body) = post(&server, path, &mixed, &[]).await;
        assert_eq!(status, 422, "{path}: {body}");
        let fields = body["error"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !fields.is_empty() && fields.iter().all(|f| f["row"] == 2),
            "{path}: only row 2 breaks a rule alone: {body}"
        );
    }
    // The deployment's refusal is counted under the version that refused it.
    let refused = server
        .metric(
            "ferry_requests_total",
            &[
                ("deployment", "churn"),
                ("model", "churn"),
                ("version", "1"),
                ("outcome", "rejected"),
            ],
        )
        .await;
    assert_eq!(refused, 1.0);
}

/// A deployment definition is bounded: its targets and shadows, and the default answer that
/// is repeated for every row; each refusal names the limit, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn deployment_definitions_are_bounded() {
    let server = Server::start(&[]);
    assert_eq!(server.train_churn(|t| t), 1);
    let deployer = server.token("dep", "deployer");
    let create = |body: String| {
        let server = &server;
        let deployer = deployer.clone();
        async move {
            let r = Server::http()
                .post(format!("{}/v1/deployments", server.url))
                .bearer_auth(deployer)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let spec = |default: Value| json!({"name": "big", "spec": {"targets": [{"model": "churn", "version": "1", "weight": 100}], "default": default}});
    // (A 3 MB definition gets 413 before it is read: `tests/bodies.rs`.)
    // A default answer over 1 KiB.
    let (status, body) = create(spec(json!({"prediction": "x".repeat(2000)})).to_string()).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than the 1024 allowed"),
        "{body}"
    );
    // Seventeen targets.
    let targets: Vec<Value> = (0..17)
        .map(|i| json!({"model": "churn", "version": "1", "weight": if i == 0 { 84 } else { 1 }}))
        .collect();
    let (status, body) =
        create(json!({"name": "big", "spec": {"targets": targets}}).to_string()).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than the 16"),
        "{body}"
    );
    let listed = server.get_json("/v1/deployments").await;
    assert_eq!(listed, json!([]), "nothing was stored");

    // Within the limits it is stored.
    let (status, body) = create(spec(json!({"prediction": "no"})).to_string()).await;
    assert_eq!(status, 201, "{body}");
}
