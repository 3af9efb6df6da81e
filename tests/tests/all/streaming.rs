//! Streaming serving on the real NATS JetStream (127.0.0.1:4222, or
//! `FERRY_TEST_NATS_URL`): two `ferry serve --nats` replicas on one PostgreSQL share one
//! durable consumer of a deployment's input subject; every message gets its prediction, with
//! its request id and the answering version, on the output subject, even when one replica is
//! killed mid-way; messages that cannot be predicted are dead-lettered with the reason, and
//! messages the version fails on are redelivered, then dead-lettered after `max_deliver`.
//!
//! Each test names its own deployment and subjects and deletes the streams it made, so runs
//! never see each other's messages.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, Context};
use ferry_tests::server::hostile::FAIL;
use ferry_tests::server::{PgDatabase, Server, ok_json as ok};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn nats_url() -> String {
    std::env::var("FERRY_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Two replicas streaming one deployment, and the subjects it uses.
struct Streaming {
    _db: PgDatabase,
    a: Server,
    b: Option<Server>,
    name: String,
    input: String,
    output: String,
    dead: String,
    js: Context,
}

impl Streaming {
    /// Streams `test`'s deployment of version 1, or (`hostile`) of a version that traps on
    /// customer [`FAIL`], with no fallback.
    async fn start(test: &str, hostile: bool) -> Streaming {
        let client = async_nats::connect(nats_url()).await.unwrap_or_else(|e| {
            panic!(
                "NATS with JetStream must run on {} (start nats-server -js): {e}",
                nats_url()
            )
        });
        let js = jetstream::new(client);
        let unique = format!(
            "{test}{}x{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        );
        let db = PgDatabase::create();
        let url = db.url();
        let nats = nats_url();
        let a = Server::start(&["--database-url", &url, "--nats", &nats]);
        assert_eq!(a.train_churn(|t| t), 1);
        let model = if hostile {
            format!("churn@{}", a.train_hostile_churn())
        } else {
            "churn@1".to_string()
        };
        let deployer = a.token("dep", "deployer");
        let (input, output, dead) = (
            format!("{unique}.requests"),
            format!("{unique}.predictions"),
            format!("{unique}.dead"),
        );
        ok(a.deploy(
            &deployer,
            &[
                "create",
                &unique,
                "--model",
                &model,
                "--stream-input",
                &input,
                "--stream-output",
                &output,
                "--stream-dead-letter",
                &dead,
                "--stream-ack-wait-ms",
                "2000",
                "--stream-max-deliver",
                "3",
            ],
        ));
        let b = a.replica(&["--database-url", &url, "--nats", &nats]);
        let s = Streaming {
            _db: db,
            a,
            b: Some(b),
            name: unique,
            input,
            output,
            dead,
            js,
        };
        // The replicas make the streams and the durable consumer; wait until both of them
        // are pulling from it.
        let start = Instant::now();
        loop {
            let ready = async {
                let stream = s.js.stream_by_subject(s.input.clone()).await.ok()?;
                let stream = s.js.get_stream(stream).await.ok()?;
                let info = stream
                    .consumer_info(format!("ferry-{}", s.name))
                    .await
                    .ok()?;
                s.js.stream_by_subject(s.output.clone()).await.ok()?;
                s.js.stream_by_subject(s.dead.clone()).await.ok()?;
                (info.num_waiting >= 2).then_some(())
            };
            if ready.await.is_some() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the replicas did not set up the streams of {}",
                s.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        s
    }

    /// Publishes `n` rows, message i with request id `r{i}`; waits for JetStream's acks.
    async fn publish_rows(&self, n: usize) {
        let mut acks = Vec::new();
        for i in 0..n {
            let mut h = HeaderMap::new();
            h.insert("Nats-Msg-Id", format!("r{i}"));
            let row = json!({
                "customer_id": format!("C{:05}", i % 100_000), "tenure_months": 1 + (i % 72) as i64,
                "monthly_charges": 20.0 + (i % 100) as f64, "total_charges": 47.14,
                "contract": "one-year", "support_calls": (i % 5) as i64, "paperless_billing": i % 2 == 0
            });
            acks.push(
                self.js
                    .publish_with_headers(self.input.clone(), h, row.to_string().into())
                    .await
                    .unwrap(),
            );
            if acks.len() == 1000 {
                for a in acks.drain(..) {
                    a.await.unwrap();
                }
            }
        }
        for a in acks {
            a.await.unwrap();
        }
    }

    async fn publish_raw(&self, id: &str, payload: &'static str) {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", id);
        self.js
            .publish_with_headers(
                self.input.clone(),
                h,
                bytes::Bytes::from_static(payload.as_bytes()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Reads `subject`'s stream from the start until `done` says enough, or panics after
    /// `limit`; returns each message's request id, answering instance and body.
    async fn read(
        &self,
        subject: &str,
        limit: Duration,
        mut done: impl FnMut(&[(String, String, Value)]) -> bool,
    ) -> Vec<(String, String, Value)> {
        let name = self
            .js
            .stream_by_subject(subject.to_string())
            .await
            .unwrap();
        let stream = self.js.get_stream(name).await.unwrap();
        let consumer = stream
            .create_consumer(pull::Config {
                ack_policy: AckPolicy::None,
                filter_subject: subject.to_string(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut seen = Vec::new();
        let start = Instant::now();
        while !done(&seen) {
            if start.elapsed() >= limit {
                panic!(
                    "{subject}: only {} messages after {limit:?}; {} dead-lettered, the first: {}",
                    seen.len(),
                    self.message_count(&self.dead).await,
                    self.first_dead().await
                );
            }
            let mut batch = consumer
                .fetch()
                .max_messages(1000)
                .expires(Duration::from_millis(300))
                .messages()
                .await
                .unwrap();
            while let Some(Ok(m)) = batch.next().await {
                let header = |k: &str| {
                    m.headers
                        .as_ref()
                        .and_then(|h| h.get(k))
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default()
                };
                let body: Value = serde_json::from_slice(&m.payload).unwrap();
                seen.push((header("Ferry-Request-Id"), header("Ferry-Instance"), body));
            }
        }
        seen
    }

    /// The first dead letter's body, or nothing.
    async fn first_dead(&self) -> String {
        let Ok(name) = self.js.stream_by_subject(self.dead.clone()).await else {
            return String::new();
        };
        let Ok(stream) = self.js.get_stream(name).await else {
            return String::new();
        };
        match stream.get_raw_message(1).await {
            Ok(m) => String::from_utf8_lossy(&m.payload).into_owned(),
            Err(_) => String::new(),
        }
    }

    async fn message_count(&self, subject: &str) -> u64 {
        let name = self
            .js
            .stream_by_subject(subject.to_string())
            .await
            .unwrap();
        let mut stream = self.js.get_stream(name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let js = self.js.clone();
        let subjects = [self.input.clone(), self.output.clone(), self.dead.clone()];
        // The replicas stop first, so that they do not make the streams again.
        self.a.stop();
        self.b.take();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                for s in subjects {
                    if let Ok(name) = js.stream_by_subject(s).await {
                        let _ = js.delete_stream(name).await;
                    }
                }
            })
        });
    }
}

fn check_answers(answers: &[(String, String, Value)], n: usize) -> HashMap<String, usize> {
    let mut per_instance = HashMap::new();
    let mut ids = HashSet::new();
    for (id, instance, body) in answers {
        assert_eq!(body["request_id"], json!(id), "{body}");
        assert_eq!(body["version"], 1, "{body}");
        assert_eq!(body["reason"], "primary", "{body}");
        let p = body["predictions"][0]["probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{body}");
        ids.insert(id.clone());
        *per_instance.entry(instance.clone()).or_insert(0) += 1;
    }
    let missing: Vec<String> = (0..n)
        .map(|i| format!("r{i}"))
        .filter(|id| !ids.contains(id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "no prediction for {missing:?}…");
    per_instance
}

fn unique_ids(seen: &[(String, String, Value)]) -> usize {
    seen.iter()
        .map(|(id, _, _)| id)
        .collect::<HashSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_messages_two_consumers_none_lost() {
    let s = Streaming::start("sa", false).await;
    s.publish_rows(10_000).await;
    let answers = s
        .read(&s.output, Duration::from_secs(240), |seen| {
            unique_ids(seen) >= 10_000
        })
        .await;
    let per_instance = check_answers(&answers, 10_000);
    assert_eq!(
        per_instance.len(),
        2,
        "both replicas took work: {per_instance:?}"
    );
    assert_eq!(
        s.message_count(&s.output).await,
        10_000,
        "one prediction per message"
    );
    assert_eq!(s.message_count(&s.dead).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_consumer_leaves_no_message_unanswered() {
    let mut s = Streaming::start("sb", false).await;
    s.publish_rows(10_000).await;
    let b = s.b.take().unwrap();
    let b_instance = format!("ferry:{}", b.pid());
    let before = s
        .read(&s.output, Duration::from_secs(120), |seen| {
            seen.len() >= 2_000 && seen.iter().filter(|(_, i, _)| *i == b_instance).count() >= 200
        })
        .await;
    // SIGKILL mid-stream: whatever it held unacknowledged comes back after ack_wait.
    b.kill();
    assert!(before.len() < 10_000, "killed mid-way");
    let answers = s
        .read(&s.output, Duration::from_secs(240), |seen| {
            unique_ids(seen) >= 10_000
        })
        .await;
    let per_instance = check_answers(&answers, 10_000);
    assert_eq!(per_instance.len(), 2, "{per_instance:?}");
    assert!(s.message_count(&s.output).await >= 10_000, "at least once");
    assert_eq!(s.message_count(&s.dead).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_messages_are_dead_lettered_with_the_reason() {
    let s = Streaming::start("sc", false).await;
    s.publish_raw("bad-json", "{not json").await;
    s.publish_raw("bad-kind", "42").await;
    s.publish_raw("bad-shape", r#"{"rows": 5}"#).await;
    s.publish_raw(
        "bad-type",
        r#"{"customer_id": "C00001", "tenure_months": "a year", "monthly_charges": 46.05, "total_charges": 47.14, "contract": "one-year", "support_calls": 1, "paperless_billing": false}"#,
    )
    .await;
    s.publish_raw("bad-missing", r#"{"customer_id": "C00001"}"#)
        .await;
    s.publish_rows(1).await;
    let dead = s
        .read(&s.dead, Duration::from_secs(60), |seen| seen.len() >= 5)
        .await;
    let reasons: HashMap<&str, &str> = dead
        .iter()
        .map(|(id, _, body)| (id.as_str(), body["reason"].as_str().unwrap()))
        .collect();
    for (id, expected) in [
        ("bad-json", "not JSON"),
        ("bad-kind", "not a number"),
        ("bad-shape", "`rows`"),
        ("bad-type", "tenure_months"),
        ("bad-missing", "tenure_months"),
    ] {
        let reason = reasons
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not dead-lettered: {reasons:?}"));
        assert!(reason.contains(expected), "{id}: {reason}");
    }
    let bad_json = dead.iter().find(|(id, _, _)| id == "bad-json").unwrap();
    assert_eq!(
        bad_json.2["message"], "{not json",
        "the original message is kept"
    );
    assert_eq!(bad_json.2["deployment"], json!(s.name));
    let answers = s
        .read(&s.output, Duration::from_secs(60), |seen| !seen.is_empty())
        .await;
    check_answers(&answers, 1);
    // The server keeps serving HTTP too.
    let r = Server::http()
        .post(format!("{}/v1/deployments/{}/predict", s.a.url, s.name))
        .json(&json!({"rows": [answers[0].2["predictions"][0].clone()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422, "a prediction is not a row");
    let r = Server::http()
        .get(format!("{}/v1/health", s.a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_version_is_retried_then_dead_lettered() {
    let s = Streaming::start("sd", true).await;
    let row = |customer: &str| {
        json!({
            "customer_id": customer, "tenure_months": 12, "monthly_charges": 46.05,
            "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
            "paperless_billing": false
        })
        .to_string()
    };
    let (js, input) = (&s.js, &s.input);
    let publish = |id: &'static str, payload: String| async move {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", id);
        js.publish_with_headers(input.clone(), h, payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    };
    publish("traps", row(FAIL)).await;
    publish("fine", row("C00001")).await;
    let started = Instant::now();
    let dead = s
        .read(&s.dead, Duration::from_secs(60), |seen| !seen.is_empty())
        .await;
    let waited = started.elapsed();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let (id, _, body) = &dead[0];
    assert_eq!(id, "traps");
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.contains("failed on all 3 deliveries") && reason.contains("hostile"),
        "{reason}"
    );
    assert_eq!(body["delivered"], 3, "{body}");
    assert_eq!(
        body["message"],
        json!(row(FAIL)),
        "the original message is kept"
    );
    // Redelivery waits (a growing delay after each failure), so the dead letter is not at once.
    assert!(waited >= Duration::from_millis(400), "{waited:?}");

    let answers = s
        .read(&s.output, Duration::from_secs(60), |seen| !seen.is_empty())
        .await;
    assert_eq!(
        answers.len(),
        1,
        "only the good message is answered: {answers:?}"
    );
    assert_eq!(answers[0].0, "fine");
    assert_eq!(answers[0].2["reason"], "primary");
    assert_eq!(answers[0].2["version"], 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.message_count(&s.dead).await, 1, "dead-lettered once");
}
