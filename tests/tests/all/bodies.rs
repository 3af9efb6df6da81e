//! No body is read before its sender is authenticated, and each route takes only the body it
//! needs: eight concurrent 60 MB bodies without a token leave the server's memory where it
//! was, a body over a route's limit is refused with 413 naming the limit (by its declared
//! length at once, or as soon as a chunked body passes it), and every refusal of a change is
//! audited.

use std::time::Duration;

use ferry_tests::server::{Server, send_raw as send};
use serde_json::{Value, json};

const SIXTY_MB: usize = 60 << 20;

/// The server's resident memory now (MiB).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

fn addr(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_bodies_are_never_read() {
    let server = Server::start(&[]);
    let addr = addr(&server);
    let pid = server.pid();
    // Warm up the routes, so that what they allocate once is not counted.
    for path in ["/v1/deployments", "/api/2.0/mlflow/runs/log-batch"] {
        send(&addr, "POST", path, &[], 10, false).await;
    }
    let before = rss_mib(pid);
    let routes = [
        ("POST", "/v1/models/churn/versions/1/feedback"),
        ("PUT", "/v1/alerts/rules/r"),
        ("POST", "/v1/deployments"),
        ("POST", "/api/2.0/mlflow/runs/log-batch"),
    ];
    let sampler = {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let peak = tokio::spawn(async move {
            let mut peak = 0f64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        });
        (stop, peak)
    };
    for (method, path) in routes {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let addr = addr.clone();
            tasks.push(tokio::spawn(async move {
                send(&addr, method, path, &[], SIXTY_MB, false).await
            }));
        }
        for t in tasks {
            let (status, text) = t.await.unwrap();
            assert_eq!(status, 401, "{method} {path}: {text}");
        }
    }
    sampler.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.1.await.unwrap();
    eprintln!(
        "RSS {before:.1} MiB before, {peak:.1} MiB at most during 32 unauthenticated 60 MB bodies"
    );
    assert!(
        peak - before < 10.0,
        "RSS went from {before:.1} to {peak:.1} MiB"
    );
    // Each refused change is audited, and the server keeps serving.
    let audit = server.audit().await;
    let denied = audit
        .iter()
        .filter(|e| e["outcome"] == "denied" && e["actor"] == "anonymous")
        .count();
    assert!(denied >= 32, "{denied} denials audited");
    let health = Server::http()
        .get(format!("{}/v1/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_route_takes_the_body_it_needs() {
    let server = Server::start(&[]);
    let addr = addr(&server);
    let auth = format!("Bearer {}", server.admin);
    let with_token = [("authorization", auth.as_str())];
    // A definition route takes 64 KiB: a declared 3 MB is refused before it is read, and a
    // chunked one as soon as it passes the limit.
    for chunked in [false, true] {
        let (status, text) = send(
            &addr,
            "POST",
            "/v1/deployments",
            &with_token,
            3 << 20,
            chunked,
        )
        .await;
        assert_eq!(status, 413, "chunked {chunked}: {text}");
        assert!(
            text.contains("larger than the 64 KiB this route takes"),
            "{text}"
        );
    }
    // MLflow's calls take 4 MiB, in MLflow's error shape.
    let (status, text) = send(
        &addr,
        "POST",
        "/api/2.0/mlflow/runs/log-batch",
        &with_token,
        5 << 20,
        false,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("RESOURCE_LIMIT_EXCEEDED") || text.contains("error_code"),
        "{text}"
    );
    assert!(text.contains("4 MiB"), "{text}");
    // Within its limit, a body is read and held to the document (these are 100 spaces).
    let (status, text) = send(&addr, "POST", "/v1/deployments", &with_token, 100, false).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("the request body is missing"), "{text}");

    // A wrong token is refused before the body, as a missing one is; a yank without a token
    // is a 401, not a complaint about its body.
    let wrong = [("authorization", "Bearer not-a-token")];
    let (status, text) = send(&addr, "POST", "/v1/deployments", &wrong, SIXTY_MB, false).await;
    assert_eq!(status, 401, "{text}");
    let r = Server::http()
        .post(format!("{}/v1/plugins/impute/0.1.0/yank", server.url))
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated", "{body}");
}

/// Labels are changes: each request is audited, accepted or refused, with who sent it.
#[tokio::test(flavor = "multi_thread")]
async fn feedback_is_audited_whether_accepted_or_refused() {
    let server = Server::start(&[]);
    assert_eq!(server.train_churn(|t| t), 1);
    let publisher = server.token("labeller", "publisher");
    let reader = server.token("viewer", "reader");
    let url = format!("{}/v1/models/churn/versions/1/feedback", server.url);
    let post = |token: Option<&str>, body: Value| {
        let mut r = Server::http().post(&url).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let good = json!({"labels": [{"request_id": "r1", "row": 0, "label": "yes"}]});
    assert_eq!(post(Some(&publisher), good.clone()).await, 202);
    assert_eq!(
        post(Some(&publisher), json!({"labels": [{"label": null}]})).await,
        422
    );
    assert_eq!(post(Some(&reader), good.clone()).await, 403);
    assert_eq!(post(None, good).await, 401);
    let audit = server.audit().await;
    let seen = |actor: &str, outcome: &str| {
        audit.iter().any(|e| {
            e["actor"] == actor
                && e["outcome"] == outcome
                && e["object"].as_str().is_some_and(|o| o.contains("churn"))
        })
    };
    assert!(seen("token:labeller", "ok"), "{audit:?}");
    assert!(seen("token:labeller", "denied"), "{audit:?}");
    assert!(seen("token:viewer", "denied"), "{audit:?}");
    assert!(seen("anonymous", "denied"), "{audit:?}");
    let accepted = audit
        .iter()
        .find(|e| e["actor"] == "token:labeller" && e["outcome"] == "ok")
        .unwrap();
    assert_eq!(accepted["action"], "feedback.add");
    assert_eq!(accepted["detail"], "1 labels");
}
