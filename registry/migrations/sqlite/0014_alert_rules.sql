-- Alert rules managed through the API (deployer role, audited), evaluated beside the rules file.
CREATE TABLE alert_rules (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    actor TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
