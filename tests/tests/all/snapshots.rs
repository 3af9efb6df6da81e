//! Pre-initialized instances (contract 0.1.1): a plugin that exports its kind's `prepared-*`
//! interface is prepared once per configuration and state, snapshotted, and every later
//! instance starts from the snapshot. These tests hold the promise that this changes nothing
//! but the cost: the same bits with and without snapshots, no hidden state across calls, a
//! `prepare` that misbehaves refused with the call named, and a kept snapshot that was
//! tampered with made again, never used.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_core::data::{CsvReader, batch_to_rows};
use ferry_runtime::bindings::types::Batch;
use ferry_runtime::{
    Blob, Failure, LoadOptions, Plugin, ReadyTransform, ReadyValidator, Runtime, RuntimeMetrics,
    RuntimeOptions, TransformInstance,
};
use ferry_tests::server::{Server, text};
use ferry_tests::{churn_copy, customers, guests};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A runtime of its own (its own metrics), on `cache`, with snapshots on or off.
fn runtime_in(cache: &Path, snapshots: bool) -> (Runtime, RuntimeMetrics) {
    let metrics = RuntimeMetrics::default();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        builtins: ferry_builtins::BUILTINS,
        metrics: metrics.clone(),
        no_snapshots: !snapshots,
        ..Default::default()
    })
    .expect("runtime");
    (runtime, metrics)
}

async fn scaler(runtime: &Runtime) -> Plugin {
    runtime
        .load_builtin("standard-scaler", &LoadOptions::default())
        .await
        .expect("standard-scaler")
}

const SCALE: &str = r#"{"columns":["tenure_months","monthly_charges","support_calls"]}"#;

/// The scaler's state learned over the churn customers.
async fn learned_state(plugin: &Plugin, data: &Batch) -> Blob {
    let mut t = TransformInstance::new(plugin).await.expect("instance");
    let a = t
        .new_analyzer(SCALE, &ferry_core::data::schema_of(data))
        .await
        .expect("new-analyzer");
    t.update(a, data).await.expect("update");
    t.finish(a).await.expect("finish").into()
}

async fn apply(plugin: &Plugin, state: &Blob, data: &Batch) -> Batch {
    ReadyTransform::new(plugin, SCALE, state)
        .await
        .expect("ready")
        .apply(data)
        .await
        .expect("apply")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prepared_plugin_starts_every_instance_from_its_snapshot_with_the_same_bits() {
    let cache = tempfile::tempdir().unwrap();
    let (on, on_metrics) = runtime_in(cache.path(), true);
    let (off, off_metrics) = runtime_in(cache.path(), false);
    let (with, without) = (scaler(&on).await, scaler(&off).await);
    assert!(
        with.uses_snapshots(),
        "the SDK's plugins export `prepared-transform`"
    );
    assert!(!without.uses_snapshots(), "--no-snapshots");

    let data = customers();
    let state = learned_state(&with, &data).await;
    let expected = apply(&without, &state, &data).await;
    for _ in 0..20 {
        assert_eq!(apply(&with, &state, &data).await, expected);
    }
    assert_eq!(
        on_metrics.snapshots_taken.get(),
        1,
        "one snapshot per state"
    );
    assert_eq!(on_metrics.instances_from_snapshots.get(), 20);
    assert_eq!(off_metrics.instances_from_snapshots.get(), 0);

    // Another state is another snapshot; the first is still used for the first state.
    let other: Blob = learned_state(&with, &ferry_core::data::slice_rows(&data, 0, 100)).await;
    assert_ne!(other, state);
    assert_eq!(
        apply(&with, &other, &data).await,
        apply(&without, &other, &data).await
    );
    assert_eq!(apply(&with, &state, &data).await, expected);
    assert_eq!(on_metrics.snapshots_taken.get(), 2);
}

/// The snapshot files kept in `cache`.
fn kept(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(cache.join("snapshots"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "wasm"));
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_snapshot_that_was_truncated_or_changed_is_made_again_and_never_used() {
    let cache = tempfile::tempdir().unwrap();
    let data = customers();
    let (first, metrics) = runtime_in(cache.path(), true);
    let plugin = scaler(&first).await;
    let state = learned_state(&plugin, &data).await;
    let expected = apply(&plugin, &state, &data).await;
    assert_eq!(metrics.snapshots_taken.get(), 1);
    let files = kept(cache.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let good = std::fs::read(file).unwrap();

    // Found on disk by a new process: not taken again.
    let (second, metrics) = runtime_in(cache.path(), true);
    assert_eq!(apply(&scaler(&second).await, &state, &data).await, expected);
    assert_eq!(metrics.snapshots_taken.get(), 0);

    let truncated = good[..good.len() / 2].to_vec();
    let mut changed = good.clone();
    let at = changed.len() - 100;
    changed[at] ^= 0x55;
    let digest_file = file.with_extension("sha256");
    for (what, bytes) in [
        ("truncated", truncated),
        ("changed", changed),
        (
            "left without its digest (a crash between the two writes)",
            good.clone(),
        ),
    ] {
        std::fs::write(file, &bytes).unwrap();
        if bytes == good {
            std::fs::remove_file(&digest_file).unwrap();
        }
        let (again, metrics) = runtime_in(cache.path(), true);
        assert_eq!(
            apply(&scaler(&again).await, &state, &data).await,
            expected,
            "{what}"
        );
        assert_eq!(metrics.snapshots_taken.get(), 1, "{what}: taken again");
        let now = std::fs::read(file).unwrap();
        assert_eq!(now, good, "{what}: the file was made again");
        let recorded = std::fs::read_to_string(file.with_extension("sha256")).unwrap();
        assert_eq!(recorded, hex::encode(Sha256::digest(&now)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_making_one_snapshot_at_once_on_busy_cores_agree() {
    let cache = tempfile::tempdir().unwrap();
    let data = Arc::new(customers());
    let (reference, _) = runtime_in(cache.path(), false);
    let plain = scaler(&reference).await;
    let state = learned_state(&plain, &data).await;
    let expected = apply(&plain, &state, &data).await;

    // Both cores busy while two runtimes on one cache folder (two replicas sharing a
    // volume) each make the snapshot from four calls at once.
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
        })
        .collect();
    let (mut calls, mut takers, mut runtimes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2 {
        let (runtime, metrics) = runtime_in(cache.path(), true);
        let plugin = scaler(&runtime).await;
        takers.push(metrics);
        runtimes.push(runtime);
        for _ in 0..4 {
            let (plugin, state, data) = (plugin.clone(), state.clone(), data.clone());
            calls.push(tokio::spawn(
                async move { apply(&plugin, &state, &data).await },
            ));
        }
    }
    for call in calls {
        assert_eq!(call.await.unwrap(), expected);
    }
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    for metrics in &takers {
        assert!(
            metrics.snapshots_taken.get() <= 1,
            "one snapshot per process"
        );
        assert_eq!(metrics.instances_from_snapshots.get(), 4);
    }

    // What they left is one snapshot and its digest, which a third process uses as it is.
    let files = kept(cache.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    let recorded = std::fs::read_to_string(files[0].with_extension("sha256")).unwrap();
    assert_eq!(recorded, hex::encode(Sha256::digest(&bytes)));
    let (third, metrics) = runtime_in(cache.path(), true);
    assert_eq!(apply(&scaler(&third).await, &state, &data).await, expected);
    assert_eq!(metrics.snapshots_taken.get(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_prepare_is_refused_by_call_and_one_keeping_a_stream_runs_unsnapshotted() {
    let cache = tempfile::tempdir().unwrap();
    let (runtime, _) = runtime_in(cache.path(), true);
    let hostile = runtime
        .load_file(Path::new(guests::GUEST_HOSTILE), &LoadOptions::default())
        .await
        .unwrap();
    assert!(hostile.uses_snapshots());
    let data = customers();
    for (prepare, expect) in [
        ("loop", "deadline"),
        ("alloc", "memory"),
        ("panic", "panic"),
    ] {
        let config = json!({ "do": "ok", "prepare": prepare }).to_string();
        for attempt in 0..2 {
            let e = match ReadyValidator::new(&hostile, &config).await {
                Ok(_) => panic!("{prepare}: a misbehaving `prepare` was accepted"),
                Err(e) => e,
            };
            assert_eq!(e.operation, "prepare", "{prepare} (attempt {attempt}): {e}");
            let matched = match (expect, &*e.failure) {
                ("deadline", Failure::Timeout { .. }) => true,
                ("memory", Failure::OutOfMemory { .. }) => true,
                ("panic", Failure::Panic { message }) => message.contains("in prepare"),
                _ => false,
            };
            assert!(matched, "{prepare}: {e}");
            assert!(e.to_string().contains("hostile"), "{e}");
        }
    }
    // A `prepare` that keeps a host stream open cannot be snapshotted: the plugin runs
    // without a snapshot, as before contract 0.1.1, and still validates.
    let (runtime, metrics) = runtime_in(cache.path(), true);
    let keeper = runtime
        .load_file(Path::new(guests::GUEST_HOSTILE), &LoadOptions::default())
        .await
        .unwrap();
    let config = r#"{"do":"ok","prepare":"keep-stream"}"#;
    for _ in 0..3 {
        let report = ReadyValidator::new(&keeper, config)
            .await
            .unwrap()
            .validate(&data)
            .await
            .unwrap();
        assert_eq!(report.violations.len(), 1, "{report:?}");
    }
    assert_eq!(metrics.snapshots_taken.get(), 0);
    assert_eq!(metrics.instances_from_snapshots.get(), 0);
    assert!(kept(cache.path()).is_empty(), "{:?}", kept(cache.path()));

    // The same plugin with a `prepare` that behaves, and every other plugin, still serve.
    let ok = ReadyValidator::new(&hostile, r#"{"do":"ok"}"#)
        .await
        .unwrap()
        .validate(&data)
        .await
        .unwrap();
    assert_eq!(ok.violations.len(), 1, "{ok:?}");
    ferry_tests::assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prepare_that_misbehaves_refuses_the_version_when_it_is_first_served() {
    // Trained without snapshots, where `prepare` never runs; served with them, the version
    // is refused as it loads, with the plugin and the call named, and the server goes on.
    let server = Server::start(&[]);
    let dir = churn_copy(|t| {
        t.replacen(
            "[[validators]]",
            "[[validators]]\nplugin = \"hostile@^0.1\"\nconfig = { do = \"ok\", prepare = \"loop\", when = { column = \"customer_id\", equals = \"nobody\" } }\n\n[[validators]]",
            1,
        )
    });
    let o = server.ferry(&["plugin", "publish", guests::GUEST_HOSTILE]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pipeline = dir.path().join("pipeline.toml");
    let o = server.ferry(&["--no-snapshots", "train", pipeline.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.train_churn(|t| t.replace("name = \"churn\"", "name = \"healthy\""));

    let client = Server::http();
    let row = batch_to_rows(&customers())[0].clone();
    let r = client
        .post(format!("{}/v1/models/churn/1/predict", server.url))
        .json(&json!({ "rows": [row] }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert!(status >= 500, "{status}: {body}");
    assert!(
        body.contains("hostile") && body.contains("prepare"),
        "{status}: {body}"
    );
    let r = client
        .post(format!("{}/v1/models/healthy/1/predict", server.url))
        .json(&json!({ "rows": [row] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}

/// The churn example's customers, 100,000 of them.
const ROWS: usize = 100_000;

/// What one server computed for the 100,000 rows.
struct Outputs {
    /// `features/sample.csv` of the training run.
    features: Vec<u8>,
    /// The trained artifact, `model/model.bin`.
    model: Vec<u8>,
    /// `ferry transform --model --predictions` over every row.
    batch: Vec<u8>,
    /// The served answers, a thousand rows per request, without their request ids.
    answers: Vec<Value>,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_churn_pipeline_gives_the_same_bits_with_and_without_snapshots() {
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.csv");
    super::parity::big_csv(&big, ROWS);
    let dir = churn_copy(|t| {
        t.replace(
            "path = \"customers.csv\"",
            &format!("path = {:?}", big.display().to_string()),
        )
    });
    let pipeline = dir.path().join("pipeline.toml");

    let mut outputs: Vec<Outputs> = Vec::new();
    for snapshots in [true, false] {
        let flag: &[&str] = if snapshots { &[] } else { &["--no-snapshots"] };
        let server = Server::start(flag);
        let ferry = |args: &[&str]| server.ferry(&[flag, args].concat());

        // Training: the features it computed and the model trained on them.
        let o = ferry(&["train", pipeline.to_str().unwrap(), "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let outcome: Value = serde_json::from_slice(&o.stdout).unwrap();
        let run = outcome["run_id"].as_str().unwrap().to_string();
        let mut files = Vec::new();
        for file in ["features/sample.csv", "model/model.bin"] {
            let out = work
                .path()
                .join(format!("{snapshots}-{}", file.replace('/', "-")));
            let o = ferry(&[
                "runs",
                "download",
                &run,
                file,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            files.push(std::fs::read(&out).unwrap());
        }

        // Batch.
        let out = work.path().join(format!("{snapshots}-batch.csv"));
        let o = ferry(&[
            "transform",
            "--model",
            "churn@1",
            big.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--predictions",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let batch = std::fs::read(&out).unwrap();

        // Serving: every row, a thousand per request.
        let input = CsvReader::open(&big, 200_000).unwrap().read_all().unwrap();
        let rows = batch_to_rows(&input);
        let client = Server::http();
        let url = format!("{}/v1/models/churn/1/predict?features=true", server.url);
        let mut answers = Vec::new();
        for chunk in rows.chunks(1000) {
            let r = client
                .post(&url)
                .json(&json!({ "rows": chunk }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let mut answer = r.json::<Value>().await.unwrap();
            answer
                .as_object_mut()
                .and_then(|a| a.remove("request_id"))
                .expect("every answer names its request");
            answers.push(answer);
        }
        assert_eq!(answers.len(), ROWS / 1000);

        let from_snapshots = server
            .metric("ferry_instances_from_snapshots_total", &[])
            .await;
        if snapshots {
            assert!(from_snapshots >= 100.0, "{from_snapshots}");
        } else {
            assert_eq!(from_snapshots, 0.0);
        }
        outputs.push(Outputs {
            features: files.remove(0),
            model: files.remove(0),
            batch,
            answers,
        });
    }
    let (without, with) = (outputs.pop().unwrap(), outputs.pop().unwrap());
    assert!(
        with.features == without.features,
        "training features differ"
    );
    assert!(with.model == without.model, "the trained models differ");
    assert!(with.batch == without.batch, "batch outputs differ");
    for (i, (a, b)) in with.answers.iter().zip(&without.answers).enumerate() {
        assert_eq!(a, b, "request {i}");
    }
}
