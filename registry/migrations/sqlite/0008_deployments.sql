-- Named deployments: each change writes a new, immutable revision, so that a deployment can be
-- rolled back and its history read. `revision` is the one being served.
CREATE TABLE deployments (
    name TEXT PRIMARY KEY,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE deployment_revisions (
    name TEXT NOT NULL,
    revision BIGINT NOT NULL,
    spec TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, revision)
);

-- Requests on which a shadow target answered otherwise than the one that answered, sampled.
CREATE TABLE shadow_samples (
    name TEXT NOT NULL,
    revision BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    answered TEXT NOT NULL,
    shadow TEXT NOT NULL,
    answer TEXT NOT NULL,
    shadow_answer TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX shadow_samples_by_name ON shadow_samples (name, created_at);
