//! `ferry serve` end to end: publish a plugin built from source with the CLI, install it from
//! another folder through `--registry`, run it; and bad input over HTTP, each refused with a
//! clear 4xx, nothing written, and the refusal in the audit log.

use std::path::Path;
use std::process::{Command, Output};

use ferry_tests::server::{PgDatabase, Server, text};

/// `ferry` as a client of a remote registry, from a folder of its own.
fn client(args: &[&str], cwd: &Path) -> Output {
    Command::new(ferry_tests::ferry_bin())
        .args(args)
        .current_dir(cwd)
        .env("FERRY_DATA_DIR", cwd.join("local-data"))
        .env("FERRY_CACHE_DIR", ferry_tests::component_cache())
        .env_remove("FERRY_REGISTRY")
        .env_remove("FERRY_TOKEN")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_with_the_cli_install_elsewhere_and_run() {
    end_to_end(Server::start(&[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_install_and_run_on_postgresql() {
    let db = PgDatabase::create();
    let server = Server::start(&["--database-url", &db.url()]);
    end_to_end(server).await;
}

async fn end_to_end(server: Server) {
    let alice = server.token("alice", "publisher");
    let elsewhere = tempfile::tempdir().unwrap();
    let ratio = ferry_tests::guests::RATIO;

    let o = client(
        &[
            "plugin",
            "publish",
            ratio,
            "--registry",
            &server.url,
            "--token",
            &alice,
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("published ratio 0.1.0"), "{}", text(&o));

    let o = client(
        &[
            "plugin",
            "search",
            "divides",
            "--registry",
            &server.url,
            "--json",
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let found: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(found[0]["latest"]["name"], "ratio");

    let project = elsewhere.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let p = project.to_str().unwrap();
    let o = client(
        &[
            "plugin",
            "install",
            "ratio@^0.1",
            "--project",
            p,
            "--registry",
            &server.url,
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let installed = project.join(".ferry/plugins/ratio-0.1.0.wasm");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(ratio).unwrap()
    );
    std::fs::remove_dir_all(project.join(".ferry")).unwrap();
    let o = client(
        &[
            "plugin",
            "install",
            "--locked",
            "--project",
            p,
            "--registry",
            &server.url,
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let data = elsewhere.path().join("d.csv");
    std::fs::write(&data, "total,months\n10,2\n9,3\n").unwrap();
    let config = elsewhere.path().join("c.json");
    std::fs::write(
        &config,
        r#"{"numerator":"total","denominator":"months","output":"per_month"}"#,
    )
    .unwrap();
    let state = elsewhere.path().join("s");
    let out = elsewhere.path().join("out.csv");
    let plugin = installed.to_str().unwrap();
    let o = client(
        &[
            "transform",
            "fit",
            "--plugin",
            plugin,
            "--config",
            config.to_str().unwrap(),
            data.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = client(
        &[
            "transform",
            "apply",
            "--plugin",
            plugin,
            "--config",
            config.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(std::fs::read_to_string(&out).unwrap().contains("10,2,5.0"));

    // Remote yank by the owner; then ranges skip it.
    let o = client(
        &[
            "plugin",
            "yank",
            "ratio@0.1.0",
            "--registry",
            &server.url,
            "--token",
            &alice,
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = client(
        &[
            "plugin",
            "install",
            "ratio",
            "--project",
            p,
            "--registry",
            &server.url,
        ],
        elsewhere.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_over_http_is_refused_and_audited() {
    bad_input(Server::start(&[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_over_http_on_postgresql() {
    let db = PgDatabase::create();
    let server = Server::start(&["--database-url", &db.url()]);
    bad_input(server).await;
}

async fn bad_input(server: Server) {
    let http = Server::http();
    let alice = server.token("alice", "publisher");
    let bob = server.token("bob", "publisher");
    let reader = server.token("viewer", "reader");
    let ratio = std::fs::read(ferry_tests::guests::RATIO).unwrap();
    let before = server.plugin_count().await;
    let publish = |body: Vec<u8>, token: Option<&str>| {
        let mut req = http.post(format!("{}/v1/plugins", server.url)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let expect = |status: u16, code: &'static str| {
        move |resp: reqwest::Response| async move {
            assert_eq!(resp.status().as_u16(), status);
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{body}");
            assert!(body["error"]["message"].as_str().unwrap().len() > 5);
            body["error"]["message"].as_str().unwrap().to_string()
        }
    };

    // Without a valid token the body is never read: the server answers and closes, so these
    // send a body small enough to be sent whole before the answer comes.
    let m = expect(401, "unauthenticated")(publish(b"x".to_vec(), None).await.unwrap()).await;
    assert!(m.contains("Bearer"), "{m}");
    expect(401, "unauthenticated")(
        publish(b"x".to_vec(), Some("ferry_0000_wrong"))
            .await
            .unwrap(),
    )
    .await;
    expect(403, "forbidden")(publish(ratio.clone(), Some(&reader)).await.unwrap()).await;
    let m =
        expect(422, "invalid_plugin")(publish(b"garbage".to_vec(), Some(&alice)).await.unwrap())
            .await;
    assert!(m.contains("not a WebAssembly file"), "{m}");
    expect(422, "invalid_plugin")(
        publish(ratio[..ratio.len() / 2].to_vec(), Some(&alice))
            .await
            .unwrap(),
    )
    .await;
    let m = expect(422, "invalid_plugin")(
        publish(b"\0asm\x01\0\0\0".to_vec(), Some(&alice))
            .await
            .unwrap(),
    )
    .await;
    assert!(m.contains("core WebAssembly module"), "{m}");
    let m = expect(422, "invalid_plugin")(
        publish(
            std::fs::read(ferry_tests::guests::NOT_A_PLUGIN).unwrap(),
            Some(&alice),
        )
        .await
        .unwrap(),
    )
    .await;
    assert!(m.contains("not a Ferry plugin"), "{m}");
    // Refused by its declared length before a byte of it is read.
    let auth = format!("Bearer {alice}");
    let (status, answer) = ferry_tests::server::send_raw(
        server.url.trim_start_matches("http://"),
        "POST",
        "/v1/plugins",
        &[("authorization", auth.as_str())],
        (64 << 20) + 2,
        false,
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("too_large"), "{answer}");
    assert_eq!(
        server.plugin_count().await,
        before,
        "a refused publish wrote something"
    );

    // Alice publishes; Bob may neither publish over her package nor yank it.
    assert_eq!(
        publish(ratio.clone(), Some(&alice))
            .await
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        publish(ratio.clone(), Some(&alice))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let mut other = ratio.clone();
    other.extend_from_slice(&[0, 4, 3, b'x', b'y', b'z']);
    expect(409, "conflict")(publish(other, Some(&alice)).await.unwrap()).await;
    expect(403, "forbidden")(publish(ratio.clone(), Some(&bob)).await.unwrap()).await;
    let yank = |token: &str| {
        http.post(format!("{}/v1/plugins/ratio/0.1.0/yank", server.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"yanked": true}))
            .send()
    };
    let m = expect(403, "forbidden")(yank(&bob).await.unwrap()).await;
    assert!(m.contains("bob does not own ratio"), "{m}");
    assert_eq!(yank(&alice).await.unwrap().status().as_u16(), 200);

    // Bob may not make himself an owner; Alice may add him, and then he may yank.
    let add_owner = |token: &str| {
        http.post(format!("{}/v1/plugins/ratio/owners", server.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"owner": "bob"}))
            .send()
    };
    expect(403, "forbidden")(add_owner(&bob).await.unwrap()).await;
    let owners: serde_json::Value = add_owner(&alice).await.unwrap().json().await.unwrap();
    assert_eq!(owners["owners"], serde_json::json!(["alice", "bob"]));
    assert_eq!(yank(&bob).await.unwrap().status().as_u16(), 200);

    // Hostile or malformed paths and queries.
    let get = |path: &str| http.get(format!("{}{path}", server.url)).send();
    expect(400, "bad_request")(get("/v1/plugins/ratio/not-a-version").await.unwrap()).await;
    expect(404, "not_found")(get("/v1/plugins/..%2F..%2Fetc%2Fpasswd").await.unwrap()).await;
    expect(404, "not_found")(get("/v1/plugins/nope/1.0.0/download").await.unwrap()).await;
    expect(400, "invalid")(get("/v1/resolve?spec=ratio@%5Ebad").await.unwrap()).await;
    expect(404, "not_found")(get("/v1/no-such-endpoint").await.unwrap()).await;
    expect(401, "unauthenticated")(get("/v1/audit").await.unwrap()).await;

    // Download: digest as ETag; a matching If-None-Match gets 304.
    let resp = get("/v1/plugins/ratio/0.1.0/download").await.unwrap();
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(resp.bytes().await.unwrap().to_vec(), ratio);
    let again = http
        .get(format!("{}/v1/plugins/ratio/0.1.0/download", server.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    let docs = get("/docs").await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(
        docs.text()
            .await
            .unwrap()
            .contains("fetch('/openapi.json')")
    );
    let openapi: serde_json::Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert!(openapi["paths"]["/v1/plugins"]["post"].is_object());
    // The document is generated from the routes: every route is in it, each with its answers.
    for (path, method) in [
        ("/v1/plugins/{name}/owners", "post"),
        ("/v1/blobs/{digest}", "get"),
        ("/v1/runs/{id}/artifacts/{path}", "get"),
        ("/api/2.0/mlflow/runs/search", "post"),
        ("/api/2.0/mlflow/model-versions/search", "get"),
        ("/api/2.0/mlflow-artifacts/artifacts/{path}", "put"),
    ] {
        let op = &openapi["paths"][path][method];
        assert!(
            op["responses"].is_object(),
            "{method} {path} is not described"
        );
    }
    let operations: usize = openapi["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(operations >= 90, "{operations} operations described");

    let log = server.audit().await;
    // Refused by the handler, or before the body was read (no token, a bad one, too large).
    let denied = log
        .iter()
        .filter(|e| {
            (e["action"] == "plugin.publish"
                || (e["action"] == "http.post" && e["object"] == "/v1/plugins"))
                && e["outcome"] == "denied"
        })
        .count();
    assert!(denied >= 10, "{denied} refusals audited: {log:#?}");
    assert!(log.iter().any(|e| e["action"] == "plugin.yank"
        && e["actor"] == "token:bob"
        && e["outcome"] == "denied"));
    assert!(
        log.iter()
            .all(|e| !e["request_id"].as_str().unwrap().is_empty())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn public_mode_needs_a_token_to_read() {
    let server = Server::start(&["--public"]);
    let http = Server::http();
    let anonymous = http
        .get(format!("{}/v1/plugins", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let reader = server.token("viewer", "reader");
    let ok = http
        .get(format!("{}/v1/plugins", server.url))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let health = http
        .get(format!("{}/v1/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        http.get(format!("{}/v1/ready", server.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_during_a_large_publish_restarts_consistent() {
    use std::io::Write;
    let server = Server::start(&[]);
    let alice = server.token("alice", "publisher");
    let http = Server::http();
    let ratio = std::fs::read(ferry_tests::guests::RATIO).unwrap();
    let first = http
        .post(format!("{}/v1/plugins", server.url))
        .bearer_auth(&alice)
        .body(ratio.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let before = server.plugin_count().await;

    // Start a 48 MiB upload, send half of it, and kill the server mid-body.
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    let size = 48 << 20;
    write!(sock, "POST /v1/plugins HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {alice}\r\nContent-Length: {size}\r\n\r\n").unwrap();
    let mut body = ratio.clone();
    body.resize(size / 2, 0);
    sock.write_all(&body).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let data = server.kill();
    drop(sock);

    // Restarted on the same data folder: nothing partial is visible, and every version's
    // bytes are there and match their digest.
    let server = Server::start_in(data, &[]);
    assert_eq!(server.plugin_count().await, before);
    let found: Vec<serde_json::Value> = http
        .get(format!("{}/v1/plugins", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in &found {
        let name = p["latest"]["name"].as_str().unwrap();
        for v in p["versions"].as_array().unwrap() {
            let version = v[0].as_str().unwrap();
            let resp = http
                .get(format!(
                    "{}/v1/plugins/{name}/{version}/download",
                    server.url
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{name} {version}");
            let digest = resp.headers()["x-ferry-digest"]
                .to_str()
                .unwrap()
                .to_string();
            let bytes = resp.bytes().await.unwrap();
            use sha2::Digest;
            assert_eq!(
                digest,
                format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
            );
        }
    }
    let tmp = server.data.path().join("blobs/tmp");
    assert!(
        std::fs::read_dir(&tmp).unwrap().next().is_none(),
        "a partial blob was left in {}",
        tmp.display()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_plugins_and_trust_policies() {
    let server = Server::start(&[]);
    let alice = server.token("alice", "publisher");
    let work = tempfile::tempdir().unwrap();
    let keys = work.path();
    let o = client(
        &[
            "key",
            "generate",
            "--out",
            keys.join("acme").to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let acme = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(acme.starts_with("ed25519:"), "{acme}");
    let o = client(
        &[
            "key",
            "generate",
            "--out",
            keys.join("other").to_str().unwrap(),
        ],
        work.path(),
    );
    let other = String::from_utf8_lossy(&o.stdout).trim().to_string();
    // A key is never overwritten.
    let o = client(
        &[
            "key",
            "generate",
            "--out",
            keys.join("acme").to_str().unwrap(),
        ],
        work.path(),
    );
    assert_ne!(o.status.code(), Some(0));

    let key_file = keys.join("acme.key");
    let o = client(
        &[
            "plugin",
            "publish",
            ferry_tests::guests::RATIO,
            "--sign-key",
            key_file.to_str().unwrap(),
            "--registry",
            &server.url,
            "--token",
            &alice,
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("signed by {acme}")),
        "{}",
        text(&o)
    );
    let sigs: Vec<serde_json::Value> = Server::http()
        .get(format!("{}/v1/plugins/ratio/0.1.0/signatures", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0]["key"], acme.as_str());

    let project = work.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let p = project.to_str().unwrap();
    std::fs::write(
        project.join("ferry-trust.toml"),
        format!("[[require]]\nnamespace = \"rat*\"\nkeys = [\"{acme}\"]\n"),
    )
    .unwrap();
    let o = client(
        &[
            "plugin",
            "install",
            "ratio",
            "--project",
            p,
            "--registry",
            &server.url,
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Loading checks the signatures again, from the file install wrote beside the component.
    let installed = project.join(".ferry/plugins/ratio-0.1.0.wasm");
    assert!(
        project
            .join(".ferry/plugins/ratio-0.1.0.sigs.json")
            .exists()
    );
    let data = work.path().join("d.csv");
    std::fs::write(&data, "total,months\n10,2\n").unwrap();
    let config = work.path().join("c.json");
    std::fs::write(
        &config,
        r#"{"numerator":"total","denominator":"months","output":"per_month"}"#,
    )
    .unwrap();
    let fit = |trust: &Path| {
        let state = work.path().join("state");
        client(
            &[
                "transform",
                "fit",
                "--plugin",
                installed.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                data.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
                "--trust",
                trust.to_str().unwrap(),
            ],
            work.path(),
        )
    };
    let o = fit(&project.join("ferry-trust.toml"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let other_policy = work.path().join("other.toml");
    std::fs::write(
        &other_policy,
        format!("[[require]]\nnamespace = \"ratio\"\nkeys = [\"{other}\"]\n"),
    )
    .unwrap();
    let o = fit(&other_policy);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    std::fs::remove_file(project.join(".ferry/plugins/ratio-0.1.0.sigs.json")).unwrap();
    let o = fit(&project.join("ferry-trust.toml"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("has none"), "{}", text(&o));

    // A policy that trusts another key refuses it, and installs nothing.
    std::fs::remove_dir_all(project.join(".ferry")).unwrap();
    let strict = work.path().join("strict.toml");
    std::fs::write(
        &strict,
        format!("[[require]]\nnamespace = \"ratio\"\nkeys = [\"{other}\"]\n"),
    )
    .unwrap();
    let o = client(
        &[
            "plugin",
            "install",
            "ratio",
            "--project",
            p,
            "--trust",
            strict.to_str().unwrap(),
            "--registry",
            &server.url,
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("needs a signature by one of the keys trusted for `ratio`"),
        "{}",
        text(&o)
    );
    assert!(!project.join(".ferry/plugins/ratio-0.1.0.wasm").exists());
    // Unsigned built-ins are refused where a policy covers them.
    std::fs::write(
        &strict,
        format!("[[require]]\nnamespace = \"*\"\nkeys = [\"{acme}\"]\n"),
    )
    .unwrap();
    let o = client(
        &[
            "plugin",
            "install",
            "clip",
            "--project",
            p,
            "--trust",
            strict.to_str().unwrap(),
            "--registry",
            &server.url,
        ],
        work.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // A signature that does not match the bytes is refused before anything is written.
    let before = server.plugin_count().await;
    let mut changed = std::fs::read(ferry_tests::guests::RATIO).unwrap();
    changed.extend_from_slice(&[0, 4, 3, b'a', b'b', b'c']);
    let forged = format!("{acme}:{}", sigs[0]["signature"].as_str().unwrap());
    let resp = Server::http()
        .post(format!("{}/v1/plugins", server.url))
        .bearer_auth(&alice)
        .header("x-ferry-signature", forged)
        .body(changed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_signature");
    assert_eq!(server.plugin_count().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_racing_http_publishes_of_one_version_have_one_winner() {
    let server = Server::start(&[]);
    let alice = server.token("alice", "publisher");
    let ratio = std::fs::read(ferry_tests::guests::RATIO).unwrap();
    let mut tasks = Vec::new();
    for i in 0..20u8 {
        // The same plugin and version, each with a different custom section: other bytes.
        let mut bytes = ratio.clone();
        bytes.extend_from_slice(&[0, 3, 1, b'n', i]);
        let url = format!("{}/v1/plugins", server.url);
        let token = alice.clone();
        tasks.push(tokio::spawn(async move {
            let resp = Server::http()
                .post(url)
                .bearer_auth(token)
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), bytes)
        }));
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, bytes) => winners.push(bytes),
            (409, _) => conflicts += 1,
            (other, _) => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((winners.len(), conflicts), (1, 19));
    let stored = Server::http()
        .get(format!("{}/v1/plugins/ratio/0.1.0/download", server.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.to_vec(), winners[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tracked_runs_through_the_cli_and_the_api() {
    use ferry_registry::{Metric, Registry, RunStatus};
    let server = Server::start(&[]);
    let registry = Registry::open(server.data.path(), None).await.unwrap();
    let e = registry.create_experiment("churn", None).await.unwrap();
    let a = registry
        .create_run(&e.id, Some("baseline"), "alice", Some(1_000))
        .await
        .unwrap();
    let b = registry
        .create_run(&e.id, Some("l2-10"), "alice", Some(2_000))
        .await
        .unwrap();
    registry.log_param(&a.id, "l2", "1").await.unwrap();
    registry.log_param(&b.id, "l2", "10").await.unwrap();
    for (step, v) in [(0, 0.70), (1, 0.81)] {
        registry
            .log_metric(
                &a.id,
                Metric {
                    key: "roc_auc",
                    value: v,
                    step,
                    timestamp: step,
                },
            )
            .await
            .unwrap();
    }
    registry
        .log_metric(
            &b.id,
            Metric {
                key: "roc_auc",
                value: 0.79,
                step: 0,
                timestamp: 0,
            },
        )
        .await
        .unwrap();
    registry
        .update_run(&a.id, Some(RunStatus::Finished), Some(1_500), None)
        .await
        .unwrap();

    let o = server.ferry(&["runs", "list", "--experiment", "churn", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["info"]["id"], b.id.as_str(), "newest first");
    let o = server.ferry(&["runs", "show", &a.id]);
    assert!(
        text(&o).contains("param  l2 = 1") && text(&o).contains("metric roc_auc = 0.81 (step 1)"),
        "{}",
        text(&o)
    );
    let o = server.ferry(&["runs", "compare", &a.id, &b.id]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("param l2")
            && text(&o).contains("0.810000")
            && text(&o).contains("0.790000"),
        "{}",
        text(&o)
    );
    let o = server.ferry(&["runs", "show", "no-such-run"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = server.ferry(&["runs", "list", "--experiment", "nope"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    let http = Server::http();
    let get = |path: String| http.get(format!("{}{path}", server.url)).send();
    let experiments: Vec<serde_json::Value> = get("/v1/experiments".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(experiments.iter().any(|x| x["name"] == "churn"));
    let runs: Vec<serde_json::Value> = get(format!("/v1/runs?experiment_id={}", e.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    let run: serde_json::Value = get(format!("/v1/runs/{}", a.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["info"]["status"], "FINISHED");
    let history: Vec<serde_json::Value> = get(format!("/v1/runs/{}/metrics/roc_auc", a.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|m| m["value"].as_f64().unwrap())
            .collect::<Vec<_>>(),
        vec![0.70, 0.81]
    );
    let missing = get("/v1/runs/nope".into()).await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        get("/v1/experiments/abc".into())
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}
