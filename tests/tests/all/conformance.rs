//! `ferry plugin test`, the conformance kit: every built-in and the quickstart plugin conform,
//! deployers and alert sinks act in fresh folders and against a loopback listener, and careless
//! plugins fail exactly the points they break.

use std::process::Command;

use ferry_builtins as builtin;
use ferry_kit::conformance::{self, Outcome, Report};
use ferry_runtime::LoadOptions;
use ferry_tests::{component_cache, ferry_bin, guests, runtime};

async fn report_for_file(path: &str) -> Report {
    let plugin = runtime()
        .load_file(std::path::Path::new(path), &LoadOptions::default())
        .await
        .unwrap();
    conformance::run(&plugin).await
}

fn outcome<'a>(report: &'a Report, check: &str) -> &'a Outcome {
    &report
        .points
        .iter()
        .find(|p| p.check == check)
        .unwrap_or_else(|| panic!("no `{check}` point in {report:#?}"))
        .outcome
}

#[tokio::test]
async fn every_built_in_plugin_conforms() {
    for name in builtin::names() {
        let plugin = builtin::load(&runtime(), name, &LoadOptions::default())
            .await
            .unwrap();
        let report = conformance::run(&plugin).await;
        assert!(report.passed(), "{name}: {:#?}", report.failures());
        let (passed, _, _) = report.tally();
        assert!(passed >= 3, "{name}: {report:#?}");
    }
}

#[tokio::test]
async fn the_quickstart_plugin_conforms() {
    let report = report_for_file(guests::RATIO).await;
    assert!(report.passed(), "{:#?}", report.failures());
}

#[tokio::test]
async fn a_transform_that_draws_random_numbers_fails_the_sample_check() {
    let report = report_for_file(guests::GUEST_RANDOM).await;
    assert!(!report.passed());
    match outcome(&report, "sample") {
        Outcome::Failed(why) => assert!(why.contains("row"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_transform_that_returns_a_million_rows_fails_where_it_does() {
    let report = report_for_file(guests::GUEST_HUGE_OUTPUT).await;
    assert!(!report.passed());
    for check in ["sample", "one-row"] {
        match outcome(&report, check) {
            Outcome::Failed(why) => assert!(why.contains("rows"), "{check}: {why}"),
            other => panic!("{check}: {other:?}"),
        }
    }
}

async fn builtin_report(name: &str) -> Report {
    let plugin = builtin::load(&runtime(), name, &LoadOptions::default())
        .await
        .unwrap();
    conformance::run(&plugin).await
}

fn passed<'a>(report: &'a Report, check: &str) -> &'a str {
    match outcome(report, check) {
        Outcome::Passed(how) => how,
        other => panic!("{} {check}: {other:?}\n{report:#?}", report.plugin),
    }
}

fn failed<'a>(report: &'a Report, check: &str) -> &'a str {
    match outcome(report, check) {
        Outcome::Failed(why) => why,
        other => panic!("{} {check}: {other:?}\n{report:#?}", report.plugin),
    }
}

#[tokio::test]
async fn deployers_plan_apply_and_roll_back_in_fresh_folders() {
    for name in ["directory", "kubernetes", "edge-bundle"] {
        let report = builtin_report(name).await;
        assert!(passed(&report, "plan").contains("nothing written"));
        assert!(passed(&report, "apply").contains("version 2 live"));
        assert!(passed(&report, "rollback").contains("version 1 live again"));
        assert!(passed(&report, "bad-name").starts_with("refused"));
        for check in ["bad-config", "unknown-key", "limits"] {
            passed(&report, check);
        }
    }
}

#[tokio::test]
async fn a_deployer_that_writes_while_planning_and_cannot_roll_back_fails_those_points() {
    let report = report_for_file(guests::GUEST_CARELESS_DEPLOYER).await;
    assert!(!report.passed());
    let plan = failed(&report, "plan");
    assert!(
        plan.contains("planning wrote /deploy/ferry-conformance/planned"),
        "{plan}"
    );
    passed(&report, "apply");
    let rollback = failed(&report, "rollback");
    assert!(rollback.contains("says 2 is live"), "{rollback}");
    passed(&report, "unknown-key");
}

#[tokio::test]
async fn sinks_deliver_into_a_local_sink_and_report_a_refusal() {
    let file = builtin_report("file").await;
    assert_eq!(passed(&file, "delivery"), "written to /alerts/alerts.jsonl");
    assert!(matches!(
        outcome(&file, "failed-delivery"),
        Outcome::Skipped(_)
    ));
    for name in ["webhook", "slack"] {
        let report = builtin_report(name).await;
        assert!(report.passed(), "{name}: {:#?}", report.failures());
        let delivered = passed(&report, "delivery");
        assert!(delivered.starts_with("POST /"), "{name}: {delivered}");
        assert!(
            passed(&report, "failed-delivery").contains("503"),
            "{name}: {report:#?}"
        );
    }
    let email = builtin_report("email").await;
    assert!(email.passed(), "{:#?}", email.failures());
    assert_eq!(
        passed(&email, "delivery"),
        "mailed through the local relay, carrying the alert"
    );
    assert!(
        passed(&email, "failed-delivery").contains("554"),
        "{email:#?}"
    );
}

#[tokio::test]
async fn a_sink_that_ignores_a_refusal_fails_failed_delivery() {
    let report = report_for_file(guests::GUEST_CARELESS_SINK).await;
    assert!(passed(&report, "delivery").starts_with("POST /hook"));
    let why = failed(&report, "failed-delivery");
    assert!(why.contains("503"), "{why}");
    assert_eq!(report.failures().len(), 1, "{report:#?}");
}

#[test]
fn the_cli_reports_point_by_point_and_exits_12_on_a_failure() {
    let run = |plugin: &str, json: bool| {
        let mut cmd = Command::new(ferry_bin());
        cmd.args(["plugin", "test", plugin])
            .env("FERRY_CACHE_DIR", component_cache());
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let good = run("standard-scaler", false);
    let text = String::from_utf8_lossy(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("ferry plugin test: standard-scaler "),
        "{text}"
    );
    for check in [
        "contract",
        "manifest",
        "config-schema",
        "sample",
        "bad-config",
        "unknown-key",
        "wrong-types",
        "nulls",
        "empty-batch",
        "one-row",
        "limits",
    ] {
        assert!(text.contains(&format!("pass  {check}")), "{check}: {text}");
    }
    assert!(text.contains("11 passed, 0 failed, 0 skipped"), "{text}");

    let bad = run(guests::GUEST_RANDOM, true);
    assert_eq!(bad.status.code(), Some(12));
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    let sample = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["check"] == "sample")
        .unwrap();
    assert_eq!(sample["outcome"], "failed", "{report:#}");
    assert!(sample["asks"].as_str().unwrap().contains("deterministic"));
}

#[tokio::test]
async fn only_an_admin_may_publish_without_the_checks() {
    let server = ferry_tests::server::Server::start(&[]);
    let publisher = server.token("carol", "publisher");
    let ratio = std::fs::read(guests::RATIO).unwrap();
    let http = ferry_tests::server::Server::http();
    let publish = |token: String, query: &'static str| {
        http.post(format!("{}/v1/plugins{query}", server.url))
            .bearer_auth(token)
            .body(ratio.clone())
            .send()
    };
    let refused = publish(publisher.clone(), "?skip_checks=true")
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.headers().get("connection").is_none());
    let body: serde_json::Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("skip_checks: ") && message.contains("admin"),
        "{message}"
    );
    let bad = publish(publisher, "?skip_checks=maybe").await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(
        bad.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..]),
        "refused before its body was read, so the connection cannot be reused"
    );
    let admitted = publish(server.admin.clone(), "?skip_checks=true")
        .await
        .unwrap();
    assert_eq!(
        admitted.status().as_u16(),
        201,
        "{}",
        admitted.text().await.unwrap()
    );
    let audit = server.ferry(&["audit", "--limit", "10"]);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.contains("plugin.publish"), "{audit}");
}
