-- A deployment deleted and created again under the same name starts again at revision 1. Its
-- incarnation, a value of the generation counter taken when it was created, never repeats, so
-- servers that keep revisions in memory tell the new deployment's revision 1 from the old one's.
ALTER TABLE deployments ADD COLUMN incarnation BIGINT NOT NULL DEFAULT 0;
