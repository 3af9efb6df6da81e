//! One fresh instance, measured alone: what `ValidatorInstance::new`, `TransformInstance::new`
//! and `ModelInstance::new` cost for the churn pipeline's plugins (a validator's also asks for
//! its manifest, one call), against wasmtime's own floor for the same component in the same
//! run (a bare `Store<()>`, and an instantiation from a linker whose imports all trap, with the
//! same pooled engine). Nothing else runs in the process, so `perf record` on this bench shows
//! where an instance's time goes (`bench/instance.sh` groups it).
//!
//! Run with `cargo bench -p ferry-server --bench instance [-- SECONDS [ONLY]]`: each row loops
//! for SECONDS (default 1); with ONLY (`floor` or `ferry`, and optionally a plugin's name, e.g.
//! `ferry:standard-scaler`), only the rows it names run, for a profile of one of them.

use std::time::{Duration, Instant};

use ferry_builtins as builtin;
use ferry_runtime::{
    LoadOptions, ModelInstance, Runtime, RuntimeOptions, TransformInstance, ValidatorInstance,
};
use wasmtime::Store;
use wasmtime::component::{Component, Linker};

fn fmt(d: Duration) -> String {
    format!("{:.2} µs", d.as_nanos() as f64 / 1e3)
}

/// Evaluates `$e` once, then for `budget` (at least 100 times), and gives the mean time of one
/// evaluation.
macro_rules! mean {
    ($budget:expr, $e:expr) => {{
        $e;
        let start = Instant::now();
        let mut n = 0u32;
        while n < 100 || start.elapsed() < $budget {
            std::hint::black_box($e);
            n += 1;
        }
        start.elapsed() / n
    }};
}

fn main() {
    // `cargo bench` adds `--bench` to the arguments it was given.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let only = args.get(1).cloned().unwrap_or_default();
    let budget = Duration::from_secs_f64(seconds);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(run(budget, &only));
}

/// Whether the row `what` (`floor:NAME` or `ferry:NAME`) is to run.
fn runs(only: &str, what: &str) -> bool {
    what.starts_with(only)
}

async fn run(budget: Duration, only: &str) {
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().into()),
        ..Default::default()
    })
    .expect("runtime");
    let engine = runtime.engine().clone();
    let options = LoadOptions::default();

    println!("## One fresh instance, created and dropped\n");
    println!("| what | mean | Ferry / floor |");
    println!("|---|---:|---:|");
    if runs(only, "floor:store") {
        let store = mean!(budget, Store::new(&engine, ()));
        println!(
            "| `Store::new` with no data (wasmtime) | {} | |",
            fmt(store)
        );
    }

    for name in ["expectations", "standard-scaler", "linear"] {
        let bytes = builtin::bytes(name).expect("a built-in");
        let (floor_runs, ferry_runs) = (
            runs(only, &format!("floor:{name}")),
            runs(only, &format!("ferry:{name}")),
        );
        let floor = if floor_runs {
            let component = Component::new(&engine, bytes).expect("compile");
            let mut linker: Linker<()> = Linker::new(&engine);
            linker
                .define_unknown_imports_as_traps(&component)
                .expect("trapping imports");
            let pre = linker.instantiate_pre(&component).expect("pre-instantiate");
            mean!(budget, {
                let mut store = Store::new(&engine, ());
                store.set_epoch_deadline(1 << 40);
                pre.instantiate_async(&mut store)
                    .await
                    .expect("instantiate");
                store
            })
        } else {
            Duration::ZERO
        };
        if floor_runs {
            println!(
                "| `{name}`: bare `Store` + instantiate, imports trapping (wasmtime's floor) | {} | |",
                fmt(floor)
            );
        }
        if !ferry_runs {
            continue;
        }
        let plugin = builtin::load(&runtime, name, &options).await.expect("load");
        let ferry = match name {
            "expectations" => mean!(
                budget,
                ValidatorInstance::new(&plugin).await.expect("instance")
            ),
            "standard-scaler" => mean!(
                budget,
                TransformInstance::new(&plugin).await.expect("instance")
            ),
            _ => mean!(budget, ModelInstance::new(&plugin).await.expect("instance")),
        };
        println!(
            "| `{name}`: Ferry's new instance (`{}Instance::new`) | {} | {} |",
            match name {
                "expectations" => "Validator",
                "standard-scaler" => "Transform",
                _ => "Model",
            },
            fmt(ferry),
            if floor.is_zero() {
                String::new()
            } else {
                format!("{:.1}×", ferry.as_secs_f64() / floor.as_secs_f64())
            }
        );
    }
}
