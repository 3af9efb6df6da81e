//! Named deployments: which versions answer a deployment's requests and in what shares, which
//! versions shadow them, what answers when they fail, and the circuit breakers that keep a
//! failing version from being asked. Each change is a new revision in the registry; the
//! functions here are the only way revisions are written, locally and by the server.

pub mod batch;
pub mod breaker;
pub mod live;
pub mod route;
pub mod target;

use ferry_registry::{Deployment, DeploymentRevision, Registry, ShadowSample};
use serde_json::{Value, json};

pub use batch::Gate;
pub use ferry_registry::{DeploymentSpec, SpecError};
pub use live::{Deployments, Live, Reason};
pub use route::{RouteError, Routed, Routing};

fn to_json(spec: &DeploymentSpec) -> Result<String, SpecError> {
    serde_json::to_string(spec)
        .map_err(|e| SpecError::Invalid(format!("cannot write the specification: {e}")))
}

/// Creates deployment `name` from `spec` (checked and resolved, its batching through `gate`)
/// at revision 1.
pub async fn create(
    registry: &Registry,
    gate: Gate<'_>,
    name: &str,
    spec: DeploymentSpec,
    actor: &str,
) -> Result<DeploymentRevision, SpecError> {
    ferry_registry::check_deployment_name(name)?;
    let spec = spec.resolve(registry).await?;
    gate.check(registry, &spec).await?;
    Ok(registry
        .create_deployment(name, &to_json(&spec)?, actor)
        .await?)
}

/// Writes `spec` (checked and resolved, its batching through `gate`) as the next revision of
/// deployment `name`; with `expected`, only if `expected` is still the current revision.
pub async fn update(
    registry: &Registry,
    gate: Gate<'_>,
    name: &str,
    spec: DeploymentSpec,
    actor: &str,
    expected: Option<i64>,
) -> Result<DeploymentRevision, SpecError> {
    registry.deployment(name).await?;
    let spec = spec.resolve(registry).await?;
    gate.check(registry, &spec).await?;
    Ok(registry
        .update_deployment(name, &to_json(&spec)?, actor, "update", expected)
        .await?)
}

/// Serves an earlier revision again, as a new revision: `to`, or the one before the current
/// one. The versions it served must still exist.
pub async fn rollback(
    registry: &Registry,
    gate: Gate<'_>,
    name: &str,
    to: Option<i64>,
    actor: &str,
) -> Result<DeploymentRevision, SpecError> {
    let current = registry.deployment(name).await?;
    let to = match to {
        Some(t) if t == current.revision => {
            return Err(SpecError::Invalid(format!(
                "deployment {name:?} already serves revision {t}"
            )));
        }
        Some(t) => t,
        None if current.revision > 1 => current.revision - 1,
        None => {
            return Err(SpecError::Invalid(format!(
                "deployment {name:?} has only its first revision: there is nothing to roll back to"
            )));
        }
    };
    let old = registry.deployment_revision(name, to).await?;
    let spec: DeploymentSpec = serde_json::from_str(&old.spec).map_err(|e| {
        SpecError::Invalid(format!(
            "revision {to} of deployment {name:?} cannot be read: {e}"
        ))
    })?;
    spec.recheck(registry).await?;
    gate.check(registry, &spec).await?;
    Ok(registry
        .update_deployment(
            name,
            &old.spec,
            actor,
            &format!("rollback to {to}"),
            Some(current.revision),
        )
        .await?)
}

/// A deployment as the API shows it: its specification parsed and, when given, the live state
/// of its targets' breakers and shadows' counters.
pub fn deployment_json(d: &Deployment, live: Option<&Live>) -> Value {
    let spec: Value = serde_json::from_str(&d.spec).unwrap_or(Value::Null);
    let mut v = json!({
        "name": d.name,
        "revision": d.revision,
        "spec": spec,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    });
    if let Some(l) = live {
        v["status"] = json!({"targets": l.target_status(), "shadows": l.shadow_status()});
        if l.spec.batch.is_some() {
            v["status"]["batching"] = json!(l.batchers.status());
        }
    }
    v
}

/// A revision as the API shows it: its specification parsed.
pub fn revision_json(r: &DeploymentRevision) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["spec"] = serde_json::from_str(&r.spec).unwrap_or(Value::Null);
    v
}

/// A shadow disagreement as the API shows it: both answers parsed.
pub fn sample_json(s: &ShadowSample) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["answer"] = serde_json::from_str(&s.answer).unwrap_or(Value::Null);
    v["shadow_answer"] = serde_json::from_str(&s.shadow_answer).unwrap_or(Value::Null);
    v
}

/// A deployer's report as the API shows it: its status parsed.
pub fn target_json(t: &ferry_registry::DeploymentTarget) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    v["status"] = serde_json::from_str(&t.status).unwrap_or(Value::Null);
    v
}
