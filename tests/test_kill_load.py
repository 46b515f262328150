"""SIGKILL at any point of a load, then a rerun: every article once, no orphan or duplicated mention or story
band, entity counts equal to a recount, and every command still works on the file (issue 18).

DuckDB can recover a transaction killed while COMMIT wrote its WAL half-applied (scripts/duckdb_kill_repro.py);
warehouse/recovery.py journals each load and repairs what an unfinished one left."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import REPO
from test_faults import build_site

from extractors.dedup import minhash
from extractors.records import ExtractedArticle, Mention, ProcessedArticle
from warehouse.store import Warehouse

T0 = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)
WORDS = ["الرياض", "القاهرة", "بيروت", "الأمم", "المتحدة", "وزير", "الخارجية", "اجتماع", "قمة", "اتفاق"]

# Zero in a sound file: each query counts one kind of damage.
DAMAGE = {
    "duplicated articles": "SELECT count(*) - count(DISTINCT article_id) FROM articles",
    "orphan mentions": "SELECT count(*) FROM mentions WHERE article_id NOT IN (SELECT article_id FROM articles)",
    "duplicated mentions": "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM mentions)) FROM mentions",
    "orphan bands": "SELECT count(*) FROM story_bands WHERE article_id NOT IN (SELECT article_id FROM articles)",
    "duplicated bands": "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM story_bands)) FROM story_bands",
    "entities off their recount": """
        SELECT count(*) FROM (SELECT entity AS canonical, entity_type, count(*) AS n, count(DISTINCT article_id) AS k
                              FROM entity_mentions JOIN articles USING (article_id) GROUP BY ALL) r
        FULL JOIN entities e USING (canonical, entity_type)
        WHERE r.n IS DISTINCT FROM e.mention_count OR r.k IS DISTINCT FROM e.article_count""",
    "unfinished loads": "SELECT count(*) FROM load_journal",
}


def damage(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db))  # a writer open: DuckDB replays the WAL as any next run would
    try:
        return {name: con.execute(sql).fetchone()[0] for name, sql in DAMAGE.items()}
    finally:
        con.close()


def sound(db: Path) -> dict[str, int]:
    return {name: n for name, n in damage(db).items() if n}


def synthetic_batch(first: int, n: int, mentions_per: int = 40) -> list[ProcessedArticle]:
    """n articles of about 3 KB of Arabic text with mentions_per mentions each: a load whose mentions fill
    several row groups (so DuckDB writes them to the file before the commit) and whose articles go to the WAL."""
    out = []
    for i in range(first, first + n):
        rng = random.Random(i)
        text = " ".join(rng.choice(WORDS) for _ in range(500))
        mentions = [Mention("LOC", text[s:s + 6], WORDS[k % len(WORDS)], s, s + 6)
                    for k, s in enumerate(range(0, 6 * mentions_per, 6))]
        a = ExtractedArticle(url=f"https://e.com/{i}", title=f"t{i}", author=None, published_at=T0, language="ar",
                             text=text)
        out.append(ProcessedArticle(article_id=f"a{i:06d}", url=a.url, source="s", article=a, content_hash=f"h{i}",
                                    fetched_at=T0, final_url=None, mentions=mentions, backend="crf",
                                    minhash=minhash(text)))
    return out


LOADER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from test_kill_load import synthetic_batch
    from warehouse.store import Warehouse
    wh = Warehouse(sys.argv[1])
    batches = [synthetic_batch(k * 1000, 1000) for k in range(int(sys.argv[3]))]
    print("ready", flush=True)
    for batch in batches:
        wh.load(batch, [], "run-1")
    print("done", flush=True)
""")


def start_loader(db: Path, batches: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", LOADER, str(db), str(REPO / "tests"), str(batches)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # no cleanup, no finally blocks, no checkpoint
    proc.wait(timeout=30)


def test_a_load_killed_while_duckdb_writes_its_wal_is_repaired_by_the_next_load(tmp_path):
    db = tmp_path / "w.duckdb"
    wal = Path(f"{db}.wal")
    Warehouse(db).migrate()
    proc = start_loader(db, 1)
    while proc.poll() is None and not (wal.exists() and wal.stat().st_size > 2**20):
        time.sleep(0.0005)  # the WAL grows during COMMIT only: the kill lands inside the commit's WAL write
    assert proc.poll() is None, "the load finished before its WAL passed 1 MB"
    kill(proc)
    left = damage(db)
    assert left["unfinished loads"] == 1
    # (with DuckDB 1.5.5 the file now holds the load's 40,000 mentions and none of its articles)
    wh = Warehouse(db)
    wh.load(synthetic_batch(0, 1000), [], "run-2")
    assert sound(db) == {}
    with wh.connection(read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone() == (1000, 1000)
        assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 40_000


def tear_a_load(wh: Warehouse) -> tuple[ProcessedArticle, ProcessedArticle]:
    """The state DuckDB left in the test above, built with SQL in a migrated warehouse: one journal row, a stored
    article whose mentions and bands are doubled, an absent one whose mentions and bands are present, entity
    counts of neither. Returns (stored, absent)."""
    stored, absent = synthetic_batch(0, 2, mentions_per=3)
    wh.load([stored], [], "run-1")
    with wh.transaction() as con:
        con.execute("INSERT INTO load_journal VALUES ('torn', now(), ['a000000', 'a000001'])")
        con.execute("INSERT INTO mentions SELECT * FROM mentions")
        con.execute("INSERT INTO story_bands SELECT * FROM story_bands")
        con.execute("INSERT INTO mentions SELECT 'a000001', entity_type, text, canonical, start, \"end\", backend "
                    "FROM mentions WHERE article_id = 'a000000' LIMIT 3")
        con.execute("INSERT INTO story_bands SELECT 'a000001', band, key FROM story_bands LIMIT 16")
        con.execute("UPDATE entities SET mention_count = mention_count + 7")
    return stored, absent


def test_the_repair_removes_orphans_and_duplicates_and_recounts_entities(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    stored, absent = tear_a_load(wh)
    assert set(sound(wh.path)) == {"duplicated mentions", "orphan mentions", "duplicated bands", "orphan bands",
                                   "entities off their recount", "unfinished loads"}
    done = wh.repair()
    assert done is not None and (done.loads, done.mentions_removed, done.bands_removed) == (1, 6, 32)
    assert sound(wh.path) == {}
    assert wh.repair() is None  # nothing left to do: one count on the journal
    wh.load([absent], [], "run-2")  # the torn article is stored afresh by the next run
    assert sound(wh.path) == {}


def test_a_kill_at_a_random_moment_of_large_loads_then_a_rerun(tmp_path):
    db = tmp_path / "w.duckdb"
    Warehouse(db).migrate()
    proc = start_loader(db, 3)
    delay = random.uniform(0.2, 6.0)
    deadline = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is None:
        kill(proc)
    rerun = start_loader(db, 3)
    assert rerun.wait(timeout=300) == 0
    assert sound(db) == {}, f"killed after {delay:.2f}s"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone() == (3000, 3000)
    assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 120_000
    con.close()


RUN = textwrap.dedent("""
    import sys
    from flows.ingest import ingest
    ingest(sources_file=sys.argv[1], db_path=sys.argv[2], allow_private_addresses=True, batch_size=6,
           load_every_pages=12, backend="crf")
""")
N_PAGES = 30


def run_ingest(sources: Path, db: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN, str(sources), str(db)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def akhbar(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv" / "bin" / "akhbar"), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("point", ["load-start", "load-begun", "load-commit", "load-committed"])
def test_ingest_killed_at_each_point_of_a_load_then_rerun(site, tmp_path, point):
    build_site(site, n=N_PAGES, delay=0)
    sources = tmp_path / "s.toml"
    sources.write_text(f'[[sources]]\nname = "k"\nsitemaps = ["{site.base}/sitemap.xml"]\n'
                       f'requests_per_second = 0\nmax_concurrency = 4\n', encoding="utf-8")
    db = tmp_path / "k.duckdb"
    flag = tmp_path / "paused"
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", "AKHBAR_TASK_RUNNER": "thread"}
    proc = run_ingest(sources, db, {**env, "AKHBAR_TEST_PAUSE_AT": f"{point}:{flag}"})
    try:
        deadline = time.monotonic() + 180
        while not flag.exists():
            assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
            assert time.monotonic() < deadline, f"the ingest never reached {point}"
            time.sleep(0.02)
    finally:
        kill(proc)
    rerun = run_ingest(sources, db, env)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()[-3000:] if rerun.stderr else ""
    assert sound(db) == {}
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (N_PAGES, N_PAGES)
    assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] > 0
    con.close()
    if point != "load-commit":
        return
    # every command still works on the file
    for args in (["query", "top-entities"], ["search", "الرياض"], ["report", "--out", str(tmp_path / "r.html")],
                 ["reprocess", "--backend", "crf"], ["export", str(tmp_path / "out")]):
        done = akhbar(*args, "--db", str(db))
        assert done.returncode == 0, (args, done.stderr[-2000:])
    assert sound(db) == {}
