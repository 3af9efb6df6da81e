//! Compiled components are cached on disk: a second load deserializes instead of compiling,
//! and a damaged cache file is replaced rather than trusted.

use ferry_host::builtin;
use ferry_host::runtime::{CacheOutcome, LoadOptions, Runtime, RuntimeOptions};

fn runtime_with_cache(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.to_path_buf()),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn second_load_comes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime_with_cache(dir.path());
    let first = builtin::load(&rt, "standard-scaler", &LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);

    // A new runtime (a new process, in effect) finds the compiled code.
    let rt = runtime_with_cache(dir.path());
    let second = builtin::load(&rt, "standard-scaler", &LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(second.cache_outcome(), CacheOutcome::Cached);
    assert_eq!(first.digest(), second.digest());
    ferry_tests::fit_apply(
        &second,
        "{}",
        &ferry_tests::floats(&[("x", vec![1.0, 3.0])]),
        &ferry_tests::floats(&[("x", vec![2.0])]),
    )
    .await;
}

#[tokio::test]
async fn a_damaged_cache_file_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime_with_cache(dir.path());
    builtin::load(&rt, "clip", &LoadOptions::default())
        .await
        .unwrap();
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, b"garbage").unwrap();
    let again = builtin::load(
        &runtime_with_cache(dir.path()),
        "clip",
        &LoadOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again.cache_outcome(), CacheOutcome::Compiled);
    assert!(
        std::fs::read(&file).unwrap().len() > 1000,
        "the cache file was not rewritten"
    );
}

#[tokio::test]
async fn the_quickstart_plugin_from_the_readme_runs() {
    let rt = ferry_tests::runtime();
    let p = rt
        .load_file(
            std::path::Path::new(ferry_tests::guests::RATIO),
            &LoadOptions::default(),
        )
        .await
        .unwrap();
    let data = ferry_tests::floats(&[("total", vec![10.0, 9.0]), ("months", vec![2.0, 3.0])]);
    let out = ferry_tests::fit_apply(
        &p,
        r#"{"numerator":"total","denominator":"months","output":"per_month"}"#,
        &data,
        &data,
    )
    .await;
    assert_eq!(ferry_tests::f64s(&out, "per_month"), [5.0, 3.0]);
}
