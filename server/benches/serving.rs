//! Online prediction, measured: the churn pipeline (two validators, three transforms, the
//! linear model) trained by `ferry train`, served from its lineage through the Wasm sandbox,
//! against the same pipeline written natively in Rust (the same plugin crates called
//! directly, with the same learned states and artifact), in the same run:
//! - one row in-process (`ServingPipeline::predict`) and over HTTP (a real `ferry serve`
//!   router on loopback, one client);
//! - batch scoring of 100,000 rows in 8,192-row batches, in rows per second, on one core and
//!   on every core (`ferry_core::batch::in_order`, against native threads);
//! - what a fresh set of instances per call costs: the same pipeline run the way Ferry did
//!   before, with one set of instances built once and reused for every call (which let a
//!   plugin's hidden state reach the next request), as the baseline.
//!
//! Run with `cargo bench -p ferry-server --bench serving`.

use std::time::{Duration, Instant};

use ferry_core::data::{
    Format, batch_to_rows, columns_view, conform, merge_columns, read_table, slice_rows,
};
use ferry_core::steps::Steps;
use ferry_pipeline::pinned::load_serving;
use ferry_pipeline::train::Quiet;
use ferry_pipeline::{PipelineSpec, TrainOptions, train};
use ferry_runtime::bindings::types::{Batch, ColumnData};
use ferry_runtime::{
    ModelInstance, PredictorHandle, Runtime, RuntimeOptions, TransformInstance, TransformerHandle,
    ValidatorInstance,
};
use ferry_sdk::{Model, Predictor, Transform, Transformer, Validator};

fn to_sdk(b: &Batch) -> ferry_sdk::Batch {
    ferry_sdk::Batch {
        num_rows: b.num_rows,
        columns: b
            .columns
            .iter()
            .map(|c| {
                let col = match &c.data {
                    ColumnData::Float64(v) => ferry_sdk::Column::float64(&c.name, v.clone()),
                    ColumnData::Int64(v) => ferry_sdk::Column::int64(&c.name, v.clone()),
                    ColumnData::Boolean(v) => ferry_sdk::Column::boolean(&c.name, v.clone()),
                    ColumnData::Text(v) => ferry_sdk::Column::text(&c.name, v.clone()),
                };
                match &c.nulls {
                    Some(n) => col.with_nulls(n.clone()),
                    None => col,
                }
            })
            .collect(),
    }
}

/// The churn pipeline, natively.
struct Native {
    schema: String,
    expectations: String,
    impute: <plugin_impute::Impute as Transform>::Transformer,
    scale: <plugin_standard_scaler::StandardScaler as Transform>::Transformer,
    one_hot: <plugin_one_hot::OneHot as Transform>::Transformer,
    model: <plugin_linear::Linear as Model>::Predictor,
    features: Vec<String>,
}

fn merge(base: &mut ferry_sdk::Batch, out: ferry_sdk::Batch) {
    for c in out.columns {
        match base.columns.iter_mut().find(|b| b.name == c.name) {
            Some(slot) => *slot = c,
            None => base.columns.push(c),
        }
    }
}

impl Native {
    fn predict(&self, data: &ferry_sdk::Batch) -> ferry_sdk::Batch {
        for (config, report) in [
            (
                &self.schema,
                plugin_schema::SchemaValidator::validate(&self.schema, data),
            ),
            (
                &self.expectations,
                plugin_expectations::Expectations::validate(&self.expectations, data),
            ),
        ] {
            let report = report.expect("validate");
            assert!(
                report
                    .violations
                    .iter()
                    .all(|v| v.row.is_none() || v.column.as_deref() == Some("churned")),
                "{config}: {:?}",
                report.violations
            );
        }
        let mut d = data.clone();
        let out = self.impute.apply(&d).expect("impute");
        merge(&mut d, out);
        let out = self.scale.apply(&d).expect("scale");
        merge(&mut d, out);
        let out = self.one_hot.apply(&d).expect("one-hot");
        merge(&mut d, out);
        let features = ferry_sdk::Batch {
            num_rows: d.num_rows,
            columns: self
                .features
                .iter()
                .map(|f| {
                    d.columns
                        .iter()
                        .find(|c| &c.name == f)
                        .expect("feature")
                        .clone()
                })
                .collect(),
        };
        self.model.predict(&features).expect("predict")
    }
}

/// The baseline: one set of instances built once and reused for every call, as Ferry served
/// before each call got instances of its own.
struct Reused {
    validators: Vec<ValidatorInstance>,
    transforms: Vec<(TransformInstance, TransformerHandle)>,
    model: (ModelInstance, PredictorHandle),
}

impl Reused {
    async fn new(steps: &Steps) -> Self {
        let mut validators = Vec::new();
        for v in &steps.validators {
            validators.push(ValidatorInstance::new(&v.plugin).await.expect("validator"));
        }
        let mut transforms = Vec::new();
        for t in &steps.transforms {
            let mut inst = TransformInstance::new(&t.step.plugin)
                .await
                .expect("transform");
            let h = inst
                .new_transformer(&t.step.config, &t.state)
                .await
                .expect("transformer");
            transforms.push((inst, h));
        }
        let m = steps.model.as_ref().expect("model");
        let mut inst = ModelInstance::new(&m.plugin).await.expect("model");
        let h = inst.load(&m.artifact, &m.load_config).await.expect("load");
        Self {
            validators,
            transforms,
            model: (inst, h),
        }
    }

    async fn predict(&mut self, steps: &Steps, raw: &Batch) -> Batch {
        let mut data = conform(raw, &steps.input, &[steps.label.as_str()]).expect("conform");
        for (v, step) in self.validators.iter_mut().zip(&steps.validators) {
            let view = columns_view(&data, step.reads.as_deref()).expect("reads");
            let report = v.validate(&step.config, &view).await.expect("validate");
            assert!(
                report
                    .violations
                    .iter()
                    .all(|x| x.row.is_none() || x.column.as_deref() == Some("churned"))
            );
        }
        for ((t, h), learned) in self.transforms.iter_mut().zip(&steps.transforms) {
            let view = columns_view(&data, learned.step.reads.as_deref()).expect("reads");
            let out = t.apply(*h, &view).await.expect("apply");
            merge_columns(&mut data, out);
        }
        let model = steps.model.as_ref().expect("model");
        let features = model.features_of(&data).expect("features");
        let (m, h) = &mut self.model;
        m.predict(*h, &features).await.expect("predict")
    }
}

fn per_call<F: FnMut()>(budget: Duration, mut f: F) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while n < 100 || start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn fmt(d: Duration) -> String {
    format!("{:.1} µs", d.as_nanos() as f64 / 1e3)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(run());
}

async fn run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().into()),
        builtins: ferry_builtins::BUILTINS,
        ..Default::default()
    })
    .expect("runtime");
    let registry = ferry_registry::Registry::open(data_dir.path(), None)
        .await
        .expect("registry");
    ferry_kit::publish::seed_builtins(&runtime, &registry)
        .await
        .expect("seed");
    let spec = PipelineSpec::read(&root.join("examples/churn/pipeline.toml")).expect("pipeline");
    let store = ferry_pipeline::store::Store::Local(registry.clone());
    let outcome = train(
        &runtime,
        &store,
        &spec,
        &TrainOptions {
            user: "bench".into(),
            plugins: Default::default(),
            register: true,
            run_name: None,
            progress: &Quiet,
        },
    )
    .await
    .expect("train");
    let lineage = outcome.lineage.clone();
    let served = std::sync::Arc::new(
        load_serving(&runtime, &store, lineage.clone(), &Default::default())
            .await
            .expect("serve"),
    );

    let blob = |d: &str| {
        let registry = registry.clone();
        let d = d.to_string();
        async move { registry.blobs().get(&d).await.expect("blob") }
    };
    let t = &lineage.transforms;
    let m = lineage.model.as_ref().expect("model");
    let native = Native {
        schema: lineage.validators[0].config.clone(),
        expectations: lineage.validators[1].config.clone(),
        impute: plugin_impute::Impute::new_transformer(
            &t[0].config,
            &blob(&t[0].state_digest).await,
        )
        .expect("impute"),
        scale: plugin_standard_scaler::StandardScaler::new_transformer(
            &t[1].config,
            &blob(&t[1].state_digest).await,
        )
        .expect("scale"),
        one_hot: plugin_one_hot::OneHot::new_transformer(
            &t[2].config,
            &blob(&t[2].state_digest).await,
        )
        .expect("one-hot"),
        model: plugin_linear::Linear::load(&blob(&m.artifact_digest).await, "{}").expect("model"),
        features: m.features.clone(),
    };

    // 100,000 rows: the example's customers, repeated.
    let base = read_table(&root.join("examples/churn/customers.csv"), Format::Csv).expect("data");
    let mut input = base.clone();
    input.columns.retain(|c| c.name != "churned");
    let mut big = Vec::new();
    for _ in 0..50 {
        big.push(input.clone());
    }
    let mut big =
        ferry_core::data::concat(&ferry_core::data::schema_of(&input), big).expect("concat");
    for c in &mut big.columns {
        if c.name == "customer_id" {
            c.data = ColumnData::Text((0..100_000).map(|i| format!("C{i:05}")).collect());
        }
    }
    let one = slice_rows(&input, 5, 6);
    let one_sdk = to_sdk(&one);

    // Both paths agree, bit for bit, before anything is timed.
    let wasm = served.predict(&big).await.expect("predict");
    let nat = native.predict(&to_sdk(&big));
    for (w, n) in wasm.outputs.columns.iter().zip(&nat.columns) {
        match (&w.data, &n.data) {
            (ColumnData::Float64(a), ferry_sdk::ColumnData::Float64(b)) => {
                assert!(
                    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "Wasm and native differ"
                )
            }
            (ColumnData::Text(a), ferry_sdk::ColumnData::Text(b)) => assert_eq!(a, b),
            _ => panic!("unexpected output types"),
        }
    }

    // The baseline agrees too.
    let steps = served.steps();
    let mut reused = Reused::new(steps).await;
    let baseline = reused.predict(steps, &big).await;
    assert_eq!(
        baseline, wasm.outputs,
        "the reused-instance baseline differs"
    );

    // One row, in-process: a fresh set of instances per call, and the reused baseline.
    let start = Instant::now();
    let mut n = 0u32;
    while n < 200 || start.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(served.predict(&one).await.expect("predict"));
        n += 1;
    }
    let wasm_one = start.elapsed() / n;
    let start = Instant::now();
    let mut n = 0u32;
    while n < 200 || start.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(reused.predict(steps, &one).await);
        n += 1;
    }
    let reused_one = start.elapsed() / n;
    let start = Instant::now();
    let mut n = 0u32;
    while n < 200 || start.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(steps.prepare().await.expect("prepare"));
        n += 1;
    }
    let prepare = start.elapsed() / n;

    // The same version without snapshots: every instance built from its state, as before
    // contract 0.1.1. It must agree bit for bit before it is timed.
    let plain_runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().into()),
        builtins: ferry_builtins::BUILTINS,
        no_snapshots: true,
        ..Default::default()
    })
    .expect("runtime");
    let plain = load_serving(&plain_runtime, &store, lineage.clone(), &Default::default())
        .await
        .expect("serve");
    assert_eq!(
        plain.predict(&big).await.expect("predict").outputs,
        wasm.outputs,
        "with and without snapshots differ"
    );
    let mut plain_one = Duration::MAX;
    let mut snapshot_one = Duration::MAX;
    for _ in 0..3 {
        for (pipeline, best) in [(&plain, &mut plain_one), (&served, &mut snapshot_one)] {
            let start = Instant::now();
            for _ in 0..500 {
                std::hint::black_box(pipeline.predict(&one).await.expect("predict"));
            }
            *best = (*best).min(start.elapsed() / 500);
        }
    }
    let plain_steps = plain.steps();
    let start = Instant::now();
    let mut n = 0u32;
    while n < 200 || start.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(plain_steps.prepare().await.expect("prepare"));
        n += 1;
    }
    let plain_prepare = start.elapsed() / n;
    // What a set is made of: each instance, and each constructor call.
    macro_rules! mean {
        ($body:expr) => {{
            std::hint::black_box($body);
            let start = Instant::now();
            for _ in 0..300 {
                std::hint::black_box($body);
            }
            start.elapsed() / 300
        }};
    }
    let mut parts: Vec<(String, Duration)> = Vec::new();
    for v in &steps.validators {
        let d = mean!(ValidatorInstance::new(&v.plugin).await.expect("validator"));
        parts.push((format!("validator `{}`: new instance", v.plugin.name()), d));
    }
    for t in &steps.transforms {
        let name = t.step.plugin.name();
        let d = mean!(
            TransformInstance::new(&t.step.plugin)
                .await
                .expect("transform")
        );
        parts.push((format!("transform `{name}`: new instance"), d));
        let d = mean!(t.prepare().await.expect("prepare"));
        parts.push((
            format!("transform `{name}`: new instance from its snapshot"),
            d,
        ));
    }
    if let Some(m) = &steps.model {
        let name = m.plugin.name();
        let d = mean!(ModelInstance::new(&m.plugin).await.expect("model"));
        parts.push((format!("model `{name}`: new instance"), d));
        let d = mean!(m.prepare().await.expect("prepare"));
        parts.push((format!("model `{name}`: new instance from its snapshot"), d));
    }
    let native_one = per_call(Duration::from_secs(2), || {
        std::hint::black_box(native.predict(&one_sdk));
    });

    // One row over HTTP: the real router on loopback, one client, sequential requests.
    let state = ferry_server::AppState {
        registry: registry.clone(),
        runtime: runtime.clone(),
        anonymous_read: true,
        served: Default::default(),
        deployments: Default::default(),
        limits: Default::default(),
        in_flight: Default::default(),
        predictions: None,
        alerts: None,
        live: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, ferry_server::router(state))
            .await
            .expect("serve");
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/v1/models/churn/1/predict");
    let body = serde_json::json!({ "rows": batch_to_rows(&one) });
    let send = || async {
        let r = client.post(&url).json(&body).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 200);
        std::hint::black_box(r.bytes().await.expect("body"));
    };
    send().await;
    let start = Instant::now();
    let mut n = 0u32;
    while n < 200 || start.elapsed() < Duration::from_secs(3) {
        send().await;
        n += 1;
    }
    let http_one = start.elapsed() / n;

    // Batch scoring.
    let rows = big.num_rows as usize;
    let chunks: Vec<Batch> = (0..rows)
        .step_by(8192)
        .map(|s| slice_rows(&big, s, (s + 8192).min(rows)))
        .collect();
    let sdk_chunks: Vec<ferry_sdk::Batch> = chunks.iter().map(to_sdk).collect();
    let mut wasm_batch = Duration::MAX;
    let mut reused_batch = Duration::MAX;
    let mut native_batch = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for c in &chunks {
            std::hint::black_box(served.predict(c).await.expect("predict"));
        }
        wasm_batch = wasm_batch.min(t.elapsed());
        let t = Instant::now();
        for c in &chunks {
            std::hint::black_box(reused.predict(steps, c).await);
        }
        reused_batch = reused_batch.min(t.elapsed());
        let t = Instant::now();
        for c in &sdk_chunks {
            std::hint::black_box(native.predict(c));
        }
        native_batch = native_batch.min(t.elapsed());
    }
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();

    // The same batches on every core: through `ferry_core::batch::in_order` (what `ferry
    // transform --model` and `ferry edge predict` run) with one worker and one per core, and
    // natively on one thread and one per core.
    let cores = ferry_core::batch::default_workers();
    let mut wasm_workers = [Duration::MAX; 2];
    let mut native_threads = [Duration::MAX; 2];
    for _ in 0..3 {
        for (i, workers) in [std::num::NonZeroUsize::MIN, cores].into_iter().enumerate() {
            let t = Instant::now();
            let mut next = chunks.iter().cloned();
            ferry_core::batch::in_order(
                workers,
                || Ok::<_, ferry_core::ServeError>(next.next()),
                |_, chunk| {
                    let served = served.clone();
                    async move { served.predict(&chunk).await }
                },
                |p| {
                    std::hint::black_box(p);
                    Ok(())
                },
            )
            .await
            .expect("batch");
            wasm_workers[i] = wasm_workers[i].min(t.elapsed());
            let t = Instant::now();
            let (native, sdk_chunks) = (&native, &sdk_chunks);
            std::thread::scope(|s| {
                for part in 0..workers.get() {
                    s.spawn(move || {
                        for c in sdk_chunks.iter().skip(part).step_by(workers.get()) {
                            std::hint::black_box(native.predict(c));
                        }
                    });
                }
            });
            native_threads[i] = native_threads[i].min(t.elapsed());
        }
    }

    println!("## Online prediction: churn pipeline (2 validators, 3 transforms, linear model)\n");
    println!("| measure | Ferry (Wasm) | native Rust | Ferry / native |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one row, in-process (mean latency) | {} | {} | {:.1}× |",
        fmt(wasm_one),
        fmt(native_one),
        wasm_one.as_secs_f64() / native_one.as_secs_f64()
    );
    println!(
        "| one row over HTTP, loopback, one client (mean latency) | {} | {} (in-process) | {:.1}× |",
        fmt(http_one),
        fmt(native_one),
        http_one.as_secs_f64() / native_one.as_secs_f64()
    );
    println!(
        "| batch scoring, {rows} rows in 8,192-row batches (best of 3) | {:.0} rows/s | {:.0} rows/s | {:.1}× slower |",
        rate(wasm_batch),
        rate(native_batch),
        wasm_batch.as_secs_f64() / native_batch.as_secs_f64()
    );
    println!("\n## Batch scoring on every core: {rows} rows in 8,192-row batches (best of 3)\n");
    println!("| | 1 worker | {cores} workers | {cores} / 1 |");
    println!("|---|---:|---:|---:|");
    println!(
        "| Ferry (`batch::in_order`, fresh instances per batch) | {:.0} rows/s | {:.0} rows/s | {:.2}× |",
        rate(wasm_workers[0]),
        rate(wasm_workers[1]),
        wasm_workers[0].as_secs_f64() / wasm_workers[1].as_secs_f64()
    );
    println!(
        "| native Rust (threads) | {:.0} rows/s | {:.0} rows/s | {:.2}× |",
        rate(native_threads[0]),
        rate(native_threads[1]),
        native_threads[0].as_secs_f64() / native_threads[1].as_secs_f64()
    );
    println!(
        "| Ferry / native | {:.2}× | {:.2}× | |",
        native_threads[0].as_secs_f64() / wasm_workers[0].as_secs_f64(),
        native_threads[1].as_secs_f64() / wasm_workers[1].as_secs_f64()
    );
    println!("\n## The cost of a fresh set of instances per call\n");
    println!(
        "| measure | fresh instances per call (now) | one set reused (before) | now / before |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| one row, in-process (mean latency) | {} | {} | {:.2}× |",
        fmt(wasm_one),
        fmt(reused_one),
        wasm_one.as_secs_f64() / reused_one.as_secs_f64()
    );
    println!(
        "| batch scoring, {rows} rows (best of 3) | {:.0} rows/s | {:.0} rows/s | {:.2}× |",
        rate(wasm_batch),
        rate(reused_batch),
        wasm_batch.as_secs_f64() / reused_batch.as_secs_f64()
    );
    println!(
        "| building one set (2 validators, 3 transformers from their states, the model loaded) | {} | | |",
        fmt(prepare)
    );
    println!("\n## Snapshots (contract 0.1.1) against building every instance from its state\n");
    println!("| measure | from snapshots | without (`--no-snapshots`) | with / without |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one row, in-process (mean of 500, best of 3 rounds taken in turn) | {} | {} | {:.2}× |",
        fmt(snapshot_one),
        fmt(plain_one),
        snapshot_one.as_secs_f64() / plain_one.as_secs_f64()
    );
    println!(
        "| building one set | {} | {} | {:.2}× |",
        fmt(prepare),
        fmt(plain_prepare),
        prepare.as_secs_f64() / plain_prepare.as_secs_f64()
    );
    println!("\n| part of a set | time |\n|---|---:|");
    for (what, d) in &parts {
        println!("| {what} | {} |", fmt(*d));
    }
}
