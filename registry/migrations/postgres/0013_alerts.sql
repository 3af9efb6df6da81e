-- Alerts raised by the rules ferry serve evaluates: one row per firing, resolved in place, with
-- the notification still to deliver (pending) and its retries, so none is lost.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    fired_at BIGINT NOT NULL,
    resolved_at BIGINT NOT NULL,
    notified_at BIGINT NOT NULL,
    pending TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX alerts_by_rule ON alerts (rule, fired_at);
