//! Every first-party plugin, run through the host on real data, including its error paths.

use ferry_builtins as builtin;
use ferry_core::data::{concat, schema_of};
use ferry_runtime::bindings::types::{Alert, Artifact, Deployment, PluginRef, Report, Severity};
use ferry_runtime::bindings::types::{Batch, Column, ColumnData};
use ferry_runtime::{
    AlertSinkInstance, DeployerInstance, DirGrant, Failure, Grants, GuestError, LoadOptions,
    ModelInstance, PluginError, TransformInstance, ValidatorInstance,
};
use ferry_tests::{builtin, customers, f64s, fit_apply, floats, runtime};

fn column<'a>(b: &'a Batch, name: &str) -> &'a Column {
    b.columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn numbers(b: &Batch, name: &str) -> Vec<Option<f64>> {
    let c = column(b, name);
    let null = |i: usize| c.nulls.as_ref().is_some_and(|n| n[i]);
    match &c.data {
        ColumnData::Float64(v) => v
            .iter()
            .enumerate()
            .map(|(i, x)| (!null(i)).then_some(*x))
            .collect(),
        ColumnData::Int64(v) => v
            .iter()
            .enumerate()
            .map(|(i, x)| (!null(i)).then_some(*x as f64))
            .collect(),
        other => panic!("{name} is not numeric: {other:?}"),
    }
}

fn texts<'a>(b: &'a Batch, name: &str) -> &'a [String] {
    match &column(b, name).data {
        ColumnData::Text(v) => v,
        other => panic!("{name} is not text: {other:?}"),
    }
}

async fn validate(plugin: &str, config: &str, data: &Batch) -> Result<Report, PluginError> {
    let p = builtin(plugin).await;
    ValidatorInstance::new(&p)
        .await?
        .validate(config, data)
        .await
}

fn count(r: &Report, rule: &str, col: &str) -> u64 {
    r.counts
        .iter()
        .filter(|c| c.rule == rule && c.column.as_deref() == Some(col))
        .map(|c| c.count)
        .sum()
}

fn guest(e: &PluginError) -> &GuestError {
    match &*e.failure {
        Failure::Guest(g) => g,
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
}

#[tokio::test]
async fn builtin_names_match_their_manifests() {
    for name in builtin::names() {
        let p = builtin(name).await;
        assert_eq!(p.name(), name);
        assert_eq!(p.manifest().contract, ferry_runtime::CONTRACT_VERSION);
        assert!(
            !p.manifest().description.is_empty(),
            "{name} has no description"
        );
        assert!(
            p.manifest().config_schema.get("properties").is_some(),
            "{name} has no config schema"
        );
    }
}

#[tokio::test]
async fn every_builtin_that_computes_passes_the_purity_check_on_the_sample_data() {
    use ferry_core::steps::purity::{PublishCheck, check_at_publish};
    for name in builtin::names() {
        let p = builtin(name).await;
        let check = check_at_publish(&p)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match (name, check) {
            ("onnx" | "xgboost", PublishCheck::NotRun(why)) => {
                assert!(why.contains("cannot train"), "{name}: {why}")
            }
            (
                "directory" | "edge-bundle" | "kubernetes" | "webhook" | "file" | "slack" | "email",
                PublishCheck::NotApplicable,
            ) => {}
            (_, PublishCheck::Passed) => {}
            (name, other) => {
                panic!("{name}: {other:?} (its example configuration must suit the sample data)")
            }
        }
    }
}

#[tokio::test]
async fn schema_validator_reports_every_violation() {
    let data = customers();
    let nulls = column(&data, "total_charges")
        .nulls
        .as_ref()
        .unwrap()
        .iter()
        .filter(|n| **n)
        .count() as u64;
    assert!(nulls > 0);
    let ok = r#"{"columns":[{"name":"customer_id","type":"text","nullable":false},{"name":"tenure_months","type":"int64"},{"name":"churned","type":"text"}]}"#;
    let r = validate("schema", ok, &data).await.unwrap();
    assert!(r.counts.is_empty(), "{:?}", r.counts);
    assert_eq!(r.rows_checked, 2000);

    let bad = r#"{"columns":[{"name":"contract","type":"float64"},{"name":"total_charges","nullable":false},{"name":"age"},{"name":"churned"}],"allow_extra_columns":false,"max_violations":5}"#;
    let r = validate("schema", bad, &data).await.unwrap();
    assert_eq!(count(&r, "type", "contract"), 1);
    assert_eq!(count(&r, "not_null", "total_charges"), nulls);
    assert_eq!(count(&r, "required", "age"), 1);
    assert_eq!(count(&r, "no_extra_columns", "customer_id"), 1);
    assert_eq!(r.violations.len(), 5);
    assert!(r.truncated);
    let first_null = r.violations.iter().find(|v| v.rule == "not_null").unwrap();
    assert!(
        column(&data, "total_charges").nulls.as_ref().unwrap()[first_null.row.unwrap() as usize]
    );

    let e = validate("schema", r#"{"columns":[{"name":"x","typo":1}]}"#, &data)
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("typo")),
        "{e}"
    );
    assert_eq!(e.operation, "validate");
}

#[tokio::test]
async fn expectations_count_what_fails() {
    let data = customers();
    let over_100 = numbers(&data, "monthly_charges")
        .iter()
        .filter(|v| v.unwrap() > 100.0)
        .count() as u64;
    let config = r#"{"expectations":[
        {"column":"tenure_months","min":1,"max":72},
        {"column":"monthly_charges","max":100},
        {"column":"contract","allowed":["month-to-month","one-year","two-year"]},
        {"column":"customer_id","unique":true,"regex":"C[0-9]{5}"},
        {"column":"contract","unique":true},
        {"column":"total_charges","max_null_fraction":0.01},
        {"column":"nope","min":0}
    ]}"#;
    let r = validate("expectations", config, &data).await.unwrap();
    assert_eq!(
        count(&r, "min", "tenure_months") + count(&r, "max", "tenure_months"),
        0
    );
    assert_eq!(count(&r, "max", "monthly_charges"), over_100);
    assert_eq!(count(&r, "allowed", "contract"), 0);
    assert_eq!(
        count(&r, "unique", "customer_id") + count(&r, "regex", "customer_id"),
        0
    );
    assert_eq!(count(&r, "unique", "contract"), 2000 - 3);
    assert_eq!(count(&r, "max_null_fraction", "total_charges"), 1);
    assert_eq!(count(&r, "column_exists", "nope"), 1);
    assert!(r.truncated, "the default list holds 1000 examples");

    let e = validate(
        "expectations",
        r#"{"expectations":[{"column":"customer_id","regex":"("}]}"#,
        &data,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("expectations[0]") && m.contains("regex")),
        "{e}"
    );
    let e = validate(
        "expectations",
        r#"{"expectations":[{"column":"x","min":5,"max":1}]}"#,
        &data,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("above")),
        "{e}"
    );
}

#[tokio::test]
async fn standard_scaler_matches_a_native_computation_and_streams() {
    let data = customers();
    let config = r#"{"columns":["tenure_months","monthly_charges","total_charges"]}"#;
    let out = fit_apply(&builtin("standard-scaler").await, config, &data, &data).await;
    for name in ["tenure_months", "monthly_charges", "total_charges"] {
        let xs: Vec<f64> = numbers(&data, name).into_iter().flatten().collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        for (got, want) in numbers(&out, name).iter().zip(numbers(&data, name)) {
            match (got, want) {
                (Some(g), Some(w)) => assert!(
                    (g - (w - mean) / std).abs() < 1e-9,
                    "{name}: {g} vs {}",
                    (w - mean) / std
                ),
                (None, None) => {}
                other => panic!("{name}: null mismatch {other:?}"),
            }
        }
    }

    // Analysing in many small batches learns the same state as one pass.
    let p = builtin("standard-scaler").await;
    let mut t = TransformInstance::new(&p).await.unwrap();
    let a = t.new_analyzer(config, &schema_of(&data)).await.unwrap();
    for rows in (0..2000).step_by(128) {
        t.update(a, &slice(&data, rows, (rows + 128).min(2000)))
            .await
            .unwrap();
    }
    let streamed: serde_json::Value = serde_json::from_slice(&t.finish(a).await.unwrap()).unwrap();
    let mut t = TransformInstance::new(&p).await.unwrap();
    let a = t.new_analyzer(config, &schema_of(&data)).await.unwrap();
    t.update(a, &data).await.unwrap();
    let whole: serde_json::Value = serde_json::from_slice(&t.finish(a).await.unwrap()).unwrap();
    for (s, w) in streamed["columns"]
        .as_array()
        .unwrap()
        .iter()
        .zip(whole["columns"].as_array().unwrap())
    {
        assert!((s["offset"].as_f64().unwrap() - w["offset"].as_f64().unwrap()).abs() < 1e-9);
        assert!((s["scale"].as_f64().unwrap() - w["scale"].as_f64().unwrap()).abs() < 1e-9);
    }

    let mut t = TransformInstance::new(&p).await.unwrap();
    let e = t
        .new_analyzer(r#"{"columns":["contract"]}"#, &schema_of(&data))
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("text column")),
        "{e}"
    );
    let e = t.new_transformer("{}", b"not a state").await.unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("not a valid standard-scaler state")),
        "{e}"
    );
    let tr = t
        .new_transformer(
            "{}",
            br#"{"columns":[{"name":"gone","offset":0,"scale":1,"count":1}]}"#,
        )
        .await
        .unwrap();
    let e = t.apply(tr, &data).await.unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Input { column: Some(c), .. } if c == "gone"),
        "{e}"
    );
}

fn slice(b: &Batch, from: usize, to: usize) -> Batch {
    let cut = |c: &Column| Column {
        name: c.name.clone(),
        data: match &c.data {
            ColumnData::Float64(v) => ColumnData::Float64(v[from..to].to_vec()),
            ColumnData::Int64(v) => ColumnData::Int64(v[from..to].to_vec()),
            ColumnData::Boolean(v) => ColumnData::Boolean(v[from..to].to_vec()),
            ColumnData::Text(v) => ColumnData::Text(v[from..to].to_vec()),
        },
        nulls: c.nulls.as_ref().map(|n| n[from..to].to_vec()),
    };
    Batch {
        num_rows: (to - from) as u32,
        columns: b.columns.iter().map(cut).collect(),
    }
}

#[tokio::test]
async fn min_max_scaler_maps_training_data_into_the_range() {
    let data = customers();
    let out = fit_apply(
        &builtin("min-max-scaler").await,
        r#"{"columns":["monthly_charges"],"feature_range":[-1,1]}"#,
        &data,
        &data,
    )
    .await;
    let v = f64s(&out, "monthly_charges");
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    assert!(
        (lo + 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12,
        "{lo} {hi}"
    );
    let p = builtin("min-max-scaler").await;
    let e = TransformInstance::new(&p)
        .await
        .unwrap()
        .new_analyzer(r#"{"feature_range":[1,0]}"#, &schema_of(&data))
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("feature_range")),
        "{e}"
    );
}

#[tokio::test]
async fn impute_fills_nulls_each_way() {
    let data = customers();
    let present: Vec<f64> = numbers(&data, "total_charges")
        .into_iter()
        .flatten()
        .collect();
    let mean = present.iter().sum::<f64>() / present.len() as f64;
    let out = fit_apply(
        &builtin("impute").await,
        r#"{"columns":["total_charges"],"strategy":"mean"}"#,
        &data,
        &data,
    )
    .await;
    let filled = numbers(&out, "total_charges");
    assert!(filled.iter().all(Option::is_some));
    for (i, was) in numbers(&data, "total_charges").iter().enumerate() {
        let expected = was.unwrap_or(mean);
        assert!((filled[i].unwrap() - expected).abs() < 1e-9);
    }

    let mut sorted = present.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let out = fit_apply(
        &builtin("impute").await,
        r#"{"columns":["total_charges"],"strategy":"median"}"#,
        &data,
        &data,
    )
    .await;
    let null_row = numbers(&data, "total_charges")
        .iter()
        .position(Option::is_none)
        .unwrap();
    assert!((numbers(&out, "total_charges")[null_row].unwrap() - median).abs() < 1e-9);

    let with_null = Batch {
        num_rows: 4,
        columns: vec![Column {
            name: "c".into(),
            data: ColumnData::Text(vec!["b".into(), "a".into(), "".into(), "b".into()]),
            nulls: Some(vec![false, false, true, false]),
        }],
    };
    let out = fit_apply(
        &builtin("impute").await,
        r#"{"strategy":"most_frequent"}"#,
        &with_null,
        &with_null,
    )
    .await;
    assert_eq!(texts(&out, "c"), ["b", "a", "b", "b"]);
    let out = fit_apply(
        &builtin("impute").await,
        r#"{"strategy":"constant","fill_value":"unknown"}"#,
        &with_null,
        &with_null,
    )
    .await;
    assert_eq!(texts(&out, "c")[2], "unknown");

    let p = builtin("impute").await;
    let mut t = TransformInstance::new(&p).await.unwrap();
    let e = t
        .new_analyzer(r#"{"strategy":"constant"}"#, &schema_of(&data))
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("fill_value")),
        "{e}"
    );
    let e = t
        .new_analyzer(r#"{"strategy":"average"}"#, &schema_of(&data))
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("average")),
        "{e}"
    );
}

#[tokio::test]
async fn one_hot_learns_a_vocabulary_and_handles_unknowns() {
    let data = customers();
    let unseen = Batch {
        num_rows: 2,
        columns: vec![Column {
            name: "contract".into(),
            data: ColumnData::Text(vec!["one-year".into(), "weekly".into()]),
            nulls: None,
        }],
    };
    let out = fit_apply(
        &builtin("one-hot").await,
        r#"{"columns":["contract"]}"#,
        &data,
        &unseen,
    )
    .await;
    let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "contract=month-to-month",
            "contract=one-year",
            "contract=two-year"
        ]
    );
    assert_eq!(f64s(&out, "contract=one-year"), [1.0, 0.0]);
    assert_eq!(f64s(&out, "contract=two-year"), [0.0, 0.0]);

    let p = builtin("one-hot").await;
    let config = r#"{"columns":["contract"],"handle_unknown":"error"}"#;
    let mut t = TransformInstance::new(&p).await.unwrap();
    let a = t.new_analyzer(config, &schema_of(&data)).await.unwrap();
    t.update(a, &data).await.unwrap();
    let state = t.finish(a).await.unwrap();
    let tr = t.new_transformer(config, &state).await.unwrap();
    let e = t.apply(tr, &unseen).await.unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Input { column: Some(c), row: Some(1), message } if c == "contract" && message.contains("weekly")),
        "{e}"
    );
}

#[tokio::test]
async fn bucketize_splits_at_learned_quartiles() {
    let data = customers();
    let out = fit_apply(
        &builtin("bucketize").await,
        r#"{"columns":["monthly_charges"],"num_buckets":4}"#,
        &data,
        &data,
    )
    .await;
    let buckets = numbers(&out, "monthly_charges");
    for b in 0..4 {
        let n = buckets.iter().filter(|x| **x == Some(b as f64)).count();
        assert!(
            (450..=550).contains(&n),
            "bucket {b} holds {n} of 2000 rows"
        );
    }
    let fixed = floats(&[("x", vec![-1.0, 0.0, 0.5, 1.0, 7.0])]);
    let out = fit_apply(
        &builtin("bucketize").await,
        r#"{"boundaries":[0,1]}"#,
        &fixed,
        &fixed,
    )
    .await;
    assert_eq!(
        numbers(&out, "x"),
        [Some(0.0), Some(1.0), Some(1.0), Some(2.0), Some(2.0)]
    );
}

#[tokio::test]
async fn log_transform_and_its_domain_error() {
    let data = floats(&[("x", vec![0.0, 1.0, 9.0])]);
    let out = fit_apply(
        &builtin("log-transform").await,
        r#"{"base":"10","offset":1}"#,
        &data,
        &data,
    )
    .await;
    assert_eq!(f64s(&out, "x"), [0.0, 2f64.log10(), 1.0]);
    let p = builtin("log-transform").await;
    let mut t = TransformInstance::new(&p).await.unwrap();
    let a = t
        .new_analyzer(r#"{"offset":0}"#, &schema_of(&data))
        .await
        .unwrap();
    let state = t.finish(a).await.unwrap();
    let tr = t.new_transformer("{}", &state).await.unwrap();
    let e = t.apply(tr, &data).await.unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Input { row: Some(0), .. }),
        "{e}"
    );
}

#[tokio::test]
async fn clip_to_fixed_bounds_and_learned_quantiles() {
    let data = floats(&[("x", (0..=100).map(f64::from).collect())]);
    let out = fit_apply(
        &builtin("clip").await,
        r#"{"min":10,"max":20}"#,
        &data,
        &data,
    )
    .await;
    assert_eq!(f64s(&out, "x")[0], 10.0);
    assert_eq!(f64s(&out, "x")[100], 20.0);
    let out = fit_apply(
        &builtin("clip").await,
        r#"{"lower_quantile":0.05,"upper_quantile":0.95}"#,
        &data,
        &data,
    )
    .await;
    assert_eq!(f64s(&out, "x")[0], 5.0);
    assert_eq!(f64s(&out, "x")[100], 95.0);
    let p = builtin("clip").await;
    let e = TransformInstance::new(&p)
        .await
        .unwrap()
        .new_analyzer(r#"{"min":3,"max":1}"#, &schema_of(&data))
        .await
        .unwrap_err();
    assert!(matches!(guest(&e), GuestError::Config(_)), "{e}");
}

#[tokio::test]
async fn linear_model_trains_deterministically_and_predicts() {
    let data = customers();
    let features = Batch {
        num_rows: data.num_rows,
        columns: [
            "tenure_months",
            "monthly_charges",
            "support_calls",
            "total_charges",
        ]
        .iter()
        .map(|n| column(&data, n).clone())
        .collect(),
    };
    let labels = column(&data, "churned").clone();
    let p = builtin("linear").await;
    let mut m = ModelInstance::new(&p).await.unwrap();
    let config = r#"{"task":"binary-classification","l2":1.0,"features":["tenure_months","monthly_charges","support_calls"]}"#;
    let artifact = m.train(&features, &labels, config).await.unwrap();
    assert_eq!(
        artifact,
        m.train(&features, &labels, config).await.unwrap(),
        "training is not deterministic"
    );
    let model = m.load(&artifact, "{}").await.unwrap();
    let info = m.describe(model).await.unwrap();
    assert_eq!(info.inputs.len(), 3);
    let out = m.predict(model, &features).await.unwrap();
    let predicted = texts(&out, "prediction");
    let truth = texts(&data, "churned");
    let correct = predicted.iter().zip(truth).filter(|(a, b)| a == b).count();
    assert!(
        correct as f64 / 2000.0 > 0.70,
        "accuracy {}",
        correct as f64 / 2000.0
    );
    assert!(
        f64s(&out, "probability")
            .iter()
            .all(|p| (0.0..=1.0).contains(p))
    );

    let line = floats(&[("x", vec![0.0, 1.0, 2.0, 3.0])]);
    let y = Column {
        name: "y".into(),
        data: ColumnData::Float64(vec![1.0, 3.0, 5.0, 7.0]),
        nulls: None,
    };
    let artifact = m
        .train(&line, &y, r#"{"task":"regression","l2":0}"#)
        .await
        .unwrap();
    let model = m.load(&artifact, "{}").await.unwrap();
    let out = m
        .predict(model, &floats(&[("x", vec![10.0])]))
        .await
        .unwrap();
    assert!((f64s(&out, "prediction")[0] - 21.0).abs() < 1e-9);

    let three = Column {
        name: "y".into(),
        data: ColumnData::Text(vec!["a".into(), "b".into(), "c".into(), "a".into()]),
        nulls: None,
    };
    let e = m
        .train(&line, &three, r#"{"task":"binary-classification"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Input { message, .. } if message.contains("exactly 2 classes")),
        "{e}"
    );
    let e = m
        .train(
            &features,
            &labels,
            r#"{"task":"binary-classification","features":["total_charges"]}"#,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Input { column: Some(c), row: Some(_), .. } if c == "total_charges"),
        "{e}"
    );
    let e = m.load(b"{}", "{}").await.unwrap_err();
    assert!(matches!(guest(&e), GuestError::Config(_)), "{e}");
}

fn deployment(version: &str, artifacts: Vec<(&str, &[u8])>) -> Deployment {
    let plugin = PluginRef {
        name: "linear".into(),
        version: "0.1.0".into(),
        digest: "sha256:00".into(),
    };
    Deployment {
        name: "churn".into(),
        model_name: "churn".into(),
        model_version: version.into(),
        model_plugin: plugin.clone(),
        pipeline: vec![plugin],
        artifacts: artifacts
            .into_iter()
            .map(|(p, c)| Artifact {
                path: p.into(),
                digest: String::new(),
                contents: c.to_vec(),
            })
            .collect(),
        settings: "{}".into(),
    }
}

#[tokio::test]
async fn directory_deployer_deploys_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        grants: Grants {
            dirs: vec![DirGrant {
                guest_path: "/deploy".into(),
                host_path: dir.path().into(),
                writable: true,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let p = builtin::load(&runtime(), "directory", &options)
        .await
        .unwrap();
    let mut d = DeployerInstance::new(&p).await.unwrap();
    let plan = d
        .plan(&deployment("1", vec![("model.bin", b"v1")]))
        .await
        .unwrap();
    assert!(plan.actions.iter().any(|a| a.contains("model.bin")));
    assert!(!dir.path().join("churn").exists(), "plan must not write");

    d.apply(&deployment(
        "1",
        vec![("model.bin", b"v1"), ("states/scaler.json", b"{}")],
    ))
    .await
    .unwrap();
    let s = d
        .apply(&deployment("2", vec![("model.bin", b"v2")]))
        .await
        .unwrap();
    assert_eq!(s.active_version.as_deref(), Some("2"));
    assert_eq!(s.history, ["1"]);
    assert_eq!(
        std::fs::read(dir.path().join("churn/versions/2/model.bin")).unwrap(),
        b"v2"
    );
    assert!(
        dir.path()
            .join("churn/versions/1/states/scaler.json")
            .exists()
    );
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("churn/versions/2/deployment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["model"]["plugin"]["name"], "linear");

    let s = d.rollback("churn", "{}").await.unwrap();
    assert_eq!(s.active_version.as_deref(), Some("1"));
    assert_eq!(
        d.status("churn", "{}")
            .await
            .unwrap()
            .active_version
            .as_deref(),
        Some("1")
    );
    let e = d.rollback("churn", "{}").await.unwrap_err();
    assert!(e.to_string().contains("no earlier version"), "{e}");
    let e = d
        .apply(&deployment("3", vec![("../evil", b"x")]))
        .await
        .unwrap_err();
    assert!(
        matches!(guest(&e), GuestError::Config(m) if m.contains("..")),
        "{e}"
    );
    assert!(!dir.path().join("evil").exists() && !dir.path().join("churn/versions/3").exists());

    // Without a grant there is nowhere to write.
    let p = builtin::load(&runtime(), "directory", &LoadOptions::default())
        .await
        .unwrap();
    let e = DeployerInstance::new(&p)
        .await
        .unwrap()
        .apply(&deployment("1", vec![]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("/deploy was not granted"), "{e}");
}

fn alert(title: &str) -> Alert {
    Alert {
        severity: Severity::Critical,
        title: title.into(),
        text: "drift on monthly_charges".into(),
        labels: vec![("model".into(), "churn".into())],
        source: "monitor/churn/drift".into(),
        time_ms: 1_700_000_000_000,
    }
}

#[tokio::test]
async fn file_sink_appends_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        grants: Grants {
            dirs: vec![DirGrant {
                guest_path: "/alerts".into(),
                host_path: dir.path().into(),
                writable: true,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let p = builtin::load(&runtime(), "file", &options).await.unwrap();
    let mut s = AlertSinkInstance::new(&p).await.unwrap();
    s.deliver(r#"{"file":"ops.jsonl"}"#, &alert("one"))
        .await
        .unwrap();
    s.deliver(r#"{"file":"ops.jsonl"}"#, &alert("two"))
        .await
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join("ops.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["title"], "two");
    assert_eq!(lines[0]["labels"]["model"], "churn");
    assert_eq!(lines[0]["severity"], "critical");
    let e = s
        .deliver(r#"{"file":"../escape"}"#, &alert("x"))
        .await
        .unwrap_err();
    assert!(matches!(guest(&e), GuestError::Config(_)), "{e}");
}

/// A one-shot HTTP server on loopback that answers `status` and returns the request it got.
async fn one_request_server(
    status: u16,
    wait_secs: u64,
) -> (u16, tokio::task::JoinHandle<Option<String>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let accepted =
            tokio::time::timeout(std::time::Duration::from_secs(wait_secs), listener.accept())
                .await;
        let (mut sock, _) = accepted.ok()?.ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.ok()?;
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                if text
                    .to_ascii_lowercase()
                    .contains("transfer-encoding: chunked")
                {
                    if text.ends_with("0\r\n\r\n") || n == 0 {
                        break;
                    }
                    continue;
                }
                let len = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len || n == 0 {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let reply =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        sock.write_all(reply.as_bytes()).await.ok()?;
        Some(String::from_utf8_lossy(&buf).to_string())
    });
    (port, task)
}

/// The body of a raw HTTP/1.1 request, decoding chunked transfer encoding.
fn http_body(request: &str) -> String {
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

#[tokio::test]
async fn webhook_posts_to_allowed_hosts_only() {
    let (port, server) = one_request_server(200, 60).await;
    let allowed = LoadOptions {
        grants: Grants {
            http_hosts: vec![format!("127.0.0.1:{port}")],
            ..Default::default()
        },
        ..Default::default()
    };
    let p = builtin::load(&runtime(), "webhook", &allowed)
        .await
        .unwrap();
    let config =
        format!(r#"{{"url":"http://127.0.0.1:{port}/hooks/ferry","headers":{{"x-team":"ml"}}}}"#);
    AlertSinkInstance::new(&p)
        .await
        .unwrap()
        .deliver(&config, &alert("drift"))
        .await
        .unwrap();
    let request = server.await.unwrap().expect("the server got a request");
    assert!(request.starts_with("POST /hooks/ferry"), "{request}");
    assert!(request.to_ascii_lowercase().contains("x-team: ml"));
    let body: serde_json::Value = serde_json::from_str(&http_body(&request)).unwrap();
    assert_eq!(body["title"], "drift");

    // A host that is not on the allow-list is refused before any connection is made.
    // The refusal has happened by the time this is awaited; a short wait is enough.
    let (port2, server2) = one_request_server(200, 2).await;
    let config = format!(r#"{{"url":"http://127.0.0.1:{port2}/hook"}}"#);
    let e = AlertSinkInstance::new(&p)
        .await
        .unwrap()
        .deliver(&config, &alert("x"))
        .await
        .unwrap_err();
    match &*e.failure {
        Failure::CapabilityDenied { attempts, .. } => assert!(
            attempts[0].contains(&format!("127.0.0.1:{port2}")),
            "{attempts:?}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        server2.await.unwrap().is_none(),
        "the refused request reached the server"
    );

    // A server error is reported with its status.
    let (port3, server3) = one_request_server(503, 60).await;
    let allowed = LoadOptions {
        grants: Grants {
            http_hosts: vec![format!("127.0.0.1:{port3}")],
            ..Default::default()
        },
        ..Default::default()
    };
    let p = builtin::load(&runtime(), "webhook", &allowed)
        .await
        .unwrap();
    let e = AlertSinkInstance::new(&p)
        .await
        .unwrap()
        .deliver(
            &format!(r#"{{"url":"http://127.0.0.1:{port3}/"}}"#),
            &alert("x"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    server3.await.unwrap();
    ferry_tests::assert_healthy().await;
}

#[tokio::test]
async fn concat_keeps_nulls_aligned() {
    let a = Batch {
        num_rows: 2,
        columns: vec![Column {
            name: "x".into(),
            data: ColumnData::Float64(vec![1.0, 2.0]),
            nulls: None,
        }],
    };
    let b = Batch {
        num_rows: 1,
        columns: vec![Column {
            name: "x".into(),
            data: ColumnData::Float64(vec![0.0]),
            nulls: Some(vec![true]),
        }],
    };
    let c = concat(&schema_of(&a), vec![a, b]).unwrap();
    assert_eq!(c.columns[0].nulls, Some(vec![false, false, true]));
}
