//! Hostile plugins are stopped and reported with a typed error naming the plugin, and a
//! healthy plugin on the same host answers correctly after each.

use std::path::Path;

use ferry_runtime::{
    DeployerInstance, DirGrant, Failure, Grants, LimitOverrides, LoadError, LoadOptions, Plugin,
    PluginError, TransformInstance, ValidatorInstance,
};
use ferry_tests::{assert_healthy, f64s, fit_apply, floats, guests, runtime};

async fn hostile(options: LoadOptions) -> Plugin {
    runtime()
        .load_file(Path::new(guests::GUEST_HOSTILE), &options)
        .await
        .expect("load hostile")
}

/// The hostile deployer as a component and as an Extism module built for WASI preview 1: the
/// same source, so every deployer test runs against both backends.
const DEPLOYERS: [&str; 2] = [
    guests::GUEST_HOSTILE_DEPLOYER,
    guests::EXTISM_HOSTILE_DEPLOYER,
];

async fn deployer(path: &str, options: LoadOptions) -> Plugin {
    runtime()
        .load_file(Path::new(path), &options)
        .await
        .unwrap_or_else(|e| panic!("load {path}: {e}"))
}

/// Has the hostile deployer do `action`; its status message says what happened.
async fn act(plugin: &Plugin, action: &str) -> Result<String, PluginError> {
    let mut d = DeployerInstance::new(plugin).await?;
    let status = d
        .status("sandbox", &format!(r#"{{"do":"{action}"}}"#))
        .await?;
    Ok(status.message)
}

async fn provoke(plugin: &Plugin, action: &str) -> Result<String, PluginError> {
    let mut v = ValidatorInstance::new(plugin).await?;
    let config = format!(r#"{{"do":"{action}","port":{}}}"#, 9);
    let report = v.validate(&config, &floats(&[("x", vec![1.0])])).await?;
    Ok(report
        .violations
        .first()
        .map(|v| v.message.clone())
        .unwrap_or_default())
}

fn assert_names_plugin(e: &PluginError) {
    assert_eq!(e.plugin, "hostile");
    assert_eq!(e.version, "0.1.0");
    let text = e.to_string();
    assert!(
        text.contains("`hostile` 0.1.0") && text.contains("validate"),
        "{text}"
    );
}

#[tokio::test]
async fn endless_loop_is_stopped_at_its_deadline() {
    let p = hostile(LoadOptions::default()).await;
    let started = std::time::Instant::now();
    let e = provoke(&p, "loop").await.unwrap_err();
    assert_eq!(*e.failure, Failure::Timeout { limit_ms: 500 });
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_names_plugin(&e);
    assert_healthy().await;
}

#[tokio::test]
async fn deadline_can_be_set_by_the_operator() {
    let options = LoadOptions {
        limits: LimitOverrides {
            timeout_ms: Some(100),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = provoke(&hostile(options).await, "loop").await.unwrap_err();
    assert_eq!(*e.failure, Failure::Timeout { limit_ms: 100 });
}

#[tokio::test]
async fn a_1gib_allocation_is_stopped_by_the_memory_cap() {
    let e = provoke(&hostile(LoadOptions::default()).await, "alloc")
        .await
        .unwrap_err();
    assert_eq!(*e.failure, Failure::OutOfMemory { limit_mib: 64 });
    assert_names_plugin(&e);
    assert_healthy().await;
}

#[tokio::test]
async fn stack_overflow_is_stopped() {
    let e = provoke(&hostile(LoadOptions::default()).await, "stack")
        .await
        .unwrap_err();
    assert_eq!(*e.failure, Failure::StackOverflow);
    assert_healthy().await;
}

#[tokio::test]
async fn overflowing_the_linear_memory_stack_is_stopped() {
    let e = provoke(&hostile(LoadOptions::default()).await, "big-stack")
        .await
        .unwrap_err();
    assert!(
        matches!(&*e.failure, Failure::Trap { message } if message.contains("out of bounds memory access")),
        "{e}"
    );
    assert_healthy().await;
}

#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    let e = provoke(&hostile(LoadOptions::default()).await, "panic")
        .await
        .unwrap_err();
    match &*e.failure {
        Failure::Panic { message } => assert!(message.contains("panics on purpose"), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_names_plugin(&e);
    assert_healthy().await;
}

#[tokio::test]
async fn an_instance_that_trapped_is_never_reused() {
    let p = hostile(LoadOptions::default()).await;
    let mut v = ValidatorInstance::new(&p).await.unwrap();
    let data = floats(&[("x", vec![1.0])]);
    v.validate(r#"{"do":"panic"}"#, &data).await.unwrap_err();
    assert!(!v.is_usable());
    let again = v.validate(r#"{"do":"ok"}"#, &data).await.unwrap_err();
    assert_eq!(*again.failure, Failure::Discarded);
    // A new instance of the same plugin works.
    assert_eq!(provoke(&p, "ok").await.unwrap(), "fine");
}

#[tokio::test]
async fn etc_passwd_is_not_readable() {
    let e = provoke(&hostile(LoadOptions::default()).await, "passwd")
        .await
        .unwrap_err();
    match &*e.failure {
        Failure::Guest(g) => assert!(g.to_string().contains("cannot read /etc/passwd"), "{g}"),
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
    assert_healthy().await;
}

#[tokio::test]
async fn a_plugin_that_computes_sees_no_environment_variables_even_if_granted() {
    // The host process has PATH and HOME; the plugin must see none of them, and a grant to a
    // validator is dropped: it did not (and may not) ask for any.
    assert!(std::env::var_os("PATH").is_some());
    let granted = LoadOptions {
        grants: Grants {
            env: vec![("PATH".into(), "/bin".into())],
            ..Default::default()
        },
        ..Default::default()
    };
    let e = provoke(&hostile(granted).await, "env").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no environment variables are visible"),
        "{e}"
    );
}

#[tokio::test]
async fn a_deployer_sees_exactly_the_variables_it_asked_for_and_was_granted() {
    for path in DEPLOYERS {
        let none = act(&deployer(path, LoadOptions::default()).await, "env")
            .await
            .unwrap();
        assert_eq!(none, "SAW []", "{path}");
        let granted = LoadOptions {
            grants: Grants {
                env: vec![
                    ("FERRY_GRANTED".into(), "yes".into()),
                    ("PATH".into(), "/bin".into()),
                ],
                ..Default::default()
            },
            ..Default::default()
        };
        let p = deployer(path, granted).await;
        assert_eq!(act(&p, "granted-env").await.unwrap(), "yes", "{path}");
        // PATH was granted but not asked for in the manifest, so it is dropped.
        assert_eq!(
            act(&p, "env").await.unwrap(),
            "SAW [FERRY_GRANTED]",
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_deployer_cannot_read_etc_passwd() {
    for path in DEPLOYERS {
        let e = act(&deployer(path, LoadOptions::default()).await, "passwd")
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("cannot read /etc/passwd"),
            "{path}: {e}"
        );
    }
    assert_healthy().await;
}

#[tokio::test]
async fn a_plugin_that_computes_reads_a_clock_that_does_not_move() {
    let p = hostile(LoadOptions::default()).await;
    for _ in 0..3 {
        assert_eq!(provoke(&p, "clock").await.unwrap(), "wall 0 elapsed 0");
    }
    // A deployer acts on the world and reads the real clock.
    for path in DEPLOYERS {
        let said = act(&deployer(path, LoadOptions::default()).await, "clock")
            .await
            .unwrap();
        let secs: u64 = said.trim_start_matches("wall ").parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(secs.abs_diff(now) < 60, "{path}: {said} vs {now}");
    }
}

#[tokio::test]
async fn a_plugin_that_computes_draws_random_bytes_seeded_from_its_digest_only_while_it_starts() {
    // `world` draws a salt when its transformer is built: every fresh instance draws the same
    // bytes, and so does the same plugin loaded again.
    let world = runtime()
        .load_file(Path::new(guests::GUEST_WORLD), &LoadOptions::default())
        .await
        .unwrap();
    let salt = |plugin: Plugin| async move {
        let data = floats(&[("x", vec![1.0])]);
        let out = fit_apply(&plugin, "{}", &data, &data).await;
        f64s(&out, "salt")[0]
    };
    let first = salt(world.clone()).await;
    assert_eq!(salt(world.clone()).await.to_bits(), first.to_bits());
    let again = runtime()
        .load_file(Path::new(guests::GUEST_WORLD), &LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(salt(again).await.to_bits(), first.to_bits());
    // A draw while it computes a batch is refused: the call traps, naming the plugin and the
    // call, and the instance is thrown away.
    let p = hostile(LoadOptions::default()).await;
    let e = provoke(&p, "random").await.unwrap_err();
    assert_names_plugin(&e);
    assert_eq!(*e.failure, Failure::RandomDrawn, "{e}");
    assert!(
        e.to_string()
            .contains("drew random bytes while computing a batch"),
        "{e}"
    );
    assert_healthy().await;
    // A deployer draws from the real source: two instances differ.
    for path in DEPLOYERS {
        let d = deployer(path, LoadOptions::default()).await;
        assert_ne!(
            act(&d, "random").await.unwrap(),
            act(&d, "random").await.unwrap(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_plugin_that_computes_may_not_ask_for_files_or_variables() {
    let e = runtime()
        .load_file(
            Path::new(guests::GUEST_ASKS_FOR_ACCESS),
            &LoadOptions::default(),
        )
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, LoadError::Manifest { .. }), "{text}");
    assert!(
        text.contains("a validator plugin may not ask for directory /data, variable LOOKUP_TABLE"),
        "{text}"
    );
}

#[tokio::test]
async fn a_plugin_that_computes_writes_nowhere() {
    let e = provoke(&hostile(LoadOptions::default()).await, "write")
        .await
        .unwrap_err();
    assert!(matches!(*e.failure, Failure::Guest(_)), "{e}");
    assert!(!Path::new("/tmp/escape.txt").exists() && !Path::new("/escape.txt").exists());
    assert_healthy().await;
}

#[tokio::test]
async fn network_connections_are_refused_and_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = hostile(LoadOptions::default()).await;
    let mut v = ValidatorInstance::new(&p).await.unwrap();
    let e = v
        .validate(
            &format!(r#"{{"do":"connect","port":{port}}}"#),
            &floats(&[("x", vec![1.0])]),
        )
        .await
        .unwrap_err();
    match &*e.failure {
        Failure::CapabilityDenied { attempts, .. } => {
            assert!(
                attempts
                    .iter()
                    .any(|a| a.contains("TCP connection")
                        && a.contains("no network access is granted")),
                "{attempts:?}"
            )
        }
        other => panic!("expected a refused capability, got {other:?}"),
    }
    assert!(
        listener.accept().is_err(),
        "a connection reached the listener"
    );
    assert_healthy().await;
}

#[tokio::test]
async fn writes_stay_inside_the_granted_directory() {
    for path in DEPLOYERS {
        writes_stay_inside(path).await;
    }
    assert_healthy().await;
}

async fn writes_stay_inside(path: &str) {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let options = LoadOptions {
        grants: Grants {
            dirs: vec![DirGrant {
                guest_path: "/out".into(),
                host_path: out.clone(),
                writable: true,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let p = deployer(path, options).await;
    assert_eq!(
        act(&p, "write-inside").await.unwrap(),
        "wrote /out/inside.txt"
    );
    assert_eq!(std::fs::read(out.join("inside.txt")).unwrap(), b"ok");

    let e = act(&p, "write-outside").await.unwrap_err();
    assert!(matches!(*e.failure, Failure::Guest(_)), "{path}: {e}");
    assert!(!root.path().join("escape.txt").exists(), "{path}");
    assert!(!Path::new("/tmp/escape.txt").exists() && !Path::new("/escape.txt").exists());

    // Read-only grants refuse writes.
    let ro = LoadOptions {
        grants: Grants {
            dirs: vec![DirGrant {
                guest_path: "/out".into(),
                host_path: out.clone(),
                writable: false,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    std::fs::remove_file(out.join("inside.txt")).unwrap();
    assert!(
        act(&deployer(path, ro).await, "write-inside")
            .await
            .is_err(),
        "{path}"
    );
    assert!(!out.join("inside.txt").exists(), "{path}");
}

#[tokio::test]
async fn a_batch_far_larger_than_allowed_is_refused() {
    let options = LoadOptions {
        limits: LimitOverrides {
            max_output_rows: Some(10_000),
            ..Default::default()
        },
        ..Default::default()
    };
    let p = runtime()
        .load_file(Path::new(guests::GUEST_HUGE_OUTPUT), &options)
        .await
        .unwrap();
    let mut t = TransformInstance::new(&p).await.unwrap();
    let tr = t.new_transformer("{}", b"").await.unwrap();
    let e = t
        .apply(tr, &floats(&[("x", vec![1.0; 10])]))
        .await
        .unwrap_err();
    assert_eq!(
        *e.failure,
        Failure::OutputTooLarge {
            rows: 1_000_000,
            limit: 10_000
        }
    );
    assert_eq!(e.plugin, "huge-output");

    // Within the row limit, a transform must still return as many rows as it was given.
    let p = runtime()
        .load_file(
            Path::new(guests::GUEST_HUGE_OUTPUT),
            &LoadOptions::default(),
        )
        .await
        .unwrap();
    let mut t = TransformInstance::new(&p).await.unwrap();
    let tr = t.new_transformer("{}", b"").await.unwrap();
    let e = t
        .apply(tr, &floats(&[("x", vec![1.0; 10])]))
        .await
        .unwrap_err();
    assert!(
        matches!(&*e.failure, Failure::InvalidOutput(m) if m.contains("1000000 rows returned for an input of 10 rows")),
        "{e}"
    );

    let mut t = TransformInstance::new(&p).await.unwrap();
    let tr = t.new_transformer("{}", b"ragged").await.unwrap();
    let e = t
        .apply(tr, &floats(&[("x", vec![1.0; 3])]))
        .await
        .unwrap_err();
    assert!(
        matches!(&*e.failure, Failure::InvalidOutput(m) if m.contains("column `x` has 1 values in a batch of 3 rows")),
        "{e}"
    );
    assert_healthy().await;
}

#[tokio::test]
async fn bytes_that_are_not_wasm_are_refused() {
    let e = runtime()
        .load("junk.wasm", b"this is not wasm", &LoadOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::NotWasm { .. }), "{e}");
    assert!(e.to_string().contains("junk.wasm: not a WebAssembly file"));
    let e = runtime()
        .load("empty.wasm", b"", &LoadOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::NotWasm { .. }));
    assert_healthy().await;
}

#[tokio::test]
async fn a_core_module_is_refused() {
    let core = b"\0asm\x01\0\0\0";
    let e = runtime()
        .load("core.wasm", core, &LoadOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::CoreModule { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("core WebAssembly module, not a component, and not an Extism plugin")
    );
    assert_healthy().await;
}

#[tokio::test]
async fn a_truncated_component_is_refused() {
    let bytes = std::fs::read(guests::GUEST_HOSTILE).unwrap();
    let e = runtime()
        .load(
            "cut.wasm",
            &bytes[..bytes.len() / 2],
            &LoadOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::Invalid { .. }), "{e}");
    assert_healthy().await;
}

#[tokio::test]
async fn a_component_of_the_wrong_world_is_refused() {
    let e = runtime()
        .load_file(Path::new(guests::NOT_A_PLUGIN), &LoadOptions::default())
        .await
        .unwrap_err();
    match &e {
        LoadError::NotAPlugin { exports, .. } => {
            assert!(exports.contains("wasi:cli/run"), "{exports}")
        }
        other => panic!("expected NotAPlugin, got {other}"),
    }
    assert_healthy().await;
}

#[tokio::test]
async fn a_plugin_used_as_another_kind_is_refused() {
    let p = runtime()
        .load_file(
            Path::new(guests::GUEST_HUGE_OUTPUT),
            &LoadOptions::default(),
        )
        .await
        .unwrap();
    let e = ValidatorInstance::new(&p)
        .await
        .err()
        .expect("a transform is not a validator");
    assert!(matches!(*e.failure, Failure::NotKind { .. }), "{e}");
}

#[tokio::test]
async fn many_failures_in_parallel_leave_the_host_working() {
    let p = hostile(LoadOptions::default()).await;
    let mut tasks = Vec::new();
    for action in [
        "loop", "alloc", "stack", "panic", "ok", "loop", "panic", "ok",
    ] {
        let p = p.clone();
        tasks.push(tokio::spawn(
            async move { (action, provoke(&p, action).await) },
        ));
    }
    for t in tasks {
        let (action, result) = t.await.unwrap();
        assert_eq!(result.is_ok(), action == "ok", "{action}: {result:?}");
    }
    assert_healthy().await;
}

#[tokio::test]
async fn a_grant_of_a_missing_directory_is_refused_at_load() {
    let options = LoadOptions {
        grants: Grants {
            dirs: vec![DirGrant {
                guest_path: "/out".into(),
                host_path: "/no/such/folder".into(),
                writable: true,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    for path in DEPLOYERS {
        let e = runtime()
            .load_file(Path::new(path), &options)
            .await
            .unwrap_err();
        assert!(matches!(e, LoadError::Grant { .. }), "{path}: {e}");
        assert!(
            e.to_string()
                .starts_with("cannot grant directory /out -> /no/such/folder"),
            "{path}: {e}"
        );
    }
}

/// The hostile guest as if built against contract `version` (same length as `0.1.1`): every
/// `ferry:plugin/…@0.1.1` name it imports and exports renamed.
fn hostile_built_against(version: &[u8; 5]) -> Vec<u8> {
    let bytes = std::fs::read(guests::GUEST_HOSTILE).unwrap();
    let (from, current) = (b"ferry:plugin/", b"@0.1.1");
    let mut moved = bytes.clone();
    let mut i = 0;
    let mut renamed = 0;
    while let Some(at) = moved[i..].windows(from.len()).position(|w| w == from) {
        let start = i + at;
        let end = start + moved[start..].iter().position(|b| *b == b'@').unwrap();
        if moved[end..].starts_with(current) {
            moved[end + 1..end + current.len()].copy_from_slice(version);
            renamed += 1;
        }
        i = end;
    }
    assert!(renamed > 0);
    moved
}

#[tokio::test]
async fn a_plugin_built_against_contract_0_1_0_still_loads_and_runs() {
    let old = runtime()
        .load(
            "old.wasm",
            &hostile_built_against(b"0.1.0"),
            &LoadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(old.manifest().contract.to_string(), "0.1.0");
    let mut inst = ValidatorInstance::new(&old).await.unwrap();
    let report = inst
        .validate(r#"{"do":"ok"}"#, &ferry_tests::customers())
        .await
        .unwrap();
    assert_eq!(report.violations.len(), 1, "{report:?}");
}

#[tokio::test]
async fn a_plugin_built_against_an_incompatible_contract_is_refused() {
    let moved = hostile_built_against(b"0.2.0");
    let e = runtime()
        .load("future.wasm", &moved, &LoadOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::IncompatibleContract { .. }), "{e}");
    assert!(
        e.to_string().contains(
            "built against ferry:plugin@0.2.0, which this host (ferry:plugin@0.1.1) cannot run"
        ),
        "{e}"
    );
}
