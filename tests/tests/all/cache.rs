//! Compiled components are cached on disk: a second load deserializes instead of compiling,
//! a damaged cache file is replaced rather than trusted, and even a first load runs from the
//! file it wrote.

use ferry_builtins as builtin;
use ferry_runtime::{CacheOutcome, LoadOptions, Runtime, RuntimeOptions};

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

/// wasmtime maps a compiled module's initial memory from the file it was loaded from; code held
/// only in memory gets a sealed memfd instead, which the kernel can refuse (EBUSY) while pages
/// are pinned. A freshly compiled plugin must therefore run from its cache file too.
#[test]
fn a_first_load_maps_its_memory_from_the_cache_file() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime_with_cache(dir.path());
    let wasm =
        wat::parse_str(r#"(module (memory (export "memory") 1) (data (i32.const 0) "ferry"))"#)
            .unwrap();
    let (module, outcome) = rt
        .cache()
        .load_module(rt.engine(), &wasm, "first-load")
        .unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);

    let mut store = wasmtime::Store::new(rt.engine(), ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    assert_eq!(&memory.data(&store)[..5], b"ferry");
    let at = memory.data_ptr(&store) as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mapping = maps
        .lines()
        .find(|line| {
            let range = line.split_whitespace().next().unwrap_or_default();
            let (start, end) = range.split_once('-').unwrap_or_default();
            let parse = |hex| usize::from_str_radix(hex, 16).unwrap_or_default();
            (parse(start)..parse(end)).contains(&at)
        })
        .unwrap_or_else(|| panic!("no mapping holds the memory at {at:#x}:\n{maps}"));
    assert!(
        mapping.contains(&*dir.path().to_string_lossy()) && mapping.ends_with(".cwasm"),
        "the initial memory is not mapped from the cache file: {mapping}"
    );
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
