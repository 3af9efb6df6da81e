//! The parity proof: 100,000 rows through batch `ferry transform --model` and through
//! single-row online requests give bit-identical features and predictions.

use std::fmt::Write;
use std::sync::Arc;

use ferry_core::data::{CsvReader, batch_to_rows};
use ferry_runtime::bindings::types::{Batch, ColumnData};
use ferry_tests::repo_root;
use ferry_tests::server::{Server, text};
use serde_json::{Value, json};

const ROWS: usize = 100_000;

/// `rows` customers: the example's 2,000, varied on each pass so no two rows are alike.
pub(crate) fn big_csv(path: &std::path::Path, rows_wanted: usize) {
    let base = CsvReader::open(&repo_root().join("examples/churn/customers.csv"), 10_000)
        .unwrap()
        .read_all()
        .unwrap();
    let rows = batch_to_rows(&base);
    let mut out = String::from(
        "customer_id,tenure_months,monthly_charges,total_charges,contract,support_calls,paperless_billing,churned\n",
    );
    for i in 0..rows_wanted {
        let r = &rows[i % rows.len()];
        let pass = (i / rows.len()) as f64;
        let monthly = r["monthly_charges"].as_f64().unwrap() + pass * 0.37;
        let total = match r["total_charges"].as_f64() {
            Some(t) => format!("{}", t * (1.0 + pass * 0.001)),
            None => String::new(),
        };
        writeln!(
            out,
            "C{i:05},{},{monthly},{total},{},{},{},{}",
            r["tenure_months"],
            r["contract"].as_str().unwrap(),
            r["support_calls"],
            r["paperless_billing"],
            r["churned"].as_str().unwrap()
        )
        .unwrap();
    }
    std::fs::write(path, out).unwrap();
}

fn f64_column<'a>(batch: &'a Batch, name: &str) -> &'a [f64] {
    match &batch.columns.iter().find(|c| c.name == name).unwrap().data {
        ColumnData::Float64(v) => v,
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_and_online_features_and_predictions_are_bit_identical() {
    let server = Server::start(&[]);
    let o = server.ferry(&[
        "train",
        &repo_root()
            .join("examples/churn/pipeline.toml")
            .display()
            .to_string(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.csv");
    big_csv(&data, ROWS);

    // Batch.
    let out = dir.path().join("batch.csv");
    let o = server.ferry(&[
        "transform",
        "--model",
        "churn@1",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--predictions",
        "--keep",
        "customer_id",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let batch = CsvReader::open(&out, 200_000).unwrap().read_all().unwrap();
    assert_eq!(batch.num_rows as usize, ROWS);
    let features: Vec<String> = batch
        .columns
        .iter()
        .map(|c| c.name.clone())
        .filter(|n| n != "customer_id" && n != "prediction")
        .collect();
    assert_eq!(features.len(), 8, "{features:?}");
    let predictions: Vec<String> = match &batch
        .columns
        .iter()
        .find(|c| c.name == "prediction")
        .unwrap()
        .data
    {
        ColumnData::Text(v) => v.clone(),
        other => panic!("{other:?}"),
    };

    // Online: one request per row, eight clients at a time.
    let input = CsvReader::open(&data, 200_000).unwrap().read_all().unwrap();
    let rows = Arc::new(batch_to_rows(&input));
    let url = Arc::new(format!(
        "{}/v1/models/churn/1/predict?features=true",
        server.url
    ));
    let client = Server::http();
    let workers = 8;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (rows, url, client) = (rows.clone(), url.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in (w..ROWS).step_by(workers) {
                let r = client
                    .post(url.as_str())
                    .json(&json!({ "rows": [rows[i]] }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200, "row {i}");
                let body: Value = r.json().await.unwrap();
                answers.push((i, body));
            }
            answers
        }));
    }
    let mut online: Vec<Option<Value>> = vec![None; ROWS];
    for t in tasks {
        for (i, body) in t.await.unwrap() {
            online[i] = Some(body);
        }
    }

    let columns: Vec<(&String, &[f64])> = features
        .iter()
        .map(|f| (f, f64_column(&batch, f)))
        .collect();
    let mut compared = 0;
    for (i, answer) in online.iter().enumerate() {
        let answer = answer.as_ref().unwrap();
        let features_online = &answer["features"][0];
        let prediction_online = &answer["predictions"][0];
        for (name, values) in &columns {
            let got = if name.as_str() == "probability" {
                &prediction_online[name.as_str()]
            } else {
                &features_online[name.as_str()]
            };
            let got = got
                .as_f64()
                .unwrap_or_else(|| panic!("row {i} {name}: {got}"));
            assert_eq!(
                got.to_bits(),
                values[i].to_bits(),
                "row {i} column {name}: online {got} batch {}",
                values[i]
            );
            compared += 1;
        }
        assert_eq!(
            prediction_online["prediction"].as_str(),
            Some(predictions[i].as_str()),
            "row {i}"
        );
    }
    assert_eq!(compared, ROWS * 8);
}
