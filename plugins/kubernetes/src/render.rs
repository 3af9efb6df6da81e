//! The Kubernetes objects of one deployment, as JSON values in the API's own shape.

use ferry_bundle::digest_of;
use ferry_sdk::prelude::*;
use ferry_sdk::target::check_segment;
use ferry_sdk::{Deployment, input_error};
use serde::Deserialize;
use serde_json::{Value, json};

/// Where replicas keep the shared blob store and their compiled-plugin cache.
const DATA_DIR: &str = "/var/lib/ferry";
const CACHE_DIR: &str = "/var/cache/ferry";
/// The port `ferry serve` listens on inside the pod.
const PORT: u16 = 8080;

/// A target's settings (see `config.schema.json`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The namespace the objects go in.
    pub namespace: String,
    /// The ferry image.
    pub image: String,
    /// Replicas at rest, the autoscaler's minimum.
    pub replicas: u32,
    /// The autoscaler's maximum.
    pub max_replicas: u32,
    /// Target average CPU utilisation, in percent.
    pub cpu_target: u32,
    /// Replicas a voluntary disruption must leave.
    pub min_available: u32,
    /// The Secret holding the database URL under `url`.
    pub database_secret: String,
    /// The shared blob store's claim.
    pub data_claim: String,
    /// CPU requested per replica.
    pub cpu: String,
    /// Memory requested and allowed per replica.
    pub memory: String,
    /// Earlier renderings kept for rollback.
    pub keep: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace: "default".into(),
            image: "ghcr.io/ferry-mlops/ferry:0.1.0".into(),
            replicas: 2,
            max_replicas: 10,
            cpu_target: 70,
            min_available: 1,
            database_secret: "ferry-database".into(),
            data_claim: "ferry-data".into(),
            cpu: "500m".into(),
            memory: "1Gi".into(),
            keep: 10,
        }
    }
}

/// Whether `s` is a DNS-1123 label, as Kubernetes names of most objects must be.
fn check_name(what: &str, s: &str, max: usize) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(config_error(format!(
            "{what} {s:?} is not a valid Kubernetes name: lowercase letters, digits and `-`, \
             starting and ending with a letter or digit, at most {max} characters"
        )))
    }
}

/// Whether `s` is a plain Kubernetes quantity such as `500m`, `2`, `1Gi` or `512Mi`.
fn check_quantity(what: &str, s: &str) -> Result<()> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    let ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && ["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"].contains(&suffix);
    if ok {
        Ok(())
    } else {
        Err(config_error(format!(
            "{what} {s:?} is not a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi"
        )))
    }
}

impl Settings {
    /// Reads and checks a target's settings.
    pub fn parse(text: &str) -> Result<Settings> {
        let s: Settings = parse_config(text)?;
        check_name("namespace", &s.namespace, 63)?;
        check_name("database_secret", &s.database_secret, 253)?;
        check_name("data_claim", &s.data_claim, 253)?;
        check_quantity("cpu", &s.cpu)?;
        check_quantity("memory", &s.memory)?;
        if s.image.is_empty() || s.image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(config_error(format!(
                "image {:?} is not an image reference",
                s.image
            )));
        }
        if s.replicas == 0 {
            return Err(config_error("replicas must be at least 1"));
        }
        if s.max_replicas < s.replicas {
            return Err(config_error(format!(
                "max_replicas ({}) is below replicas ({})",
                s.max_replicas, s.replicas
            )));
        }
        if !(1..=100).contains(&s.cpu_target) {
            return Err(config_error(format!(
                "cpu_target {} must be a percentage from 1 to 100",
                s.cpu_target
            )));
        }
        if s.min_available >= s.replicas {
            return Err(config_error(format!(
                "min_available ({}) must be below replicas ({}), or no node could ever be drained",
                s.min_available, s.replicas
            )));
        }
        Ok(s)
    }
}

/// One object to apply.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The whole object.
    pub body: Value,
}

impl Object {
    /// `Kind/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

fn object(
    kind: &'static str,
    api: &str,
    name: &str,
    s: &Settings,
    labels: &Value,
    rest: Value,
) -> Object {
    let mut body = json!({
        "apiVersion": api,
        "kind": kind,
        "metadata": { "name": name, "namespace": s.namespace, "labels": labels },
    });
    if let (Some(b), Value::Object(more)) = (body.as_object_mut(), rest) {
        b.extend(more);
    }
    Object {
        kind,
        name: name.to_string(),
        namespace: s.namespace.clone(),
        body,
    }
}

/// The objects that serve `target`, in the order to apply them.
pub fn render(target: &Deployment) -> Result<Vec<Object>> {
    check_segment("model version", &target.model_version)?;
    check_name("deployment name", &target.name, 52)?;
    let s = Settings::parse(&target.settings)?;
    let lineage = target
        .artifacts
        .iter()
        .find(|a| a.path == "lineage.json")
        .ok_or_else(|| input_error("lineage.json", None, "the deployment carries no lineage"))?;
    let name = format!("{}-ferry", target.name);
    let selector = json!({
        "app.kubernetes.io/name": "ferry",
        "app.kubernetes.io/instance": target.name,
    });
    let labels = json!({
        "app.kubernetes.io/name": "ferry",
        "app.kubernetes.io/instance": target.name,
        "app.kubernetes.io/component": "serving",
        "app.kubernetes.io/managed-by": "ferry",
        "ferry.dev/model": label_value(&target.model_name),
    });
    // Only the pods carry the version, so a new version changes what must change (the
    // ConfigMap and the Deployment's template) and leaves the rest as it was.
    let mut pod_labels = labels.clone();
    pod_labels["ferry.dev/model-version"] = json!(target.model_version);
    let config = json!({
        "FERRY_ADDR": format!("0.0.0.0:{PORT}"),
        "FERRY_DATA_DIR": DATA_DIR,
        "FERRY_CACHE_DIR": CACHE_DIR,
        "FERRY_DEPLOYMENT": target.name,
        "FERRY_MODEL": target.model_name,
        "FERRY_MODEL_VERSION": target.model_version,
        "FERRY_LINEAGE_DIGEST": lineage.digest,
        "RUST_LOG": "info",
    });
    let config_digest = digest_of(config.to_string().as_bytes());
    let probe = |path: &str, period: u32, failures: u32| {
        json!({
            "httpGet": { "path": path, "port": "http" },
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": failures,
        })
    };
    Ok(vec![
        object(
            "ConfigMap",
            "v1",
            &name,
            &s,
            &labels,
            json!({ "data": config }),
        ),
        object(
            "Deployment",
            "apps/v1",
            &name,
            &s,
            &labels,
            json!({
                // No `replicas`: the autoscaler owns it, and a re-apply must not reset it.
                "spec": {
                    "revisionHistoryLimit": 10,
                    "selector": { "matchLabels": selector },
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": { "maxUnavailable": 0, "maxSurge": 1 },
                    },
                    "template": {
                        "metadata": {
                            "labels": pod_labels,
                            "annotations": {
                                "ferry.dev/config-digest": config_digest,
                                "ferry.dev/lineage-digest": lineage.digest,
                            },
                        },
                        "spec": {
                            "terminationGracePeriodSeconds": 30,
                            "securityContext": {
                                "runAsNonRoot": true,
                                "runAsUser": 65532,
                                "fsGroup": 65532,
                                "seccompProfile": { "type": "RuntimeDefault" },
                            },
                            "topologySpreadConstraints": [{
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": { "matchLabels": selector },
                            }],
                            "containers": [{
                                "name": "ferry",
                                "image": s.image,
                                "args": ["serve"],
                                "ports": [{ "name": "http", "containerPort": PORT, "protocol": "TCP" }],
                                "envFrom": [{ "configMapRef": { "name": name } }],
                                "env": [{
                                    "name": "FERRY_DATABASE_URL",
                                    "valueFrom": { "secretKeyRef": { "name": s.database_secret, "key": "url" } },
                                }],
                                "readinessProbe": probe("/v1/ready", 5, 3),
                                "livenessProbe": probe("/v1/health", 10, 6),
                                "startupProbe": probe("/v1/health", 2, 60),
                                "resources": {
                                    "requests": { "cpu": s.cpu, "memory": s.memory },
                                    "limits": { "memory": s.memory },
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": false,
                                    "readOnlyRootFilesystem": true,
                                    "capabilities": { "drop": ["ALL"] },
                                },
                                "volumeMounts": [
                                    { "name": "data", "mountPath": DATA_DIR },
                                    { "name": "cache", "mountPath": CACHE_DIR },
                                ],
                            }],
                            "volumes": [
                                { "name": "data", "persistentVolumeClaim": { "claimName": s.data_claim } },
                                { "name": "cache", "emptyDir": {} },
                            ],
                        },
                    },
                },
            }),
        ),
        object(
            "Service",
            "v1",
            &name,
            &s,
            &labels,
            json!({
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [{ "name": "http", "port": 80, "targetPort": "http", "protocol": "TCP" }],
                },
            }),
        ),
        object(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            &name,
            &s,
            &labels,
            json!({
                "spec": {
                    "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": name },
                    "minReplicas": s.replicas,
                    "maxReplicas": s.max_replicas,
                    "metrics": [{
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": { "type": "Utilization", "averageUtilization": s.cpu_target },
                        },
                    }],
                },
            }),
        ),
        object(
            "PodDisruptionBudget",
            "policy/v1",
            &name,
            &s,
            &labels,
            json!({
                "spec": {
                    "minAvailable": s.min_available,
                    "selector": { "matchLabels": selector },
                },
            }),
        ),
    ])
}

/// A label value holds at most 63 letters, digits, `-`, `_` and `.`; a model name that does
/// not fit is cut and its other characters replaced.
fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}
