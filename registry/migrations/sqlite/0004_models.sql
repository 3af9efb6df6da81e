-- Run artifacts (bytes in the blob store) and the model registry: registered models, numbered
-- versions with their lineage, aliases and tags.
CREATE TABLE run_artifacts (
    run_id TEXT NOT NULL REFERENCES runs (id),
    path TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE registered_models (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE registered_model_tags (
    name TEXT NOT NULL REFERENCES registered_models (name),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE model_versions (
    name TEXT NOT NULL REFERENCES registered_models (name),
    version BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    stage TEXT NOT NULL DEFAULT 'None',
    source TEXT NOT NULL DEFAULT '',
    run_id TEXT,
    user_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'READY',
    lineage TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE model_version_tags (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
);

CREATE TABLE model_aliases (
    name TEXT NOT NULL REFERENCES registered_models (name),
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
);
