-- The latest value of each metric of each run (the highest step, then the newest timestamp,
-- then the last logged), kept as metrics are logged: what run views and searches show, read
-- without scanning the histories.
CREATE TABLE run_latest_metrics (
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    value DOUBLE PRECISION,
    is_nan BIGINT NOT NULL DEFAULT 0,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    PRIMARY KEY (run_id, key)
);

INSERT INTO run_latest_metrics (run_id, key, value, is_nan, step, timestamp)
SELECT m.run_id, m.key, m.value, m.is_nan, m.step, m.timestamp
FROM run_metrics m
WHERE m.id = (
    SELECT l.id FROM run_metrics l
    WHERE l.run_id = m.run_id AND l.key = m.key
    ORDER BY l.step DESC, l.timestamp DESC, l.id DESC
    LIMIT 1
);
