-- akhbar warehouse, version 15: what of a fetched page was not processed (extractors/batch.py bounds the work
-- per page: the HTML entering extraction, the text entering tagging and hashing, the length of a line tagged as
-- one sentence). NULL: nothing was cut. The article is stored; this says which part of it was not looked at.
ALTER TABLE fetches ADD COLUMN cut VARCHAR;
