//! The `onnx` and `xgboost` model adapters against the packages that made their fixtures
//! (`tests/fixtures/models/make_fixtures.py`): a scikit-learn model exported with skl2onnx
//! predicts as onnxruntime does, and an XGBoost JSON model as xgboost does, within 1e-5; a
//! model trained elsewhere is registered with a Ferry run's features and served; bad models
//! and bad inputs are refused with typed errors, and the host goes on.

use std::path::PathBuf;
use std::process::{Command, Output};

use ferry_core::data::CsvReader;
use ferry_runtime::bindings::types::{Batch, ColumnData};
use ferry_runtime::{Failure, GuestError, ModelInstance};
use ferry_tests::server::text;
use ferry_tests::{assert_healthy, builtin, repo_root};

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/models")
}

fn csv(name: &str) -> Batch {
    CsvReader::open(&fixtures().join(name), 10_000)
        .unwrap()
        .read_all()
        .unwrap()
}

fn column_f64(b: &Batch, name: &str) -> Vec<f64> {
    let c = b
        .columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    match &c.data {
        ColumnData::Float64(v) => v.clone(),
        ColumnData::Int64(v) => v.iter().map(|&x| x as f64).collect(),
        other => panic!("{name}: {other:?}"),
    }
}

fn column_i64(b: &Batch, name: &str) -> Vec<i64> {
    match &b.columns.iter().find(|c| c.name == name).unwrap().data {
        ColumnData::Int64(v) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn assert_close(got: &[f64], expected: &[f64], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    let worst = got
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-5,
        "{what}: worst difference {worst:e} is over 1e-5"
    );
}

async fn predict(plugin: &str, artifact: &str, inputs: &Batch) -> Batch {
    let p = builtin(plugin).await;
    let mut m = ModelInstance::new(&p).await.unwrap();
    let bytes = std::fs::read(fixtures().join(artifact)).unwrap();
    let h = m.load(&bytes, "{}").await.unwrap();
    m.predict(h, inputs).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn onnx_runs_scikit_learn_exports_like_onnxruntime() {
    let inputs = csv("inputs.csv");
    let out = predict("onnx", "logreg.onnx", &inputs).await;
    let expected = csv("expected_logreg.csv");
    assert_close(
        &column_f64(&out, "probability"),
        &column_f64(&expected, "probability"),
        "logistic regression",
    );
    assert_eq!(
        column_i64(&out, "prediction"),
        column_i64(&expected, "label")
    );

    let out = predict("onnx", "linreg.onnx", &inputs).await;
    assert_close(
        &column_f64(&out, "prediction"),
        &column_f64(&csv("expected_linreg.csv"), "prediction"),
        "linear regression",
    );

    let p = builtin("onnx").await;
    let mut m = ModelInstance::new(&p).await.unwrap();
    let h = m
        .load(
            &std::fs::read(fixtures().join("logreg.onnx")).unwrap(),
            "{}",
        )
        .await
        .unwrap();
    let info = m.describe(h).await.unwrap();
    assert_eq!(info.inputs.len(), 4);
    assert_eq!(
        info.outputs
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["probability", "prediction"]
    );
}

/// tract takes a binary tree ensemble's label from an arg-max over one score column, so it
/// always answered the first class, and refuses classifiers with text labels; the plugin
/// answers onnxruntime's labels for both.
#[tokio::test(flavor = "multi_thread")]
async fn onnx_labels_forests_and_text_classes_like_onnxruntime() {
    let inputs = csv("inputs.csv");
    let out = predict("onnx", "forest.onnx", &inputs).await;
    let expected = csv("expected_forest.csv");
    assert_close(
        &column_f64(&out, "probability"),
        &column_f64(&expected, "probability"),
        "random forest",
    );
    let labels = column_i64(&out, "prediction");
    assert_eq!(labels, column_i64(&expected, "label"));
    assert!(labels.contains(&0) && labels.contains(&1), "{labels:?}");

    let out = predict("onnx", "forest_text.onnx", &inputs).await;
    let expected = csv("expected_forest_text.csv");
    assert_close(
        &column_f64(&out, "probability"),
        &column_f64(&expected, "probability"),
        "random forest with text labels",
    );
    let text =
        |b: &Batch, name: &str| match &b.columns.iter().find(|c| c.name == name).unwrap().data {
            ColumnData::Text(v) => v.clone(),
            other => panic!("{name}: {other:?}"),
        };
    assert_eq!(text(&out, "prediction"), text(&expected, "label"));

    // Three text classes through a LinearClassifier, which tract refuses with text labels.
    let out = predict("onnx", "logreg_text.onnx", &inputs).await;
    let expected = csv("expected_logreg_text.csv");
    for k in 0..3 {
        let name = format!("probability_{k}");
        assert_close(
            &column_f64(&out, &name),
            &column_f64(&expected, &name),
            &name,
        );
    }
    let labels = text(&out, "prediction");
    assert_eq!(labels, text(&expected, "label"));
    assert_eq!(
        labels
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "{labels:?}"
    );
    assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn xgboost_evaluates_json_models_like_xgboost_with_missing_values() {
    let inputs = csv("inputs_missing.csv");
    assert!(
        inputs.columns[1].nulls.is_some(),
        "the fixture has missing values"
    );
    let out = predict("xgboost", "xgb_binary.json", &inputs).await;
    let expected = csv("expected_xgb_binary.csv");
    assert_close(
        &column_f64(&out, "probability"),
        &column_f64(&expected, "probability"),
        "binary:logistic",
    );
    assert_eq!(
        column_i64(&out, "prediction"),
        column_i64(&expected, "label")
    );
    let out = predict("xgboost", "xgb_reg.json", &inputs).await;
    assert_close(
        &column_f64(&out, "prediction"),
        &column_f64(&csv("expected_xgb_reg.csv"), "prediction"),
        "reg:squarederror",
    );
}

fn guest_error(e: &ferry_runtime::PluginError) -> &GuestError {
    match &*e.failure {
        Failure::Guest(g) => g,
        other => panic!("expected an error from the plugin, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_models_and_bad_inputs_are_refused_by_the_adapters() {
    for (plugin, bytes, config, needle) in [
        ("onnx", &b"definitely not onnx"[..], "{}", "not a readable ONNX model"),
        ("onnx", &b""[..], "{}", "not a readable ONNX model"),
        ("onnx", &b"{}"[..], r#"{"colour": 1}"#, "unknown field"),
        ("xgboost", &b"not json"[..], "{}", "not JSON"),
        ("xgboost", br#"{"learner": {"learner_model_param": {"num_feature": "1"}, "objective": {"name": "survival:cox"}}}"#, "{}", "survival:cox"),
    ] {
        let p = builtin(plugin).await;
        let mut m = ModelInstance::new(&p).await.unwrap();
        let e = m.load(bytes, config).await.err().unwrap_or_else(|| panic!("{plugin} loaded {bytes:?}"));
        assert!(matches!(guest_error(&e), GuestError::Config(m) if m.contains(needle)), "{plugin}: {e}");
    }
    // A binary tree ensemble whose labels cannot be computed as onnxruntime does.
    let p = builtin("onnx").await;
    let mut m = ModelInstance::new(&p).await.unwrap();
    let bytes = std::fs::read(fixtures().join("forest_softmax.onnx")).unwrap();
    let Err(e) = m.load(&bytes, "{}").await else {
        panic!("forest_softmax.onnx loaded");
    };
    assert!(
        matches!(guest_error(&e), GuestError::Config(m) if m.contains("post_transform SOFTMAX")),
        "{e}"
    );
    // A model trained on four features, given three; and a missing value ONNX cannot take.
    let p = builtin("onnx").await;
    let mut m = ModelInstance::new(&p).await.unwrap();
    let h = m
        .load(
            &std::fs::read(fixtures().join("logreg.onnx")).unwrap(),
            "{}",
        )
        .await
        .unwrap();
    let mut three = csv("inputs.csv");
    three.columns.pop();
    let e = m.predict(h, &three).await.unwrap_err();
    assert!(e.to_string().contains("reads 4 features"), "{e}");
    let mut m = ModelInstance::new(&p).await.unwrap();
    let h = m
        .load(
            &std::fs::read(fixtures().join("logreg.onnx")).unwrap(),
            "{}",
        )
        .await
        .unwrap();
    let e = m.predict(h, &csv("inputs_missing.csv")).await.unwrap_err();
    assert!(
        matches!(guest_error(&e), GuestError::Input { column: Some(c), row: Some(0), .. } if c == "x1"),
        "{e}"
    );
    assert_healthy().await;
}

fn ferry(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(ferry_tests::ferry_bin())
        .args(args)
        .env("FERRY_DATA_DIR", data)
        .env("FERRY_CACHE_DIR", ferry_tests::component_cache())
        .env_remove("FERRY_DATABASE_URL")
        .output()
        .unwrap()
}

#[test]
fn an_onnx_model_trained_elsewhere_is_registered_and_served_with_ferry_features() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    std::fs::write(
        dir.join("features.toml"),
        format!(
            "name = \"sk\"\n[data]\npath = {:?}\nlabel = \"label\"\ncolumns = [\"x0\", \"x1\", \"x2\", \"x3\"]\n",
            fixtures().join("train.csv").display().to_string()
        ),
    )
    .unwrap();
    let o = ferry(
        dir,
        &[
            "train",
            dir.join("features.toml").to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = run["run_id"].as_str().unwrap();
    let artifact = fixtures().join("logreg.onnx").display().to_string();
    let o = ferry(
        dir,
        &[
            "models",
            "register",
            "sk-logreg",
            "--run",
            run,
            "--artifact",
            &artifact,
            "--plugin",
            "onnx",
            "--features",
            "x0,x1,x2,x3",
            "--alias",
            "champion",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = dir.join("out.csv");
    let inputs = fixtures().join("inputs.csv").display().to_string();
    let o = ferry(
        dir,
        &[
            "transform",
            "--model",
            "sk-logreg@champion",
            &inputs,
            "--out",
            out.to_str().unwrap(),
            "--predictions",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = CsvReader::open(&out, 1000).unwrap().read_all().unwrap();
    assert_close(
        &column_f64(&got, "probability"),
        &column_f64(&csv("expected_logreg.csv"), "probability"),
        "served through the pipeline",
    );
    // Registering with fewer features than the graph reads is refused before anything is stored.
    let o = ferry(
        dir,
        &[
            "models",
            "register",
            "sk-logreg",
            "--run",
            run,
            "--artifact",
            &artifact,
            "--plugin",
            "onnx",
            "--features",
            "x0,x1",
        ],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("2 columns named but the model reads 4"),
        "{}",
        text(&o)
    );
    let o = ferry(
        dir,
        &[
            "models",
            "register",
            "sk-logreg",
            "--run",
            run,
            "--artifact",
            &artifact,
            "--plugin",
            "onnx",
            "--features",
            "x0,x1,x2,x9",
        ],
    );
    assert!(text(&o).contains("`x9` is not computed"), "{}", text(&o));
    let o = ferry(dir, &["models", "show", "sk-logreg", "--json"]);
    let model: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(model["versions"].as_array().unwrap().len(), 1);
}
