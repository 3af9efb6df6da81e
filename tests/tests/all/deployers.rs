//! Deployer plugins run by `ferry deploy target` against a real `ferry serve`: `directory`,
//! `edge-bundle` (one signed, reproducible file whose every part matches the lineage) and
//! `kubernetes` (the objects that run replicas on a shared PostgreSQL). Each shows its plan
//! before it writes, records its status, rolls back, and refuses bad settings by name
//! without writing anything.

use std::path::Path;

use ferry_tests::server::{Server, ok_json as ok, text};
use serde_json::{Value, json};

/// A deployment `churn` on version 1 of two trained versions, and a deployer's token.
fn churn_deployment() -> (Server, String) {
    let server = Server::start(&[]);
    server.two_churn_versions();
    let deployer = server.token("dep", "deployer");
    ok(server.deploy(
        &deployer,
        &["create", "churn", "--model", "churn@1", "--json"],
    ));
    (server, deployer)
}

/// `ferry deploy target churn --plugin PLUGIN` with `grants` and `extra` arguments.
fn target(
    server: &Server,
    token: &str,
    plugin: &str,
    grants: &[String],
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["target", "churn", "--plugin", plugin];
    for g in grants {
        args.extend_from_slice(&["--allow-dir", g]);
    }
    args.extend_from_slice(extra);
    server.deploy(token, &args)
}

fn write_config(dir: &Path, name: &str, config: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, config.to_string()).unwrap();
    path.display().to_string()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// `ferry deploy target` runs a deployer plugin for the deployment's primary version with the
/// operator's grants: the plan changes nothing, apply writes every pinned part, status and
/// rollback go through the plugin, and the registry records what it reported.
#[tokio::test(flavor = "multi_thread")]
async fn a_deployer_plugin_takes_the_primary_version_whole() {
    let (server, deployer) = churn_deployment();
    let out = tempfile::tempdir().unwrap();
    let grant = format!("/deploy={}", out.path().display());
    let target = |extra: &[&str]| {
        let mut args = vec![
            "target",
            "churn",
            "--plugin",
            "directory",
            "--allow-dir",
            &grant,
        ];
        args.extend_from_slice(extra);
        server.deploy(&deployer, &args)
    };

    let o = target(&["--plan"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("model/model.bin"), "{}", text(&o));
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "the plan wrote nothing"
    );

    let applied = ok(target(&["--json"]));
    assert_eq!(applied["active_version"], "1", "{applied}");
    let version = out.path().join("churn/versions/1");
    let lineage: Value =
        serde_json::from_slice(&std::fs::read(version.join("lineage.json")).unwrap()).unwrap();
    let model = std::fs::read(version.join("model/model.bin")).unwrap();
    assert_eq!(
        ferry_registry::digest_of(&model),
        lineage["model"]["artifact_digest"].as_str().unwrap(),
        "the model artifact is the one the lineage pins"
    );
    for t in lineage["transforms"].as_array().unwrap() {
        let name = t["plugin"]["name"].as_str().unwrap();
        let wasm = std::fs::read(version.join(format!(
            "plugins/{name}-{}.wasm",
            t["plugin"]["version"].as_str().unwrap()
        )))
        .unwrap();
        assert_eq!(
            ferry_registry::digest_of(&wasm),
            t["plugin"]["digest"].as_str().unwrap()
        );
    }

    // A new revision, applied; then the target's own rollback and status.
    ok(server.deploy(
        &deployer,
        &["update", "churn", "--model", "churn@2", "--json"],
    ));
    let applied = ok(target(&["--json"]));
    assert_eq!(
        (
            applied["active_version"].as_str(),
            applied["history"].clone()
        ),
        (Some("2"), json!(["1"]))
    );
    let back = ok(target(&["--rollback", "--json"]));
    assert_eq!(back["active_version"], "1", "{back}");
    let status = ok(target(&["--status", "--json"]));
    assert_eq!(status["active_version"], "1", "{status}");
    let recorded = server.get_json("/v1/deployments/churn/targets").await;
    assert_eq!(recorded[0]["target"], "directory", "{recorded}");
    assert_eq!(recorded[0]["status"]["action"], "status", "{recorded}");
    assert_eq!(recorded[0]["status"]["active_version"], "1", "{recorded}");

    // Without the grant there is nowhere to write, nor anything to read: apply, plan and
    // status each fail saying so, and nothing is recorded.
    let before = server.get_json("/v1/deployments/churn/targets").await;
    for extra in [&[][..], &["--plan"], &["--status"], &["--rollback"]] {
        let mut args = vec!["target", "churn", "--plugin", "directory"];
        args.extend_from_slice(extra);
        let o = server.deploy(&deployer, &args);
        assert_ne!(o.status.code(), Some(0), "{extra:?}: {}", text(&o));
        assert!(
            text(&o).contains("/deploy was not granted"),
            "{extra:?}: {}",
            text(&o)
        );
    }
    assert_eq!(
        server.get_json("/v1/deployments/churn/targets").await,
        before,
        "nothing was recorded"
    );
    // A reader may not record a target.
    let reader = server.token("reader", "reader");
    let o = server.ferry(&[
        "deploy",
        "target",
        "churn",
        "--plugin",
        "directory",
        "--allow-dir",
        &grant,
        "--status",
        "--registry",
        &server.url,
        "--token",
        &reader,
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let audit = server.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "deployment.target" && e["outcome"] == "ok")
    );
}

/// Every file under `dir`, by its path below `dir`, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            let below = Path::new(&f).strip_prefix(dir).unwrap();
            (below.display().to_string(), bytes)
        })
        .collect()
}

/// The `directory` deployer built as an Extism module for WASI preview 1
/// (`examples/extism-directory-deployer`), given as a file to `ferry deploy target`: the
/// operator's `--allow-dir` is its allowed path, and it writes byte for byte what the
/// built-in writes, applies, reports, rolls back, and without the grant fails saying so.
#[tokio::test(flavor = "multi_thread")]
async fn an_extism_deployer_writes_what_the_builtin_writes() {
    let (server, deployer) = churn_deployment();
    let wasm = ferry_tests::guests::EXTISM_DIRECTORY_DEPLOYER;
    let (builtin, extism) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let grant = |dir: &tempfile::TempDir| vec![format!("/deploy={}", dir.path().display())];

    let plan = target(&server, &deployer, wasm, &grant(&extism), &["--plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(text(&plan).contains("model/model.bin"), "{}", text(&plan));
    assert!(
        files_under(extism.path()).is_empty(),
        "the plan wrote nothing"
    );

    let theirs = ok(target(
        &server,
        &deployer,
        "directory",
        &grant(&builtin),
        &["--json"],
    ));
    let ours = ok(target(
        &server,
        &deployer,
        wasm,
        &grant(&extism),
        &["--json"],
    ));
    assert_eq!(ours["active_version"], "1", "{ours}");
    assert_eq!(ours["message"], theirs["message"]);
    let written = tree(extism.path());
    assert!(
        written
            .iter()
            .any(|(f, _)| f == "churn/versions/1/model/model.bin"),
        "{:?}",
        written.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    let theirs = tree(builtin.path());
    let differing: Vec<String> = written
        .iter()
        .filter(|f| !theirs.contains(f))
        .chain(theirs.iter().filter(|f| !written.contains(f)))
        .map(|(f, bytes)| {
            format!(
                "{f}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "the two deployers wrote different files: {differing:#?}"
    );

    ok(server.deploy(
        &deployer,
        &["update", "churn", "--model", "churn@2", "--json"],
    ));
    let applied = ok(target(
        &server,
        &deployer,
        wasm,
        &grant(&extism),
        &["--json"],
    ));
    assert_eq!(
        (
            applied["active_version"].as_str(),
            applied["history"].clone()
        ),
        (Some("2"), json!(["1"]))
    );
    let back = ok(target(
        &server,
        &deployer,
        wasm,
        &grant(&extism),
        &["--rollback", "--json"],
    ));
    assert_eq!(back["active_version"], "1", "{back}");
    let status = ok(target(
        &server,
        &deployer,
        wasm,
        &grant(&extism),
        &["--status", "--json"],
    ));
    assert_eq!(status["active_version"], "1", "{status}");

    let o = target(&server, &deployer, wasm, &[], &[]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("/deploy was not granted"), "{}", text(&o));
    let read_only = vec![format!("/deploy={}:ro", extism.path().display())];
    let before = tree(extism.path());
    let o = target(&server, &deployer, wasm, &read_only, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        tree(extism.path()) == before,
        "a read-only grant was written to"
    );
}

/// `edge-bundle` writes one file that holds the primary version whole: every component, state
/// and artifact the lineage pins, by digest, with the input schema, signed with the key the
/// operator granted. The same version gives the same bytes; the live file follows apply and
/// rollback. Bad settings and missing grants are refused by name, writing nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_edge_bundle_holds_the_version_whole_and_signed() {
    let (server, deployer) = churn_deployment();
    let out = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let o = server.ferry(&[
        "key",
        "generate",
        "--out",
        keys.path().join("acme").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let publisher = std::fs::read_to_string(keys.path().join("acme.pub")).unwrap();
    let grants = [
        format!("/deploy={}", out.path().display()),
        format!("/keys={}:ro", keys.path().display()),
    ];
    let config = write_config(keys.path(), "edge.json", &json!({"sign_with": "acme.key"}));
    let edge = |extra: &[&str]| {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(extra);
        target(&server, &deployer, "edge-bundle", &grants, &args)
    };

    let plan = text(&edge(&["--plan"]));
    assert!(
        plan.contains(&format!("signed by {}", publisher.trim())),
        "{plan}"
    );
    assert!(plan.contains("holding model/model.bin"), "{plan}");
    assert!(files_under(out.path()).is_empty(), "the plan wrote nothing");

    let applied = ok(edge(&["--json"]));
    assert_eq!(applied["active_version"], "1", "{applied}");
    let live = out.path().join("churn/churn.ferry");
    let bytes = std::fs::read(&live).unwrap();
    let bundle = ferry_bundle::read(&bytes).unwrap();
    bundle
        .check_trust(&ferry_bundle::Trust {
            keys: vec![publisher.trim().to_string()],
            allow_unsigned: false,
        })
        .unwrap();
    assert_eq!(
        (
            bundle.manifest.model.name.as_str(),
            bundle.manifest.model.version.as_str()
        ),
        ("churn", "1")
    );
    let lineage: Value = serde_json::from_slice(bundle.file("lineage.json").unwrap()).unwrap();
    assert_eq!(bundle.manifest.input_schema, lineage["input_schema"]);
    let mut pinned = vec![lineage["model"]["artifact_digest"].clone()];
    for step in lineage["validators"]
        .as_array()
        .unwrap()
        .iter()
        .chain(lineage["transforms"].as_array().unwrap())
    {
        pinned.push(step["plugin"]["digest"].clone());
        if let Some(state) = step.get("state_digest") {
            pinned.push(state.clone());
        }
    }
    pinned.push(lineage["model"]["plugin"]["digest"].clone());
    for digest in &pinned {
        let digest = digest.as_str().unwrap();
        let found = bundle
            .by_digest(digest)
            .unwrap_or_else(|| panic!("{digest} is missing"));
        assert_eq!(ferry_registry::digest_of(found), digest);
    }
    assert_eq!(
        bundle.manifest.plugins.last().unwrap().digest,
        lineage["model"]["plugin"]["digest"].as_str().unwrap()
    );

    // Reproducible: applying the same version again writes the same bytes.
    ok(edge(&["--json"]));
    assert_eq!(
        std::fs::read(&live).unwrap(),
        bytes,
        "same version, same bundle"
    );

    // A new version goes live; the target's rollback brings back version 1's exact file.
    ok(server.deploy(
        &deployer,
        &["update", "churn", "--model", "churn@2", "--json"],
    ));
    let applied = ok(edge(&["--json"]));
    assert_eq!(applied["active_version"], "2", "{applied}");
    let v2 = ferry_bundle::read(&std::fs::read(&live).unwrap()).unwrap();
    assert_eq!(v2.manifest.model.version, "2");
    let back = ok(edge(&["--rollback", "--json"]));
    assert_eq!(
        (back["active_version"].as_str(), back["history"].clone()),
        (Some("1"), json!([])),
        "a rollback leaves the version it left"
    );
    assert_eq!(std::fs::read(&live).unwrap(), bytes);
    let status = ok(edge(&["--status", "--json"]));
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains(&ferry_registry::digest_of(&bytes)),
        "{status}"
    );

    // Refusals: nothing new is written.
    let before = files_under(out.path());
    let refused = |config: &Value, grants: &[String], expected: &str| {
        let path = write_config(keys.path(), "bad.json", config);
        let o = target(
            &server,
            &deployer,
            "edge-bundle",
            grants,
            &["--config", &path],
        );
        assert_ne!(o.status.code(), Some(0), "{config}");
        assert!(text(&o).contains(expected), "{config}: {}", text(&o));
        assert_eq!(files_under(out.path()), before, "{config} wrote nothing");
    };
    refused(
        &json!({"sign_with": "nobody.key"}),
        &grants,
        "/keys/nobody.key",
    );
    refused(&json!({"sign_with": "../acme.key"}), &grants, "sign_with");
    refused(&json!({"sign_with": "edge.json"}), &grants, "64 hex digits");
    refused(&json!({"compress": true}), &grants, "compress");
    refused(
        &json!({"sign_with": "acme.key"}),
        &grants[..1],
        "--allow-dir /keys",
    );
}

/// The YAML documents of a rendering, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect()
}

/// `kubernetes` renders a ConfigMap, Deployment, Service, HorizontalPodAutoscaler and
/// PodDisruptionBudget for `ferry serve` replicas on the shared database, with readiness on
/// `/v1/ready`. Its plan names what a new version changes; rollback restores the earlier
/// rendering byte for byte; bad settings are refused by name. (CI also checks a rendering
/// against the Kubernetes API schema: `tests/kubernetes/validate.sh`.)
#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_objects_run_replicas_on_the_shared_database() {
    let (server, deployer) = churn_deployment();
    let out = tempfile::tempdir().unwrap();
    let settings = tempfile::tempdir().unwrap();
    let grants = [format!("/deploy={}", out.path().display())];
    let config = write_config(
        settings.path(),
        "k8s.json",
        &json!({"namespace": "ml", "replicas": 3, "max_replicas": 12}),
    );
    let k8s = |extra: &[&str]| {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(extra);
        target(&server, &deployer, "kubernetes", &grants, &args)
    };

    let plan = text(&k8s(&["--plan"]));
    for id in [
        "create ConfigMap/churn-ferry in namespace ml",
        "create Deployment/churn-ferry",
        "create Service/churn-ferry",
        "create HorizontalPodAutoscaler/churn-ferry",
        "create PodDisruptionBudget/churn-ferry",
    ] {
        assert!(plan.contains(id), "{id}: {plan}");
    }
    assert!(files_under(out.path()).is_empty(), "the plan wrote nothing");

    ok(k8s(&["--json"]));
    let live = out.path().join("churn/churn.yaml");
    let v1 = std::fs::read(&live).unwrap();
    let docs = documents(&live);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget"
        ]
    );
    assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "ml"));
    assert_eq!(docs[0]["data"]["FERRY_MODEL_VERSION"], "1");
    assert_eq!(docs[0]["data"]["FERRY_DEPLOYMENT"], "churn");
    let pod = &docs[1]["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["serve"]));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/v1/ready");
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "ferry-database"
    );
    assert_eq!(pod["metadata"]["labels"]["ferry.dev/model-version"], "1");
    assert_eq!(docs[3]["spec"]["minReplicas"], 3);
    assert_eq!(docs[3]["spec"]["maxReplicas"], 12);
    assert_eq!(docs[4]["spec"]["minAvailable"], 1);
    assert_eq!(
        docs[2]["spec"]["selector"], docs[1]["spec"]["selector"]["matchLabels"],
        "the Service reaches the Deployment's pods"
    );

    // A new version changes the ConfigMap and the pods, nothing else.
    ok(server.deploy(
        &deployer,
        &["update", "churn", "--model", "churn@2", "--json"],
    ));
    let plan = text(&k8s(&["--plan"]));
    for line in [
        "update ConfigMap/churn-ferry",
        "update Deployment/churn-ferry",
        "keep Service/churn-ferry",
        "keep HorizontalPodAutoscaler/churn-ferry",
        "keep PodDisruptionBudget/churn-ferry",
    ] {
        assert!(plan.contains(line), "{line}: {plan}");
    }
    ok(k8s(&["--json"]));
    assert_eq!(documents(&live)[0]["data"]["FERRY_MODEL_VERSION"], "2");
    let back = ok(k8s(&["--rollback", "--json"]));
    assert_eq!(back["active_version"], "1", "{back}");
    assert_eq!(std::fs::read(&live).unwrap(), v1);

    let before = files_under(out.path());
    for (config, expected) in [
        (
            json!({"min_available": 2}),
            "min_available (2) must be below replicas (2)",
        ),
        (
            json!({"namespace": "Prod"}),
            "is not a valid Kubernetes name",
        ),
        (json!({"memory": "lots"}), "is not a Kubernetes quantity"),
        (json!({"replica": 3}), "replica"),
    ] {
        let path = write_config(settings.path(), "bad.json", &config);
        let o = target(
            &server,
            &deployer,
            "kubernetes",
            &grants,
            &["--config", &path],
        );
        assert_ne!(o.status.code(), Some(0), "{config}");
        assert!(text(&o).contains(expected), "{config}: {}", text(&o));
        assert_eq!(files_under(out.path()), before, "{config} wrote nothing");
    }
}
