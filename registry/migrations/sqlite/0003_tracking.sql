-- Experiment tracking: experiments, runs, parameters, metrics (several values per key, by step) and tags.
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

INSERT INTO experiments (id, name, artifact_location, lifecycle_stage, created_at, updated_at)
VALUES (0, 'Default', 'ferry-artifacts:/0', 'active', 0, 0);

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments (id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    artifact_uri TEXT NOT NULL
);

CREATE INDEX runs_experiment ON runs (experiment_id, start_time);

CREATE TABLE run_params (
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE run_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    value REAL,
    is_nan BIGINT NOT NULL DEFAULT 0,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL
);

CREATE INDEX run_metrics_key ON run_metrics (run_id, key, step);
