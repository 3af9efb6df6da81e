//! `ferry edge` on a bundle from the `edge-bundle` deployer, with no registry, database or
//! network: its predictions on 10,000 rows are bit-identical to `ferry serve`'s for the same
//! version, and a bundle that differs in any way (truncated, a changed component or state, a
//! wrong signature, an untrusted or missing one) is refused with exit code 9, naming what
//! differs.

#[path = "../../../bundle/tests/common/tamper.rs"]
mod tamper;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry_tests::server::{Server, ok_json as ok, spawn_listening, text};
use ferry_tests::{ferry_bin, repo_root};
use serde_json::{Map, Value, json};
use tamper::{Entries, entries, repack};

/// A signed bundle of version 1 of the churn model, and the key that signed it.
struct Published {
    server: Server,
    dir: tempfile::TempDir,
    bundle: PathBuf,
    key: String,
    unsigned: PathBuf,
}

fn publish() -> Published {
    let server = Server::start(&[]);
    assert_eq!(server.train_churn(|t| t), 1);
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(&deployer, &["create", "churn", "--model", "churn@1"]));
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    ok(server.ferry(&[
        "key",
        "generate",
        "--out",
        keys.join("acme").to_str().unwrap(),
    ]));
    let key = std::fs::read_to_string(keys.join("acme.pub"))
        .unwrap()
        .trim()
        .to_string();
    let config = dir.path().join("edge.json");
    std::fs::write(&config, r#"{"sign_with": "acme.key"}"#).unwrap();
    let apply = |out: &Path, config: Option<&Path>| {
        std::fs::create_dir_all(out).unwrap();
        let grant = format!("/deploy={}", out.display());
        let keys = format!("/keys={}:ro", keys.display());
        let mut args = vec![
            "target",
            "churn",
            "--plugin",
            "edge-bundle",
            "--allow-dir",
            &grant,
        ];
        let config = config.map(|c| c.display().to_string());
        if let Some(c) = &config {
            args.extend_from_slice(&["--allow-dir", &keys, "--config", c]);
        }
        ok(server.deploy(&deployer, &args));
        out.join("churn/churn.ferry")
    };
    let bundle = apply(&dir.path().join("signed"), Some(&config));
    let unsigned = apply(&dir.path().join("unsigned"), None);
    Published {
        server,
        dir,
        bundle,
        key,
        unsigned,
    }
}

/// `ferry edge ARGS` with no data folder, database or registry to fall back on.
fn edge(args: &[&str]) -> Output {
    edge_with(Command::new(ferry_bin()).arg("edge"), args)
}

/// `ferry-edge ARGS`, the edge binary built from the `ferry-edge` crate alone, likewise.
fn edge_binary(args: &[&str]) -> Output {
    let bin = ferry_bin().with_file_name("ferry-edge");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin ferry-edge` (`cargo test --workspace` builds it)",
        bin.display()
    );
    edge_with(&mut Command::new(bin), args)
}

fn edge_with(command: &mut Command, args: &[&str]) -> Output {
    let nowhere = tempfile::tempdir().unwrap();
    command
        .args(args)
        .env("FERRY_DATA_DIR", nowhere.path().join("no-such-folder"))
        .env("FERRY_DATABASE_URL", "postgres://127.0.0.1:1/nothing")
        .env("FERRY_REGISTRY", "http://127.0.0.1:1")
        .env("FERRY_CACHE_DIR", nowhere.path().join("cache"))
        .output()
        .unwrap()
}

/// The churn customers five times over, with new ids: 10,000 rows.
fn ten_thousand_rows(path: &Path) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(repo_root().join("examples/churn/customers.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let body: Vec<&str> = lines.collect();
    let mut csv = format!("{}\n", header.join(","));
    let mut rows = Vec::new();
    for copy in 0..5 {
        for (n, line) in body.iter().enumerate() {
            let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
            fields[0] = format!("C{copy}{n:04}");
            csv.push_str(&fields.join(","));
            csv.push('\n');
            let mut row = Map::new();
            for (name, value) in header.iter().zip(&fields) {
                if *name == "churned" {
                    continue;
                }
                let v = match (*name, value.as_str()) {
                    (_, "") => Value::Null,
                    ("tenure_months" | "support_calls", v) => json!(v.parse::<i64>().unwrap()),
                    ("monthly_charges" | "total_charges", v) => json!(v.parse::<f64>().unwrap()),
                    ("paperless_billing", v) => json!(v == "true"),
                    (_, v) => json!(v),
                };
                row.insert(name.to_string(), v);
            }
            rows.push(row);
        }
    }
    std::fs::write(path, csv).unwrap();
    assert_eq!(rows.len(), 10_000);
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_predicts_bit_identically_to_ferry_serve_with_nothing_behind_it() {
    let p = publish();
    let verified = ok(edge(&[
        "verify",
        p.bundle.to_str().unwrap(),
        "--trust-key",
        &p.key,
        "--json",
    ]));
    assert_eq!(
        (
            &verified["model"],
            &verified["version"],
            &verified["signed_by"]
        ),
        (&json!("churn"), &json!("1"), &json!(p.key))
    );

    let data = p.dir.path().join("rows.csv");
    let rows = ten_thousand_rows(&data);
    let out = p.dir.path().join("predictions.csv");
    let o = edge(&[
        "predict",
        p.bundle.to_str().unwrap(),
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--keep",
        "customer_id",
        "--trust-key",
        &p.key,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written = std::fs::read_to_string(&out).unwrap();

    let from_edge_binary = p.dir.path().join("predictions-edge-binary.csv");
    let o = edge_binary(&[
        "predict",
        p.bundle.to_str().unwrap(),
        data.to_str().unwrap(),
        "--out",
        from_edge_binary.to_str().unwrap(),
        "--keep",
        "customer_id",
        "--trust-key",
        &p.key,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        std::fs::read_to_string(&from_edge_binary).unwrap() == written,
        "`ferry-edge predict` and `ferry edge predict` wrote different predictions"
    );
    let o = edge_binary(&[
        "predict",
        p.bundle.to_str().unwrap(),
        data.to_str().unwrap(),
        "--out",
        from_edge_binary.to_str().unwrap(),
        "--keep",
        "customer_id",
        "--trust-key",
        &p.key,
        "--workers",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        std::fs::read_to_string(&from_edge_binary).unwrap() == written,
        "one worker and one per core wrote different predictions"
    );
    let verified_by_edge_binary = ok(edge_binary(&[
        "verify",
        p.bundle.to_str().unwrap(),
        "--trust-key",
        &p.key,
        "--json",
    ]));
    assert_eq!(verified_by_edge_binary, verified);
    let mut lines = written.lines();
    assert_eq!(
        lines.next(),
        Some("customer_id,probability,prediction"),
        "the kept id, then the model's outputs"
    );
    let edge_rows: Vec<(String, String, f64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].to_string(), f[1].parse().unwrap())
        })
        .collect();
    assert_eq!(edge_rows.len(), 10_000);

    let client = Server::http();
    let mut compared = 0;
    for (chunk_no, chunk) in rows.chunks(1000).enumerate() {
        let r = client
            .post(format!("{}/v1/models/churn/1/predict", p.server.url))
            .json(&json!({ "rows": chunk }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        for (i, served) in body["predictions"].as_array().unwrap().iter().enumerate() {
            let (id, prediction, probability) = &edge_rows[chunk_no * 1000 + i];
            assert_eq!(id, chunk[i]["customer_id"].as_str().unwrap());
            assert_eq!(prediction, served["prediction"].as_str().unwrap(), "{id}");
            assert_eq!(
                probability.to_bits(),
                served["probability"].as_f64().unwrap().to_bits(),
                "{id}: the bundle and the server differ"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 10_000);

    // `ferry edge run` answers the model endpoint's bodies with the same predictions.
    let mut command = Command::new(ferry_bin());
    command
        .args([
            "edge",
            "run",
            p.bundle.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .args(["--trust-key", &p.key])
        .env("FERRY_DATA_DIR", p.dir.path().join("no-such-folder"))
        .env("FERRY_DATABASE_URL", "postgres://127.0.0.1:1/nothing");
    let (mut child, url) = spawn_listening(
        &mut command,
        "ferry edge serving on ",
        std::process::Stdio::null(),
    );
    let r = client
        .post(format!("{url}/v1/predict"))
        .json(&json!({ "rows": &rows[..500] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["model"], &body["version"]),
        (&json!("churn"), &json!("1"))
    );
    for (i, served) in body["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            served["probability"].as_f64().unwrap().to_bits(),
            edge_rows[i].2.to_bits()
        );
    }
    let bundle: Value = client
        .get(format!("{url}/v1/bundle"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["signed_by"], json!(p.key));
    let mut bad = rows[0].clone();
    bad.insert("tenure_months".into(), json!("a year"));
    let r = client
        .post(format!("{url}/v1/predict"))
        .json(&json!({ "rows": [bad] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("tenure_months"), "{body}");
    let r = client
        .post(format!("{url}/v1/predict"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = client.get(format!("{url}/v1/ready")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "still serving");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_bundle_that_differs_is_refused_with_exit_9_naming_what_differs() {
    let p = publish();
    let good = std::fs::read(&p.bundle).unwrap();
    let data = repo_root().join("examples/churn/customers.csv");
    let out = p.dir.path().join("out.csv");
    let try_bundle = |name: &str, bytes: &[u8], trust: &[&str]| {
        let path = p.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut args = vec![
            "predict",
            path.to_str().unwrap(),
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(trust);
        edge(&args)
    };
    let trusted = ["--trust-key", p.key.as_str()];
    let refused = |name: &str, bytes: &[u8], trust: &[&str], expected: &str| {
        let o = try_bundle(name, bytes, trust);
        assert_eq!(o.status.code(), Some(9), "{name}: {}", text(&o));
        assert!(text(&o).contains(expected), "{name}: {}", text(&o));
        assert!(!out.exists(), "{name}: nothing was predicted");
    };
    let entries_of = |f: &dyn Fn(&mut Entries)| {
        let mut e = entries(&good);
        f(&mut e);
        repack(&e)
    };
    let position = |prefix: &str| {
        entries(&good)
            .iter()
            .position(|(p, _)| p.starts_with(prefix))
            .unwrap()
    };

    refused(
        "truncated.ferry",
        &good[..good.len() / 2],
        &trusted,
        "damaged or truncated",
    );
    let wasm = position("plugins/");
    let component = entries(&good)[wasm].0.clone();
    let changed = entries_of(&|e| {
        let n = e[wasm].1.len() / 2;
        e[wasm].1[n] ^= 0x01;
    });
    refused("component.ferry", &changed, &trusted, &component);
    let state = position("states/");
    let state_name = entries(&good)[state].0.clone();
    let changed = entries_of(&|e| {
        let last = e[state].1.len() - 1;
        e[state].1[last] ^= 0x01;
    });
    refused("state.ferry", &changed, &trusted, &state_name);
    let other = entries(&std::fs::read(&p.unsigned).unwrap());
    assert_eq!(
        other[1].0, "lineage.json",
        "the unsigned bundle has no signature entry"
    );
    let forged = entries_of(&|e| {
        let mut sig: Value = serde_json::from_slice(&e[1].1).unwrap();
        let mut s = sig["signature"].as_str().unwrap().to_string();
        s.replace_range(0..2, if &s[0..2] == "00" { "11" } else { "00" });
        sig["signature"] = json!(s);
        e[1].1 = serde_json::to_vec(&sig).unwrap();
    });
    refused("forged.ferry", &forged, &trusted, "does not match");
    let stranger = "ed25519:0000000000000000000000000000000000000000000000000000000000000000";
    refused(
        "untrusted.ferry",
        &good,
        &["--trust-key", stranger],
        "not among the trusted keys",
    );
    refused("no-policy.ferry", &good, &[], "not among the trusted keys");
    let unsigned = std::fs::read(&p.unsigned).unwrap();
    refused("unsigned.ferry", &unsigned, &trusted, "unsigned");

    // The untampered bundle serves; an unsigned one serves only when allowed.
    let o = try_bundle("good.ferry", &good, &trusted);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::remove_file(&out).unwrap();
    let o = try_bundle("unsigned-allowed.ferry", &unsigned, &["--allow-unsigned"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
