-- What each deployer plugin last reported for a deployment: the version live on the target
-- and what a rollback returns to.
CREATE TABLE deployment_targets (
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    actor TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (name, target)
);
