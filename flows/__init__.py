"""Prefect flows and the `akhbar` command line: the orchestration over `extractors/` and `warehouse/`.

- `ingest` (flows `ingest`, `ingest-urls`), `reprocess`: the flows;
- `batch_pipeline`: batches in flight on the task runner, grouped into loads, shared by ingest and reprocess;
- `sinks`: where a run's rows go (the warehouse: a DuckDB file or a DuckLake), built once per run;
- `run_summary`: a run's id and counts; `reporting`: what a run shows in the Prefect UI;
- `settings`: the `AKHBAR_*` environment settings; `runners`: the task runner they name;
- `politeness`: per-host limits shared through the Prefect server; `serve`: `akhbar serve`;
- `sample_site`: the demo's local news site; `cli`: the `akhbar` command.

Importing this package switches Prefect's telemetry off unless the user already chose otherwise.
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY", "false")
