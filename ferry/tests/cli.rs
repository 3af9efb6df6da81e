//! The `ferry` binary as a user runs it: output, files and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The compiled-component cache the workspace's tests share (see `ferry_tests::component_cache`).
fn cache() -> PathBuf {
    match std::env::var_os("FERRY_TEST_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_BIN_EXE_ferry")).with_file_name("ferry-test-components"),
    }
}

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env("FERRY_CACHE_DIR", cache())
        .env_remove("RUST_LOG")
        .output()
        .expect("run ferry")
}

fn customers() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/churn/customers.csv")
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plugin_list_shows_every_builtin() {
    let o = ferry(&["plugin", "list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = all.iter().map(|p| p["name"].as_str().unwrap()).collect();
    for name in [
        "schema",
        "expectations",
        "standard-scaler",
        "min-max-scaler",
        "impute",
        "one-hot",
        "bucketize",
        "log-transform",
        "clip",
        "linear",
        "directory",
        "webhook",
        "file",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let o = ferry(&["plugin", "list"]);
    assert!(
        stdout(&o).contains("standard-scaler  0.1.3    transform"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn plugin_inspect_shows_the_contract_and_refuses_junk() {
    let o = ferry(&["plugin", "inspect", "webhook", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["kind"], "alert-sink");
    assert_eq!(v["contract"], "ferry:plugin@0.1.1");
    assert_eq!(v["capabilities"]["http_hosts"][0], "*");
    assert!(
        v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "ferry:plugin/alert-sink@0.1.1")
    );
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"hello").unwrap();
    let o = ferry(&["plugin", "inspect", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("junk.wasm: not a WebAssembly file"),
        "{}",
        stderr(&o)
    );
    let o = ferry(&["plugin", "inspect", "no-such-plugin"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("no plugin `no-such-plugin`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_exit_codes_follow_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass.toml");
    std::fs::write(
        &pass,
        "[[columns]]\nname = \"customer_id\"\ntype = \"text\"\nnullable = false\n",
    )
    .unwrap();
    let o = ferry(&[
        "validate",
        "--plugin",
        "schema",
        "--config",
        pass.to_str().unwrap(),
        &customers(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("passed schema 0.1.3 (2000 rows checked)"),
        "{}",
        stdout(&o)
    );

    let fail = dir.path().join("fail.json");
    std::fs::write(&fail, r#"{"expectations":[{"column":"monthly_charges","max":100},{"column":"total_charges","max_null_fraction":0}]}"#).unwrap();
    let o = ferry(&[
        "validate",
        "--plugin",
        "expectations",
        "--config",
        fail.to_str().unwrap(),
        &customers(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["passed"], false);
    assert!(v["violation_count"].as_u64().unwrap() > 1);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"expectations":[{"column":"x","maximum":3}]}"#).unwrap();
    let o = ferry(&[
        "validate",
        "--plugin",
        "expectations",
        "--config",
        bad.to_str().unwrap(),
        &customers(),
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("maximum"), "{}", stderr(&o));

    let o = ferry(&["validate", "--plugin", "standard-scaler", &customers()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("is a transform plugin, not a validator"),
        "{}",
        stderr(&o)
    );

    let o = ferry(&[
        "validate",
        "--plugin",
        "schema",
        "--config",
        pass.to_str().unwrap(),
        "/no/such/file.csv",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("/no/such/file.csv"), "{}", stderr(&o));

    let not_json = dir.path().join("broken.json");
    std::fs::write(&not_json, "{").unwrap();
    let o = ferry(&[
        "validate",
        "--plugin",
        "schema",
        "--config",
        not_json.to_str().unwrap(),
        &customers(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("broken.json: not valid JSON"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn transform_fit_then_apply_writes_features() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scale.json");
    std::fs::write(
        &config,
        r#"{"columns":["tenure_months","monthly_charges"]}"#,
    )
    .unwrap();
    let state = dir.path().join("state.json");
    let out = dir.path().join("features.csv");
    let o = ferry(&[
        "transform",
        "fit",
        "--plugin",
        "standard-scaler",
        "--config",
        config.to_str().unwrap(),
        &customers(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("analysed 2000 rows"), "{}", stdout(&o));
    let o = ferry(&[
        "transform",
        "apply",
        "--plugin",
        "standard-scaler",
        "--config",
        config.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        &customers(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2001);
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header[1], "tenure_months");
    let col = header.iter().position(|h| *h == "monthly_charges").unwrap();
    let values: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(mean.abs() < 1e-9, "scaled mean {mean}");
}

#[test]
fn bad_data_and_misbehaving_limits_get_distinct_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "a,b\n1,2\n3\n").unwrap();
    let o = ferry(&[
        "transform",
        "fit",
        "--plugin",
        "standard-scaler",
        ragged.to_str().unwrap(),
        "--state",
        dir.path().join("s").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("ragged.csv"), "{}", stderr(&o));

    let state = dir.path().join("s.json");
    let o = ferry(&[
        "transform",
        "fit",
        "--plugin",
        "standard-scaler",
        "--memory-mib",
        "1",
        &customers(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("memory"), "{}", stderr(&o));
    assert!(!state.exists());

    let o = ferry(&[
        "validate",
        "--plugin",
        "schema",
        "--allow-dir",
        "relative=./x",
        &customers(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("guest path must be absolute"),
        "{}",
        stderr(&o)
    );
}
