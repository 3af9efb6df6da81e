//! Runs and experiments on a remote Ferry: read through `/v1`, written through its MLflow API
//! (the same calls the `mlflow` client makes), and files through its artifact proxy.

use reqwest::Method;
use serde_json::{Value, json};

use ferry_registry::{ArtifactInfo, Experiment, Run, RunStatus, digest_of};

use super::{ClientError, RemoteRegistry};

impl RemoteRegistry {
    /// Every experiment.
    pub async fn experiments(&self) -> Result<Vec<Experiment>, ClientError> {
        self.get("/v1/experiments", &[]).await
    }

    /// One experiment, by id.
    pub async fn experiment(&self, id: &str) -> Result<Experiment, ClientError> {
        self.get(&format!("/v1/experiments/{id}"), &[]).await
    }

    /// The id of the experiment `name`, created if there is none.
    pub async fn experiment_id(&self, name: &str) -> Result<String, ClientError> {
        if let Some(e) = self
            .experiments()
            .await?
            .into_iter()
            .find(|e| e.name == name)
        {
            return Ok(e.id);
        }
        match self
            .mlflow(Method::POST, "experiments/create", &json!({ "name": name }))
            .await
        {
            Ok(v) => v["experiment_id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| self.unexpected("experiments/create gave no experiment_id")),
            // Created meanwhile by someone else.
            Err(ClientError::Api { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => self
                .experiments()
                .await?
                .into_iter()
                .find(|e| e.name == name)
                .map(|e| e.id)
                .ok_or_else(|| self.unexpected("the experiment vanished")),
            Err(e) => Err(e),
        }
    }

    /// Starts a run; returns its id.
    pub async fn create_run(
        &self,
        experiment: &str,
        run_name: Option<&str>,
        user: &str,
    ) -> Result<String, ClientError> {
        let mut body = json!({
            "experiment_id": experiment,
            "user_id": user,
            "start_time": ferry_registry::now_ms(),
        });
        if let Some(name) = run_name {
            body["run_name"] = json!(name);
        }
        let v = self.mlflow(Method::POST, "runs/create", &body).await?;
        v["run"]["info"]["run_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.unexpected("runs/create gave no run_id"))
    }

    /// Logs parameters, tags and step-0 metrics in batches the MLflow API takes.
    pub async fn log_batch(
        &self,
        run: &str,
        params: &[(String, String)],
        tags: &[(String, String)],
        metrics: &[(&str, f64)],
    ) -> Result<(), ClientError> {
        let pairs = |list: &[(String, String)]| -> Vec<Value> {
            list.iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect()
        };
        let now = ferry_registry::now_ms();
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v, "timestamp": now, "step": 0}))
            .collect();
        for chunk in pairs(params).chunks(100) {
            self.mlflow(
                Method::POST,
                "runs/log-batch",
                &json!({"run_id": run, "params": chunk}),
            )
            .await?;
        }
        for chunk in pairs(tags).chunks(100) {
            self.mlflow(
                Method::POST,
                "runs/log-batch",
                &json!({"run_id": run, "tags": chunk}),
            )
            .await?;
        }
        for chunk in metrics.chunks(1000) {
            self.mlflow(
                Method::POST,
                "runs/log-batch",
                &json!({"run_id": run, "metrics": chunk}),
            )
            .await?;
        }
        Ok(())
    }

    /// Stores a file with a run (in experiment `experiment`); returns its digest.
    pub async fn log_artifact(
        &self,
        experiment: &str,
        run: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<String, ClientError> {
        let (url, req) = self.request(
            Method::PUT,
            &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/{path}"),
        );
        Self::send(&url, req.body(bytes.to_vec())).await?;
        Ok(digest_of(bytes))
    }

    /// Ends a run with `status`.
    pub async fn end_run(&self, run: &str, status: RunStatus) -> Result<(), ClientError> {
        self.mlflow(
            Method::POST,
            "runs/update",
            &json!({"run_id": run, "status": status.name(), "end_time": ferry_registry::now_ms()}),
        )
        .await?;
        Ok(())
    }

    /// A run with its parameters, latest metrics and tags.
    pub async fn run(&self, id: &str) -> Result<Run, ClientError> {
        self.get(&format!("/v1/runs/{id}"), &[]).await
    }

    /// Runs of `experiment` (all experiments when `None`) matching an MLflow filter, in order.
    pub async fn search_runs(
        &self,
        experiment: Option<&str>,
        view: &str,
        filter: &str,
        order_by: &[String],
        max: usize,
    ) -> Result<Vec<Run>, ClientError> {
        let max = max.to_string();
        let order = order_by.join(",");
        let mut q = vec![
            ("run_view_type", view),
            ("filter", filter),
            ("order_by", order.as_str()),
            ("max_results", max.as_str()),
        ];
        if let Some(e) = experiment {
            q.push(("experiment_id", e));
        }
        self.get("/v1/runs", &q).await
    }

    /// A run's files.
    pub async fn artifacts(&self, run: &str) -> Result<Vec<ArtifactInfo>, ClientError> {
        self.get(&format!("/v1/runs/{run}/artifacts"), &[]).await
    }

    /// One of a run's files.
    pub async fn read_artifact(&self, run: &str, path: &str) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/runs/{run}/artifacts/{path}"))
            .await
    }

    /// Deletes (`true`) or restores a run.
    pub async fn set_run_deleted(&self, run: &str, deleted: bool) -> Result<(), ClientError> {
        let path = if deleted {
            "runs/delete"
        } else {
            "runs/restore"
        };
        self.mlflow(Method::POST, path, &json!({ "run_id": run }))
            .await?;
        Ok(())
    }
}
