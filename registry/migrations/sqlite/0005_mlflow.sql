-- What MLflow clients need beyond runs: logged models (MLflow 3), files stored under paths
-- that are not a run's, and artifact URIs the MLflow artifact proxy understands.
CREATE TABLE logged_models (
    id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments (id),
    name TEXT NOT NULL,
    source_run_id TEXT,
    status TEXT NOT NULL,
    model_type TEXT NOT NULL DEFAULT '',
    artifact_uri TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX logged_models_experiment ON logged_models (experiment_id, name);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE artifact_files (
    path TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

UPDATE experiments SET artifact_location = 'mlflow-artifacts:/' || CAST(id AS TEXT)
WHERE artifact_location LIKE 'ferry-artifacts:/%';

UPDATE runs SET artifact_uri = 'mlflow-artifacts:/' || substr(artifact_uri, 18)
WHERE artifact_uri LIKE 'ferry-artifacts:/%';
