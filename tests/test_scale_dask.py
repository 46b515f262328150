"""The CPU stages on a Dask cluster (prefect-dask's DaskTaskRunner) give the same rows as the default runner.

A `distributed.LocalCluster` (two worker processes) stands in for an existing cluster; the ingest flow is pointed
at its scheduler address exactly as `AKHBAR_TASK_RUNNER=dask:tcp://...` does. The same sample site is ingested
into two database files, one per runner, and every row of `articles` and `mentions` must match (run ids and
timestamps aside).
"""

from __future__ import annotations

import time

import duckdb
import pytest

from flows.sample_site import StaticSite

pytest.importorskip("prefect_dask")
distributed = pytest.importorskip("distributed")

ARTICLE_COLUMNS = ("article_id, url, source, title, author, published_at, language, text, content_hash, credit, "
                   "description, categories, tags, image, modified_at, published_evidence, final_url, ner_backend, "
                   "minhash, story_id")
MENTION_COLUMNS = 'article_id, entity_type, text, canonical, start, "end", backend'


def table(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_dask_runner_spec_is_parsed():
    from prefect_dask import DaskTaskRunner

    from flows.runners import RunnerConfigError, task_runner_from_spec

    runner = task_runner_from_spec("dask:tcp://127.0.0.1:8786")
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://127.0.0.1:8786"
    with pytest.raises(RunnerConfigError):
        task_runner_from_spec("dask")


def test_dask_cluster_gives_the_same_rows_as_the_thread_runner(tmp_path, prefect_harness):
    from prefect_dask import DaskTaskRunner

    from flows.ingest import ingest
    from flows.runners import task_runner_from_spec

    figures = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster, StaticSite() as site:
        sources = tmp_path / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        runners = {
            "thread": task_runner_from_spec("thread"),
            "dask": DaskTaskRunner(address=cluster.scheduler_address),
        }
        for name, runner in runners.items():
            t0 = time.perf_counter()
            summary = ingest.with_options(task_runner=runner)(
                sources_file=str(sources), db_path=str(tmp_path / f"{name}.duckdb"), allow_private_addresses=True,
                batch_size=3, write_report=False)  # small batches: several process-batch tasks per worker
            figures[name] = (summary.stored, summary.mentions, time.perf_counter() - t0)
        with distributed.Client(cluster.scheduler_address) as client:
            # the Dask workers really ran the CPU stages (tasks executed per worker process)
            done = client.run(lambda dask_worker: dask_worker.state.executed_count)
    print("\n[dask vs thread runner over the sample site: "
          + "; ".join(f"{n}: {s} articles, {m} mentions in {sec:.1f}s" for n, (s, m, sec) in figures.items())
          + f"; tasks executed per Dask worker: {sorted(done.values())}]")
    a, b = tmp_path / "thread.duckdb", tmp_path / "dask.duckdb"
    arts_a = table(a, f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY article_id")
    arts_b = table(b, f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY article_id")
    assert len(arts_a) == figures["thread"][0] > 10
    assert arts_a == arts_b
    ments_a = table(a, f"SELECT {MENTION_COLUMNS} FROM mentions ORDER BY ALL")
    assert len(ments_a) > 100 and ments_a == table(b, f"SELECT {MENTION_COLUMNS} FROM mentions ORDER BY ALL")
    ents = "SELECT canonical, entity_type, display, mention_count, article_count FROM entities ORDER BY ALL"
    assert table(a, ents) == table(b, ents)
    assert sum(done.values()) >= figures["dask"][0] // 3, done  # one process-batch task per 3 URLs
