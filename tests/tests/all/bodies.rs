//! No body is read before its sender is authenticated, and each route takes only the body it
//! needs: eight concurrent 60 MB bodies without a token leave the server's memory where it
//! was, a body over a route's limit is refused with 413 naming the limit (by its declared
//! length at once, or as soon as a chunked body passes it), a client refused before its body
//! is read can still send it and read a clean close rather than a reset, and every refusal of
//! a change is audited.

use std::time::Duration;

use ferry_tests::server::{Server, send_raw as send};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Sends `path` the head of a POST declaring `size` bytes, reads the whole answer, then sends
/// the body and reads until the server closes: the status, and how the sending and the close
/// went.
async fn refused_then_sent(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    size: usize,
) -> (u16, std::io::Result<()>, std::io::Result<usize>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let whole = |a: &[u8]| {
        let text = String::from_utf8_lossy(a);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_string())
            })
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        body.len() >= length
    };
    while !whole(&answer) {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed before answering: {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }
    let status = String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let sent = stream.write_all(&vec![b' '; size]).await;
    let mut rest = Vec::new();
    let closed = stream.read_to_end(&mut rest).await;
    (status, sent, closed)
}

/// A client answered before its body is read (401 without a token, 413 by the declared
/// length) may still send the body: the server reads it and throws it away, then closes,
/// instead of resetting the connection under a client that had not read its answer yet.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_answered_before_its_body_is_read_is_not_reset() {
    let server = Server::start(&[]);
    let addr = addr(&server);
    let auth = format!("Bearer {}", server.admin);
    let token = [("authorization", auth.as_str())];
    for (headers, size, expected) in [(&[][..], 1 << 20, 401), (&token[..], 3 << 20, 413)] {
        let (status, sent, closed) =
            refused_then_sent(&addr, "/v1/deployments", headers, size).await;
        assert_eq!(status, expected);
        assert!(
            sent.is_ok(),
            "{expected}: sending the body after the answer failed: {sent:?}"
        );
        assert!(
            closed.is_ok(),
            "{expected}: the connection was reset: {closed:?}"
        );
    }
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
