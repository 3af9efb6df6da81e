//! The trust policy holds on every path that loads a plugin from a registry: `ferry train`
//! (plugins resolved by range), `ferry transform --model` and `ferry serve` (plugins pinned by
//! a lineage). A plugin without a signature by a trusted key is refused, named with its digest;
//! signed, the same pipeline trains, scores and serves.

use std::path::Path;

use ferry_tests::server::{Server, text};
use ferry_tests::{churn_copy, repo_root};
use serde_json::{Value, json};

fn key(dir: &Path, name: &str) -> String {
    ferry_tests::signing_key(dir, name)
}

fn policy(dir: &Path, name: &str, namespace: &str, key: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("[[require]]\nnamespace = \"{namespace}\"\nkeys = [\"{key}\"]\n"),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_registry_load_path_holds_plugins_to_the_trust_policy() {
    let work = tempfile::tempdir().unwrap();
    let acme = key(work.path(), "acme");
    let other = key(work.path(), "other");
    let acme_only = policy(work.path(), "acme.toml", "standard-*", &acme);
    let other_only = policy(work.path(), "other.toml", "standard-*", &other);
    let server = Server::start(&[]);
    let dir = churn_copy(|t| t);
    let pipeline = dir.path().join("pipeline.toml");
    let pipeline = pipeline.to_str().unwrap();

    // train: the built-in standard-scaler carries no signature.
    let o = server.ferry(&["train", pipeline, "--trust", &acme_only]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("untrusted plugin standard-scaler@0.1.3 (sha256:")
            && said.contains(
                "needs a signature by one of the keys trusted for `standard-*`, and has none"
            ),
        "{said}"
    );

    // Sign the registry's standard-scaler with acme's key: the same bytes, published again.
    let wasm = work.path().join("standard-scaler.wasm");
    std::fs::write(&wasm, ferry_builtins::bytes("standard-scaler").unwrap()).unwrap();
    let o = server.ferry(&[
        "plugin",
        "publish",
        wasm.to_str().unwrap(),
        "--sign-key",
        work.path().join("acme.key").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = server.ferry(&["train", pipeline, "--trust", &acme_only, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let version = serde_json::from_slice::<Value>(&o.stdout).unwrap()["model_version"]["version"]
        .as_i64()
        .unwrap();
    let model = format!("churn@{version}");

    // transform --model: pinned plugins are held to the policy too.
    let data = repo_root().join("examples/churn/customers.csv");
    let out = work.path().join("out.csv");
    let score = |trust: &str| {
        server.ferry(&[
            "transform",
            "--model",
            &model,
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--trust",
            trust,
        ])
    };
    let o = score(&other_only);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("untrusted plugin standard-scaler@0.1.3 (sha256:")
            && text(&o).contains("has ed25519:"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
    let o = score(&acme_only);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // serve: a version whose plugins the policy does not trust is refused (409), others serve.
    let mut data_dir = server.kill();
    let row = json!({"rows": [{"customer_id": "C09999", "tenure_months": 2, "monthly_charges": 95.5,
        "total_charges": 190.2, "contract": "month-to-month", "support_calls": 4, "paperless_billing": true}]});
    for (trust, status) in [(&other_only, 409), (&acme_only, 200)] {
        let s = Server::start_in(data_dir, &["--trust", trust]);
        let r = Server::http()
            .post(format!("{}/v1/models/churn/{version}/predict", s.url))
            .json(&row)
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(code, status, "{trust}: {body}");
        if status == 409 {
            assert_eq!(body["error"]["code"], "untrusted_plugin", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("untrusted plugin standard-scaler@0.1.3"),
                "{body}"
            );
        }
        data_dir = s.kill();
    }

    // A deployer packages only what would serve: the edge bundle of a version whose plugins
    // the policy does not trust is refused before anything is written.
    let ferry = |args: &[&str]| {
        std::process::Command::new(ferry_tests::ferry_bin())
            .args(args)
            .env("FERRY_DATA_DIR", data_dir.path())
            .env("FERRY_CACHE_DIR", ferry_tests::component_cache())
            .env_remove("FERRY_REGISTRY")
            .env_remove("FERRY_DATABASE_URL")
            .output()
            .unwrap()
    };
    let o = ferry(&["deploy", "create", "churn", "--model", &model]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = tempfile::tempdir().unwrap();
    let grant = format!("/deploy={}", out.path().display());
    let bundle = |trust: &str| {
        ferry(&[
            "deploy",
            "target",
            "churn",
            "--plugin",
            "edge-bundle",
            "--allow-dir",
            &grant,
            "--trust",
            trust,
        ])
    };
    let o = bundle(&other_only);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("untrusted plugin standard-scaler@0.1.3 (sha256:"),
        "{}",
        text(&o)
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing was written"
    );
    let o = bundle(&acme_only);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.path().join("churn/churn.ferry").exists());
}

#[test]
fn a_key_is_generated_into_a_folder_that_does_not_exist_yet() {
    let work = tempfile::tempdir().unwrap();
    let id = key(work.path(), "keys/acme");
    assert!(id.starts_with("ed25519:"), "{id}");
    assert!(work.path().join("keys/acme.key").exists());
    assert!(work.path().join("keys/acme.pub").exists());
}
