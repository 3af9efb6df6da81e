//! The registry's storage, run on SQLite and on the PostgreSQL server (each PostgreSQL run in
//! a database of its own, dropped afterwards). Set FERRY_TEST_POSTGRES_URL to use another
//! server than postgres://postgres@127.0.0.1:5432/postgres.

use std::sync::atomic::{AtomicU32, Ordering};

use ferry_registry::{
    Db, FsBlobStore, NewVersion, PluginSpec, Published, Registry, RegistryError, SearchQuery,
};
use semver::Version;

struct TestRegistry {
    registry: Registry,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

fn admin_url() -> String {
    std::env::var("FERRY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn sqlite() -> TestRegistry {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path(), None).await.unwrap();
    TestRegistry {
        registry,
        dir,
        postgres: None,
    }
}

async fn postgres() -> TestRegistry {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "ferry_test_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let admin = admin_url();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {admin} ({e}). The tests need a PostgreSQL server on \
             127.0.0.1:5432 with trust auth for the user `postgres` (start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or \
             point FERRY_TEST_POSTGRES_URL at another server)"
        )
    });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').unwrap().0;
    let url = format!("{base}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path(), Some(&url)).await.unwrap();
    TestRegistry {
        registry,
        dir,
        postgres: Some((admin, name)),
    }
}

impl TestRegistry {
    async fn finish(self) {
        self.registry.db().close().await;
        if let Some((admin, name)) = self.postgres {
            let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// Runs each named test on both backends.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let t = super::sqlite().await;
                    super::$test(&t).await;
                    t.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let t = super::postgres().await;
                    super::$test(&t).await;
                    t.finish().await;
                }
            }
        )*
    };
}

on_both_backends!(
    a_version_is_immutable,
    identical_bytes_are_stored_once,
    resolution_yanking_and_pins,
    a_name_keeps_its_kind,
    search_and_downloads,
    fifty_concurrent_publishes_all_land,
    twenty_racing_publishes_of_one_version_have_one_winner,
    a_corrupt_blob_is_detected,
);

fn new_version(name: &str, version: &str, kind: &str) -> NewVersion {
    NewVersion {
        name: name.into(),
        version: Version::parse(version).unwrap(),
        kind: kind.into(),
        contract: "0.1.0".into(),
        description: format!("{name} does things"),
        license: Some("Apache-2.0".into()),
        repository: None,
        authors: vec!["Ferry".into()],
        keywords: vec!["scaling".into(), "numeric".into()],
        manifest: serde_json::json!({ "name": name, "version": version }),
        publisher: Some("alice".into()),
    }
}

fn blob_files(t: &TestRegistry) -> usize {
    walk(&t.dir.path().join("blobs/sha256"))
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

async fn a_version_is_immutable(t: &TestRegistry) {
    let r = &t.registry;
    let first = r
        .publish(
            new_version("scaler", "1.0.0", "transform"),
            b"component one",
        )
        .await
        .unwrap();
    assert!(matches!(first, Published::Created(_)));
    let again = r
        .publish(
            new_version("scaler", "1.0.0", "transform"),
            b"component one",
        )
        .await
        .unwrap();
    assert!(matches!(again, Published::Unchanged(_)));
    let e = r
        .publish(new_version("scaler", "1.0.0", "transform"), b"other bytes")
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::Conflict(_)), "{e}");
    assert!(
        e.to_string()
            .contains("scaler 1.0.0 is already published with other bytes"),
        "{e}"
    );
    let stored = r.version("scaler", &Version::new(1, 0, 0)).await.unwrap();
    assert_eq!(stored.digest, ferry_registry::digest_of(b"component one"));
    assert_eq!(r.download(&stored).await.unwrap(), b"component one");
}

async fn identical_bytes_are_stored_once(t: &TestRegistry) {
    let r = &t.registry;
    r.publish(new_version("a", "1.0.0", "transform"), b"same")
        .await
        .unwrap();
    r.publish(new_version("b", "1.0.0", "transform"), b"same")
        .await
        .unwrap();
    r.publish(new_version("a", "1.0.1", "transform"), b"same")
        .await
        .unwrap();
    assert!(
        r.has_digest(&ferry_registry::digest_of(b"same"))
            .await
            .unwrap()
    );
    assert!(
        !r.has_digest(&ferry_registry::digest_of(b"other"))
            .await
            .unwrap()
    );
    assert_eq!(blob_files(t), 1);
    assert!(
        std::fs::read_dir(t.dir.path().join("blobs/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "temporary files were left behind"
    );
}

async fn resolution_yanking_and_pins(t: &TestRegistry) {
    let r = &t.registry;
    for (v, bytes) in [
        ("1.0.0", "a"),
        ("1.2.0", "b"),
        ("1.3.0", "c"),
        ("1.4.0-beta.1", "d"),
        ("2.0.0", "e"),
    ] {
        r.publish(new_version("p", v, "transform"), bytes.as_bytes())
            .await
            .unwrap();
    }
    let resolve = |s: &str| {
        let spec = PluginSpec::parse(s).unwrap();
        async move { r.resolve(&spec).await.map(|v| v.version.to_string()) }
    };
    assert_eq!(resolve("p@^1.2").await.unwrap(), "1.3.0");
    r.set_yanked("p", &Version::new(1, 3, 0), true)
        .await
        .unwrap();
    assert_eq!(resolve("p@^1.2").await.unwrap(), "1.2.0");
    assert_eq!(resolve("p@1.3.0").await.unwrap(), "1.3.0");
    assert_eq!(
        resolve(&format!("p#{}", ferry_registry::digest_of(b"c")))
            .await
            .unwrap(),
        "1.3.0"
    );
    assert_eq!(resolve("p@latest").await.unwrap(), "2.0.0");
    assert_eq!(resolve("p@~1.4.0-beta").await.unwrap(), "1.4.0-beta.1");
    let e = resolve("p@>=3").await.unwrap_err();
    assert!(
        e.to_string().contains("no version of p matches p@>=3")
            && e.to_string().contains("1.3.0 (yanked)"),
        "{e}"
    );
    assert!(matches!(
        resolve("nope").await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    r.set_yanked("p", &Version::new(1, 3, 0), false)
        .await
        .unwrap();
    assert_eq!(resolve("p@^1.2").await.unwrap(), "1.3.0");
    assert!(matches!(
        r.set_yanked("p", &Version::new(9, 9, 9), true)
            .await
            .unwrap_err(),
        RegistryError::NotFound(_)
    ));
}

async fn a_name_keeps_its_kind(t: &TestRegistry) {
    let r = &t.registry;
    r.publish(new_version("k", "1.0.0", "transform"), b"x")
        .await
        .unwrap();
    let e = r
        .publish(new_version("k", "1.1.0", "validator"), b"y")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("k is a transform package"), "{e}");
    assert!(r.version("k", &Version::new(1, 1, 0)).await.is_err());
}

async fn search_and_downloads(t: &TestRegistry) {
    let r = &t.registry;
    r.publish(new_version("standard-scaler", "1.0.0", "transform"), b"s1")
        .await
        .unwrap();
    r.publish(new_version("standard-scaler", "1.1.0", "transform"), b"s2")
        .await
        .unwrap();
    let mut v = new_version("schema", "0.1.0", "validator");
    v.keywords = vec!["quality".into()];
    v.description = "Checks columns".into();
    r.publish(v, b"v1").await.unwrap();

    let all = r.search(&SearchQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let by_kind = r
        .search(&SearchQuery {
            kind: Some("validator".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_kind.len(), 1);
    assert_eq!(by_kind[0].latest.name, "schema");
    let by_text = r
        .search(&SearchQuery {
            text: Some("SCALER does".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_text.len(), 1);
    assert_eq!(by_text[0].latest.version, Version::new(1, 1, 0));
    assert_eq!(
        by_text[0].versions,
        vec![("1.1.0".to_string(), false), ("1.0.0".to_string(), false)]
    );
    let by_keyword = r
        .search(&SearchQuery {
            keyword: Some("quality".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_keyword.len(), 1);

    let rec = r
        .version("standard-scaler", &Version::new(1, 0, 0))
        .await
        .unwrap();
    r.download(&rec).await.unwrap();
    r.download(&rec).await.unwrap();
    let found = r
        .search(&SearchQuery {
            text: Some("standard".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found[0].downloads, 2);
}

async fn fifty_concurrent_publishes_all_land(t: &TestRegistry) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let r = t.registry.clone();
        tasks.push(tokio::spawn(async move {
            r.publish(
                new_version("busy", &format!("1.0.{i}"), "transform"),
                format!("bytes {i}").as_bytes(),
            )
            .await
        }));
    }
    for task in tasks {
        assert!(matches!(
            task.await.unwrap().unwrap(),
            Published::Created(_)
        ));
    }
    assert_eq!(t.registry.versions("busy").await.unwrap().len(), 50);
}

async fn twenty_racing_publishes_of_one_version_have_one_winner(t: &TestRegistry) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let r = t.registry.clone();
        tasks.push(tokio::spawn(async move {
            let bytes = format!("contender {i}");
            (
                bytes.clone(),
                r.publish(new_version("race", "1.0.0", "transform"), bytes.as_bytes())
                    .await,
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (bytes, Ok(Published::Created(_))) => winners.push(bytes),
            (_, Err(RegistryError::Conflict(_))) => {}
            (_, other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one publish must win");
    let stored = t
        .registry
        .version("race", &Version::new(1, 0, 0))
        .await
        .unwrap();
    assert_eq!(
        stored.digest,
        ferry_registry::digest_of(winners[0].as_bytes())
    );
    assert_eq!(
        t.registry.download(&stored).await.unwrap(),
        winners[0].as_bytes()
    );
    assert_eq!(t.registry.versions("race").await.unwrap().len(), 1);
}

async fn a_corrupt_blob_is_detected(t: &TestRegistry) {
    let r = &t.registry;
    let rec = r
        .publish(new_version("c", "1.0.0", "transform"), b"pristine")
        .await
        .unwrap()
        .record()
        .clone();
    let blobs = t.dir.path().join("blobs");
    let store = FsBlobStore::new(&blobs).unwrap();
    std::fs::write(blobs.join(store.path_of(&rec.digest).unwrap()), b"tampered").unwrap();
    let e = r.download(&rec).await.unwrap_err();
    assert!(matches!(e, RegistryError::Corrupt { .. }), "{e}");
}

#[tokio::test]
async fn bad_database_urls_are_refused_without_leaking_passwords() {
    let e = Db::connect("mysql://root:secret@localhost/x")
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("must start with sqlite:// or postgres://"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

on_both_backends!(tokens_roles_owners_and_the_audit_log);

async fn tokens_roles_owners_and_the_audit_log(t: &TestRegistry) {
    use ferry_registry::Role;
    let r = &t.registry;
    let (alice_token, alice) = r.create_token("alice", Role::Publisher).await.unwrap();
    let (bob_token, _) = r.create_token("bob", Role::Publisher).await.unwrap();
    let (reader_token, _) = r.create_token("viewer", Role::Reader).await.unwrap();
    assert!(alice_token.starts_with(&format!("ferry_{}_", alice.id)));
    let who = r
        .authenticate(&alice_token)
        .await
        .unwrap()
        .expect("alice's token works");
    assert_eq!((who.name.as_str(), who.role), ("alice", Role::Publisher));
    assert!(r.authenticate("ferry_0000_nope").await.unwrap().is_none());

    // The first publisher owns a package; others may not change it until added.
    let bob = r.authenticate(&bob_token).await.unwrap().unwrap();
    let reader = r.authenticate(&reader_token).await.unwrap().unwrap();
    assert!(r.may_change(&who, "fresh").await.unwrap());
    assert!(!r.may_change(&reader, "fresh").await.unwrap());
    r.publish(new_version("fresh", "1.0.0", "transform"), b"f")
        .await
        .unwrap();
    r.add_owner("fresh", "alice").await.unwrap();
    assert!(r.may_change(&who, "fresh").await.unwrap());
    assert!(!r.may_change(&bob, "fresh").await.unwrap());
    r.add_owner("fresh", "bob").await.unwrap();
    r.add_owner("fresh", "bob").await.unwrap();
    assert_eq!(r.owners("fresh").await.unwrap(), ["alice", "bob"]);
    assert!(r.may_change(&bob, "fresh").await.unwrap());

    r.revoke_token(&alice.id).await.unwrap();
    assert!(r.authenticate(&alice_token).await.unwrap().is_none());
    assert!(matches!(
        r.revoke_token(&alice.id).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    let listed = r.tokens().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .any(|t| t.name == "alice" && t.revoked_at.is_some())
    );
    assert!(r.create_token("bad name!", Role::Admin).await.is_err());

    r.audit(
        "token:alice",
        "plugin.publish",
        "plugin:fresh@1.0.0",
        "ok",
        "req-1",
        "",
    )
    .await
    .unwrap();
    r.audit(
        "token:bob",
        "plugin.yank",
        "plugin:fresh@1.0.0",
        "denied",
        "req-2",
        "not an owner",
    )
    .await
    .unwrap();
    let log = r.audit_log(10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (
            log[0].action.as_str(),
            log[0].outcome.as_str(),
            log[0].request_id.as_str()
        ),
        ("plugin.yank", "denied", "req-2")
    );
    assert!(log[0].id > log[1].id);
}

on_both_backends!(
    experiments_runs_params_metrics_and_tags,
    concurrent_metric_logging_loses_nothing,
    a_version_registered_without_lineage_gets_one_once,
    latest_metrics_are_the_highest_step_then_the_newest_time,
    deleted_runs_and_experiments_are_kept_and_restorable,
    a_nan_first_does_not_break_later_metrics,
    run_files_are_never_replaced_and_ferry_runs_never_reopen,
    deleting_and_renaming_models_never_reuses_a_version
);

async fn deleting_and_renaming_models_never_reuses_a_version(t: &TestRegistry) {
    use ferry_registry::NewModelVersion;
    let r = &t.registry;
    r.create_registered_model("a", "first", &[("k".into(), "v".into())])
        .await
        .unwrap();
    for _ in 0..3 {
        r.create_model_version("a", NewModelVersion::default())
            .await
            .unwrap();
    }
    r.set_model_alias("a", "champion", 3).await.unwrap();
    r.set_version_tag("a", 3, "t", "x").await.unwrap();
    let (_, created) = r.resolve_version_key("a", "champion").await.unwrap();
    r.delete_model_version("a", 3).await.unwrap();
    assert!(matches!(
        r.model_version("a", 3).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    assert!(r.registered_model("a").await.unwrap().aliases.is_empty());
    // The number 3 is not given again.
    let v = r
        .create_model_version("a", NewModelVersion::default())
        .await
        .unwrap();
    assert_eq!(v.version, 4);
    assert_ne!(r.resolve_version_key("a", "4").await.unwrap().1, created);

    // Renaming carries versions, tags and aliases, and keeps the numbering.
    r.set_model_alias("a", "champion", 4).await.unwrap();
    r.create_registered_model("taken", "", &[]).await.unwrap();
    assert!(matches!(
        r.rename_registered_model("a", "taken").await.unwrap_err(),
        RegistryError::Conflict(_)
    ));
    let b = r.rename_registered_model("a", "b").await.unwrap();
    assert_eq!(b.description, "first");
    assert_eq!(b.tags, vec![("k".to_string(), "v".to_string())]);
    assert_eq!(b.aliases, vec![("champion".to_string(), 4)]);
    let numbers: Vec<i64> = r
        .model_versions("b")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(numbers, vec![1, 2, 4]);
    assert!(r.registered_model("a").await.is_err());
    let next = r
        .create_model_version("b", NewModelVersion::default())
        .await
        .unwrap();
    assert_eq!(next.version, 5);

    // Deleting the model removes everything; its name starts afresh, as MLflow's does.
    r.delete_registered_model("b").await.unwrap();
    assert!(r.registered_model("b").await.is_err());
    assert!(
        r.all_model_versions()
            .await
            .unwrap()
            .iter()
            .all(|v| v.name != "b")
    );
    r.create_registered_model("b", "", &[]).await.unwrap();
    let fresh = r
        .create_model_version("b", NewModelVersion::default())
        .await
        .unwrap();
    assert_eq!(fresh.version, 1);
}

async fn run_files_are_never_replaced_and_ferry_runs_never_reopen(t: &TestRegistry) {
    use ferry_registry::RunStatus;
    let r = &t.registry;
    let e = r.create_experiment("immutable", None).await.unwrap();
    let run = r.create_run(&e.id, None, "alice", None).await.unwrap().id;
    let refused = |e: RegistryError| match e {
        RegistryError::Conflict(m) => m,
        other => panic!("expected a conflict, got {other}"),
    };
    // Any file, once written, keeps its bytes: the same bytes again change nothing, other
    // bytes are refused, while the run runs and after.
    for path in [
        "notes.txt",
        "lineage.json",
        "reference/profile.json",
        "any/new/file.bin",
    ] {
        r.log_artifact(&run, path, b"first").await.unwrap();
        r.log_artifact(&run, path, b"first").await.unwrap();
        let m = refused(r.log_artifact(&run, path, b"second").await.unwrap_err());
        assert!(
            m.contains(&format!("artifact {path:?}")) && m.contains("never replaced"),
            "{m}"
        );
        assert_eq!(
            r.read_artifact(&run, path).await.unwrap(),
            b"first",
            "{path}"
        );
    }
    // A client's run may end and be re-opened (MLflow's `start_run(run_id=...)`), and its
    // files stay as they were; new ones may be added.
    r.update_run(&run, Some(RunStatus::Finished), Some(2_000), None)
        .await
        .unwrap();
    r.update_run(&run, Some(RunStatus::Running), None, None)
        .await
        .unwrap();
    refused(
        r.log_artifact(&run, "notes.txt", b"three")
            .await
            .unwrap_err(),
    );
    r.log_artifact(&run, "later.txt", b"added").await.unwrap();
    // The same rules hold through the path the MLflow artifact proxy uses.
    let proxied = format!("{}/{run}/artifacts/lineage.json", e.id);
    let digest = r.blobs().put(b"forged").await.unwrap();
    refused(r.put_artifact_file(&proxied, &digest, 6).await.unwrap_err());
    assert_eq!(
        r.read_artifact(&run, "lineage.json").await.unwrap(),
        b"first"
    );

    // A run `ferry train` recorded never re-opens, and Ferry's tags on it never change.
    let ferry = r.create_run(&e.id, None, "ci", None).await.unwrap().id;
    r.set_run_tag(&ferry, ferry_registry::RECORDED_BY_FERRY, "churn")
        .await
        .unwrap();
    r.update_run(&ferry, Some(RunStatus::Finished), Some(3_000), None)
        .await
        .unwrap();
    let m = refused(
        r.update_run(&ferry, Some(RunStatus::Running), None, None)
            .await
            .unwrap_err(),
    );
    assert!(m.contains("cannot be re-opened"), "{m}");
    refused(
        r.set_run_tag(&ferry, ferry_registry::RECORDED_BY_FERRY, "other")
            .await
            .unwrap_err(),
    );
    refused(
        r.delete_run_tag(&ferry, ferry_registry::RECORDED_BY_FERRY)
            .await
            .unwrap_err(),
    );
    r.set_run_tag(&ferry, ferry_registry::RECORDED_BY_FERRY, "churn")
        .await
        .unwrap();
    assert_eq!(
        r.run(&ferry).await.unwrap().info.status,
        RunStatus::Finished
    );
}

async fn experiments_runs_params_metrics_and_tags(t: &TestRegistry) {
    use ferry_registry::{Metric, RunStatus};
    let r = &t.registry;
    let default = r.experiment("0").await.unwrap();
    assert_eq!(default.name, "Default");
    let e = r.create_experiment("churn", None).await.unwrap();
    assert_ne!(e.id, "0");
    assert_eq!(e.artifact_location, format!("mlflow-artifacts:/{}", e.id));
    assert!(matches!(
        r.create_experiment("churn", None).await.unwrap_err(),
        RegistryError::Conflict(_)
    ));
    assert_eq!(r.experiment_by_name("churn").await.unwrap().id, e.id);
    r.set_experiment_tag(&e.id, "team", "growth").await.unwrap();
    r.set_experiment_tag(&e.id, "team", "retention")
        .await
        .unwrap();
    assert_eq!(
        r.experiment(&e.id).await.unwrap().tags,
        vec![("team".to_string(), "retention".to_string())]
    );
    assert_eq!(r.experiments().await.unwrap().len(), 2);

    let run = r
        .create_run(&e.id, Some("baseline"), "alice", Some(1_000))
        .await
        .unwrap();
    assert_eq!(run.id.len(), 32);
    assert_eq!(
        (run.status, run.name.as_str(), run.start_time),
        (RunStatus::Running, "baseline", 1_000)
    );
    assert!(
        run.artifact_uri
            .ends_with(&format!("/{}/artifacts", run.id))
    );

    r.log_param(&run.id, "l2", "1.0").await.unwrap();
    r.log_param(&run.id, "l2", "1.0").await.unwrap();
    let e2 = r.log_param(&run.id, "l2", "2.0").await.unwrap_err();
    assert!(
        matches!(e2, RegistryError::State(_)) && e2.to_string().contains("cannot be changed"),
        "{e2}"
    );
    for (step, value) in [(0, 0.9), (2, 0.4), (1, 0.6)] {
        r.log_metric(
            &run.id,
            Metric {
                key: "loss",
                value,
                step,
                timestamp: 10 + step,
            },
        )
        .await
        .unwrap();
    }
    r.log_metric(
        &run.id,
        Metric {
            key: "auc",
            value: f64::NAN,
            step: 0,
            timestamp: 5,
        },
    )
    .await
    .unwrap();
    r.set_run_tag(&run.id, "stage", "dev").await.unwrap();
    r.set_run_tag(&run.id, "stage", "prod").await.unwrap();

    let full = r.run(&run.id).await.unwrap();
    assert_eq!(full.params, vec![("l2".to_string(), "1.0".to_string())]);
    assert_eq!(full.tags, vec![("stage".to_string(), "prod".to_string())]);
    let loss = full.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!(
        (loss.value, loss.step),
        (0.4, 2),
        "the latest metric is the one at the highest step"
    );
    assert!(
        full.metrics
            .iter()
            .find(|m| m.key == "auc")
            .unwrap()
            .value
            .is_nan()
    );
    let history: Vec<(i64, f64)> = r
        .metric_history(&run.id, "loss")
        .await
        .unwrap()
        .iter()
        .map(|m| (m.step, m.value))
        .collect();
    assert_eq!(history, vec![(0, 0.9), (1, 0.6), (2, 0.4)]);

    let done = r
        .update_run(&run.id, Some(RunStatus::Finished), Some(2_000), None)
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.end_time, done.name.as_str()),
        (RunStatus::Finished, Some(2_000), "baseline")
    );
    let later = r.create_run(&e.id, None, "bob", Some(5_000)).await.unwrap();
    let runs = r.runs(std::slice::from_ref(&e.id)).await.unwrap();
    assert_eq!(
        runs.iter().map(|x| x.info.id.clone()).collect::<Vec<_>>(),
        vec![later.id.clone(), run.id.clone()]
    );

    for bad in ["", "../x", "a\nb", &"k".repeat(300)] {
        assert!(
            r.log_param(&run.id, bad, "v").await.is_err(),
            "{bad:?} should be refused"
        );
    }
    assert!(matches!(
        r.run("nope").await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    assert!(matches!(
        r.experiment("x").await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    assert!(matches!(
        r.create_run("999", None, "a", None).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
}

async fn concurrent_metric_logging_loses_nothing(t: &TestRegistry) {
    use ferry_registry::Metric;
    let run = t.registry.create_run("0", None, "ci", None).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..8i64 {
        let r = t.registry.clone();
        let id = run.id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100i64 {
                let batch: Vec<Metric> = (0..5)
                    .map(|j| Metric {
                        key: "throughput",
                        value: (w * 1000 + i * 5 + j) as f64,
                        step: i,
                        timestamp: j,
                    })
                    .collect();
                r.log_metrics(&id, &batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let history = t
        .registry
        .metric_history(&run.id, "throughput")
        .await
        .unwrap();
    assert_eq!(history.len(), 8 * 100 * 5);
    let mut values: Vec<i64> = history.iter().map(|m| m.value as i64).collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 4000, "every logged value is there once");
}

async fn a_version_registered_without_lineage_gets_one_once(t: &TestRegistry) {
    use ferry_registry::NewModelVersion;
    let r = &t.registry;
    let run = r.create_run("0", None, "ci", None).await.unwrap();
    let logged = r
        .create_logged_model("0", "model", Some(&run.id), "", &[], &[])
        .await
        .unwrap();
    r.create_registered_model("sk", "", &[]).await.unwrap();
    let version = |source: String| NewModelVersion {
        source,
        run_id: Some(run.id.clone()),
        user_id: "ci".into(),
        ..Default::default()
    };
    let v1 = r
        .create_model_version("sk", version(format!("models:/{}", logged.id)))
        .await
        .unwrap();
    assert_eq!(
        r.version_artifact_dir(&v1).await.unwrap(),
        format!("0/models/{}/artifacts", logged.id)
    );
    let v2 = r
        .create_model_version("sk", version(format!("runs:/{}/model", run.id)))
        .await
        .unwrap();
    assert_eq!(
        r.version_artifact_dir(&v2).await.unwrap(),
        format!("0/{}/artifacts/model", run.id)
    );
    let v3 = r
        .create_model_version("sk", version("s3://bucket/model".into()))
        .await
        .unwrap();
    let e = r.version_artifact_dir(&v3).await.unwrap_err();
    assert!(
        matches!(&e, RegistryError::Invalid(m) if m.contains("s3://bucket/model")),
        "{e}"
    );
    let v4 = r
        .create_model_version(
            "sk",
            version("models:/m-00000000000000000000000000000000".into()),
        )
        .await
        .unwrap();
    assert!(matches!(
        r.version_artifact_dir(&v4).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));

    let set = r
        .set_version_lineage("sk", 1, "{\"first\": true}")
        .await
        .unwrap();
    assert_eq!(set.lineage.as_deref(), Some("{\"first\": true}"));
    let e = r.set_version_lineage("sk", 1, "{}").await.unwrap_err();
    assert!(
        matches!(&e, RegistryError::Conflict(m) if m.contains("already has a lineage")),
        "{e}"
    );
    assert_eq!(
        r.model_version("sk", 1).await.unwrap().lineage.as_deref(),
        Some("{\"first\": true}"),
        "the first lineage is kept"
    );
    assert!(matches!(
        r.set_version_lineage("sk", 9, "{}").await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    assert_eq!(r.model_version("sk", 2).await.unwrap().lineage, None);
}

async fn latest_metrics_are_the_highest_step_then_the_newest_time(t: &TestRegistry) {
    use ferry_registry::Metric;
    let r = &t.registry;
    let run = r.create_run("0", None, "ci", None).await.unwrap();
    let other = r.create_run("0", None, "ci", None).await.unwrap();
    let point = |key: &'static str, value: f64, step: i64, timestamp: i64| Metric {
        key,
        value,
        step,
        timestamp,
    };
    // Logged out of order: step 5 stays the latest whatever comes later for lower steps.
    for m in [
        point("loss", 0.5, 5, 50),
        point("loss", 0.9, 1, 99),
        point("loss", 0.7, 3, 10),
        point("acc", 0.1, 0, 10),
        point("acc", 0.3, 0, 30),
        point("acc", 0.2, 0, 20),
        point("nan", f64::NAN, 2, 1),
        point("dup", 1.0, 1, 1),
        point("dup", 2.0, 1, 1),
        point("dup", 1.0, 1, 1),
    ] {
        r.log_metric(&run.id, m).await.unwrap();
    }
    r.log_metric(&other.id, point("loss", 0.1, 9, 9))
        .await
        .unwrap();
    // Values as text, so that NaN equals NaN.
    let latest = |run: ferry_registry::Run| -> Vec<(String, String, i64, i64)> {
        run.metrics
            .into_iter()
            .map(|m| (m.key, m.value.to_string(), m.step, m.timestamp))
            .collect()
    };
    let got = latest(r.run(&run.id).await.unwrap());
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(
        got[0],
        ("acc".into(), "0.3".into(), 0, 30),
        "same step: the newest time"
    );
    assert_eq!(
        got[1],
        ("dup".into(), "2".into(), 1, 1),
        "same step and time: the last logged; an identical point again changes nothing"
    );
    assert_eq!(
        got[2],
        ("loss".into(), "0.5".into(), 5, 50),
        "the highest step"
    );
    assert_eq!(got[3], ("nan".into(), "NaN".into(), 2, 1));
    assert_eq!(r.metric_history(&run.id, "loss").await.unwrap().len(), 3);

    // Searching reads the same values, for every run at once.
    let runs = r.runs(&["0".to_string()]).await.unwrap();
    let mine = runs.into_iter().find(|x| x.info.id == run.id).unwrap();
    assert_eq!(latest(mine), got);

    // The migration's backfill computes the same table from the histories.
    let backfill = include_str!("../migrations/sqlite/0006_latest_metrics.sql");
    let insert = &backfill[backfill.find("INSERT INTO").unwrap()..];
    let insert = &insert[..=insert.find(");").unwrap()];
    assert_eq!(
        backfill,
        include_str!("../migrations/postgres/0006_latest_metrics.sql")
            .replace("DOUBLE PRECISION", "REAL"),
        "both backends migrate alike"
    );
    let pool = r.db().pool();
    sqlx::query("DELETE FROM run_latest_metrics")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(insert).execute(pool).await.unwrap();
    assert_eq!(latest(r.run(&run.id).await.unwrap()), got);
    assert_eq!(
        latest(r.run(&other.id).await.unwrap()),
        vec![("loss".to_string(), "0.1".to_string(), 9, 9)]
    );
}

async fn deleted_runs_and_experiments_are_kept_and_restorable(t: &TestRegistry) {
    use ferry_registry::{Metric, RunFilter, RunView};
    let r = &t.registry;
    let e = r.create_experiment("cleanup", None).await.unwrap();
    let keep = r.create_run(&e.id, None, "ci", Some(1)).await.unwrap().id;
    let gone = r.create_run(&e.id, None, "ci", Some(2)).await.unwrap().id;
    let point = Metric {
        key: "loss",
        value: 0.5,
        step: 0,
        timestamp: 0,
    };
    r.log_metric(&gone, point).await.unwrap();
    r.delete_run(&gone).await.unwrap();
    let ids = |runs: Vec<ferry_registry::Run>| -> Vec<String> {
        runs.into_iter().map(|r| r.info.id).collect()
    };
    let search = async |view| {
        ids(r
            .search_runs(
                std::slice::from_ref(&e.id),
                view,
                &RunFilter::parse("").unwrap(),
                &[],
                100,
            )
            .await
            .unwrap())
    };
    assert_eq!(search(RunView::ActiveOnly).await, vec![keep.clone()]);
    assert_eq!(search(RunView::DeletedOnly).await, vec![gone.clone()]);
    assert_eq!(search(RunView::All).await, vec![gone.clone(), keep.clone()]);
    let deleted = r.run(&gone).await.unwrap();
    assert_eq!(deleted.info.lifecycle_stage, "deleted");
    assert_eq!(
        deleted.metrics.len(),
        1,
        "a deleted run keeps what it logged"
    );
    for refused in [
        r.log_metric(&gone, point).await.unwrap_err(),
        r.log_param(&gone, "a", "1").await.unwrap_err(),
        r.set_run_tag(&gone, "a", "1").await.unwrap_err(),
        r.update_run(&gone, None, Some(5), None).await.unwrap_err(),
    ] {
        assert!(
            matches!(&refused, RegistryError::State(m) if m.contains("is deleted")),
            "{refused}"
        );
    }
    assert!(matches!(
        r.delete_run("0123456789abcdef0123456789abcdef")
            .await
            .unwrap_err(),
        RegistryError::NotFound(_)
    ));
    r.restore_run(&gone).await.unwrap();
    r.log_param(&gone, "a", "1").await.unwrap();

    // An experiment takes its runs with it, and brings them back.
    r.delete_experiment(&e.id).await.unwrap();
    assert_eq!(
        r.experiment(&e.id).await.unwrap().lifecycle_stage,
        "deleted"
    );
    assert!(search(RunView::ActiveOnly).await.is_empty());
    assert!(matches!(
        r.create_run(&e.id, None, "ci", None).await.unwrap_err(),
        RegistryError::State(_)
    ));
    assert!(matches!(
        r.restore_run(&keep).await.unwrap_err(),
        RegistryError::State(m) if m.contains("restore the experiment")
    ));
    r.restore_experiment(&e.id).await.unwrap();
    assert_eq!(search(RunView::ActiveOnly).await.len(), 2);
    assert!(matches!(
        r.delete_experiment("0").await.unwrap_err(),
        RegistryError::State(m) if m.contains("default experiment")
    ));
}

#[tokio::test]
async fn a_database_from_a_newer_ferry_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::open(dir.path(), None).await.unwrap();
    let run = r.create_run("0", None, "ci", None).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'from the future', TRUE, X'00', 0)")
        .execute(r.db().pool())
        .await
        .unwrap();
    r.db().close().await;
    let Err(e) = Registry::open(dir.path(), None).await else {
        panic!("a database from a newer Ferry was opened");
    };
    assert!(
        e.to_string()
            .contains("schema version 9999, written by a newer Ferry"),
        "{e}"
    );
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 9999")
        .execute(
            &sqlx::SqlitePool::connect(&format!(
                "sqlite://{}",
                dir.path().join("ferry.db").display()
            ))
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    let again = Registry::open(dir.path(), None).await.unwrap();
    assert_eq!(again.run(&run.id).await.unwrap().info.id, run.id);
}

/// A NaN logged first on a connection must not fix the statement's value parameter to
/// another type than a float's (PostgreSQL refused every later value on that connection).
async fn a_nan_first_does_not_break_later_metrics(t: &TestRegistry) {
    use ferry_registry::Metric;
    let r = &t.registry;
    let run = r.create_run("0", None, "ci", None).await.unwrap();
    for (step, value) in [(0, f64::NAN), (1, 0.5), (2, f64::NAN), (3, 0.25)] {
        r.log_metric(
            &run.id,
            Metric {
                key: "loss",
                value,
                step,
                timestamp: step,
            },
        )
        .await
        .unwrap();
    }
    let history = r.metric_history(&run.id, "loss").await.unwrap();
    let values: Vec<String> = history.iter().map(|m| m.value.to_string()).collect();
    assert_eq!(values, ["NaN", "0.5", "NaN", "0.25"]);
    assert_eq!(r.run(&run.id).await.unwrap().metrics[0].value, 0.25);
}

on_both_backends!(
    deployments_keep_every_revision,
    racing_deployment_updates_have_one_winner
);

async fn deployments_keep_every_revision(t: &TestRegistry) {
    let r = &t.registry;
    assert!(matches!(
        r.create_deployment("bad/name", "{}", "alice").await,
        Err(RegistryError::Invalid(_))
    ));
    let first = r
        .create_deployment("churn", r#"{"v":1}"#, "alice")
        .await
        .unwrap();
    assert_eq!(first.revision, 1);
    assert!(matches!(
        r.create_deployment("churn", r#"{"v":9}"#, "bob").await,
        Err(RegistryError::Conflict(_))
    ));
    let second = r
        .update_deployment("churn", r#"{"v":2}"#, "bob", "update", Some(1))
        .await
        .unwrap();
    assert_eq!(second.revision, 2);
    // A writer that read revision 1 does not overwrite revision 2 unseen.
    assert!(matches!(
        r.update_deployment("churn", r#"{"v":3}"#, "carol", "update", Some(1))
            .await,
        Err(RegistryError::Conflict(_))
    ));
    let current = r.deployment("churn").await.unwrap();
    assert_eq!((current.revision, current.spec.as_str()), (2, r#"{"v":2}"#));
    let history = r.deployment_revisions("churn").await.unwrap();
    let specs: Vec<_> = history
        .iter()
        .map(|h| (h.revision, h.spec.as_str(), h.actor.as_str()))
        .collect();
    assert_eq!(
        specs,
        [(1, r#"{"v":1}"#, "alice"), (2, r#"{"v":2}"#, "bob")]
    );
    assert_eq!(r.deployments().await.unwrap().len(), 1);

    let sample = ferry_registry::ShadowSample {
        name: "churn".into(),
        revision: 2,
        request_id: "r1".into(),
        answered: "churn@1".into(),
        shadow: "churn@2".into(),
        answer: "[1]".into(),
        shadow_answer: "[0]".into(),
        created_at: 5,
    };
    r.add_shadow_sample(&sample).await.unwrap();
    assert_eq!(r.shadow_samples("churn", 10).await.unwrap(), [sample]);

    r.delete_deployment("churn").await.unwrap();
    assert!(matches!(
        r.deployment("churn").await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(matches!(
        r.delete_deployment("churn").await,
        Err(RegistryError::NotFound(_))
    ));
    // A new deployment of the same name starts a history of its own.
    let again = r
        .create_deployment("churn", r#"{"v":7}"#, "dan")
        .await
        .unwrap();
    assert_eq!(again.revision, 1);
    assert_eq!(r.deployment_revisions("churn").await.unwrap().len(), 1);
}

async fn racing_deployment_updates_have_one_winner(t: &TestRegistry) {
    let r = &t.registry;
    r.create_deployment("race", "{}", "alice").await.unwrap();
    let writers: Vec<_> = (0..10)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move {
                r.update_deployment("race", &format!("{{\"w\":{i}}}"), "w", "update", Some(1))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for w in writers {
        match w.await.unwrap() {
            Ok(rev) => {
                assert_eq!(rev.revision, 2);
                won += 1;
            }
            Err(RegistryError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(r.deployment_revisions("race").await.unwrap().len(), 2);
}

on_both_backends!(prediction_segments_are_listed_by_version_and_time);

async fn prediction_segments_are_listed_by_version_and_time(t: &TestRegistry) {
    let r = &t.registry;
    let a = r
        .add_prediction_segment("churn", 1, b"PAR1 a", 10, (1_000, 2_000))
        .await
        .unwrap();
    r.add_prediction_segment("churn", 2, b"PAR1 b", 5, (1_500, 3_000))
        .await
        .unwrap();
    r.add_prediction_segment("churn", 1, b"PAR1 c", 7, (4_000, 5_000))
        .await
        .unwrap();
    r.add_prediction_segment("other", 1, b"PAR1 d", 1, (1_000, 9_000))
        .await
        .unwrap();
    assert_eq!(r.blobs().get(&a.digest).await.unwrap(), b"PAR1 a");
    let rows =
        |s: &[ferry_registry::PredictionSegment]| s.iter().map(|s| s.rows).collect::<Vec<_>>();
    let all = r
        .prediction_segments("churn", None, None, None)
        .await
        .unwrap();
    assert_eq!(rows(&all), [10, 5, 7]);
    let v1 = r
        .prediction_segments("churn", Some(1), None, None)
        .await
        .unwrap();
    assert_eq!(rows(&v1), [10, 7]);
    let window = r
        .prediction_segments("churn", None, Some(2_500), Some(4_500))
        .await
        .unwrap();
    assert_eq!(rows(&window), [5, 7]);
    assert!(
        r.prediction_segments("none", None, None, None)
            .await
            .unwrap()
            .is_empty()
    );
}
