"""NER training-time code: CoNLL reading, dev split and scoring, the CRF's resources and word-list builders, word
clusters. Used by `scripts/train_crf.py`, the benchmarks and tests; the pipeline never imports this package."""
