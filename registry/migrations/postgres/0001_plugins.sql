-- Plugin packages and their immutable versions.
CREATE TABLE plugin_packages (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE plugin_versions (
    name TEXT NOT NULL REFERENCES plugin_packages (name),
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    kind TEXT NOT NULL,
    contract TEXT NOT NULL,
    description TEXT NOT NULL,
    license TEXT,
    repository TEXT,
    authors TEXT NOT NULL,
    keywords TEXT NOT NULL,
    manifest TEXT NOT NULL,
    yanked BIGINT NOT NULL DEFAULT 0,
    published_at BIGINT NOT NULL,
    publisher TEXT,
    downloads BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);

CREATE INDEX plugin_versions_digest ON plugin_versions (digest);

CREATE TABLE plugin_signatures (
    digest TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (digest, key_id)
);
