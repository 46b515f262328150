"""What one flow run did: its id and the counts the command line prints, the UI shows and the runs table keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run

from extractors.batch import ProcessedBatch
from extractors.entities.mentions import backend_model_id
from extractors.records import FetchLogRow


@dataclass(slots=True)
class SourceStats:
    discovered: int = 0
    fetched: int = 0
    stored: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunSummary:
    run_id: str
    db_path: str
    discovered: int = 0
    fetched: int = 0
    stored: int = 0
    failed: int = 0
    skipped: int = 0  # URLs another run into the same warehouse was fetching (it stores them)
    mentions: int = 0
    seconds: float = 0.0
    per_source: dict[str, SourceStats] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason), all of them
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report_path: str | None = None
    ner_models: dict[str, str] = field(default_factory=dict)  # backend that tagged -> its model (backend_model_id)

    def source(self, name: str | None) -> SourceStats:
        """The counts of one source (`?` when a row names none), created on first use."""
        return self.per_source.setdefault(name or "?", SourceStats())

    def add_seconds(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def count_processed(self, batch: ProcessedBatch) -> None:
        """A batch back from the task runner: its pages fetched and its CPU time per stage."""
        self.add_seconds("extract", batch.seconds_extract)
        self.add_seconds("entities", batch.seconds_entities)
        self.fetched += batch.fetched
        self.skipped += batch.skipped

    def count_loaded(self, batch: ProcessedBatch, mentions: int) -> None:
        """A batch now in the warehouse: stored and failed pages, in total and per source."""
        self.mentions += mentions
        self.stored += len(batch.articles)
        self.failed += len(batch.failures)
        self.failures.extend(batch.failures)
        for art in batch.articles:
            self.source(art.source).stored += 1
            if art.backend and art.backend not in self.ner_models:
                self.ner_models[art.backend] = backend_model_id(art.backend)
        for row in batch.fetch_rows:
            self._count_fetch(row)

    @property
    def ner_backend(self) -> str | None:
        """The backend(s) that tagged this run's articles (None when none was tagged)."""
        return ", ".join(sorted(self.ner_models)) or None

    @property
    def ner_model(self) -> str | None:
        return ", ".join(self.ner_models[name] for name in sorted(self.ner_models)) or None

    def _count_fetch(self, row: FetchLogRow) -> None:
        stats = self.source(row.source)
        if row.error is None:
            stats.fetched += 1
        elif row.final:
            stats.failed += 1


def new_run_id() -> str:
    """The Prefect flow run's id, or a timestamped local id outside a flow run."""
    rid = flow_run.id
    return str(rid) if rid else f"local-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


class RunOutcome:
    """`with outcome:` around a run's work; `outcome.status` is then what the `runs` row records: completed,
    interrupted (Ctrl-C or SIGTERM: the user stopped it, what was loaded is kept) or failed."""

    def __init__(self) -> None:
        self.status = "failed"
        self.failure: str | None = None  # why a run that raised nothing still failed

    def fail_if(self, failure: str | None) -> None:
        self.failure = failure

    def __enter__(self) -> RunOutcome:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            self.status = "failed" if self.failure else "completed"
        elif issubclass(exc_type, (KeyboardInterrupt, TerminationSignal)):  # Prefect turns SIGTERM into the latter
            self.status = "interrupted"


MAX_CAUSES = 5


def failure_causes(summary: RunSummary) -> list[str]:
    """Why things failed in a run, sources first, one line each (`source: reason`, `URL: reason`)."""
    causes = [f"{name}: {error}" for name, stats in summary.per_source.items() for error in stats.errors]
    causes += [f"{url}: {reason}" for url, reason in summary.failures]
    return causes


def nothing_fetched_message(summary: RunSummary) -> str | None:
    """The failure message of a run that fetched nothing because what it tried failed; None for any other run
    (one that fetched something, or had nothing new to fetch, is a completed run with true counts)."""
    causes = failure_causes(summary)
    if summary.fetched or not causes:
        return None
    shown = "\n".join(causes[:MAX_CAUSES])
    more = f"\n... and {len(causes) - MAX_CAUSES} more (akhbar query source-health)" if len(causes) > MAX_CAUSES else ""
    return f"nothing was fetched; first causes:\n{shown}{more}"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """How far a run is, for whoever shows it (the command line's progress bar or lines)."""

    stage: str  # fetching, loaded (ingest, reprocess), or what the command calls its steps
    done: int  # URLs fetched while fetching; pages loaded (stored or failed) after a load
    total: int  # URLs or pages known to the run so far
    stored: int = 0
    failed: int = 0


ProgressListener = Callable[[ProgressEvent], None]
_progress_listeners: list[ProgressListener] = []


@contextmanager
def progress_listener(listener: ProgressListener) -> Iterator[None]:
    """Call `listener` with each ProgressEvent of the runs made in this process while the block runs (the flows
    run in the command line's process; a deployment's run has no listener and only logs)."""
    _progress_listeners.append(listener)
    try:
        yield
    finally:
        _progress_listeners.remove(listener)


def notify_progress(event: ProgressEvent) -> None:
    """Tell every listener; a listener that fails (a closed terminal) never stops the run."""
    for listener in list(_progress_listeners):
        with suppress(Exception):
            listener(event)


def loaded_event(summary: RunSummary) -> ProgressEvent:
    return ProgressEvent("loaded", summary.stored + summary.failed, summary.discovered, summary.stored, summary.failed)
