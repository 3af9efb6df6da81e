//! Deployments on a remote Ferry (`/v1/deployments`), as the server shows them (JSON).

use reqwest::Method;
use serde_json::{Value, json};

use super::{ClientError, RemoteRegistry};
use ferry_registry::DeploymentSpec;

impl RemoteRegistry {
    /// Every deployment.
    pub async fn deployments(&self) -> Result<Value, ClientError> {
        self.get("/v1/deployments", &[]).await
    }

    /// A deployment with its live state on the server.
    pub async fn deployment(&self, name: &str) -> Result<Value, ClientError> {
        self.get(&format!("/v1/deployments/{name}"), &[]).await
    }

    /// Creates a deployment; answers its first revision.
    pub async fn create_deployment(
        &self,
        name: &str,
        spec: &DeploymentSpec,
    ) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            "/v1/deployments",
            &json!({"name": name, "spec": spec}),
        )
        .await
    }

    /// Writes a deployment's next revision.
    pub async fn update_deployment(
        &self,
        name: &str,
        spec: &DeploymentSpec,
        expected_revision: Option<i64>,
    ) -> Result<Value, ClientError> {
        self.call(
            Method::PUT,
            &format!("/v1/deployments/{name}"),
            &json!({"spec": spec, "expected_revision": expected_revision}),
        )
        .await
    }

    /// Serves an earlier revision again.
    pub async fn rollback_deployment(
        &self,
        name: &str,
        to: Option<i64>,
    ) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/deployments/{name}/rollback"),
            &json!({"to": to}),
        )
        .await
    }

    /// Deletes a deployment.
    pub async fn delete_deployment(&self, name: &str) -> Result<Value, ClientError> {
        self.call(
            Method::DELETE,
            &format!("/v1/deployments/{name}"),
            &json!({}),
        )
        .await
    }

    /// A deployment's revisions, oldest first.
    pub async fn deployment_revisions(&self, name: &str) -> Result<Value, ClientError> {
        self.get(&format!("/v1/deployments/{name}/revisions"), &[])
            .await
    }

    /// A deployment's shadow counters and sampled disagreements.
    pub async fn shadow_log(&self, name: &str, limit: i64) -> Result<Value, ClientError> {
        self.get(
            &format!("/v1/deployments/{name}/shadow"),
            &[("limit", &limit.to_string())],
        )
        .await
    }

    /// Records what a deployer plugin reported for a deployment.
    pub async fn record_target(
        &self,
        name: &str,
        target: &str,
        status: &Value,
    ) -> Result<Value, ClientError> {
        self.call(
            Method::PUT,
            &format!("/v1/deployments/{name}/targets/{target}"),
            &json!({"status": status}),
        )
        .await
    }

    /// What each deployer last reported for a deployment.
    pub async fn deployment_targets(&self, name: &str) -> Result<Value, ClientError> {
        self.get(&format!("/v1/deployments/{name}/targets"), &[])
            .await
    }
}
