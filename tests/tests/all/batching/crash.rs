//! A server killed (SIGKILL) while clients keep a batched deployment's queue full, then started
//! again on the same data: the deployment is there as it was, still batched, its answers are
//! still the ones each request gets alone, and the prediction log reads back whole: whatever
//! it kept of a request, it kept all of, under that request's own id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_tests::server::{Server, ok_json as ok};
use serde_json::{Value, json};

use super::{At, Draw, Logged, assert_as_alone, at_once, calls, exported, row};

/// Requests each client sends, one after another, until the server is gone.
const CLIENTS: usize = 32;

/// Request `n`: 1 to 3 rows, with customer ids the churn validators accept.
fn body(n: u64) -> Value {
    let mut d = Draw(0xc7a5 + n);
    let rows: Vec<Value> = (0..1 + d.below(3))
        .map(|r| {
            let mut one = row(&mut d);
            one["customer_id"] = json!(format!("C{:05}", (n * 3 + r) % 100_000));
            one
        })
        .collect();
    json!({"rows": rows})
}

/// Answered requests: what was sent and what came back.
type Answered = Arc<Mutex<Vec<(Value, Value)>>>;

/// `CLIENTS` clients, each sending requests to deployment `steady` one after another until a
/// request fails (the server was killed) or `stop` is set; the answered ones go to `answered`.
fn keep_busy(
    url: &str,
    answered: &Answered,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|c| {
            let (url, answered, stop) = (url.to_string(), answered.clone(), stop.clone());
            tokio::spawn(async move {
                let client = Server::http();
                let mut n = c as u64;
                while !stop.load(Ordering::Relaxed) {
                    let sent = body(n);
                    n += CLIENTS as u64;
                    let Ok(r) = client.post(&url).json(&sent).send().await else {
                        return;
                    };
                    assert_eq!(r.status().as_u16(), 200, "request {n}");
                    let Ok(got) = r.json::<Value>().await else {
                        return;
                    };
                    answered.lock().unwrap().push((sent, got));
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_while_it_batches_starts_again_consistent() {
    // Segments of 64 rows, so the log writes segments while the server is killed.
    let extra = [
        "--max-in-flight",
        "256",
        "--prediction-log-segment-rows",
        "64",
    ];
    let server = Server::start(&extra);
    assert_eq!(server.train_churn(|t| t), 1);
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &[
            "create",
            "steady",
            "--model",
            "churn@1",
            "--batch-max-rows",
            "64",
            "--batch-max-wait-us",
            "2000",
        ],
    ));
    ok(server.deploy(&deployer, &["create", "alone", "--model", "churn@1"]));
    let before = server.get_json("/v1/deployments/steady").await;

    // Killed once its batched calls have carried 400 requests, with 32 more in flight.
    let answered: Answered = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{}/v1/deployments/steady/predict", server.url);
    let clients = keep_busy(&url, &answered, &stop);
    while calls(&server, "steady").await.1 < 400.0 {
        if clients.iter().all(|c| c.is_finished()) {
            for c in clients {
                c.await.unwrap();
            }
            panic!("the clients stopped before the server was killed");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (shared, carried) = calls(&server, "steady").await;
    assert!(
        carried > shared,
        "{shared} calls carried {carried} requests"
    );
    let data = server.kill();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let before_kill = std::mem::take(&mut *answered.lock().unwrap());
    assert!(before_kill.len() >= 300, "{} answered", before_kill.len());

    // Started again on the same data: the deployment as it was, batched, answering as alone.
    let server = Server::start_in(data, &extra);
    let after = server.get_json("/v1/deployments/steady").await;
    assert_eq!(after["revision"], before["revision"], "{after}");
    assert_eq!(after["spec"], before["spec"], "{after}");
    let at = At::new(&server);
    let wave: Vec<Value> = (0..64).map(|i| body(100_000 + i)).collect();
    let answers = at_once(&at, "/v1/deployments/steady/predict", &wave).await;
    assert_as_alone(&at, &answers, &wave).await;
    let (shared, carried) = calls(&server, "steady").await;
    assert!(
        shared >= 1.0 && carried >= 64.0,
        "after the restart: {shared} calls carried {carried} requests"
    );
    // What was answered before the kill is what each request gets alone.
    let (sent, got): (Vec<Value>, Vec<(u16, Value)>) = before_kill
        .iter()
        .step_by(7)
        .map(|(s, g)| (s.clone(), (200, g.clone())))
        .unzip();
    assert_as_alone(&at, &got, &sent).await;
    drop(at);

    // The log reads back. Every request it kept, it kept whole under its own id, with the
    // answer its client got; what the killed server had written is there; every request after
    // the restart is there (SIGTERM writes what is buffered; SIGKILL loses it).
    let data = server.terminate();
    let logged = exported(&data, "churn@1");
    let mut by_request: HashMap<&str, Vec<&Logged>> = HashMap::new();
    for l in logged.iter().filter(|l| l["deployment"] == "steady") {
        by_request.entry(&l["request_id"]).or_default().push(l);
    }
    let mut answers_by_id: HashMap<&str, (&Value, &Value)> = HashMap::new();
    for (s, g) in before_kill
        .iter()
        .map(|(s, g)| (s, g))
        .chain(wave.iter().zip(&answers).map(|(s, (_, g))| (s, g)))
    {
        answers_by_id.insert(g["request_id"].as_str().unwrap(), (s, g));
    }
    for (_, got) in &answers {
        let id = got["request_id"].as_str().unwrap();
        assert!(
            by_request.contains_key(id),
            "request {id} is not in the log"
        );
    }
    let kept_from_before = before_kill
        .iter()
        .filter(|(_, g)| by_request.contains_key(g["request_id"].as_str().unwrap()))
        .count();
    assert!(
        kept_from_before > 0,
        "nothing the killed server answered is in the log"
    );
    for (id, rows) in &mut by_request {
        rows.sort_by_key(|l| l["row"].parse::<usize>().unwrap());
        let rows_numbered: Vec<String> = rows.iter().map(|l| l["row"].clone()).collect();
        let whole: Vec<String> = (0..rows.len()).map(|n| n.to_string()).collect();
        assert_eq!(rows_numbered, whole, "request {id}: its rows in the log");
        let Some((sent, got)) = answers_by_id.get(id) else {
            // Answered by the killed server after its client stopped reading.
            continue;
        };
        let sent = sent["rows"].as_array().unwrap();
        assert_eq!(rows.len(), sent.len(), "request {id}: {rows:?}");
        for (n, (l, input)) in rows.iter().zip(sent).enumerate() {
            assert_eq!(l["customer_id"], input["customer_id"].as_str().unwrap());
            assert_eq!(
                l["output.probability"].parse::<f64>().ok(),
                got["predictions"][n]["probability"].as_f64(),
                "request {id} row {n}"
            );
        }
    }
}
