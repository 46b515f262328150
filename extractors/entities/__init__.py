"""Stage 4, entities: tokens with exact offsets, backends (`crf`, `camel`) behind one interface, canonical forms.

The pipeline and `akhbar ner` use `extractors.entities.mentions`. `training` holds code that only the training
scripts run; nothing in the pipeline imports it.
"""
