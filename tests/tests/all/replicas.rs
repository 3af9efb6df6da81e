//! Two `ferry serve` replicas on one PostgreSQL database and one blob folder: each resolves
//! deployments, aliases and tokens from memory, and a change made through one (or by the CLI on
//! the shared database) is served by the other within a second.

use std::time::{Duration, Instant};

use ferry_tests::server::{PgDatabase, Server, text};
use serde_json::{Value, json};

fn row() -> Value {
    json!({
        "customer_id": "C00001", "tenure_months": 12, "monthly_charges": 46.05,
        "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
        "paperless_billing": false
    })
}

async fn version_at(server: &Server, path: &str) -> i64 {
    let r = Server::http()
        .post(format!("{}{path}", server.url))
        .json(&json!({"rows": [row()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    v["version"].as_i64().unwrap()
}

/// How long `server` takes to answer `path` from `version`, polling every 10 ms.
async fn until(server: &Server, path: &str, version: i64) -> Duration {
    let start = Instant::now();
    while version_at(server, path).await != version {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{path} on the other replica still not on version {version} after a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_on_one_replica_reaches_the_other_within_a_second() {
    let db = PgDatabase::create();
    let url = db.url();
    let a = Server::start(&["--database-url", &url]);
    for l2 in ["1.0", "10.0"] {
        let dir = ferry_tests::churn_copy(|t| t.replace("l2 = 1.0", &format!("l2 = {l2}")));
        let o = a.ferry(&["train", dir.path().join("pipeline.toml").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    // The second replica shares the database and the blob folder.
    let b = a.replica(&["--database-url", &url]);

    let deployer = a.token("dep", "deployer");
    let deploy = |args: &[&str]| {
        let mut all = vec!["deploy"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--registry", &a.url, "--token", &deployer]);
        let o = a.ferry(&all);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    };
    let path = "/v1/deployments/churn/predict";
    deploy(&["create", "churn", "--model", "churn@1"]);
    assert_eq!(version_at(&b, path).await, 1);
    assert_eq!(version_at(&b, path).await, 1, "now from memory");
    deploy(&["update", "churn", "--model", "churn@2"]);
    assert_eq!(
        version_at(&a, path).await,
        2,
        "at once on the replica that changed it"
    );
    let took = until(&b, path, 2).await;
    eprintln!("the other replica served the new revision after {took:?}");

    // Aliases too.
    let alias = |version: i64| {
        let o = a.ferry(&[
            "models",
            "alias",
            "churn",
            "champion",
            &version.to_string(),
            "--registry",
            &a.url,
            "--token",
            &deployer,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    };
    alias(1);
    let path = "/v1/models/churn/champion/predict";
    until(&b, path, 1).await;
    alias(2);
    assert_eq!(version_at(&a, path).await, 2);
    let took = until(&b, path, 2).await;
    eprintln!("the other replica followed the alias after {took:?}");

    // Tokens are checked against the database once per server, and a revocation reaches
    // every replica.
    let reader = a.token("reader", "reader");
    let with_token = |server: &Server| {
        Server::http()
            .post(format!("{}{path}", server.url))
            .bearer_auth(&reader)
            .json(&json!({"rows": [row()]}))
            .send()
    };
    for server in [&a, &b] {
        for _ in 0..2 {
            assert_eq!(with_token(server).await.unwrap().status().as_u16(), 200);
        }
    }
    let o = a.ferry(&["token", "list", "--json"]);
    let tokens: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let id = tokens
        .iter()
        .find(|t| t["name"] == "reader")
        .and_then(|t| t["id"].as_str())
        .unwrap();
    let o = a.ferry(&["token", "revoke", id]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let start = Instant::now();
    for server in [&b, &a] {
        while with_token(server).await.unwrap().status().as_u16() != 401 {
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "{} still accepts a revoked token after a second",
                server.url
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    eprintln!(
        "both replicas refused the revoked token after {:?}",
        start.elapsed()
    );
}

/// Revisions start again at 1 when a deployment is deleted and created again under the same
/// name: every replica serves the new deployment's revision 1, not what it kept of the old
/// one's, and forgets the old one's circuit breakers.
#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_deleted_and_created_again_is_served_anew_everywhere() {
    let db = PgDatabase::create();
    let url = db.url();
    let a = Server::start(&["--database-url", &url]);
    for l2 in ["1.0", "10.0"] {
        let dir = ferry_tests::churn_copy(|t| t.replace("l2 = 1.0", &format!("l2 = {l2}")));
        let o = a.ferry(&["train", dir.path().join("pipeline.toml").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let b = a.replica(&["--database-url", &url]);
    let deployer = a.token("dep", "deployer");
    let deploy = |args: &[&str]| {
        let mut all = vec!["deploy"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--registry", &a.url, "--token", &deployer]);
        let o = a.ferry(&all);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    };
    let answer = |server: &Server| {
        let url = format!("{}/v1/deployments/r/predict", server.url);
        async move {
            let r = Server::http()
                .post(url)
                .json(&json!({"rows": [row()]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let v: Value = r.json().await.unwrap();
            (
                v["revision"].as_i64().unwrap(),
                v["version"].as_i64().unwrap(),
            )
        }
    };
    deploy(&["create", "r", "--model", "churn@1"]);
    for server in [&a, &b] {
        assert_eq!(answer(server).await, (1, 1), "{}", server.url);
    }
    deploy(&["delete", "r"]);
    deploy(&["create", "r", "--model", "churn@2"]);
    let start = Instant::now();
    for server in [&a, &b] {
        while answer(server).await != (1, 2) {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{} still serves the deleted deployment's revision 1",
                server.url
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    eprintln!(
        "both replicas served the new deployment after {:?}",
        start.elapsed()
    );
    // And it stays so: the old revision is not served from memory again.
    for _ in 0..5 {
        assert_eq!(answer(&b).await, (1, 2));
    }
}
