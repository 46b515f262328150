-- akhbar warehouse, version 13: how many bytes of a fetched page could not be decoded in its charset.
-- A page that is overwhelmingly valid UTF-8 with a few bad bytes is read as UTF-8 with those bytes replaced by
-- U+FFFD (extractors/extract/charset.py); the count shows such pages. NULL: not an article page, or no body.

ALTER TABLE fetches ADD COLUMN replaced_bytes INTEGER;
