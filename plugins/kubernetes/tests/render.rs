//! The rendering's settings checks and shape, natively (the plugin's file handling is tested
//! through the host in `tests/tests/deployers.rs`).

use ferry_sdk::{Artifact, Deployment, PluginRef};
use plugin_kubernetes::render;

fn target(name: &str, settings: &str) -> Deployment {
    let plugin = PluginRef {
        name: "linear".into(),
        version: "0.1.0".into(),
        digest: "sha256:00".into(),
    };
    Deployment {
        name: name.into(),
        model_name: "churn".into(),
        model_version: "3".into(),
        model_plugin: plugin,
        pipeline: vec![],
        artifacts: vec![Artifact {
            path: "lineage.json".into(),
            digest: "sha256:11".into(),
            contents: b"{}".to_vec(),
        }],
        settings: settings.into(),
    }
}

#[test]
fn five_objects_with_readiness_on_ready() {
    let objects = render(&target("churn", "{\"replicas\": 3}")).unwrap();
    let kinds: Vec<_> = objects.iter().map(|o| o.kind).collect();
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
    let d = &objects[1].body;
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/v1/ready");
    assert_eq!(objects[3].body["spec"]["minReplicas"], 3);
    assert_eq!(
        objects[0].body["data"]["FERRY_MODEL_VERSION"], "3",
        "a version stays a string"
    );
}

#[test]
fn bad_settings_are_named() {
    for (settings, expected) in [
        ("{\"replicas\": 0}", "replicas must be at least 1"),
        (
            "{\"replicas\": 3, \"max_replicas\": 2}",
            "max_replicas (2) is below replicas (3)",
        ),
        (
            "{\"min_available\": 2}",
            "min_available (2) must be below replicas (2)",
        ),
        (
            "{\"namespace\": \"Prod\"}",
            "is not a valid Kubernetes name",
        ),
        ("{\"memory\": \"lots\"}", "is not a Kubernetes quantity"),
        ("{\"cpu_target\": 0}", "cpu_target 0 must be a percentage"),
        ("{\"image\": \"a b\"}", "is not an image reference"),
        ("{\"replica\": 2}", "replica"),
    ] {
        let e = render(&target("churn", settings)).unwrap_err();
        assert!(format!("{e:?}").contains(expected), "{settings}: {e:?}");
    }
    let e = render(&target("Churn_Prod", "{}")).unwrap_err();
    assert!(
        format!("{e:?}").contains("not a valid Kubernetes name"),
        "{e:?}"
    );
}
