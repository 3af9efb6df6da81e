//! The model registry and stored blobs on a remote Ferry (`/v1/models`, `/v1/blobs`).

use reqwest::Method;
use serde_json::{Value, json};

use ferry_registry::{ModelVersion, RegisteredModel, digest_of};

use super::{ClientError, RemoteRegistry};

/// A version as `/v1` shows it (its lineage as a JSON object) turned back into the registry's
/// type (its lineage as text).
fn version_of(client: &RemoteRegistry, mut v: Value) -> Result<ModelVersion, ClientError> {
    if let Some(l) = v.get("lineage").filter(|l| l.is_object()) {
        v["lineage"] = Value::String(l.to_string());
    }
    serde_json::from_value(v).map_err(|e| client.unexpected(&format!("a model version: {e}")))
}

impl RemoteRegistry {
    /// A stored blob by digest, checked against it.
    pub async fn blob(&self, digest: &str) -> Result<Vec<u8>, ClientError> {
        let bytes = self.get_bytes(&format!("/v1/blobs/{digest}")).await?;
        let actual = digest_of(&bytes);
        if actual != digest {
            return Err(ClientError::Digest {
                name: "blob".into(),
                version: digest.to_string(),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Registered models whose name contains `q`.
    pub async fn registered_models(&self, q: &str) -> Result<Vec<RegisteredModel>, ClientError> {
        self.get("/v1/models", &[("q", q)]).await
    }

    /// A registered model and its versions.
    pub async fn registered_model(
        &self,
        name: &str,
    ) -> Result<(RegisteredModel, Vec<ModelVersion>), ClientError> {
        let mut v: Value = self.get(&format!("/v1/models/{name}"), &[]).await?;
        let versions = match v.get_mut("versions").map(Value::take) {
            Some(Value::Array(list)) => list
                .into_iter()
                .map(|x| version_of(self, x))
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        let model = serde_json::from_value(v)
            .map_err(|e| self.unexpected(&format!("a registered model: {e}")))?;
        Ok((model, versions))
    }

    /// A version by number, alias, stage or `latest`.
    pub async fn model_version(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<ModelVersion, ClientError> {
        let v = self
            .get(&format!("/v1/models/{name}/versions/{reference}"), &[])
            .await?;
        version_of(self, v)
    }

    /// Registers a version from a lineage (the server checks every digest it pins).
    pub async fn register_version(
        &self,
        name: &str,
        model_description: &str,
        lineage: &Value,
        description: &str,
    ) -> Result<ModelVersion, ClientError> {
        let v = self
            .call(
                Method::POST,
                &format!("/v1/models/{name}/versions"),
                &json!({
                    "lineage": lineage,
                    "description": description,
                    "model_description": model_description,
                }),
            )
            .await?;
        version_of(self, v)
    }

    /// Points `alias` at `version`.
    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), ClientError> {
        let _: Value = self
            .call(
                Method::PUT,
                &format!("/v1/models/{name}/aliases/{alias}"),
                &json!({ "version": version }),
            )
            .await?;
        Ok(())
    }

    /// Removes `alias`.
    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), ClientError> {
        let _: Value = self
            .call(
                Method::DELETE,
                &format!("/v1/models/{name}/aliases/{alias}"),
                &json!({}),
            )
            .await?;
        Ok(())
    }

    /// Sets a registered model's description and tags.
    pub async fn patch_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<(), ClientError> {
        let _: Value = self
            .call(
                Method::PATCH,
                &format!("/v1/models/{name}"),
                &patch_body(description, tags),
            )
            .await?;
        Ok(())
    }

    /// Sets a version's description and tags.
    pub async fn patch_version(
        &self,
        name: &str,
        version: i64,
        description: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<(), ClientError> {
        let _: Value = self
            .call(
                Method::PATCH,
                &format!("/v1/models/{name}/versions/{version}"),
                &patch_body(description, tags),
            )
            .await?;
        Ok(())
    }

    /// Moves a version to a stage.
    pub async fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion, ClientError> {
        let v = self
            .call(
                Method::POST,
                &format!("/v1/models/{name}/versions/{version}/stage"),
                &json!({"stage": stage, "archive_existing": archive_existing}),
            )
            .await?;
        version_of(self, v)
    }

    /// A version's model card (Markdown).
    pub async fn card(&self, name: &str, reference: &str) -> Result<String, ClientError> {
        let bytes = self
            .get_bytes(&format!("/v1/models/{name}/versions/{reference}/card"))
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Attaches a run's pipeline to a version registered without one.
    pub async fn attach(
        &self,
        name: &str,
        version: i64,
        body: &Value,
    ) -> Result<ModelVersion, ClientError> {
        let v = self
            .call(
                Method::PUT,
                &format!("/v1/models/{name}/versions/{version}/pipeline"),
                body,
            )
            .await?;
        version_of(self, v)
    }
}

fn patch_body(description: Option<&str>, tags: &[(&str, &str)]) -> Value {
    let mut body = json!({
        "tags": tags.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(d) = description {
        body["description"] = json!(d);
    }
    body
}
