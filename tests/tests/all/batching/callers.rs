//! A batched deployment's queue and its callers: a caller who gives up while its request waits
//! is dropped from the queue before any call, the others waiting with it get their own
//! answers, and the prediction log keeps each answered request under its own request id, row by
//! row, as it does without batching.

use std::collections::HashMap;
use std::time::Duration;

use ferry_tests::server::hostile::{self, SLOW};
use ferry_tests::server::{Server, ok_json as ok};
use serde_json::{Value, json};

use super::{At, Draw, Logged, calls, exported, post, row};

#[tokio::test(flavor = "multi_thread")]
async fn callers_who_give_up_leave_the_queue_and_the_log_keeps_each_answered_request() {
    let work = tempfile::tempdir().unwrap();
    let (policy, key) = hostile::trusted_policy(work.path());
    let server = Server::start(&[
        "--trust",
        policy.to_str().unwrap(),
        "--max-in-flight",
        "256",
    ]);
    assert_eq!(server.train_churn(|t| t), 1);
    let hostile = server.train_hostile_churn();
    server.sign_hostile(work.path(), &key);
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "queue",
            "--model",
            &format!("churn@{hostile}"),
            "--batch-max-rows",
            "64",
            "--batch-max-wait-us",
            "1000",
            "--timeout-ms",
            "5000",
        ],
    ));
    let at = At::new(&server);
    let url = format!("{}/v1/deployments/queue/predict", server.url);

    // Every slot of the queue is taken by a request whose validator loops until its plugin's
    // deadline (500 ms), so what comes next waits in the queue. Each is sent once the one
    // before has started its call.
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut slow = row(&mut Draw(5));
    slow["customer_id"] = json!(SLOW);
    let mut busy = Vec::new();
    for started in 1..=slots {
        let (client, url, body) = (at.client.clone(), url.clone(), json!({"rows": [slow]}));
        busy.push(tokio::spawn(async move {
            client.post(url).json(&body).send().await.unwrap().status()
        }));
        while calls(&server, "queue").await.0 < started as f64 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    // 40 requests of 1 to 3 rows wait behind them; every other caller gives up after 0.2 s,
    // while the slots are still taken.
    let mut d = Draw(0xca11e75);
    let bodies: Vec<Value> = (0..40)
        .map(|i| {
            let rows: Vec<Value> = (0..1 + d.below(3))
                .map(|r| {
                    let mut one = row(&mut d);
                    one["customer_id"] = json!(format!("C{i:03}{r:02}"));
                    one
                })
                .collect();
            json!({"rows": rows})
        })
        .collect();
    let sends = bodies.iter().enumerate().map(|(i, body)| {
        let mut request = at.client.post(&url).json(body);
        if i % 2 == 0 {
            request = request.timeout(Duration::from_millis(200));
        }
        async move {
            match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    Some((status, r.json::<Value>().await.unwrap_or(Value::Null)))
                }
                Err(e) => {
                    assert!(e.is_timeout(), "request {i}: {e}");
                    None
                }
            }
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    for status in futures_util::future::join_all(busy).await {
        assert_ne!(
            status.unwrap().as_u16(),
            200,
            "the looping validator passed"
        );
    }

    let mut kept = HashMap::new();
    for (i, (answer, body)) in answers.iter().zip(&bodies).enumerate() {
        match answer {
            None => assert_eq!(i % 2, 0, "request {i} gave up although it waited"),
            Some((status, got)) => {
                assert_eq!(
                    i % 2,
                    1,
                    "request {i} was answered before its caller gave up"
                );
                assert_eq!(*status, 200, "request {i}: {got}");
                let (s, alone) =
                    post(&at, &format!("/v1/models/churn/{hostile}/predict"), body).await;
                assert_eq!(s, 200, "{alone}");
                assert_eq!(got["predictions"], alone["predictions"], "request {i}");
                let id = got["request_id"].as_str().unwrap().to_string();
                kept.insert(id, (body.clone(), got.clone()));
            }
        }
    }
    assert_eq!(
        kept.len(),
        20,
        "every caller who waited got an answer of its own"
    );
    // Only the looping requests and the callers who waited reached a call: the 20 who gave up
    // were dropped from the queue unscored.
    let (_, carried) = calls(&server, "queue").await;
    assert_eq!(
        carried,
        (slots + 20) as f64,
        "requests carried by batched calls"
    );
    let (s, _) = post(&at, "/v1/deployments/queue/predict", &bodies[1]).await;
    assert_eq!(s, 200, "the queue keeps serving");
    drop(at);

    // The log: each answered request under its own id, its rows numbered from 0, its own
    // inputs and outputs; nothing of the callers who gave up or of the failed requests.
    let data = server.terminate();
    let logged = exported(&data, &format!("churn@{hostile}"));
    let mut by_request: HashMap<&str, Vec<&Logged>> = HashMap::new();
    for l in logged.iter().filter(|l| l["deployment"] == "queue") {
        by_request.entry(&l["request_id"]).or_default().push(l);
    }
    assert_eq!(
        by_request.len(),
        kept.len() + 1,
        "the deployment's log: the 20 answered requests and the last one"
    );
    for (id, (body, answer)) in &kept {
        let mut rows = by_request.remove(id.as_str()).unwrap_or_default();
        rows.sort_by_key(|l| l["row"].parse::<usize>().unwrap());
        let sent = body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), sent.len(), "request {id}: {rows:?}");
        for (n, (l, input)) in rows.iter().zip(sent).enumerate() {
            assert_eq!(l["row"], n.to_string());
            assert_eq!(
                (l["deployment"].as_str(), l["revision"].as_str()),
                ("queue", "1")
            );
            assert_eq!(l["customer_id"], input["customer_id"].as_str().unwrap());
            let p = &answer["predictions"][n];
            assert_eq!(
                l["output.prediction"],
                p["prediction"].as_str().unwrap(),
                "{id}"
            );
            assert_eq!(
                l["output.probability"].parse::<f64>().ok(),
                p["probability"].as_f64(),
                "request {id} row {n}"
            );
        }
    }
}
