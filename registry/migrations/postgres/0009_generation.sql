-- A counter every change to what serving resolves (versions, aliases, stages, deployments)
-- moves forward, so that servers sharing the database can keep those resolutions in memory and
-- drop them when it moves.
CREATE TABLE generation (
    id INTEGER PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO generation (id, value) VALUES (1, 0);
