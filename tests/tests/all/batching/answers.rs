//! Adaptive batching on a real `ferry serve`: requests to a batched deployment that arrive
//! together share one set of fresh instances and one call per step, and every answer is
//! bit-identical to the one the request gets alone. One bad request among others is refused
//! alone; a request whose plugin traps in a shared call is answered by the fallback while the
//! others keep their own answers; a burst past `--max-in-flight` is shed with 503. Batching is
//! refused for a version with a plugin that is neither built in nor signed by a trusted key,
//! when the deployment is written and again when it is served.

use ferry_tests::server::hostile::{self, FAIL};
use ferry_tests::server::{Server, ok_json as ok, text};
use serde_json::{Value, json};

use super::{At, Draw, assert_as_alone, at_once, batching_of, calls, post, row};

#[tokio::test(flavor = "multi_thread")]
async fn batched_answers_are_the_answers_alone() {
    let server = Server::start(&["--max-in-flight", "128"]);
    let at = At::new(&server);
    assert_eq!(server.train_churn(|t| t), 1);
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &["create", "alone", "--model", "churn@1", "--json"],
    ));
    let created = ok(server.deploy(
        &deployer,
        &[
            "create",
            "shared",
            "--model",
            "churn@1",
            "--batch-max-rows",
            "64",
            "--batch-max-wait-us",
            "2000",
            "--json",
        ],
    ));
    assert_eq!(
        created["spec"]["batch"],
        json!({"max_rows": 64, "max_wait_us": 2000}),
        "{created}"
    );

    // 10,000 requests of 1 to 4 rows, in waves of 1 to 64 at once.
    let mut d = Draw(0x5eed_ba7c);
    let mut bodies = Vec::new();
    while bodies.len() < 10_000 {
        let rows: Vec<Value> = (0..1 + d.below(4)).map(|_| row(&mut d)).collect();
        bodies.push(json!({"rows": rows}));
    }
    let mut shared = Vec::new();
    let mut sent = 0;
    while sent < bodies.len() {
        let wave = (1 + d.below(64) as usize).min(bodies.len() - sent);
        shared.extend(
            at_once(
                &at,
                "/v1/deployments/shared/predict",
                &bodies[sent..sent + wave],
            )
            .await,
        );
        sent += wave;
    }
    // The same requests alone, through the deployment without batching.
    assert_as_alone(&at, &shared, &bodies).await;
    // Batching did happen: fewer calls than requests, some carrying many.
    let (count, sum) = calls(&server, "shared").await;
    assert_eq!(sum, 10_000.0, "every request went through the queue");
    assert!(
        count < 9_000.0,
        "{count} calls for 10,000 requests: hardly any were shared"
    );
    let many = server
        .metric(
            "ferry_batch_requests_bucket",
            &[("deployment", "shared"), ("le", "4")],
        )
        .await;
    assert!(
        many > 0.0 && many < count,
        "{many} of {count} calls carried at most 4 requests"
    );
    let (alone_calls, _) = calls(&server, "alone").await;
    assert_eq!(
        alone_calls, 0.0,
        "a deployment without batching never queues"
    );
    let d = server.get_json("/v1/deployments/shared").await;
    assert_eq!(
        d["status"]["batching"],
        json!([{"target": "churn@1", "batched": true}]),
        "{d}"
    );

    // One bad request among others is refused alone: a row a validator rejects, and a row
    // that is not the model's input at all. The others get their answers alone.
    let (before, _) = calls(&server, "shared").await;
    for round in 0..5 {
        let mut g = Draw(0xbad_0000 + round * 7919);
        let mut wave: Vec<Value> = (0..40).map(|_| json!({"rows": [row(&mut g)]})).collect();
        for (i, b) in wave.iter_mut().enumerate() {
            b["rows"][0]["customer_id"] = json!(format!("C{round}{i:04}"));
        }
        wave[17]["rows"][0]["tenure_months"] = json!(500);
        wave[29]["rows"][0]["tenure_months"] = json!("many");
        let answers = at_once(&at, "/v1/deployments/shared/predict", &wave).await;
        let singles = at_once(&at, "/v1/deployments/alone/predict", &wave).await;
        for (i, ((s, a), body)) in answers.iter().zip(&singles).zip(&wave).enumerate() {
            match i {
                17 => {
                    assert_eq!(s.0, 422, "{}", s.1);
                    assert_eq!(s.1["error"]["code"], "rejected", "{}", s.1);
                    assert_eq!(s.1["error"]["fields"][0]["row"], 0, "{}", s.1);
                }
                29 => {
                    assert_eq!(s.0, 422, "{}", s.1);
                    assert_eq!(s.1["error"]["code"], "invalid_input", "{}", s.1);
                }
                _ => assert_eq!(s.0, 200, "{body}: {}", s.1),
            }
            assert_eq!(s.1["predictions"], a.1["predictions"], "{body}");
            assert_eq!(s.1["error"], a.1["error"], "{body}");
        }
    }
    let (after, _) = calls(&server, "shared").await;
    assert!(after > before, "the waves went through the queue");
}

#[tokio::test(flavor = "multi_thread")]
async fn batching_is_only_for_built_in_and_trusted_plugins() {
    let work = tempfile::tempdir().unwrap();
    let (policy, key) = hostile::trusted_policy(work.path());
    let policy = policy.to_str().unwrap();

    let server = Server::start(&["--max-in-flight", "128"]);
    let at = At::new(&server);
    assert_eq!(server.train_churn(|t| t), 1);
    let hostile = server.train_hostile_churn();
    let deployer = server.token("dep", "deployer");
    let batched = |name: &str, version: i64| {
        server.deploy(
            &deployer,
            &[
                "create",
                name,
                "--model",
                &format!("churn@{version}"),
                "--fallback",
                "churn@1",
                "--batch-max-rows",
                "32",
                "--json",
            ],
        )
    };

    // Written: refused while a plugin is neither built in nor signed by a trusted key.
    let o = batched("risky", hostile);
    assert_eq!(o.status.code(), Some(10), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(&format!("batch: targets[0] (churn@{hostile}): plugin hostile@"))
            && said.contains(
                "is neither built in nor signed by a key the trust policy lists for it (there is no trust policy)"
            )
            && said.contains("rows of concurrent requests meet inside one plugin call"),
        "{said}"
    );
    let r = at
        .client
        .get(format!("{}/v1/deployments/risky", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "nothing was stored");
    // Without batching it deploys; built-in plugins batch.
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "risky",
            "--model",
            &format!("churn@{hostile}"),
            "--fallback",
            "churn@1",
        ],
    ));
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "builtin",
            "--model",
            "churn@1",
            "--batch-max-rows",
            "32",
        ],
    ));

    // A revision written elsewhere with a trust policy this server lacks: the server runs each
    // request alone and says why.
    let o = server.ferry(&[
        "deploy",
        "update",
        "risky",
        "--batch-max-rows",
        "32",
        "--trust",
        policy,
    ]);
    assert_eq!(
        o.status.code(),
        Some(10),
        "unsigned, even with the policy: {}",
        text(&o)
    );
    server.sign_hostile(work.path(), &key);
    let o = server.ferry(&[
        "deploy",
        "update",
        "risky",
        "--batch-max-rows",
        "32",
        "--trust",
        policy,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        written["spec"]["targets"][0]["version"],
        hostile.to_string(),
        "an update without --model keeps the version it served: {written}"
    );
    assert_eq!(written["spec"]["fallback"]["version"], "1", "{written}");
    // Another process wrote it: the server serves it within a second.
    let since = std::time::Instant::now();
    let one = json!({"rows": [row(&mut Draw(98))]});
    while post(&at, "/v1/deployments/risky/predict", &one).await.1["revision"]
        != written["revision"]
    {
        assert!(
            since.elapsed().as_secs() < 2,
            "the new revision is not served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let wave: Vec<Value> = (0..16)
        .map(|i| json!({"rows": [row(&mut Draw(99 + i))]}))
        .collect();
    for (status, body) in at_once(&at, "/v1/deployments/risky/predict", &wave).await {
        assert_eq!(status, 200, "{body}");
    }
    let d = server.get_json("/v1/deployments/risky").await;
    let status = batching_of(&d, hostile);
    assert_eq!(status["batched"], false, "{d}");
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("is neither built in nor signed by a key the trust policy lists for it"),
        "{d}"
    );
    assert_eq!(calls(&server, "risky").await, (0.0, 0.0));

    // Served with the policy: batched. A request whose row makes the hostile validator trap
    // fails alone and is answered by the fallback; the others in its call keep their answers.
    drop(at);
    let data = server.kill();
    let server = Server::start_in(data, &["--trust", policy, "--max-in-flight", "128"]);
    let at = At::new(&server);
    let mut wave: Vec<Value> = (0..40)
        .map(|i| json!({"rows": [row(&mut Draw(1_000 + i))]}))
        .collect();
    for (i, b) in wave.iter_mut().enumerate() {
        b["rows"][0]["customer_id"] = json!(format!("C{:05}", 50_000 + i));
    }
    wave[23]["rows"][0]["customer_id"] = json!(FAIL);
    for _ in 0..3 {
        let answers = at_once(&at, "/v1/deployments/risky/predict", &wave).await;
        for (i, ((status, body), sent)) in answers.iter().zip(&wave).enumerate() {
            assert_eq!(*status, 200, "{body}");
            let version = if i == 23 { 1 } else { hostile };
            let reason = if i == 23 { "fallback" } else { "primary" };
            assert_eq!(
                (body["version"].as_i64(), body["reason"].as_str()),
                (Some(version), Some(reason)),
                "{body}"
            );
            let (s, alone) = post(&at, &format!("/v1/models/churn/{version}/predict"), sent).await;
            assert_eq!(s, 200, "{alone}");
            assert_eq!(body["predictions"], alone["predictions"], "{sent}");
        }
    }
    let d = server.get_json("/v1/deployments/risky").await;
    assert_eq!(
        batching_of(&d, hostile),
        json!({"target": format!("churn@{hostile}"), "batched": true}),
        "{d}"
    );
    let (count, sum) = calls(&server, "risky").await;
    assert!(count > 0.0 && sum > count, "{count} calls, {sum} requests");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_past_the_in_flight_limit_is_shed_with_batching_on() {
    let server = Server::start(&["--max-in-flight", "4"]);
    let at = At::new(&server);
    assert_eq!(server.train_churn(|t| t), 1);
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "shared",
            "--model",
            "churn@1",
            "--batch-max-rows",
            "8192",
            "--timeout-ms",
            "60000",
        ],
    ));
    let mut d = Draw(7);
    let big = json!({"rows": (0..2_000).map(|_| row(&mut d)).collect::<Vec<_>>()});
    let url = format!("{}/v1/deployments/shared/predict", server.url);
    let sends = (0..48).map(|_| {
        let (url, big, client) = (url.clone(), big.clone(), at.client.clone());
        async move {
            let r = client.post(url).json(&big).send().await.unwrap();
            let retry = r.headers().get("retry-after").is_some();
            (r.status().as_u16(), retry)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let shed = answers.iter().filter(|(s, _)| *s == 503).count();
    let answered = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(shed + answered, 48, "{answers:?}");
    assert!(shed > 0 && answered >= 4, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == 503)
            .all(|(_, retry)| *retry),
        "every 503 says when to retry"
    );
    let (status, body) = post(
        &at,
        "/v1/deployments/shared/predict",
        &json!({"rows": [row(&mut d)]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
