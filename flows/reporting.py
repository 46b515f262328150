"""What a run shows in the Prefect UI: a summary table, the run's top entities, failures, progress."""

from __future__ import annotations

from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from flows.run_summary import RunSummary
from warehouse.lake_location import display_location
from warehouse.queries import run_query
from warehouse.report import build_report, report_markdown

MAX_FAILURE_ROWS = 200


class Progress:
    """A progress bar artifact of one run, updated after each loaded batch."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        created = create_progress_artifact(0.0, description="URLs fetched, processed and loaded")
        # a UUID when called from a synchronous flow, as here (the same function returns a coroutine in async code)
        self.id: UUID | None = created if isinstance(created, UUID) else None

    def update(self, done: int) -> None:
        if self.id is not None:
            update_progress_artifact(self.id, min(100.0, 100.0 * done / self.total))


def publish_run_artifacts(summary: RunSummary, flow_name: str) -> None:
    """Summary per source, top entities of this run, and every failure with its reason."""
    per_source = [
        {"source": name, "discovered": st.discovered, "fetched": st.fetched, "stored": st.stored,
         "failed": st.failed, "errors": "; ".join(st.errors)}
        for name, st in summary.per_source.items()
    ]
    per_source.append({"source": "TOTAL", "discovered": summary.discovered, "fetched": summary.fetched,
                       "stored": summary.stored, "failed": summary.failed, "errors": ""})
    ner = f"entities by {summary.ner_backend}: {summary.ner_model}" if summary.ner_backend else "no entities tagged"
    create_table_artifact(per_source, key=f"{flow_name}-summary",
                          description=f"Run {summary.run_id}: per source counts ({summary.seconds:.1f}s, "
                                      f"{summary.mentions} mentions, {ner}, database "
                                      f"{display_location(summary.db_path)})")
    try:
        cols, rows = run_query(summary.db_path, "run-entities", {"run_id": summary.run_id, "limit": "25"})
        top = [dict(zip(cols, r)) for r in rows]
    except Exception as exc:
        top = [{"entity": f"(could not read entities: {exc})"}]
    if top:
        create_table_artifact(top, key=f"{flow_name}-top-entities", description="Top entities of this run")
    if summary.failures:
        lines = ["| URL | reason |", "|---|---|"]
        for url, reason in summary.failures[:MAX_FAILURE_ROWS]:
            lines.append(f"| {url.replace('|', '%7C')} | {reason.replace('|', '/')} |")
        more = len(summary.failures) - MAX_FAILURE_ROWS
        if more > 0:
            lines.append(f"\n… and {more} more: `akhbar query \"SELECT url, error FROM fetches WHERE run_id = "
                         f"'{summary.run_id}' AND error IS NOT NULL\"`")
        create_markdown_artifact("\n".join(lines), key=f"{flow_name}-failures",
                                 description=f"{len(summary.failures)} failed URLs of this run")


def publish_html_report(db_path: str, days: int = 30) -> str | None:
    """Write the HTML report next to the database (a lake's: beside its catalog file, else in ./data/) and show its
    headline figures in the UI; never fails the run."""
    try:
        info = build_report(db_path, days=days)
    except Exception as exc:
        get_run_logger().warning("HTML report not written: %s", exc)
        return None
    create_markdown_artifact(report_markdown(info), key="ingest-report",
                             description="Headline figures and the path of the HTML report")
    get_run_logger().info("HTML report: %s (%.1f MB)", info.out_path.resolve(), info.bytes / 1e6)
    return str(info.out_path)
