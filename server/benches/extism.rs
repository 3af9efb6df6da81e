//! An Extism transform against the same transform as a component, in the same run: the churn
//! pipeline with one more step, `log(total_charges + 1)`, served once with the built-in
//! `log-transform` (a component) and with `extism-log-transform` (the same code built with
//! `ferry-extism-pdk` as an Extism module) called in MessagePack and, from a second runtime,
//! in JSON, trained by `ferry train` and served from their lineage with a fresh set of
//! instances per call:
//! - one row in-process, and batch scoring of 100,000 rows in 8,192-row batches;
//! - the step alone: a new instance with its transformer, and apply at 1 and 10,000 rows.
//!
//! Run with `bench/extism.sh`, which builds the Extism module and names it in
//! `FERRY_EXTISM_PLUGIN`.

use std::time::{Duration, Instant};

use ferry_core::data::{Format, read_table, schema_of, slice_rows};
use ferry_kit::publish::{Checks, publish};
use ferry_pipeline::pinned::load_serving;
use ferry_pipeline::train::Quiet;
use ferry_pipeline::{PipelineSpec, ServingPipeline, TrainOptions, train};
use ferry_runtime::bindings::types::{Batch, ColumnData};
use ferry_runtime::{ExtismPayload, Plugin, Runtime, RuntimeOptions, TransformInstance};

/// The mean time of `$body` (an expression that may `.await`) over at least 200 runs and
/// one second, after one run to warm up.
macro_rules! mean {
    ($body:expr) => {{
        std::hint::black_box($body);
        let start = Instant::now();
        let mut n = 0u32;
        while n < 200 || start.elapsed() < Duration::from_secs(1) {
            std::hint::black_box($body);
            n += 1;
        }
        start.elapsed() / n
    }};
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_nanos() as f64 / 1e3)
}

fn ratio(extism: Duration, component: Duration) -> String {
    let r = extism.as_secs_f64() / component.as_secs_f64();
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

struct Measured {
    one_row: Duration,
    batch: Duration,
    prepare: Duration,
    apply_1: Duration,
    apply_10k: Duration,
}

impl Measured {
    /// The better of each figure.
    fn min(self, o: Measured) -> Measured {
        Measured {
            one_row: self.one_row.min(o.one_row),
            batch: self.batch.min(o.batch),
            prepare: self.prepare.min(o.prepare),
            apply_1: self.apply_1.min(o.apply_1),
            apply_10k: self.apply_10k.min(o.apply_10k),
        }
    }
}

async fn measure(
    served: &ServingPipeline,
    plugin: &Plugin,
    state: &[u8],
    config: &str,
    one: &Batch,
    chunks: &[Batch],
    column_10k: &Batch,
) -> Measured {
    let one_row = mean!(served.predict(one).await.expect("predict"));
    let t = Instant::now();
    for c in chunks {
        std::hint::black_box(served.predict(c).await.expect("predict"));
    }
    let batch = t.elapsed();
    let prepare = mean!({
        let mut t = TransformInstance::new(plugin).await.expect("instance");
        t.new_transformer(config, state).await.expect("transformer")
    });
    let mut t = TransformInstance::new(plugin).await.expect("instance");
    let h = t.new_transformer(config, state).await.expect("transformer");
    let column_1 = slice_rows(column_10k, 0, 1);
    let apply_1 = mean!(t.apply(h, &column_1).await.expect("apply"));
    let apply_10k = mean!(t.apply(h, column_10k).await.expect("apply"));
    Measured {
        one_row,
        batch,
        prepare,
        apply_1,
        apply_10k,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(run());
}

async fn run() {
    let Some(extism) = std::env::var_os("FERRY_EXTISM_PLUGIN") else {
        eprintln!("FERRY_EXTISM_PLUGIN names no Extism module: run bench/extism.sh");
        std::process::exit(2);
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().into()),
        builtins: ferry_builtins::BUILTINS,
        ..Default::default()
    })
    .expect("runtime");
    let json_runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().into()),
        extism_payload: Some(ExtismPayload::Json),
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
    let bytes = std::fs::read(&extism).expect("read the Extism module");
    publish(
        &runtime,
        &registry,
        "extism-log-transform",
        &bytes,
        None,
        Checks::Conformance,
    )
    .await
    .expect("publish the Extism module");
    let store = ferry_pipeline::store::Store::Local(registry.clone());

    // The churn example with a log step first, once per implementation.
    let churn = root.join("examples/churn");
    let work = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&churn).expect("churn") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, work.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    std::fs::write(
        work.path().join("log.json"),
        r#"{"columns":["total_charges"]}"#,
    )
    .expect("log.json");
    let pipeline = std::fs::read_to_string(churn.join("pipeline.toml")).expect("pipeline");
    let mut served = Vec::new();
    for plugin in ["log-transform@^0.1", "extism-log-transform@^0.1"] {
        let text = pipeline.replacen(
            "[[transforms]]",
            &format!(
                "[[transforms]]\nplugin = \"{plugin}\"\nconfig = \"log.json\"\n\n[[transforms]]"
            ),
            1,
        );
        let path = work.path().join("pipeline.toml");
        std::fs::write(&path, text).expect("pipeline.toml");
        let spec = PipelineSpec::read(&path).expect("pipeline");
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
        // The component; the Extism module called in MessagePack, then in JSON.
        let runtimes = if plugin.starts_with("extism") {
            vec![&runtime, &json_runtime]
        } else {
            vec![&runtime]
        };
        for rt in runtimes {
            let pipeline = load_serving(rt, &store, outcome.lineage.clone(), &Default::default())
                .await
                .expect("serve");
            served.push(pipeline);
        }
    }
    let payloads: Vec<_> = served
        .iter()
        .map(|s| s.steps().transforms[0].step.plugin.extism_payload())
        .collect();
    assert_eq!(
        payloads,
        [
            None,
            Some(ExtismPayload::MessagePack),
            Some(ExtismPayload::Json)
        ]
    );

    // 100,000 rows: the example's customers, repeated.
    let base = read_table(&churn.join("customers.csv"), Format::Csv).expect("data");
    let mut input = base.clone();
    input.columns.retain(|c| c.name != "churned");
    let mut big =
        ferry_core::data::concat(&schema_of(&input), vec![input.clone(); 50]).expect("concat");
    // Customer ids are unique in the expectations; give each row its own.
    for c in &mut big.columns {
        if c.name == "customer_id" {
            c.data = ColumnData::Text((0..100_000).map(|i| format!("C{i:05}")).collect());
        }
    }
    let rows = big.num_rows as usize;
    let chunks: Vec<Batch> = (0..rows)
        .step_by(8192)
        .map(|s| slice_rows(&big, s, (s + 8192).min(rows)))
        .collect();
    let one = slice_rows(&input, 5, 6);
    let mut column_10k = slice_rows(&big, 0, 10_000);
    column_10k.columns.retain(|c| c.name == "total_charges");

    // Three rounds, the two implementations alternating, each figure the best of its rounds:
    // a drift of the machine during the run does not fall on one side only.
    let mut results: Vec<Option<Measured>> = vec![None, None, None];
    for _ in 0..3 {
        for (s, best) in served.iter().zip(&mut results) {
            let step = &s.steps().transforms[0];
            let m = measure(
                s,
                &step.step.plugin,
                &step.state,
                &step.step.config,
                &one,
                &chunks,
                &column_10k,
            )
            .await;
            *best = Some(match best.take() {
                None => m,
                Some(b) => b.min(m),
            });
        }
    }
    let results: Vec<Measured> = results.into_iter().flatten().collect();
    let a = served[0].predict(&big).await.expect("predict").outputs;
    let b = served[1].predict(&big).await.expect("predict").outputs;
    let j = served[2].predict(&big).await.expect("predict").outputs;
    assert!(b == j, "MessagePack and JSON calls predict differently");
    let close = a
        .columns
        .iter()
        .zip(&b.columns)
        .all(|(x, y)| match (&x.data, &y.data) {
            (ColumnData::Float64(p), ColumnData::Float64(q)) => p
                .iter()
                .zip(q)
                .all(|(p, q)| (p - q).abs() <= 1e-9 * p.abs().max(1.0)),
            (p, q) => p == q,
        });
    assert!(close, "the two pipelines predict differently");

    let (c, m, j) = (&results[0], &results[1], &results[2]);
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    println!("## An Extism transform against the same transform as a component\n");
    println!(
        "| measure | component (`log-transform`) | Extism, MessagePack | Extism, JSON | MessagePack / component | JSON / component |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |what: &str, f: fn(&Measured) -> Duration| {
        println!(
            "| {what} | {} | {} | {} | {} | {} |",
            us(f(c)),
            us(f(m)),
            us(f(j)),
            ratio(f(m), f(c)),
            ratio(f(j), f(c))
        );
    };
    row(
        "churn pipeline + log step, one row in-process (mean, best of 3 rounds)",
        |x| x.one_row,
    );
    println!(
        "| churn pipeline + log step, {rows} rows in 8,192-row batches (best of 3) | {:.0} rows/s | {:.0} rows/s | {:.0} rows/s | {} | {} |",
        rate(c.batch),
        rate(m.batch),
        rate(j.batch),
        ratio(m.batch, c.batch),
        ratio(j.batch, c.batch)
    );
    row("the step: new instance + new-transformer (mean)", |x| {
        x.prepare
    });
    row("the step: apply, 1 row (mean)", |x| x.apply_1);
    row("the step: apply, 10,000 rows × 1 column (mean)", |x| {
        x.apply_10k
    });
}
