//! The transform path, measured: standard-scaler through the Wasm sandbox against the same
//! plugin code called natively, at 1, 100, 10k and 1M rows × 8 float64 columns; the cost of a
//! new instance; a cold (compiling) against a cached load; and what the purity check adds at
//! `ferry train`, against applying the same rows once.
//!
//! Run with `cargo bench -p ferry-server --bench transform`. Numbers are printed as a Markdown
//! table, with Wasm/native ratios measured in the same run.

use std::time::{Duration, Instant};

use ferry_builtins as builtin;
use ferry_runtime::bindings::types::{Batch, Column, ColumnData};
use ferry_runtime::{LoadOptions, Runtime, RuntimeOptions, TransformInstance};

const COLUMNS: usize = 8;

fn host_batch(rows: usize) -> Batch {
    Batch {
        num_rows: rows as u32,
        columns: (0..COLUMNS)
            .map(|c| Column {
                name: format!("f{c}"),
                data: ColumnData::Float64(
                    (0..rows)
                        .map(|r| ((r * 31 + c * 7) % 1000) as f64 * 0.37)
                        .collect(),
                ),
                nulls: None,
            })
            .collect(),
    }
}

fn sdk_batch(b: &Batch) -> ferry_sdk::Batch {
    ferry_sdk::Batch {
        num_rows: b.num_rows,
        columns: b
            .columns
            .iter()
            .map(|c| match &c.data {
                ColumnData::Float64(v) => ferry_sdk::Column::float64(&c.name, v.clone()),
                _ => unreachable!("the benchmark uses float64 columns"),
            })
            .collect(),
    }
}

/// Runs `f` until `budget` has passed (at least `min` times) and returns the mean time.
fn time<F: FnMut()>(min: u32, budget: Duration, mut f: F) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while n < min || start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 10_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 10_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.1} ms", ns / 1e6)
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
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().into()),
        ..Default::default()
    })
    .expect("runtime");
    let plugin = builtin::load(&runtime, "standard-scaler", &LoadOptions::default())
        .await
        .expect("load");
    let config = r#"{}"#;

    // Learn the state once on 10k rows, through the plugin.
    let train = host_batch(10_000);
    let mut inst = TransformInstance::new(&plugin).await.expect("instance");
    let fields = ferry_core::data::schema_of(&train);
    let a = inst.new_analyzer(config, &fields).await.expect("analyzer");
    inst.update(a, &train).await.expect("update");
    let state_bytes = inst.finish(a).await.expect("finish");
    let transformer = inst
        .new_transformer(config, &state_bytes)
        .await
        .expect("transformer");
    let native_state: plugin_standard_scaler::State =
        serde_json::from_slice(&state_bytes).expect("state");

    println!("## standard-scaler apply, {COLUMNS} float64 columns\n");
    println!(
        "| rows | Wasm (per call) | native (per call) | Wasm rows/s | native rows/s | Wasm / native |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for rows in [1usize, 100, 10_000, 1_000_000] {
        let data = host_batch(rows);
        let native_data = sdk_batch(&data);
        let (min, budget) = if rows >= 1_000_000 {
            (5, Duration::from_secs(3))
        } else {
            (50, Duration::from_secs(1))
        };
        // Check once that both paths agree, then time them.
        let wasm_out = inst.apply(transformer, &data).await.expect("apply");
        let native_out = native_state.apply(&native_data).expect("native apply");
        for (w, n) in wasm_out.columns.iter().zip(&native_out.columns) {
            let (ColumnData::Float64(w), ferry_sdk::ColumnData::Float64(n)) = (&w.data, &n.data)
            else {
                unreachable!()
            };
            assert_eq!(w, n, "Wasm and native results differ");
        }
        let start = Instant::now();
        let mut n = 0u32;
        while n < min || start.elapsed() < budget {
            std::hint::black_box(inst.apply(transformer, &data).await.expect("apply"));
            n += 1;
        }
        let wasm = start.elapsed() / n;
        let native = time(min, budget, || {
            std::hint::black_box(native_state.apply(&native_data).expect("apply"));
        });
        let rate = |d: Duration| format!("{:.2e}", rows as f64 / d.as_secs_f64());
        println!(
            "| {rows} | {} | {} | {} | {} | {:.1}× |",
            fmt(wasm),
            fmt(native),
            rate(wasm),
            rate(native),
            wasm.as_secs_f64() / native.as_secs_f64()
        );
    }

    let start = Instant::now();
    let mut n = 0u32;
    while n < 200 || start.elapsed() < Duration::from_secs(1) {
        std::hint::black_box(TransformInstance::new(&plugin).await.expect("instance"));
        n += 1;
    }
    let instantiate = start.elapsed() / n;
    println!("\n## Loading and instantiation\n");
    println!("| step | time |");
    println!("|---|---:|");
    println!(
        "| new instance (Store + instantiate from InstancePre, pooling) | {} |",
        fmt(instantiate)
    );

    let bytes = builtin::bytes("standard-scaler").expect("bytes");
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt1 = Runtime::new(RuntimeOptions {
            cache_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .expect("runtime");
        let t = Instant::now();
        rt1.load("bench", bytes, &LoadOptions::default())
            .await
            .expect("cold load");
        cold.push(t.elapsed());
        let rt2 = Runtime::new(RuntimeOptions {
            cache_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .expect("runtime");
        let t = Instant::now();
        rt2.load("bench", bytes, &LoadOptions::default())
            .await
            .expect("cached load");
        warm.push(t.elapsed());
    }
    cold.sort();
    warm.sort();
    println!(
        "| load, cold (compile with Cranelift, {} KB component; median of 5) | {} |",
        bytes.len() / 1024,
        fmt(cold[2])
    );
    println!(
        "| load, cached (deserialize the compiled file; median of 5) | {} |",
        fmt(warm[2])
    );
    println!(
        "| cold / cached | {:.0}× |",
        cold[2].as_secs_f64() / warm[2].as_secs_f64()
    );
    println!(
        "\nBoth loads include checking the exports and reading the manifest (one instantiation and call)."
    );

    purity(&plugin, config, &state_bytes).await;
}

/// The purity check `ferry train` runs on every row of the training split, against one apply of
/// the same rows (it applies the batch three more times and every row alone in a fresh
/// instance).
async fn purity(plugin: &ferry_runtime::Plugin, config: &str, state: &[u8]) {
    use ferry_core::steps::{LearnedTransform, TransformStep, purity};
    let learned = LearnedTransform {
        step: TransformStep {
            plugin: plugin.clone(),
            config: config.to_string(),
            reads: None,
        },
        state: state.to_vec().into(),
    };
    println!("\n## The purity check at `ferry train`, standard-scaler\n");
    println!("| training rows | one apply | the check | check / apply | per row |");
    println!("|---:|---:|---:|---:|---:|");
    for rows in [1_600usize, 10_000] {
        let data = host_batch(rows);
        let start = Instant::now();
        let mut n = 0u32;
        while n < 5 || start.elapsed() < Duration::from_secs(1) {
            let prepared = learned.prepare().await.expect("prepare");
            std::hint::black_box(prepared.apply(&learned.step, &data).await.expect("apply"));
            n += 1;
        }
        let apply = start.elapsed() / n;
        let t = Instant::now();
        purity::check_transform(&learned, &data)
            .await
            .expect("standard-scaler is pure");
        let check = t.elapsed();
        println!(
            "| {rows} | {} | {} | {:.0}× | {} |",
            fmt(apply),
            fmt(check),
            check.as_secs_f64() / apply.as_secs_f64(),
            fmt(check / rows as u32)
        );
    }
}
