//! Helpers shared by Ferry's integration tests: the guest components, a runtime, real data,
//! and a check that a healthy plugin still answers correctly.

use std::{path::PathBuf, sync::OnceLock};

use ferry_builtins as builtin;
use ferry_core::data::CsvReader;
use ferry_runtime::bindings::types::{Batch, Column, ColumnData};
use ferry_runtime::{LoadOptions, Plugin, Runtime, RuntimeOptions, TransformInstance};

pub mod server;

/// Paths of the guest components built from `tests/guests`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A runtime shared by the tests of one binary, on the shared [`component_cache`].
pub fn runtime() -> Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(component_cache()),
            builtins: ferry_builtins::BUILTINS,
            ..Default::default()
        })
        .expect("runtime")
    })
    .clone()
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A copy of the churn example in a temporary folder, with `edit` applied to its
/// `pipeline.toml`.
pub fn churn_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let churn = repo_root().join("examples/churn");
    let dir = tempfile::tempdir().expect("temp dir");
    for f in [
        "customers.csv",
        "schema.toml",
        "expectations.toml",
        "impute.json",
        "scale.json",
        "one-hot.json",
    ] {
        std::fs::copy(churn.join(f), dir.path().join(f)).expect("copy the churn example");
    }
    let text = std::fs::read_to_string(churn.join("pipeline.toml")).expect("pipeline.toml");
    std::fs::write(dir.path().join("pipeline.toml"), edit(text)).expect("write pipeline.toml");
    dir
}

/// The churn example's customers table.
pub fn customers() -> Batch {
    CsvReader::open(&repo_root().join("examples/churn/customers.csv"), 4096)
        .expect("open customers.csv")
        .read_all()
        .expect("read customers.csv")
}

/// A small float64 batch.
pub fn floats(columns: &[(&str, Vec<f64>)]) -> Batch {
    let n = columns.first().map_or(0, |c| c.1.len());
    Batch {
        num_rows: n as u32,
        columns: columns
            .iter()
            .map(|(name, v)| Column {
                name: name.to_string(),
                data: ColumnData::Float64(v.clone()),
                nulls: None,
            })
            .collect(),
    }
}

/// The float64 values of a column.
pub fn f64s<'a>(batch: &'a Batch, name: &str) -> &'a [f64] {
    match &batch
        .columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .data
    {
        ColumnData::Float64(v) => v,
        other => panic!("column {name} is not float64: {other:?}"),
    }
}

/// Loads a built-in plugin with default options.
pub async fn builtin(name: &str) -> Plugin {
    builtin::load(&runtime(), name, &LoadOptions::default())
        .await
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

/// Fits and applies a transform in one instance.
pub async fn fit_apply(plugin: &Plugin, config: &str, train: &Batch, apply_to: &Batch) -> Batch {
    let mut t = TransformInstance::new(plugin).await.expect("instantiate");
    let a = t
        .new_analyzer(config, &ferry_core::data::schema_of(train))
        .await
        .expect("new-analyzer");
    t.update(a, train).await.expect("update");
    let state = t.finish(a).await.expect("finish");
    let tr = t
        .new_transformer(config, &state)
        .await
        .expect("new-transformer");
    t.apply(tr, apply_to).await.expect("apply")
}

/// Asserts that the built-in standard-scaler still computes exactly what it should.
pub async fn assert_healthy() {
    let plugin = builtin("standard-scaler").await;
    let data = floats(&[("x", vec![1.0, 2.0, 3.0, 4.0])]);
    let out = fit_apply(&plugin, r#"{"columns":["x"]}"#, &data, &data).await;
    let std = (1.25f64).sqrt();
    let expected: Vec<f64> = [1.0, 2.0, 3.0, 4.0]
        .iter()
        .map(|x| (x - 2.5) / std)
        .collect();
    assert_eq!(
        f64s(&out, "x"),
        expected.as_slice(),
        "the healthy plugin answered wrongly"
    );
}

/// The compiled-component cache every `ferry` these tests start shares:
/// `$FERRY_TEST_CACHE_DIR`, or `ferry-test-components` in the target folder. Entries are
/// keyed by the component's digest and the engine's compatibility hash and written
/// atomically, so sharing them is safe; without it, every new registry compiles the built-in
/// plugins again (about 35 s of CPU in a debug build). The cache's own behaviour is tested in
/// `tests/cache.rs` with folders of its own.
pub fn component_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_TEST_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    ferry_bin()
        .parent()
        .expect("target folder")
        .join("ferry-test-components")
}

/// The `ferry` binary of this build, beside the test executables (cargo builds it for the
/// host crate's tests, so `cargo test --workspace` has it).
pub fn ferry_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target folder")
        .join("ferry");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin ferry`",
        bin.display()
    );
    bin
}

/// Generates a signing key `dir/NAME.key` with `ferry key generate`; returns its id.
pub fn signing_key(dir: &std::path::Path, name: &str) -> String {
    let o = std::process::Command::new(ferry_bin())
        .args(["key", "generate", "--out", dir.join(name).to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", server::text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
