//! Load a server cannot drown in: prediction bodies have a small limit of their own (refused
//! by their declared length, or as soon as a chunked body passes it), a maximum number of
//! rows, and a bounded number of requests in flight per deployment, the rest shed with 503 and
//! `Retry-After`. Thirty-two clients sending oversized and maximal bodies leave the server's
//! memory bounded, and a client of another deployment keeps getting answers.

use std::time::Duration;

use ferry_tests::repo_root;
use ferry_tests::server::{Server, text};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn row(i: usize) -> Value {
    json!({
        "customer_id": format!("C{:05}", i % 100_000), "tenure_months": 1 + i % 70,
        "monthly_charges": 46.05, "total_charges": 47.14, "contract": "one-year",
        "support_calls": 1, "paperless_billing": false
    })
}

/// A rows body of `n` rows.
fn body(n: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"rows": (0..n).map(row).collect::<Vec<_>>()})).unwrap()
}

/// The server's resident memory now (MiB); `None` once it has exited.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kb / 1024.0)
}

async fn send(url: &str, bytes: Vec<u8>) -> (u16, Option<String>, Value) {
    let r = Server::http()
        .post(url)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (status, retry, r.json().await.unwrap_or(Value::Null))
        }
        // The server may answer 413 and close before an oversized body is all sent.
        Err(e) => (0, None, json!(e.to_string())),
    }
}

/// Sends a chunked body (no declared length) of `total` bytes of rows and returns the status.
async fn chunked(addr: &str, path: &str, total: usize) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let data = body(total / 150);
    for chunk in data.chunks(64 * 1024) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if s.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let line = String::from_utf8_lossy(&answer[..n]).to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {line:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_maximal_bodies_leave_memory_bounded() {
    let mut server = Server::start(&["--max-in-flight", "4"]);
    let pipeline = repo_root().join("examples/churn/pipeline.toml");
    let o = server.ferry(&["train", pipeline.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for name in ["bulk", "normal"] {
        let o = server.ferry(&[
            "deploy",
            "create",
            name,
            "--model",
            "churn@1",
            "--timeout-ms",
            "60000",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let bulk = format!("{}/v1/deployments/bulk/predict", server.url);
    let normal = format!("{}/v1/deployments/normal/predict", server.url);
    let addr = server.url.trim_start_matches("http://").to_string();

    // The limits, one by one.
    let (status, _, b) = send(&normal, body(1)).await;
    assert_eq!(status, 200, "{b}");
    let pid = server.child.id();
    let baseline = rss_mib(pid).expect("the server runs");
    let oversized = body(130_000);
    assert!(oversized.len() > 15 << 20, "{}", oversized.len());
    let (status, _, b) = send(&bulk, oversized.clone()).await;
    assert!(status == 413 || status == 0, "{status} {b}");
    if status == 413 {
        assert_eq!(b["error"]["code"], "too_large", "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--max-body-mib"),
            "{b}"
        );
    }
    assert_eq!(
        chunked(&addr, "/v1/deployments/bulk/predict", 6 << 20).await,
        413
    );
    assert_eq!(
        chunked(&addr, "/v1/models/churn/1/predict", 6 << 20).await,
        413
    );
    let columns = json!({"columns": {
        "customer_id": vec!["C00001"; 10_001], "tenure_months": vec![1; 10_001],
        "monthly_charges": vec![1.5; 10_001], "total_charges": vec![1.5; 10_001],
        "contract": vec!["one-year"; 10_001], "support_calls": vec![1; 10_001],
        "paperless_billing": vec![false; 10_001]}});
    let (status, _, b) = send(&bulk, serde_json::to_vec(&columns).unwrap()).await;
    assert_eq!(status, 413, "{b}");
    assert_eq!(b["error"]["code"], "too_many_rows", "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10001 rows"),
        "{b}"
    );

    // Thirty-two clients: half send oversized bodies, half maximal ones, three rounds each.
    let mut n = 10_000;
    let maximal = loop {
        let b = body(n);
        if b.len() <= 2 << 20 {
            break b;
        }
        n -= 250;
    };
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let Some(now) = rss_mib(pid) else { break };
                peak = peak.max(now);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let (url, bytes) = (
                bulk.clone(),
                if i % 2 == 0 {
                    oversized.clone()
                } else {
                    maximal.clone()
                },
            );
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..3 {
                    seen.push(send(&url, bytes.clone()).await);
                }
                (i % 2 == 0, seen)
            })
        })
        .collect();
    // Meanwhile a client of another deployment keeps getting answers.
    let mut normal_answers = 0;
    for _ in 0..20 {
        let (status, _, b) = send(&normal, body(1)).await;
        assert_eq!(status, 200, "{b}; {:?}", server.exited());
        normal_answers += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut answered, mut shed) = (0, 0);
    for c in clients {
        let (oversize, seen) = c.await.unwrap();
        for (status, retry, b) in seen {
            match (oversize, status) {
                (true, 413 | 0) => {}
                (false, 200) => {
                    assert_eq!(b["predictions"].as_array().unwrap().len(), n, "{status}");
                    answered += 1;
                }
                (false, 503) => {
                    assert_eq!(retry.as_deref(), Some("1"));
                    assert_eq!(b["error"]["code"], "overloaded", "{b}");
                    shed += 1;
                }
                // Shed before its body was read: the server answered 503 and closed while
                // the client was still sending, so the client saw the connection close.
                (false, 0) => shed += 1,
                other => panic!("{other:?}: {b}; {:?}", server.exited()),
            }
        }
    }
    assert!(answered > 0 && shed > 0, "answered {answered}, shed {shed}");
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    eprintln!(
        "RSS: {baseline:.0} MiB before the burst, at most {peak:.0} MiB during 48 oversized ({} MB) and 48 maximal ({} rows, {} MB) requests from 32 clients; {answered} answered, {shed} shed, {normal_answers} normal answers",
        oversized.len() >> 20,
        n,
        maximal.len() >> 20,
    );
    assert!(
        peak - baseline < 256.0,
        "RSS grew from {baseline:.0} to {peak:.0} MiB"
    );
    // The server keeps serving.
    let (status, _, _) = send(&bulk, body(3)).await;
    assert_eq!(status, 200);
}
