//! Run search and run reads, measured against how long the runs' metric histories are: the same
//! 200 runs (5 params, 5 tags, 3 metrics each) with one point per metric, then with 1,000
//! steps per metric. What a search or a run view costs should not grow with the history (the
//! latest values are what they show); the long/short ratio says whether it does. Also the
//! time to log a 1,000-point batch, and the model registry's reads with 1 against 20 versions
//! per model.
//!
//! Run with `cargo bench -p ferry-registry --bench search` (SQLite in a temporary folder); set
//! `FERRY_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres` to measure a
//! PostgreSQL server too (a database of its own is created and dropped).

use std::time::{Duration, Instant};

use ferry_registry::{Metric, Registry, RunFilter, RunOrder, RunView};

const RUNS: usize = 200;
const METRICS: usize = 3;

/// Fills a registry with `RUNS` runs whose metrics have `steps` points each; returns the
/// experiment id and one run id.
async fn fill(r: &Registry, name: &str, steps: i64) -> (String, String) {
    let e = r.create_experiment(name, None).await.unwrap();
    let mut one = String::new();
    for i in 0..RUNS {
        let run = r
            .create_run(&e.id, None, "bench", Some(i as i64))
            .await
            .unwrap();
        for p in 0..5 {
            r.log_param(&run.id, &format!("p{p}"), &format!("{}", i * p))
                .await
                .unwrap();
            r.set_run_tag(&run.id, &format!("t{p}"), "x").await.unwrap();
        }
        let keys: Vec<String> = (0..METRICS).map(|m| format!("m{m}")).collect();
        let mut points = Vec::new();
        for step in 0..steps {
            for k in &keys {
                points.push(Metric {
                    key: k,
                    value: ((i as i64 * 7919 + step) % 1000) as f64 / 1000.0,
                    step,
                    timestamp: step,
                });
            }
        }
        for chunk in points.chunks(1000) {
            r.log_metrics(&run.id, chunk).await.unwrap();
        }
        one = run.id;
    }
    (e.id, one)
}

/// Runs `f` at least `min` times and for at least `budget`; the mean time.
async fn time<F: AsyncFnMut()>(min: u32, budget: Duration, mut f: F) -> Duration {
    f().await;
    let start = Instant::now();
    let mut n = 0u32;
    while n < min || start.elapsed() < budget {
        f().await;
        n += 1;
    }
    start.elapsed() / n
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(backend: &str, r: &Registry) {
    let (short, short_run) = fill(r, "short", 1).await;
    let (long, long_run) = fill(r, "long", 1000).await;
    let filter = RunFilter::parse("metrics.m0 > 0.1 and params.p1 != '3'").unwrap();
    let order = vec![RunOrder::parse("metrics.m1 DESC").unwrap()];
    let budget = Duration::from_secs(3);
    let mut rows = Vec::new();
    for (what, exp, run) in [
        ("1 point per metric", &short, &short_run),
        ("1,000 steps per metric", &long, &long_run),
    ] {
        let experiments = vec![exp.clone()];
        let search = time(3, budget, async || {
            let found = r
                .search_runs(&experiments, RunView::ActiveOnly, &filter, &order, 1000)
                .await
                .unwrap();
            assert!(!found.is_empty());
        })
        .await;
        let one = time(20, budget, async || {
            let got = r.run(run).await.unwrap();
            assert_eq!(got.metrics.len(), METRICS);
        })
        .await;
        rows.push((what, search, one));
    }
    // Logging: 1,000-point batches (the MLflow client's log_batch size) into a fresh run.
    let run = r.create_run("0", None, "bench", None).await.unwrap();
    let mut step = 0i64;
    let batch = time(5, budget, async || {
        let points: Vec<Metric> = (0..1000)
            .map(|i| Metric {
                key: if i % 2 == 0 { "loss" } else { "acc" },
                value: i as f64,
                step: step + i / 2,
                timestamp: step + i / 2,
            })
            .collect();
        step += 500;
        r.log_metrics(&run.id, &points).await.unwrap();
    })
    .await;
    println!("\n### {backend}: {RUNS} runs, {METRICS} metrics each\n");
    println!("| history | search_runs (filter + order) | one run |");
    println!("|---|---|---|");
    for (what, search, one) in &rows {
        println!("| {what} | {} | {} |", ms(*search), ms(*one));
    }
    println!(
        "| **long / short** | **{:.1}×** | **{:.1}×** |",
        rows[1].1.as_secs_f64() / rows[0].1.as_secs_f64(),
        rows[1].2.as_secs_f64() / rows[0].2.as_secs_f64()
    );
    println!(
        "\nLogging 1,000-point batches: {} per batch, {:.0} points/s.",
        ms(batch),
        1000.0 / batch.as_secs_f64()
    );
}

/// Registers `models` models with `versions` versions each (two tags per version, an alias
/// and a stage on the newest); returns one model's name.
async fn fill_models(r: &Registry, prefix: &str, models: usize, versions: usize) -> String {
    use ferry_registry::NewModelVersion;
    let mut name = String::new();
    for m in 0..models {
        name = format!("{prefix}-{m}");
        r.create_registered_model(&name, "", &[]).await.unwrap();
        for _ in 0..versions {
            let v = r
                .create_model_version(
                    &name,
                    NewModelVersion {
                        source: "mlflow-artifacts:/0/x".into(),
                        user_id: "bench".into(),
                        tags: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            if v.version as usize == versions {
                r.set_model_alias(&name, "champion", v.version)
                    .await
                    .unwrap();
                r.transition_model_stage(&name, v.version, "Production", false)
                    .await
                    .unwrap();
            }
        }
    }
    name
}

async fn measure_models(backend: &str, r: &Registry) {
    let budget = Duration::from_secs(3);
    let mut rows = Vec::new();
    for (prefix, versions) in [("one", 1), ("many", 20)] {
        let name = fill_models(r, prefix, 50, versions).await;
        let list = time(3, budget, async || {
            assert_eq!(r.registered_models(prefix).await.unwrap().len(), 50);
        })
        .await;
        let one = time(20, budget, async || {
            r.registered_model(&name).await.unwrap();
        })
        .await;
        rows.push((versions, list, one));
    }
    println!("\n### {backend}: 50 registered models\n");
    println!("| versions per model | search_registered_models | one model |");
    println!("|---|---|---|");
    for (versions, list, one) in &rows {
        println!("| {versions} | {} | {} |", ms(*list), ms(*one));
    }
    println!(
        "| **20 / 1** | **{:.1}×** | **{:.1}×** |",
        rows[1].1.as_secs_f64() / rows[0].1.as_secs_f64(),
        rows[1].2.as_secs_f64() / rows[0].2.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Registry::open(dir.path(), None).await.unwrap();
    measure("SQLite", &sqlite).await;
    measure_models("SQLite", &sqlite).await;
    if let Ok(url) = std::env::var("FERRY_BENCH_DATABASE_URL") {
        let name = format!("ferry_bench_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
        let pg_dir = tempfile::tempdir().unwrap();
        let pg = Registry::open(pg_dir.path(), Some(&format!("{base}/{name}")))
            .await
            .unwrap();
        measure("PostgreSQL", &pg).await;
        measure_models("PostgreSQL", &pg).await;
        drop(pg);
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
    }
}
