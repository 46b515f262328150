"""The offline `crf` backend: python-crfsuite with word features and lexicons (imports neither torch nor
transformers)."""
