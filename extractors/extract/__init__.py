"""Stage 3, extract: one HTML page → article body and metadata (charset, boilerplate, Arabic dates, bylines)."""
