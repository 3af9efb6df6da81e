//! Two replicas on one PostgreSQL database batching one deployment: each keeps queues of its
//! own, every answer from either is the one the request gets alone, and a change of the
//! deployment's batching made through one is followed by the other within a second.

use std::time::{Duration, Instant};

use ferry_tests::server::{PgDatabase, Server, ok_json as ok};

use serde_json::{Value, json};

use super::{At, Draw, assert_as_alone, at_once, calls, row};

/// Waits up to a second for `server` to answer deployment `shared` from `revision`.
async fn serves(at: &At<'_>, revision: i64) {
    let start = Instant::now();
    let one = json!({"rows": [row(&mut Draw(3))]});
    while at_once(
        at,
        "/v1/deployments/shared/predict",
        std::slice::from_ref(&one),
    )
    .await[0]
        .1["revision"]
        != revision
    {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{} still not on revision {revision} a second after it was written",
            at.server.url
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What one request of `rows` rows to deployment `shared` on `at` adds to the requests its
/// batched calls carried (1 when it was queued, 0 when it ran alone), with its answer.
async fn queued(at: &At<'_>, body: &Value) -> (f64, Value) {
    let (_, before) = calls(at.server, "shared").await;
    let answer = at_once(
        at,
        "/v1/deployments/shared/predict",
        std::slice::from_ref(body),
    )
    .await;
    let (status, answer) = answer.into_iter().next().unwrap();
    assert_eq!(status, 200, "{answer}");
    let (_, after) = calls(at.server, "shared").await;
    (after - before, answer)
}

/// Sends waves of an even number of `bodies` to both replicas at once, alternating request by
/// request (so each gets half); the answers in the order of `bodies`.
async fn waves(a: &At<'_>, b: &At<'_>, bodies: &[Value], d: &mut Draw) -> Vec<(u16, Value)> {
    let path = "/v1/deployments/shared/predict";
    let mut answers = Vec::new();
    let mut sent = 0;
    while sent < bodies.len() {
        let wave = (2 * (1 + d.below(32) as usize)).min(bodies.len() - sent);
        let mine = &bodies[sent..sent + wave];
        let (even, odd): (Vec<_>, Vec<_>) = mine
            .iter()
            .cloned()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let even: Vec<Value> = even.into_iter().map(|(_, v)| v).collect();
        let odd: Vec<Value> = odd.into_iter().map(|(_, v)| v).collect();
        let (from_a, from_b) = tokio::join!(at_once(a, path, &even), at_once(b, path, &odd));
        let (mut from_a, mut from_b) = (from_a.into_iter(), from_b.into_iter());
        for i in 0..wave {
            let next = if i % 2 == 0 {
                from_a.next()
            } else {
                from_b.next()
            };
            answers.push(next.unwrap());
        }
        sent += wave;
    }
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_batch_one_deployment_and_follow_each_others_changes() {
    let db = PgDatabase::create();
    let url = db.url();
    let a = Server::start(&["--database-url", &url, "--max-in-flight", "128"]);
    assert_eq!(a.train_churn(|t| t), 1);
    let b = a.replica(&["--database-url", &url, "--max-in-flight", "128"]);
    let deployer = a.token("dep", "deployer");
    ok(a.deploy(&deployer, &["create", "alone", "--model", "churn@1"]));
    ok(a.deploy(
        &deployer,
        &[
            "create",
            "shared",
            "--model",
            "churn@1",
            "--batch-max-rows",
            "32",
            "--batch-max-wait-us",
            "2000",
        ],
    ));
    let (at_a, at_b) = (At::new(&a), At::new(&b));

    let mut d = Draw(0x2e91_1ca5);
    let bodies: Vec<Value> = (0..2_000)
        .map(|_| {
            let rows: Vec<Value> = (0..1 + d.below(3)).map(|_| row(&mut d)).collect();
            json!({"rows": rows})
        })
        .collect();
    let shared = waves(&at_a, &at_b, &bodies, &mut d).await;
    assert_as_alone(&at_a, &shared, &bodies).await;
    // Each replica batched its own half.
    let (count_a, sum_a) = calls(&a, "shared").await;
    let (count_b, sum_b) = calls(&b, "shared").await;
    assert_eq!(
        (sum_a, sum_b),
        (1_000.0, 1_000.0),
        "each request went through its replica's queue"
    );
    assert!(
        count_a < sum_a && count_b < sum_b,
        "{count_a} and {count_b} calls for 1,000 requests each: nothing was shared"
    );

    // A request of 20 rows is queued while a call may carry 32; once the other replica
    // lowers that to 8, it runs alone, with the same answer.
    let mut g = Draw(20);
    let twenty = json!({"rows": (0..20).map(|_| row(&mut g)).collect::<Vec<_>>()});
    let alone_twenty = at_once(
        &at_a,
        "/v1/deployments/alone/predict",
        std::slice::from_ref(&twenty),
    )
    .await;
    let (added, answer) = queued(&at_a, &twenty).await;
    assert_eq!(added, 1.0, "20 rows of at most 32 went through the queue");
    assert_eq!(answer["predictions"], alone_twenty[0].1["predictions"]);
    ok(b.deploy(
        &deployer,
        &["update", "shared", "--batch-max-rows", "8", "--json"],
    ));
    serves(&at_a, 2).await;
    let (added, answer) = queued(&at_a, &twenty).await;
    assert_eq!(added, 0.0, "20 rows of at most 8 ran alone");
    assert_eq!(answer["predictions"], alone_twenty[0].1["predictions"]);
    let shown = a.get_json("/v1/deployments/shared").await;
    assert_eq!(
        shown["spec"]["batch"],
        json!({"max_rows": 8, "max_wait_us": 2000}),
        "{shown}"
    );

    // Batching turned off through the other replica: nothing is queued any more.
    ok(b.deploy(&deployer, &["update", "shared", "--no-batch", "--json"]));
    serves(&at_a, 3).await;
    let (count, _) = calls(&a, "shared").await;
    for (status, body) in at_once(&at_a, "/v1/deployments/shared/predict", &bodies[..32]).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revision"], 3, "{body}");
    }
    assert_eq!(
        calls(&a, "shared").await.0,
        count,
        "a deployment without batching queued"
    );
    let shown = a.get_json("/v1/deployments/shared").await;
    assert!(shown["status"]["batching"].is_null(), "{shown}");
}
