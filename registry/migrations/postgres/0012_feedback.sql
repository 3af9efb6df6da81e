-- Labels that arrived after the prediction, keyed by request id and row or by a business key;
-- joined with the prediction log when live metrics are computed, kept whether or not they match.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    deployment TEXT NOT NULL,
    request_id TEXT NOT NULL,
    row_index BIGINT NOT NULL,
    key_column TEXT NOT NULL,
    key_value TEXT NOT NULL,
    label TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX feedback_by_model ON feedback (model, received_at);
