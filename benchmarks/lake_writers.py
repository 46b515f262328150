"""Many writers into one DuckLake: 1, 2 and 4 concurrent `akhbar ingest` processes against one writer into a
DuckDB file, on the same pages, side by side in one run.

What it does:
1. serves the benchmark site of benchmarks/corpus.py (N realistic Arabic article pages, ~30 KB each) from a
   separate process, plus one sitemap per writer for every fleet size W: writer w of W lists its own slice of the
   N pages and the first `--overlap` share of the next writer's slice, so the writers' sources SHARE articles
   (outlets carrying the same wire stories; the union is every page once);
2. starts one Prefect API server for all writers (as `akhbar serve` is for a fleet; outside the timings);
3. baseline: one `akhbar ingest` of all N pages into a fresh DuckDB file; then for each W: W `akhbar ingest`
   processes at once, each with its own sources.toml (source `bench-<w>`), into one fresh lake
   (`ducklake:sqlite:...`, Parquet files in the default folder beside the catalog) whose tables were created
   just before (outside the timings: the writers of a fleet find their lake made);
4. prints per configuration: pages/s of the fleet (distinct articles stored / wall time from the first process
   start to the last exit, and over the runs' own started_at..finished_at), lake commits retried after a
   conflict (the "lake commit retried" warnings in the writers' output, by what was being written), peak RSS of
   each writer process (with its children), the Parquet data and delete files per table of the lake's current
   snapshot (DuckLake's metadata) after the run, after DuckLake's compaction (`ducklake_merge_adjacent_files`)
   and after all of its maintenance (`CHECKPOINT`), and whether every article was stored exactly once
   (count = count distinct; the same for mentions).

    .venv/bin/python benchmarks/lake_writers.py [--n 1000] [--writers 1,2,4] [--overlap 0.25]
        [--runner thread] [--json out.json] [--keep]

Needs ../shared/data/corpus/saudinewsnet (prints a message and exits 0 when it is absent). Results and the
commands that produced them are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

AKHBAR = str(Path(sys.executable).parent / "akhbar")
PAGE = os.sysconf("SC_PAGE_SIZE")
RETRY_LINE = re.compile(r"lake commit retried \(([^,]+), attempt (\d+)\)")
LAKE_ALIAS = "akhbar"  # warehouse.lake_location attaches every lake under this name
# DuckLake's own metadata of the current snapshot: Parquet data files and delete files per table
METADATA = f"__ducklake_metadata_{LAKE_ALIAS}"
LAKE_FILES = f"""
SELECT t.table_name,
       (SELECT count(*) FROM {METADATA}.ducklake_data_file f
        WHERE f.table_id = t.table_id AND f.end_snapshot IS NULL) AS data_files,
       (SELECT count(*) FROM {METADATA}.ducklake_delete_file d
        WHERE d.table_id = t.table_id AND d.end_snapshot IS NULL) AS delete_files
FROM {METADATA}.ducklake_table t
WHERE t.end_snapshot IS NULL
ORDER BY t.table_name
"""
# DuckLake's compaction, then all of its maintenance (CHECKPOINT: flush inlined rows, expire snapshots, merge
# adjacent files, rewrite files with many deletes, clean up old files)
MAINTENANCE = (("merge", f"CALL ducklake_merge_adjacent_files('{LAKE_ALIAS}')"), ("checkpoint", "CHECKPOINT"))
STORED_ONCE = """
SELECT (SELECT count(*) FROM articles), (SELECT count(DISTINCT article_id) FROM articles),
       (SELECT count(*) FROM mentions),
       (SELECT count(*) FROM (SELECT DISTINCT article_id, entity_type, start, "end" FROM mentions)),
       (SELECT count(*) FROM sources)
"""
RUN_SPAN = "SELECT min(started_at), max(finished_at), sum(stored), count(*) FROM runs"
FILE_TABLES = ("articles", "mentions", "raw_pages", "fetches", "story_bands", "entities")


# ------------------------------------------------------------------------------------------ the site
def split_slices(n: int, writers: int, overlap: float) -> list[list[int]]:
    """Page indices of each writer: its own contiguous slice plus the head of the next writer's (wrapping)."""
    size = math.ceil(n / writers)
    shared = round(size * overlap) if writers > 1 else 0
    return [[(w * size + k) % n for k in range(min(size + shared, n))] for w in range(writers)]


def split_sitemap(base: str, paths: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()


def serve(args: argparse.Namespace) -> int:
    """The `serve` subcommand: corpus.py's site and the writers' sitemaps, until stdin closes."""
    import corpus

    if not corpus.have_corpus():
        print(json.dumps({"error": f"no corpus at {corpus.CORPUS_DIR}"}), flush=True)
        return 0
    server, routes = corpus.make_server()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for path, ctype, body in corpus.generate(args.n, args.seed, base, Path(args.dir)):
        routes[path] = (ctype, body)
    pages = [json.loads(line)["path"] for line in (Path(args.dir) / "manifest.jsonl").open(encoding="utf-8")]
    sitemaps: dict[str, list[str]] = {}
    for writers in parse_writers(args.writers):
        for w, indices in enumerate(split_slices(len(pages), writers, args.overlap)):
            path = f"/split/{writers}-{w}.xml"
            routes[path] = ("application/xml", split_sitemap(base, [pages[i] for i in indices]))
            sitemaps[f"{writers}-{w}"] = [base + path, len(indices)]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"base": base, "pages": len(pages), "sitemaps": sitemaps}), flush=True)
    sys.stdin.read()
    server.shutdown()
    return 0


def start_site(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen, dict]:
    site_dir = workdir / "site"
    site_dir.mkdir()
    proc = subprocess.Popen([sys.executable, __file__, "serve", "--n", str(args.n), "--seed", str(args.seed),
                             "--dir", str(site_dir), "--writers", args.writers, "--overlap", str(args.overlap)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    info = json.loads(line) if line else {"error": "the benchmark site did not start (see the error above)"}
    if "error" in info:
        proc.kill()
        raise SystemExit(info["error"])
    return proc, info


def parse_writers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


# ------------------------------------------------------------------------------------------ the writers
def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (process-pool workers, if the runner has them)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    tree, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            tree.append(child)
            todo.append(child)
    return tree


@dataclass
class Writer:
    name: str
    proc: subprocess.Popen
    log: Path
    peak_rss: int = 0
    seconds: float = 0.0
    retries: Counter = field(default_factory=Counter)


def sample_peaks(writers: list[Writer], stop: threading.Event, interval: float = 0.2) -> None:
    while not stop.is_set():
        for w in writers:
            if w.proc.poll() is None:
                w.peak_rss = max(w.peak_rss, sum(rss_bytes(p) for p in process_tree(w.proc.pid)))
        stop.wait(interval)


def sources_toml(name: str, sitemap: str, pages: int) -> str:
    return (f'[crawl]\ntimeout_seconds = 30\n\n[[sources]]\nname = "{name}"\nsitemaps = ["{sitemap}"]\n'
            f'max_articles = {pages}\nrequests_per_second = 0\nmax_concurrency = 16\ntimezone = "Asia/Riyadh"\n')


def run_fleet(db: str, plan: list[tuple[str, str, int]], workdir: Path, env: dict[str, str]) -> tuple[list[Writer], float]:
    """Start one `akhbar ingest` per (source name, sitemap, pages) at once, into `db`; wait for all."""
    writers = []
    started = time.perf_counter()
    for name, sitemap, pages in plan:
        sources = workdir / f"{name}.toml"
        sources.write_text(sources_toml(name, sitemap, pages), encoding="utf-8")
        log = workdir / f"{name}.log"
        with log.open("w", encoding="utf-8") as out:
            proc = subprocess.Popen([AKHBAR, "ingest", "--sources", str(sources), "--db", db,
                                     "--allow-private-addresses", "--backend", "crf"],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        writers.append(Writer(name, proc, log))
    stop = threading.Event()
    sampler = threading.Thread(target=sample_peaks, args=(writers, stop), daemon=True)
    sampler.start()
    for w in writers:
        w.proc.wait()
        w.seconds = time.perf_counter() - started
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    for w in writers:
        text = w.log.read_text(encoding="utf-8", errors="replace")
        w.retries = Counter(what for what, _ in RETRY_LINE.findall(text))
        if w.proc.returncode != 0:
            print(f"  {w.name} exited {w.proc.returncode}; its last lines:\n    "
                  + "\n    ".join(text.strip().splitlines()[-8:]))
    return writers, wall


# ------------------------------------------------------------------------------------------ the warehouse after
def lake_files(con: Any) -> dict[str, tuple[int, int]]:
    """(Parquet data files, delete files) per table of the current snapshot."""
    return {table: (data, deletes) for table, data, deletes in con.execute(LAKE_FILES).fetchall()}


def parquet_on_disk(db: str) -> int:
    """Parquet files under the lake's (default) data folder, referenced by a snapshot or not."""
    catalog = Path(db.removeprefix("ducklake:sqlite:"))
    return sum(1 for _ in Path(f"{catalog}.files").rglob("*.parquet"))


def measure(db: str, lake: bool) -> dict:
    from warehouse.connection import connect

    con = connect(db, read_only=True)
    try:
        articles, distinct_articles, mentions, distinct_mentions, sources = con.execute(STORED_ONCE).fetchone()
        first_start, last_finish, stored_by_runs, runs = con.execute(RUN_SPAN).fetchone()
        files_before = lake_files(con) if lake else {}
    finally:
        con.close()
    out = {"articles": articles, "distinct_articles": distinct_articles, "mentions": mentions,
           "distinct_mentions": distinct_mentions, "sources": sources, "runs": runs, "stored_by_runs": stored_by_runs,
           "run_span": (last_finish - first_start).total_seconds() if first_start and last_finish else None,
           "files": {"run": files_before}, "on_disk": {"run": parquet_on_disk(db)} if lake else {}, "seconds": {}}
    if lake:
        maintain(db, out)
    return out


def maintain(db: str, out: dict) -> None:
    """DuckLake's compaction and maintenance, each in a session of its own (as an operator runs them) and
    followed by the files per table it left."""
    import duckdb

    from warehouse.connection import connect

    for stage, sql in MAINTENANCE:
        con = connect(db)
        try:
            t0 = time.perf_counter()
            try:
                con.execute(sql).fetchall()
            except duckdb.Error as exc:  # reported with the figures: the other stages still tell something
                out.setdefault("errors", {})[stage] = " ".join(str(exc).split())[:300]
            out["seconds"][stage] = time.perf_counter() - t0
            out["files"][stage] = lake_files(con)
            out["on_disk"][stage] = parquet_on_disk(db)
        finally:
            con.close()


# ------------------------------------------------------------------------------------------ report
def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def report_row(label: str, writers: list[Writer], wall: float, m: dict) -> dict:
    retries: Counter = Counter()
    for w in writers:
        retries.update(w.retries)
    once = m["articles"] == m["distinct_articles"] and m["mentions"] == m["distinct_mentions"]
    span = m["run_span"] or 0.0
    row = {"config": label, "writers": len(writers), "wall": wall, "articles": m["distinct_articles"],
           "pages_per_s": m["distinct_articles"] / wall if wall else 0.0,
           "pages_per_s_runs": m["distinct_articles"] / span if span else 0.0,
           "retries": sum(retries.values()), "retries_by_what": dict(retries), "stored_once": once,
           "duplicate_articles": m["articles"] - m["distinct_articles"],
           "duplicate_mentions": m["mentions"] - m["distinct_mentions"],
           "peak_rss_mb": [round(w.peak_rss / 2**20) for w in writers],
           "exit_codes": [w.proc.returncode for w in writers], "measured": m, "load_after": loadavg()}
    print(f"{label:<16}{len(writers):>3}{wall:>8.1f}{row['pages_per_s']:>9.1f}{row['pages_per_s_runs']:>9.1f}"
          f"{m['distinct_articles']:>7}{'yes' if once else 'NO':>6}{row['retries']:>8}   "
          f"{', '.join(map(str, row['peak_rss_mb']))}   {dict(retries) or ''}", flush=True)
    return row


def print_files(rows: list[dict]) -> None:
    lakes = [r for r in rows if r["measured"]["files"]["run"]]
    if not lakes:
        return
    stages = ["run", *(stage for stage, _ in MAINTENANCE)]
    print("\nParquet files per table in the lake's current snapshot, data+delete files, after the run -> "
          f"{' -> '.join(stages[1:])} (rows of small writes stay inlined in the catalog until the checkpoint):")
    print(f"{'table':<14}" + "".join(f"{r['config']:>28}" for r in lakes))
    for table in FILE_TABLES:
        cells = []
        for r in lakes:
            files = r["measured"]["files"]
            cells.append(" -> ".join("{}+{}".format(*files[stage].get(table, (0, 0))) for stage in stages))
        print(f"{table:<14}" + "".join(f"{c:>28}" for c in cells))
    print(f"{'on disk':<14}" + "".join(f"{' -> '.join(str(r['measured']['on_disk'][s]) for s in stages):>28}"
                                       for r in lakes))
    for stage in stages[1:]:
        print(f"{stage} seconds: " + ", ".join(f"{r['config']} {r['measured']['seconds'][stage]:.2f}" for r in lakes))
    for r in lakes:
        for stage, error in r["measured"].get("errors", {}).items():
            print(f"{r['config']}: {stage} FAILED: {error}")


# ------------------------------------------------------------------------------------------ main
def start_prefect_api(workdir: Path) -> Any:
    """One Prefect API server for every writer of the run (PREFECT_HOME private to this run)."""
    os.environ["PREFECT_HOME"] = str(workdir / "prefect-home")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=120)
    return server


def create_lake(db: str) -> None:
    """The lake's tables, before its writers start: a fleet writes into a lake that exists (made by its first
    ingest or by `akhbar migrate-warehouse`), and the timings should not include W writers racing to create it."""
    from warehouse.connection import connect, lake_retrying, migrate

    con = connect(db)
    try:
        lake_retrying(lambda: migrate(con), what="migrate")
    finally:
        con.close()


def run_configs(args: argparse.Namespace, info: dict, workdir: Path, env: dict[str, str]) -> list[dict]:
    sitemaps = info["sitemaps"]
    print(f"\n{'config':<16}{'W':>3}{'wall s':>8}{'pages/s':>9}{'runs p/s':>9}{'stored':>7}{'once':>6}"
          f"{'retries':>8}   peak RSS per writer (MB)   retried (what)")
    rows = []
    configs = [("duckdb file", 1, str(workdir / "baseline.duckdb"), False)]
    for writers in parse_writers(args.writers):
        catalog = workdir / f"lake-{writers}" / "catalog.sqlite"
        configs.append((f"ducklake x{writers}", writers, f"ducklake:sqlite:{catalog}", True))
    for label, writers, db, lake in configs:
        if lake:
            create_lake(db)
        plan = [(f"bench-{w}", *sitemaps[f"{writers}-{w}"]) for w in range(writers)]
        fleet, wall = run_fleet(db, plan, workdir, env)
        rows.append(report_row(label, fleet, wall, measure(db, lake)))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    if argv[:1] == ["serve"]:
        ap.add_argument("command", choices=["serve"])
        ap.add_argument("--dir", required=True)
    ap.add_argument("--n", type=int, default=1000, help="article pages on the site (default 1000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--writers", default="1,2,4", help="fleet sizes into a lake (default 1,2,4)")
    ap.add_argument("--overlap", type=float, default=0.25,
                    help="share of the next writer's pages each writer also lists (default 0.25)")
    ap.add_argument("--runner", default="thread", help="AKHBAR_TASK_RUNNER of each writer (default thread: "
                                                      "W writers already share the 2 cores)")
    ap.add_argument("--json", help="write the figures to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if argv[:1] == ["serve"]:
        return serve(args)
    args.writers = ",".join(str(w) for w in sorted({1, *parse_writers(args.writers)}))

    import corpus

    if not corpus.have_corpus():
        print(f"lake writers benchmark: shared corpus not found at {corpus.CORPUS_DIR}; nothing to do.")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="akhbar-lake-bench-"))
    print(f"akhbar lake writers benchmark; N={args.n}, writers={args.writers}, overlap={args.overlap}, "
          f"runner={args.runner}; {os.cpu_count()} cores; load average at start: {loadavg()}", flush=True)
    site, info = start_site(args, workdir)
    api = start_prefect_api(workdir)
    try:
        env = {**os.environ, "PREFECT_API_URL": api.api_url, "AKHBAR_TASK_RUNNER": args.runner,
               "PREFECT_LOGGING_LEVEL": "WARNING"}
        print(f"site: {info['pages']} pages at {info['base']}; Prefect API {api.api_url} (shared by the writers)")
        rows = run_configs(args, info, workdir, env)
        print_files(rows)
        print(f"\nload average at the end: {loadavg()}")
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, default=str, indent=1),
                                       encoding="utf-8")
    finally:
        api.stop()
        if site.stdin:
            site.stdin.close()
        site.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
