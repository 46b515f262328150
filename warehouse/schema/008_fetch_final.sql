-- akhbar warehouse, version 8: whether a fetch-log row is the final attempt of its fetch.
-- An attempt that was retried used to be marked by " (retried)" at the end of its error; the flag replaces that
-- suffix, which is stripped from the rows logged before.

ALTER TABLE fetches ADD COLUMN final BOOLEAN DEFAULT true;   -- false: an attempt that was retried

UPDATE fetches
SET final = false, error = left(error, length(error) - length(' (retried)'))
WHERE error LIKE '% (retried)';
