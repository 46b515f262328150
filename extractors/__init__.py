"""The pipeline's plain-Python stages, in the order data flows through them.

1. `discover` — sources' feeds and sitemaps → article URLs (canonical URLs, article ids, feed state).
2. `fetch` — URLs → pages over HTTP, politely (robots.txt, per-host limits, retries) and defensively.
3. `extract` — a page's HTML → the clean Arabic article body and its metadata.
4. `entities` — article text → mentions of people, places, organisations (CRF or camel-tools backends).
5. `batch` — the step the flows run on a batch of fetched pages: extract, tag, hash.

Shared by the stages: `records` (the values passed between them), `config` (sources.toml), `arabic` (the one
Arabic normalisation) and `dedup` (near-duplicate fingerprints for story clustering). The `warehouse` package
stores what comes out; `flows` orchestrates the stages with Prefect. None of this package imports Prefect or
DuckDB.
"""
