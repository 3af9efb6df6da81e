//! Skew cannot happen, even with a careless plugin. Guests that read the clock, draw random
//! bytes, count their calls or look at the other rows of a batch are each either refused (at
//! `ferry plugin publish` or `ferry train`, naming the plugin, the column, the first differing
//! row and both values) or give bit-identical features in training, in `ferry transform
//! --model` (twice) and in online requests one row at a time.

use std::path::Path;

use ferry_core::data::{CsvReader, batch_to_rows, rows_to_batch};
use ferry_core::steps::{LearnedTransform, Steps, TransformStep};
use ferry_runtime::LoadOptions;
use ferry_runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};
use ferry_tests::server::{Server, text};
use ferry_tests::{churn_copy, guests, repo_root, runtime};
use serde_json::{Value, json};

/// Rows compared between training, batch and online.
const ROWS: usize = 1000;

fn publish(server: &Server, wasm: &str) -> std::process::Output {
    server.ferry(&["plugin", "publish", wasm])
}

fn train(server: &Server, dir: &Path) -> std::process::Output {
    server.ferry(&[
        "train",
        dir.join("pipeline.toml").to_str().unwrap(),
        "--json",
    ])
}

/// The churn pipeline with one more transform after the example's three.
fn churn_with(transform: &str) -> tempfile::TempDir {
    let transform = transform.to_string();
    churn_copy(move |text| {
        text.replace(
            "[model]",
            &format!("[[transforms]]\n{transform}\n\n[model]"),
        )
    })
}

/// The first `ROWS` data rows of the churn example, as a CSV file.
fn first_rows(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_root().join("examples/churn/customers.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(ROWS + 1).collect();
    let path = dir.join("first.csv");
    std::fs::write(&path, head.join("\n") + "\n").unwrap();
    path
}

fn read_csv(path: &Path) -> Batch {
    CsvReader::open(path, 100_000).unwrap().read_all().unwrap()
}

fn column<'a>(batch: &'a Batch, name: &str) -> &'a Column {
    batch
        .columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// A cell as comparable bits: floats by their bits, integers widened (CSV reads a float column
/// of whole numbers back as integers).
fn bits(c: &Column, row: usize) -> Option<u64> {
    if c.nulls.as_ref().is_some_and(|n| n[row]) {
        return None;
    }
    Some(match &c.data {
        ColumnData::Float64(v) => v[row].to_bits(),
        ColumnData::Int64(v) => (v[row] as f64).to_bits(),
        ColumnData::Boolean(v) => u64::from(v[row]),
        ColumnData::Text(_) => panic!("{} is text", c.name),
    })
}

/// Trains `dir`'s pipeline on a fresh server and checks that, for the first 1,000 rows of the
/// data, the features the run computed, `ferry transform --model` run twice, and online
/// requests one row at a time are bit-identical in every model feature.
async fn assert_parity(dir: &Path) {
    let server = Server::start(&[]);
    let o = publish(&server, guests::GUEST_WORLD);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = train(&server, dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let outcome: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = outcome["run_id"].as_str().unwrap();
    let version = outcome["model_version"]["version"].as_i64().unwrap();

    // What training computed.
    let work = tempfile::tempdir().unwrap();
    let trained_csv = work.path().join("trained.csv");
    let o = server.ferry(&[
        "runs",
        "download",
        run,
        "features/sample.csv",
        "--out",
        trained_csv.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let trained = read_csv(&trained_csv);
    assert_eq!(trained.num_rows as usize, ROWS);
    let file_rows = column(&trained, "row");
    assert_eq!(
        file_rows.data,
        ColumnData::Int64((0..ROWS as i64).collect()),
        "the sample holds the first rows of the file, in order"
    );

    // Batch, twice.
    let input = first_rows(work.path());
    let model = format!("churn@{version}");
    let mut batches = Vec::new();
    for i in 0..2 {
        let out = work.path().join(format!("batch{i}.csv"));
        let o = server.ferry(&[
            "transform",
            "--model",
            &model,
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        batches.push(read_csv(&out));
    }
    assert_eq!(
        std::fs::read(work.path().join("batch0.csv")).unwrap(),
        std::fs::read(work.path().join("batch1.csv")).unwrap(),
        "two batch runs differ"
    );
    let features: Vec<String> = batches[0].columns.iter().map(|c| c.name.clone()).collect();
    assert!(features.len() >= 7, "{features:?}");

    // Online, one row per request.
    let raw = read_csv(&input);
    let rows = batch_to_rows(&raw);
    let client = Server::http();
    let url = format!(
        "{}/v1/models/churn/{version}/predict?features=true",
        server.url
    );
    let mut online = Vec::with_capacity(ROWS);
    for (i, row) in rows.iter().enumerate() {
        let r = client
            .post(&url)
            .json(&json!({ "rows": [row] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "row {i}");
        let body: Value = r.json().await.unwrap();
        online.push(body["features"][0].clone());
    }

    let mut compared = 0;
    for name in &features {
        let (t, b) = (column(&trained, name), column(&batches[0], name));
        for (row, answer) in online.iter().enumerate() {
            let served = answer[name.as_str()].as_f64().map(f64::to_bits);
            assert_eq!(
                bits(t, row),
                bits(b, row),
                "row {row} `{name}`: training and batch differ"
            );
            assert_eq!(
                bits(t, row),
                served,
                "row {row} `{name}`: training and online differ ({})",
                answer[name.as_str()]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, ROWS * features.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn training_batch_and_online_features_are_bit_identical() {
    assert_parity(churn_copy(|t| t).path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_reading_the_clock_and_random_bytes_gives_bit_identical_features() {
    // `world` writes the wall clock, the monotonic clock and a salt drawn from the random
    // source when its transformer is built: all fixed in Ferry's world.
    let dir = churn_with("plugin = \"world@^0.1\"\nconfig = {}");
    assert_parity(dir.path()).await;
}

/// What Ferry says of a plugin that draws while it computes a batch.
const DREW: &str = "drew random bytes while computing a batch";

#[test]
fn a_plugin_drawing_random_numbers_while_it_computes_is_refused_at_publish() {
    let server = Server::start(&[]);
    let o = publish(&server, guests::GUEST_RANDOM);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let said = text(&o);
    for part in [
        "plugin `random` 0.1.0 (transform, `transformer.apply`)",
        DREW,
    ] {
        assert!(said.contains(part), "{part:?} missing from: {said}");
    }
    let o = server.ferry(&["plugin", "info", "random"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "nothing was published: {}",
        text(&o)
    );
}

/// The careless plugin the purity check once let through: noise drawn on every row, shown on
/// 4 rows of 2,000. The draw itself is refused, by the conformance kit and at publish.
#[test]
fn noise_drawn_on_every_row_and_rarely_shown_is_refused_by_the_kit_and_at_publish() {
    let server = Server::start(&[]);
    for args in [
        vec!["plugin", "test", guests::GUEST_RARE_NOISE],
        vec!["plugin", "publish", guests::GUEST_RARE_NOISE],
    ] {
        let o = server.ferry(&args);
        assert_ne!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        let said = text(&o);
        for part in ["`rare-noise` 0.1.0", "transformer.apply", DREW] {
            assert!(
                said.contains(part),
                "{args:?}: {part:?} missing from: {said}"
            );
        }
    }
    let o = server.ferry(&["plugin", "info", "rare-noise"]);
    assert_ne!(o.status.code(), Some(0), "nothing was published");
}

/// A registry may hold such a plugin from before the rule (stored here directly, as an older
/// Ferry published it): `ferry train` refuses it, naming it and the call, over the whole
/// training split, and registers nothing.
#[tokio::test(flavor = "multi_thread")]
async fn noise_drawn_on_every_row_is_refused_at_train() {
    let server = Server::start(&[]);
    let bytes = std::fs::read(guests::GUEST_RARE_NOISE).unwrap();
    let plugin = runtime()
        .load("rare-noise", &bytes, &LoadOptions::default())
        .await
        .unwrap();
    let registry = ferry_registry::Registry::open(server.data.path(), None)
        .await
        .unwrap();
    registry
        .publish(ferry_kit::publish::new_version(&plugin, None), &bytes)
        .await
        .unwrap();
    let dir = churn_with(
        "plugin = \"rare-noise@^0.1\"\nconfig = { column = \"monthly_charges\", threshold = 119.64 }",
    );
    let o = train(&server, dir.path());
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let said = text(&o);
    for part in [
        "plugin `rare-noise` 0.1.0 (transform, `transformer.apply`)",
        DREW,
    ] {
        assert!(said.contains(part), "{part:?} missing from: {said}");
    }
    let o = server.ferry(&["models", "show", "churn"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "nothing was registered: {}",
        text(&o)
    );
}

/// A draw that training never met (the validator draws only for one customer, who is not in
/// the data) traps when serving meets it: the request fails, naming the plugin and the call,
/// and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn a_draw_met_first_in_serving_traps() {
    let server = Server::start(&[]);
    let version = server.train_hostile_churn();
    let predict = |customer: &str| {
        let body = json!({"rows": [{
            "customer_id": customer, "tenure_months": 12, "monthly_charges": 46.05,
            "total_charges": 47.14, "contract": "one-year", "support_calls": 1,
            "paperless_billing": false
        }]});
        let url = format!("{}/v1/models/churn/{version}/predict", server.url);
        async move {
            let r = Server::http().post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = predict(ferry_tests::server::hostile::RANDOM).await;
    assert_eq!(status, 500, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for part in ["plugin `hostile` 0.1.0 (validator, `validate`)", DREW] {
        assert!(message.contains(part), "{part:?} missing from: {body}");
    }
    let (status, body) = predict("C00001").await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_plugin_counting_its_calls_is_refused_at_train() {
    let server = Server::start(&[]);
    // Honest by default, so it passes the check at publish.
    let o = publish(&server, guests::GUEST_STATEFUL);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = churn_with("plugin = \"stateful@^0.1\"\nconfig = { mode = \"count\" }");
    let o = train(&server, dir.path());
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let said = text(&o);
    for part in [
        "plugin `stateful` 0.1.0 (transform, `purity check`)",
        "the same batch twice in one instance gave different output in column `stateful`, row 0:",
    ] {
        assert!(said.contains(part), "{part:?} missing from: {said}");
    }
    // Nothing was registered.
    let o = server.ferry(&["models", "show", "churn"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_plugin_looking_at_the_other_rows_is_refused_at_train() {
    let server = Server::start(&[]);
    let o = publish(&server, guests::GUEST_STATEFUL);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = churn_with(
        "plugin = \"stateful@^0.1\"\nconfig = { mode = \"center\", column = \"tenure_months\" }",
    );
    let o = train(&server, dir.path());
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(
            "the batch whole and row by row gave different output in column `stateful`, row 0:"
        ),
        "{said}"
    );
}

async fn stateful_steps(mode: &str) -> Steps {
    let plugin = runtime()
        .load_file(Path::new(guests::GUEST_STATEFUL), &LoadOptions::default())
        .await
        .unwrap();
    Steps {
        label: "y".into(),
        input: vec![Field {
            name: "x".into(),
            data_type: DataType::Float64,
            nullable: false,
        }],
        validators: Vec::new(),
        transforms: vec![LearnedTransform {
            step: TransformStep {
                plugin,
                config: json!({ "mode": mode }).to_string(),
                reads: None,
            },
            state: Vec::new().into(),
        }],
        model: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_state_never_reaches_another_call() {
    // The engine itself, with a plugin that counts its calls (which the purity check would
    // refuse): every call runs in an instance of its own, so the count is always 1.
    let steps = std::sync::Arc::new(stateful_steps("count").await);
    assert!(
        steps.transforms[0].step.plugin.uses_snapshots(),
        "every call starts from the snapshot taken after `prepare`"
    );
    let rows = rows_to_batch(&[json!({"x": 1.5})], &steps.input, &[]).unwrap();
    for _ in 0..20 {
        let set = steps.prepare().await.unwrap();
        let out = steps.transform(set, &rows).await.unwrap();
        assert_eq!(
            column(&out, "stateful").data,
            ColumnData::Float64(vec![1.0])
        );
    }
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (steps, rows) = (steps.clone(), rows.clone());
        tasks.push(tokio::spawn(async move {
            let set = steps.prepare().await.unwrap();
            steps.transform(set, &rows).await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(
            column(&t.await.unwrap(), "stateful").data,
            ColumnData::Float64(vec![1.0])
        );
    }
}
