"""Stage 4, entities: named entities (PERS, LOC, ORG, MISC) in article text, with exact offsets and canonical forms.

`mentions` is the public API the pipeline and `akhbar ner` call. Beside it: `base` (the backend interface, entity
types and errors), `tokens` (sentences and tokens with offsets), `iob` (IOB2 tags and spans), `canon` (canonical
forms), the backends `crf/` (offline, shipped model in `models/`) and `camel` (CAMeLBERT). `training/` holds code
that only the training script, benchmarks and tests run; nothing in the pipeline imports it.
"""
