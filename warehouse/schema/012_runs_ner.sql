-- akhbar warehouse, version 12: which entity recogniser tagged a run.
-- ner_backend: the backend that tagged the run's articles (crf or camel; several joined by ", "; NULL when the
-- run tagged nothing). ner_model: its model, e.g. "shipped crf <sha256 prefix>" or "arabert (int8)".

ALTER TABLE runs ADD COLUMN ner_backend VARCHAR;
ALTER TABLE runs ADD COLUMN ner_model VARCHAR;
