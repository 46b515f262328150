"""NER training-time code (word clusters, lexicon and gazetteer builders, corpus readers): used by
`scripts/train_crf.py` and the benchmarks only; the pipeline never imports this package."""
