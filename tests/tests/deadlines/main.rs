//! Deadlines hold while every core computes: a deployment's timeout gives the fallback or the
//! default its turn on time however busy the plugins keep the machine, the server answers
//! other requests meanwhile, and a half-open circuit whose probe's client went away does not
//! stay half-open.
//!
//! These tests measure wall time on the client, so they are a test binary of their own: cargo
//! runs test binaries one after another, so nothing competes for the cores but the plugins and
//! threads these tests start (in `tests/all` the other scenarios' servers ran beside them, and
//! an answer once came 258 ms past the deadline where the server had given up on time). The
//! tests here take turns too, through [`ALONE`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferry_tests::server::hostile::{self, SLOW, SPIN};
use ferry_tests::server::{Server, ok_json as ok};
use serde_json::{Value, json};

/// How late past its deadline the server may give up on a target: the timer's millisecond and
/// the scheduler's wake-up.
const DEADLINE_SLACK_MS: u64 = 10;

/// How late an answer may reach the client past the deadline while both cores compute: eight
/// requests' handling in a debug build (parsing, routing, the answer) and the HTTP round trip,
/// besides the deadline's own slack. (Before plugins ran on threads of their own, the answers
/// came 0.9 to 4.8 s late.)
const SLACK: Duration = Duration::from_millis(200);

/// Held by each test for its whole run, so the two never share the cores.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `N` of the failure's "given up after N ms".
fn given_up_after(body: &Value) -> u64 {
    let why = body["failed"][0]["error"].as_str().unwrap_or_default();
    why.split("given up after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `given up after` in {body}"))
}

fn row(customer: &str) -> Value {
    json!({
        "customer_id": customer, "tenure_months": 12, "monthly_charges": 46.05,
        "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
        "paperless_billing": false
    })
}

/// Threads that keep every core busy until dropped.
struct Saturate {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Saturate {
    fn cores() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Saturate {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

async fn predict(server: &Server, customer: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let r = Server::http()
        .post(format!("{}/v1/deployments/churn/predict", server.url))
        .json(&json!({"rows": [row(customer)]}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

/// Eight requests at once whose validator computes for its whole 500 ms deadline.
fn slow_burst(server: &Arc<Server>) -> Vec<tokio::task::JoinHandle<(u16, Value, Duration)>> {
    (0..8)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { predict(&server, SLOW).await })
        })
        .collect()
}

/// `create churn` on `target` with the default answer, a 150 ms timeout and a breaker that
/// does not open, then `extra`.
fn with_default<'a>(target: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "create",
        "churn",
        "--model",
        target,
        "--default",
        r#"{"prediction": "no", "probability": 0.0}"#,
        "--timeout-ms",
        "150",
        "--breaker-failures",
        "1000",
    ];
    args.extend_from_slice(extra);
    args
}

/// A healthy row is answered by the primary target (which also loads it, outside any timing).
async fn answered_by_primary(server: &Server) {
    let (status, body, _) = predict(server, "C00001").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("primary")),
        "{body}"
    );
}

/// Eight requests at once whose validator computes past `timeout`, the deployment's: each is
/// given up on at its deadline and answered with the default soon after, while `/v1/health`
/// answers; then the same with every core also kept busy by this process.
async fn deadlines_hold(server: &Arc<Server>, timeout: Duration) {
    let limit = timeout.as_millis() as u64;
    // Eight requests at once whose validator computes for its whole 500 ms deadline: both
    // cores compute for two seconds.
    let tasks = slow_burst(server);
    // Meanwhile the server answers other requests.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let health = Server::http()
        .get(format!("{}/v1/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let health_took = started.elapsed();
    let (mut given_up, mut late) = (Vec::new(), Vec::new());
    for t in tasks {
        let (status, body, took) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["reason"], "default", "{body}");
        given_up.push(given_up_after(&body));
        late.push(took.saturating_sub(timeout));
    }
    given_up.sort();
    late.sort();
    eprintln!(
        "given up after {given_up:?} ms; answered past the {limit} ms timeout by {late:?}; /v1/health took {health_took:?}"
    );
    assert!(
        given_up.iter().all(|ms| *ms <= limit + DEADLINE_SLACK_MS),
        "the deadline did not hold: given up after {given_up:?} ms"
    );
    assert!(
        late.iter().all(|l| *l <= SLACK),
        "answers came too late past the deadline: {late:?}"
    );
    assert!(health_took <= SLACK, "health took {health_took:?}");

    // With every core also kept busy by this process, at the same priority as the server's
    // request threads.
    let busy = Saturate::cores();
    let tasks = slow_burst(server);
    let mut given_up = Vec::new();
    for t in tasks {
        let (status, body, _) = t.await.unwrap();
        assert_eq!(
            (status, body["reason"].as_str()),
            (200, Some("default")),
            "{body}"
        );
        given_up.push(given_up_after(&body));
    }
    drop(busy);
    given_up.sort();
    eprintln!("with this process on every core too: given up after {given_up:?} ms");
    assert!(
        given_up.iter().all(|ms| *ms <= limit + DEADLINE_SLACK_MS),
        "the deadline did not hold: given up after {given_up:?} ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployments_timeout_holds_while_both_cores_compute() {
    let _alone = ALONE.lock().await;
    let server = Server::start(&[]);
    assert_eq!(server.train_churn(|t| t), 1);
    let hostile = server.train_hostile_churn();
    let deployer = server.token("dep", "deployer");
    let target = format!("churn@{hostile}");
    let timeout = Duration::from_millis(150);
    ok(server.deploy(&deployer, &with_default(&target, &["--json"])));
    // Loaded once; loading does not count against the timeout.
    answered_by_primary(&server).await;
    let server = Arc::new(server);
    deadlines_hold(&server, timeout).await;

    // One request at a time, a fallback answers, within its own deadline too.
    ok(server.deploy(
        &deployer,
        &[
            "update",
            "churn",
            "--model",
            &target,
            "--fallback",
            "churn@1",
            "--timeout-ms",
            "150",
            "--breaker-failures",
            "1000",
            "--json",
        ],
    ));
    answered_by_primary(&server).await;
    for _ in 0..5 {
        let (status, body, took) = predict(&server, SLOW).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["reason"], "fallback", "{body}");
        assert_eq!(body["version"], 1, "{body}");
        assert!(
            took <= timeout * 2 + SLACK,
            "the fallback answered after {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batched_deployments_timeout_holds_while_both_cores_compute() {
    let _alone = ALONE.lock().await;
    let work = tempfile::tempdir().unwrap();
    let (policy, key) = hostile::trusted_policy(work.path());
    let server = Server::start(&["--trust", policy.to_str().unwrap()]);
    let hostile = server.train_hostile_churn();
    server.sign_hostile(work.path(), &key);
    let deployer = server.token("dep", "deployer");
    // Requests wait up to 20 ms for others, so the burst's requests share calls.
    ok(server.deploy(
        &deployer,
        &with_default(
            &format!("churn@{hostile}"),
            &["--batch-max-rows", "64", "--batch-max-wait-us", "20000"],
        ),
    ));
    answered_by_primary(&server).await;
    let server = Arc::new(server);
    deadlines_hold(&server, Duration::from_millis(150)).await;

    // The bursts went through the queue, and their requests shared calls.
    let labels = [("deployment", "churn")];
    let calls = server.metric("ferry_batch_requests_count", &labels).await;
    let carried = server.metric("ferry_batch_requests_sum", &labels).await;
    assert!(
        calls >= 1.0 && carried > calls,
        "{calls} batched calls carried {carried} requests"
    );

    // Slow rows and healthy ones in one burst, sharing calls: a shared call that runs far
    // longer than the version's calls usually take (here at least 40 ms, a tenth of the
    // timeout) is split, so each slow row times out alone and the healthy requests are
    // answered by the primary, within the timeout, as they are alone. The answer's reason
    // shows the server's timeout held; the client's clock adds the round trip.
    ok(server.deploy(&deployer, &["update", "churn", "--timeout-ms", "400"]));
    answered_by_primary(&server).await;
    let customers: Vec<String> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                SLOW.to_string()
            } else {
                format!("C0000{i}")
            }
        })
        .collect();
    let queued = async || {
        (
            server.metric("ferry_batch_requests_count", &labels).await,
            server.metric("ferry_batch_requests_sum", &labels).await,
        )
    };
    let before = queued().await;
    let tasks: Vec<_> = customers
        .iter()
        .map(|c| {
            let (server, c) = (server.clone(), c.clone());
            tokio::spawn(async move { predict(&server, &c).await })
        })
        .collect();
    for (t, customer) in tasks.into_iter().zip(&customers) {
        let (status, body, took) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        let reason = if customer == SLOW {
            "default"
        } else {
            "primary"
        };
        assert_eq!(body["reason"], reason, "{customer}: {body}");
        assert!(
            took <= Duration::from_millis(400) + SLACK,
            "{customer} answered after {took:?}"
        );
        if customer != SLOW {
            let alone = Server::http()
                .post(format!("{}/v1/models/churn/{hostile}/predict", server.url))
                .json(&json!({"rows": [row(customer)]}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            assert_eq!(body["predictions"], alone["predictions"], "{customer}");
        }
    }
    let after = queued().await;
    assert!(
        after.1 - before.1 == 8.0 && after.0 - before.0 < 8.0,
        "the burst's 8 requests did not share calls: (calls, requests) {before:?} → {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_whose_client_goes_away_gives_back_its_slot() {
    let _alone = ALONE.lock().await;
    // Plugins may run 60 s here, so the spinning validator finishes unless it is stopped.
    let server = Server::start(&["--timeout-ms", "60000"]);
    let hostile = server.train_hostile_churn();
    let deployer = server.token("dep", "deployer");
    let target = format!("churn@{hostile}");
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "churn",
            "--model",
            &target,
            "--default",
            r#"{"prediction": "no", "probability": 0.0}"#,
            "--timeout-ms",
            "60000",
            "--breaker-failures",
            "1",
            "--breaker-open-ms",
            "300",
            "--json",
        ],
    ));
    let (_, body, _) = predict(&server, ferry_tests::server::hostile::FAIL).await;
    assert_eq!(body["reason"], "default", "{body}");
    let shown = server.get_json("/v1/deployments/churn").await;
    assert_eq!(
        shown["status"]["targets"][0]["breaker"]["state"], "open",
        "{shown}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The probe: a healthy target, but a request that computes for seconds; its client gives
    // up after 300 ms.
    let gave_up = Server::http()
        .post(format!("{}/v1/deployments/churn/predict", server.url))
        .json(&json!({"rows": [row(SPIN)]}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gave_up.is_err(), "the probe answered within 300 ms");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The slot came back: the next request probes, succeeds, and closes the circuit.
    let (status, body, _) = predict(&server, "C00001").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reason"], "primary", "{body}");
    let shown = server.get_json("/v1/deployments/churn").await;
    assert_eq!(
        shown["status"]["targets"][0]["breaker"]["state"], "closed",
        "{shown}"
    );
}
