//! Adaptive batching on a real `ferry serve`: what a batched deployment answers
//! ([`answers`]), what its queue does with callers who leave and what the prediction log keeps
//! of it ([`callers`]), a server killed while it batches ([`crash`]), and two replicas batching
//! one deployment ([`replicas`]).

mod answers;
mod callers;
mod crash;
mod replicas;

use std::collections::HashMap;

use ferry_tests::server::{Server, text};
use serde_json::{Value, json};

/// A small deterministic generator (xorshift), so that a failing draw can be replayed.
pub struct Draw(pub u64);

impl Draw {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A valid churn row drawn from `d`, with `total_charges` left out (null) one time in five.
pub fn row(d: &mut Draw) -> Value {
    let contract = ["month-to-month", "one-year", "two-year"][d.below(3) as usize];
    let monthly = (d.below(19_000) as f64) / 100.0 + 10.0;
    let tenure = 1 + d.below(72) as i64;
    let mut r = json!({
        "customer_id": format!("C{:05}", d.below(100_000)),
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "contract": contract,
        "support_calls": d.below(8),
        "paperless_billing": d.below(2) == 1,
    });
    if d.below(5) != 0 {
        r["total_charges"] = json!(monthly * tenure as f64 + (d.below(1000) as f64) / 7.0);
    }
    r
}

/// A server and one HTTP client for all of a test's requests (building a client costs more
/// than a request).
pub struct At<'a> {
    pub server: &'a Server,
    pub client: reqwest::Client,
}

impl<'a> At<'a> {
    pub fn new(server: &'a Server) -> Self {
        Self {
            server,
            client: Server::http(),
        }
    }
}

pub async fn post(at: &At<'_>, path: &str, body: &Value) -> (u16, Value) {
    let r = at
        .client
        .post(format!("{}{path}", at.server.url))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Sends `bodies` to `path` all at once; the answers in the same order.
pub async fn at_once(at: &At<'_>, path: &str, bodies: &[Value]) -> Vec<(u16, Value)> {
    let sends = bodies.iter().map(|b| post(at, path, b));
    futures_util::future::join_all(sends).await
}

/// Sends `bodies` again through deployment `alone` (no batching), eight at a time, and asserts
/// that each of `shared` is a 200 with the same rows and predictions as its request alone.
pub async fn assert_as_alone(at: &At<'_>, shared: &[(u16, Value)], bodies: &[Value]) {
    let mut alone = Vec::new();
    for chunk in bodies.chunks(8) {
        alone.extend(at_once(at, "/v1/deployments/alone/predict", chunk).await);
    }
    for (i, ((s, a), body)) in shared.iter().zip(&alone).zip(bodies).enumerate() {
        assert_eq!(
            (s.0, a.0),
            (200, 200),
            "request {i} {body}: {} / {}",
            s.1,
            a.1
        );
        assert_eq!(
            s.1["predictions"], a.1["predictions"],
            "request {i} {body}: batched and alone differ"
        );
        assert_eq!(s.1["rows"], a.1["rows"]);
    }
}

/// The share of batched calls of deployment `name` and the requests they carried.
pub async fn calls(server: &Server, name: &str) -> (f64, f64) {
    let labels = [("deployment", name)];
    (
        server.metric("ferry_batch_requests_count", &labels).await,
        server.metric("ferry_batch_requests_sum", &labels).await,
    )
}

/// The batching status of version `version` in a deployment as the API shows it.
pub fn batching_of(deployment: &Value, version: i64) -> Value {
    let target = format!("churn@{version}");
    deployment["status"]["batching"]
        .as_array()
        .and_then(|all| all.iter().find(|b| b["target"] == target.as_str()))
        .cloned()
        .unwrap_or(Value::Null)
}

/// A logged prediction: the CSV export's columns by name.
pub type Logged = HashMap<String, String>;

/// The prediction log of `model` that `ferry predictions export` writes as CSV.
pub fn exported(data: &tempfile::TempDir, model: &str) -> Vec<Logged> {
    let out = data.path().join("log.csv");
    let o = std::process::Command::new(ferry_tests::ferry_bin())
        .args([
            "predictions",
            "export",
            model,
            "--out",
            out.to_str().unwrap(),
        ])
        .env("FERRY_DATA_DIR", data.path())
        .env_remove("FERRY_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}
