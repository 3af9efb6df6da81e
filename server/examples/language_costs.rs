//! What one transform plugin costs the host, by the language it was written in: run by
//! `bench/languages.sh` on the same transform (`ferry plugin new --kind transform`) built in
//! each language. Prints one JSON object.
//!
//! `language_costs timings FILE CACHE_DIR`: the component's size, a cold load (compiling; the
//! median of 3, each with a fresh cache), a cached load (the median of 3), a new instance, and
//! `apply` at 1 and 10,000 rows × 4 float64 columns. It leaves the compiled file in CACHE_DIR.
//!
//! `language_costs memory FILE CACHE_DIR`: the resident memory the process gains by loading
//! the plugin from CACHE_DIR and keeping one instance that has applied a row.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry_runtime::bindings::types::{Batch, Column, ColumnData};
use ferry_runtime::{LoadOptions, Plugin, Runtime, RuntimeOptions, TransformInstance};
use serde_json::json;

const COLUMNS: usize = 4;
const CONFIG: &str = "{}";

fn batch(rows: usize) -> Batch {
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

fn runtime(cache: &Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    })
    .expect("runtime")
}

async fn load(cache: &Path, file: &Path) -> (Plugin, Duration) {
    let rt = runtime(cache);
    let t = Instant::now();
    let plugin = rt
        .load_file(file, &LoadOptions::default())
        .await
        .expect("load");
    (plugin, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// The mean of `f` over at least `min` calls and one second, in milliseconds.
async fn mean<F: AsyncFnMut()>(min: u32, mut f: F) -> f64 {
    f().await;
    let start = Instant::now();
    let mut n = 0;
    while n < min || start.elapsed() < Duration::from_secs(1) {
        f().await;
        n += 1;
    }
    start.elapsed().as_secs_f64() * 1e3 / f64::from(n)
}

/// An instance with a transformer learned on 10,000 rows.
async fn fitted(plugin: &Plugin) -> (TransformInstance, ferry_runtime::TransformerHandle) {
    let train = batch(10_000);
    let mut inst = TransformInstance::new(plugin).await.expect("instance");
    let fields = ferry_core::data::schema_of(&train);
    let a = inst.new_analyzer(CONFIG, &fields).await.expect("analyzer");
    inst.update(a, &train).await.expect("update");
    let state = inst.finish(a).await.expect("finish");
    let t = inst
        .new_transformer(CONFIG, &state)
        .await
        .expect("transformer");
    (inst, t)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn timings(file: &Path, cache: &Path) -> serde_json::Value {
    let size = std::fs::metadata(file).expect("the component").len();
    let mut cold = Vec::new();
    for i in 0..3 {
        let fresh = tempfile::tempdir().expect("temp dir");
        // The first cold load fills CACHE_DIR, for the cached loads and the memory run.
        let dir = if i == 0 { cache } else { fresh.path() };
        cold.push(load(dir, file).await.1);
    }
    let mut warm = Vec::new();
    let mut plugin = None;
    for _ in 0..3 {
        let (p, d) = load(cache, file).await;
        warm.push(d);
        plugin = Some(p);
    }
    let plugin = plugin.expect("loaded");
    let instantiate = mean(20, async || {
        std::hint::black_box(TransformInstance::new(&plugin).await.expect("instance"));
    })
    .await;
    let (mut inst, t) = fitted(&plugin).await;
    let mut apply = Vec::new();
    for rows in [1, 10_000] {
        let data = batch(rows);
        apply.push(
            mean(10, async || {
                std::hint::black_box(inst.apply(t, &data).await.expect("apply"));
            })
            .await,
        );
    }
    json!({
        "size_bytes": size,
        "compile_ms": median(cold),
        "cached_load_ms": median(warm),
        "instantiate_ms": instantiate,
        "apply_1_ms": apply[0],
        "apply_10k_ms": apply[1],
    })
}

async fn memory(file: &Path, cache: &Path) -> serde_json::Value {
    let rt = runtime(cache);
    let before = rss_kib();
    let plugin = rt
        .load_file(file, &LoadOptions::default())
        .await
        .expect("load");
    let (mut inst, t) = fitted(&plugin).await;
    inst.apply(t, &batch(1)).await.expect("apply");
    let after = rss_kib();
    json!({ "memory_mib": (after.saturating_sub(before)) as f64 / 1024.0 })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, file, cache] = args.as_slice() else {
        eprintln!("usage: language_costs timings|memory FILE CACHE_DIR");
        std::process::exit(2);
    };
    let (file, cache) = (PathBuf::from(file), PathBuf::from(cache));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let out = rt.block_on(async {
        match mode.as_str() {
            "timings" => timings(&file, &cache).await,
            "memory" => memory(&file, &cache).await,
            other => {
                eprintln!("unknown mode {other:?}: timings or memory");
                std::process::exit(2);
            }
        }
    });
    println!("{out}");
}
