-- The sinks the pending notification of an alert has reached (a JSON array of sink names), so
-- that a retry goes only to the sinks that failed and each sink hears of each firing once.
ALTER TABLE alerts ADD COLUMN delivered TEXT NOT NULL DEFAULT '[]';
