//! `ferry train` end to end through the binary: the churn pipeline is validated, learned,
//! trained, evaluated, recorded and registered; the same inputs give the same artifacts;
//! gates, invalid data and bad pipeline files end with their own exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry_tests::server::text;
use ferry_tests::{churn_copy, repo_root};
use serde_json::Value;

/// A data folder and compile cache of its own.
struct Home {
    data: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn ferry(&self, args: &[&str]) -> Output {
        Command::new(ferry_tests::ferry_bin())
            .args(args)
            .env("FERRY_DATA_DIR", self.data.path())
            .env("FERRY_CACHE_DIR", ferry_tests::component_cache())
            .env("USER", "tester")
            .env_remove("FERRY_DATABASE_URL")
            .env_remove("FERRY_REGISTRY")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.ferry(args);
        assert_eq!(o.status.code(), Some(0), "ferry {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

fn churn() -> PathBuf {
    repo_root().join("examples/churn")
}

fn pipeline() -> String {
    churn().join("pipeline.toml").display().to_string()
}

fn path_of(dir: &Path, f: &str) -> String {
    dir.join(f).display().to_string()
}

#[test]
fn train_records_the_run_registers_a_version_and_is_reproducible() {
    let home = Home::new();
    let first = home.json(&["train", &pipeline(), "--json"]);
    let second = home.json(&["train", &pipeline(), "--json"]);
    let metrics = &first["metrics"];
    for m in [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    ] {
        assert!(metrics[m].is_f64(), "{m} missing from {metrics}");
    }
    assert!(metrics["roc_auc"].as_f64().unwrap() >= 0.75);
    assert_eq!(first["gates_passed"], true);
    assert_eq!(first["confusion_matrix"].as_array().unwrap().len(), 2);
    // Reproducible: same data, pipeline and seed give the same states, artifact and metrics.
    assert_eq!(first["metrics"], second["metrics"]);
    assert_eq!(first["model_artifact"], second["model_artifact"]);
    assert_eq!(first["transform_states"], second["transform_states"]);
    assert_eq!(first["transform_states"].as_array().unwrap().len(), 3);
    assert_eq!(first["model_version"]["version"], 1);
    assert_eq!(second["model_version"]["version"], 2);
    assert_ne!(first["run_id"], second["run_id"]);

    // The run: parameters, tags, metrics and artifacts with their digests.
    let run_id = first["run_id"].as_str().unwrap();
    let run = home.json(&["runs", "show", run_id, "--json"]);
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["user_id"], "local:tester");
    let pair = |list: &Value, key: &str| -> Option<String> {
        list.as_array()?
            .iter()
            .find(|p| p[0] == key)
            .and_then(|p| p[1].as_str().map(str::to_string))
    };
    assert_eq!(pair(&run["params"], "split.seed").as_deref(), Some("42"));
    assert_eq!(
        pair(&run["params"], "model.task").as_deref(),
        Some("binary-classification")
    );
    assert_eq!(
        pair(&run["params"], "transforms.02-standard-scaler").as_deref(),
        Some("standard-scaler@0.1.3")
    );
    assert_eq!(
        pair(&run["tags"], "ferry.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(pair(&run["tags"], "ferry.host").is_some_and(|h| !h.is_empty()));
    assert!(pair(&run["tags"], "ferry.data.digest").is_some_and(|d| d.starts_with("sha256:")));
    assert_eq!(pair(&run["tags"], "ferry.gates").as_deref(), Some("passed"));
    assert_eq!(
        pair(&run["tags"], "ferry.model_version").as_deref(),
        Some("churn/1")
    );
    // The repository is a git checkout in CI and here; the commit is recorded when it is.
    if Command::new("git")
        .arg("-C")
        .arg(repo_root())
        .args(["rev-parse", "HEAD"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(pair(&run["tags"], "ferry.git.commit").is_some_and(|c| c.len() == 40));
    }
    let artifacts: Vec<(String, String)> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap().to_string(),
                a["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let digest_of = |p: &str| {
        artifacts
            .iter()
            .find(|a| a.0 == p)
            .map(|a| a.1.clone())
            .unwrap_or_else(|| panic!("no artifact {p} in {artifacts:?}"))
    };
    assert_eq!(
        Value::from(digest_of("model/model.bin")),
        first["model_artifact"]
    );
    assert_eq!(
        Value::from(digest_of("transforms/02-standard-scaler/state.bin")),
        first["transform_states"][1]
    );
    for p in [
        "pipeline.toml",
        "lineage.json",
        "evaluation.json",
        "validation/01-schema.json",
        "validation/02-expectations.json",
    ] {
        digest_of(p);
    }
    let train_rows = run["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "data.train_rows")
        .unwrap();
    assert_eq!(train_rows["value"], 1600.0);

    // The file a run recorded can be downloaded and matches its digest.
    let out = home.data.path().join("lineage.json");
    home.ok(&[
        "runs",
        "download",
        run_id,
        "lineage.json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let lineage: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(lineage["transforms"][0]["plugin"]["name"], "impute");
    assert_eq!(lineage["model"]["features"].as_array().unwrap().len(), 7);

    // Search and compare by parameters and metrics.
    let found = home.json(&[
        "runs",
        "list",
        "--filter",
        "metrics.roc_auc >= 0.75 and params.split.seed = '42'",
        "--json",
    ]);
    assert_eq!(found.as_array().unwrap().len(), 2);
    let none = home.json(&["runs", "list", "--filter", "metrics.roc_auc > 2", "--json"]);
    assert!(none.as_array().unwrap().is_empty());
    let bad = home.ferry(&["runs", "list", "--filter", "metrics.roc_auc >> 2"]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(text(&bad).contains("unknown operator"), "{}", text(&bad));
    let second_id = second["run_id"].as_str().unwrap();
    let compared = home.ok(&["runs", "compare", run_id, second_id]);
    assert!(compared.contains("metric roc_auc"), "{compared}");

    // The registry: versions, aliases (moved to the newest), stages, tags, card, audit.
    let model = home.json(&["models", "show", "churn", "--json"]);
    assert_eq!(model["versions"].as_array().unwrap().len(), 2);
    assert_eq!(model["aliases"], serde_json::json!([["challenger", 2]]));
    home.ok(&["models", "alias", "churn", "champion", "1"]);
    home.ok(&[
        "models",
        "stage",
        "churn",
        "1",
        "Production",
        "--archive-existing",
    ]);
    home.ok(&["models", "tag", "churn@1", "reviewed", "yes"]);
    home.ok(&["models", "describe", "churn", "Churn in the next month"]);
    let champion = home.json(&["models", "show", "churn@champion", "--json"]);
    assert_eq!(champion["version"], 1);
    assert_eq!(champion["stage"], "Production");
    assert_eq!(champion["tags"], serde_json::json!([["reviewed", "yes"]]));
    assert_eq!(
        champion["lineage"]["transforms"][1]["state_digest"],
        first["transform_states"][1]
    );
    assert_eq!(champion["lineage"]["run_id"], first["run_id"]);
    assert_eq!(
        home.json(&["models", "show", "churn@production", "--json"])["version"],
        1
    );
    let card = home.ok(&["models", "card", "churn@champion"]);
    for needle in [
        "# churn (version 1)",
        "Churn in the next month",
        "## Training data",
        "## Features",
        "| roc_auc |",
        "## Limitations",
        "synthetic data",
        "## Lineage",
        "standard-scaler",
    ] {
        assert!(card.contains(needle), "the card lacks {needle:?}:\n{card}");
    }
    let bad_stage = home.ferry(&["models", "stage", "churn", "1", "Live"]);
    assert_ne!(bad_stage.status.code(), Some(0));
    assert!(text(&bad_stage).contains("None, Staging, Production, Archived"));
    let bad_alias = home.ferry(&["models", "alias", "churn", "v3", "1"]);
    assert!(text(&bad_alias).contains("alias"), "{}", text(&bad_alias));
    let audit = home.ok(&["audit", "--limit", "50"]);
    for action in [
        "model.register",
        "model.alias.set",
        "model.stage",
        "model.tag",
        "model.describe",
    ] {
        assert!(audit.contains(action), "audit lacks {action}:\n{audit}");
    }

    // Batch features and predictions for data trained elsewhere.
    let out = home.data.path().join("features.csv");
    home.ok(&[
        "transform",
        "--model",
        "churn@champion",
        &churn().join("customers.csv").display().to_string(),
        "--out",
        out.to_str().unwrap(),
        "--predictions",
        "--keep",
        "customer_id",
    ]);
    let csv = std::fs::read_to_string(&out).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("customer_id,tenure_months,"), "{header}");
    assert!(header.ends_with("probability,prediction"), "{header}");
    assert_eq!(csv.lines().count(), 2001);
}

#[test]
fn a_failed_gate_exits_8_and_registers_nothing() {
    let home = Home::new();
    let dir = churn_copy(|t| t.replace("roc_auc >= 0.75", "roc_auc >= 0.99"));
    let o = home.ferry(&["train", &path_of(dir.path(), "pipeline.toml")]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(
        text(&o).contains("gate FAILED: roc_auc >= 0.99"),
        "{}",
        text(&o)
    );
    let models = home.json(&["models", "list", "--json"]);
    assert!(models.as_array().unwrap().is_empty(), "{models}");
    let runs = home.json(&["runs", "list", "--json"]);
    assert_eq!(runs[0]["info"]["status"], "FINISHED");
    assert!(
        runs[0]["tags"]
            .to_string()
            .contains("[\"ferry.gates\",\"failed\"]"),
        "{}",
        runs[0]["tags"]
    );
}

#[test]
fn registration_is_the_default_and_when_nothing_is_registered_it_says_why() {
    let home = Home::new();
    // No [register] table: the model is registered under the pipeline's name.
    let dir = churn_copy(|t| t.replace("[register]\nalias = \"challenger\"\n", ""));
    let text_of = |dir: &tempfile::TempDir, extra: &[&str]| {
        let pipeline = path_of(dir.path(), "pipeline.toml");
        let mut args = vec!["train", pipeline.as_str()];
        args.extend_from_slice(extra);
        let o = home.ferry(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let said = text_of(&dir, &[]);
    assert!(said.contains("registered churn version 1"), "{said}");

    let said = text_of(&dir, &["--no-register"]);
    assert!(
        said.contains("not registered: --no-register was given"),
        "{said}"
    );

    let off = churn_copy(|t| t.replace("alias = \"challenger\"", "enabled = false"));
    let said = text_of(&off, &[]);
    assert!(
        said.contains("not registered: register.enabled = false in the pipeline"),
        "{said}"
    );

    let features_only = churn_copy(|t| {
        let cut = t.find("[model]").unwrap();
        t[..cut].to_string()
    });
    let said = text_of(&features_only, &[]);
    assert!(
        said.contains("not registered: the pipeline has no [model]"),
        "{said}"
    );
    let models = home.json(&["models", "show", "churn", "--json"]);
    assert_eq!(
        models["versions"].as_array().map(Vec::len),
        Some(1),
        "{models}"
    );
}

#[test]
fn invalid_data_stops_the_run_with_the_validators_report() {
    let home = Home::new();
    let dir = churn_copy(|t| t);
    let data = std::fs::read_to_string(dir.path().join("customers.csv")).unwrap();
    let broken = data
        .replacen("C00003,", "C00003x,", 1)
        .replacen(",46.05,", ",460.5,", 1);
    std::fs::write(dir.path().join("customers.csv"), broken).unwrap();
    let o = home.ferry(&["train", &path_of(dir.path(), "pipeline.toml")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(
        msg.contains("monthly_charges") && msg.contains("customer_id"),
        "{msg}"
    );
    let runs = home.json(&["runs", "list", "--json"]);
    assert_eq!(runs[0]["info"]["status"], "FAILED");
    assert!(runs[0]["tags"].to_string().contains("ferry.error"));
    let run = home.json(&[
        "runs",
        "show",
        runs[0]["info"]["id"].as_str().unwrap(),
        "--json",
    ]);
    assert!(
        run["artifacts"]
            .to_string()
            .contains("validation/02-expectations.json")
    );
    assert!(
        home.json(&["models", "list", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_pipeline_files_are_refused_naming_the_problem() {
    let home = Home::new();
    // (what, text to replace, replacement, what the message must name); `*` replaces all.
    let cases = [
        (
            "unknown key",
            "[split]",
            "[split]\nsede = 1",
            "unknown field `sede`",
        ),
        (
            "missing label",
            "label = \"churned\"",
            "label = \"left\"",
            "no column `left`",
        ),
        (
            "bad gate",
            "roc_auc >= 0.75",
            "roc_auc is high",
            "gate \"roc_auc is high\"",
        ),
        ("unknown plugin", "impute@^0.1", "imputer@^0.1", "imputer"),
        (
            "no matching version",
            "impute@^0.1",
            "impute@^2",
            "no version of impute matches",
        ),
        (
            "bad fraction",
            "test_fraction = 0.2",
            "test_fraction = 1.5",
            "test_fraction = 1.5",
        ),
        (
            "missing config file",
            "\"scale.json\"",
            "\"scales.json\"",
            "scales.json",
        ),
        (
            "unknown feature",
            "[model]\n",
            "[model]\nfeatures = [\"tenure\"]\n",
            "no column `tenure`",
        ),
        (
            "unknown metric",
            "[evaluation]\n",
            "[evaluation]\nmetrics = [\"rmse\"]\n",
            "\"rmse\" is not computed",
        ),
        ("bad hyperparameter", "l2 = 1.0", "l3 = 1.0", "l3"),
        ("not toml", "*", "name = ", "pipeline.toml"),
    ];
    for (what, old, new, needle) in cases {
        let dir = churn_copy(|t| {
            if old == "*" {
                new.to_string()
            } else {
                t.replace(old, new)
            }
        });
        let o = home.ferry(&["train", &path_of(dir.path(), "pipeline.toml")]);
        assert!(
            matches!(o.status.code(), Some(3) | Some(4)),
            "{what}: {:?} {}",
            o.status.code(),
            text(&o)
        );
        assert!(
            text(&o).contains(needle),
            "{what}: expected {needle:?} in {}",
            text(&o)
        );
    }
    assert!(
        home.json(&["models", "list", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn parquet_and_json_lines_train_exactly_like_csv() {
    use ferry_core::data::{CsvReader, batch_to_record_batch, batch_to_rows};
    let home = Home::new();
    let dir = churn_copy(|t| t);
    let table = CsvReader::open(&churn().join("customers.csv"), 100_000)
        .unwrap()
        .read_all()
        .unwrap();
    let file = std::fs::File::create(dir.path().join("customers.parquet")).unwrap();
    let rb = batch_to_record_batch(&table).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, rb.schema(), None).unwrap();
    writer.write(&rb).unwrap();
    writer.close().unwrap();
    // Keys in the CSV's column order (a JSON object's keys would come out sorted), so the
    // default feature order, and with it the model, is the same.
    let lines: Vec<String> = batch_to_rows(&table)
        .iter()
        .map(|row| {
            let fields: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("{}:{}", Value::from(c.name.as_str()), row[&c.name]))
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    std::fs::write(dir.path().join("customers.jsonl"), lines.join("\n") + "\n").unwrap();
    let text_of = |f: &str| {
        std::fs::read_to_string(dir.path().join("pipeline.toml"))
            .unwrap()
            .replace("customers.csv", f)
            .replace("alias = \"challenger\"", "enabled = false")
    };
    let csv = home.json(&["train", &pipeline(), "--json", "--no-register"]);
    for f in ["customers.parquet", "customers.jsonl"] {
        std::fs::write(dir.path().join(format!("{f}.toml")), text_of(f)).unwrap();
        let other = home.json(&[
            "train",
            &path_of(dir.path(), &format!("{f}.toml")),
            "--json",
        ]);
        assert_eq!(other["transform_states"], csv["transform_states"], "{f}");
        assert_eq!(other["model_artifact"], csv["model_artifact"], "{f}");
        assert_eq!(other["metrics"], csv["metrics"], "{f}");
        assert!(other["model_version"].is_null());
    }
}

#[test]
fn a_model_trained_elsewhere_is_registered_with_a_runs_features() {
    let home = Home::new();
    let trained = home.json(&["train", &pipeline(), "--json"]);
    // A features-only pipeline: the same validators and transforms, no model.
    let dir = churn_copy(|t| {
        let cut = t.find("[model]").unwrap();
        t[..cut].to_string()
    });
    let features = home.json(&["train", &path_of(dir.path(), "pipeline.toml"), "--json"]);
    assert!(features["model_version"].is_null());
    assert_eq!(features["transform_states"], trained["transform_states"]);
    // The "external" artifact: the linear model's bytes, as a file.
    let artifact = dir.path().join("model.bin");
    home.ok(&[
        "runs",
        "download",
        trained["run_id"].as_str().unwrap(),
        "model/model.bin",
        "--out",
        artifact.to_str().unwrap(),
    ]);
    let run = features["run_id"].as_str().unwrap();
    let out = home.ok(&[
        "models",
        "register",
        "churn-external",
        "--run",
        run,
        "--artifact",
        artifact.to_str().unwrap(),
        "--plugin",
        "linear@^0.1",
        "--alias",
        "champion",
    ]);
    assert!(out.contains("registered churn-external version 1"), "{out}");
    let v = home.json(&["models", "show", "churn-external@champion", "--json"]);
    assert_eq!(v["run_id"], features["run_id"]);
    assert_eq!(v["lineage"]["model"]["plugin"]["name"], "linear");
    // Same transforms, same model: the same predictions as the version trained by Ferry.
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    let data = churn().join("customers.csv").display().to_string();
    home.ok(&[
        "transform",
        "--model",
        "churn@1",
        &data,
        "--out",
        a.to_str().unwrap(),
        "--predictions",
    ]);
    home.ok(&[
        "transform",
        "--model",
        "churn-external@champion",
        &data,
        "--out",
        b.to_str().unwrap(),
        "--predictions",
    ]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // Not a model artifact: the adapter refuses it, and nothing is registered.
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"not a model").unwrap();
    let o = home.ferry(&[
        "models",
        "register",
        "churn-external",
        "--run",
        run,
        "--artifact",
        junk.to_str().unwrap(),
        "--plugin",
        "linear",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(
        home.json(&["models", "show", "churn-external", "--json"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
