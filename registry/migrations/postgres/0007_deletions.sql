-- Versions deleted through the MLflow API are kept as numbers only, so that a model never gives
-- a number twice (as MLflow does); deleting the registered model forgets them.
CREATE TABLE deleted_model_versions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Logged models deleted through the MLflow API are kept (a registered version may name one as
-- its source) but no longer found.
ALTER TABLE logged_models ADD COLUMN lifecycle_stage TEXT NOT NULL DEFAULT 'active';
