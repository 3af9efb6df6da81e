-- The prediction log: Parquet segments in the blob store, one row per segment, by model version
-- and the time span of the requests it holds.
CREATE TABLE prediction_segments (
    digest TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX prediction_segments_by_version ON prediction_segments (model, version, first_at);
