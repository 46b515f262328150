"""End-to-end pipeline benchmark: every stage against its floor and against a peer, on the same pages.

What it does (one run):
1. generates N realistic Arabic article pages (SaudiNewsNet text in the layouts of benchmarks/extract_layouts,
   ~30 KB each) and serves them on 127.0.0.1 from a separate process (benchmarks/corpus.py) with a robots.txt
   and a sitemap index of up to 8 child news sitemaps;
2. runs the real Prefect flow `flows.ingest.ingest` (backend crf, politeness off, a fresh DuckDB file) while
   sampling the RSS of the whole process tree (flow process + task-runner workers + Prefect's ephemeral API
   server; the site server is excluded) and the CPU time of each part;
3. measures the floors on the same pages in the same run: bare httpx fetch (same concurrency), sitemap GET +
   lxml parse, `lxml.html.fromstring`, bare `trafilatura.extract`, the NER backend alone (`find_mentions` over
   the extracted texts) and a bulk Arrow insert of the final rows into a fresh DuckDB file;
4. runs the peer newspaper4k (installed only in benchmarks/.venv-peers, see requirements-peers.txt) as a
   subprocess over a sample of the same HTML and prints its speed and body F1 next to ours.

    .venv/bin/python benchmarks/pipeline.py [--n 2000] [--copies K] [--runner process] [--batch-size 200]
        [--concurrency 16] [--floor-pages 0] [--peer-pages 200] [--no-peers] [--json out.json] [--profile]
        [--backend crf|camel] [--camel-layers 12] [--db file|lake]

`--db lake`: the flow writes into a fresh DuckLake (`ducklake:sqlite:`, Parquet files beside the catalog) instead
of a fresh DuckDB file. Several writers into one lake at once: benchmarks/lake_writers.py.

`--backend camel`: the flow tags with the camel backend over a random BERT-base-shaped model folder that the
benchmark writes first (benchmarks/ner_speed.py --make-model, in a subprocess; nothing downloaded), pointed at by
AKHBAR_CAMEL_MODEL; int8 or fp32 as AKHBAR_CAMEL_INT8 says (else the backend's default). The model's int8 file
is written before the timer into a private XDG_CACHE_HOME (as on any run after a machine's first). Each
task-runner worker loads the model once; the peak RSS of each worker process is printed.

Needs ../shared/data/corpus/saudinewsnet (prints a message and exits 0 when it is absent). Results and the
commands that produced them are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

PEERS_PY = HERE / ".venv-peers" / "bin" / "python"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ machine / load
def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Python {platform.python_version()}, {platform.system()}"


# ------------------------------------------------------------------------------------------ process tree
def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, cpu seconds) of a process from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw.rsplit(")", 1)[1].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size: pages shared with other processes (a model file mapped by two workers) count half."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for c in children.get(pid, []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class TreeSampler(threading.Thread):
    """Peak RSS of this process + descendants (minus `exclude`), sampled every `interval` seconds."""

    def __init__(self, exclude: set[int], prefect_pids: set[int], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.exclude, self.prefect_pids, self.interval = exclude, prefect_pids, interval
        self.stop_event = threading.Event()
        self.peak_total = self.peak_main = self.peak_prefect = self.peak_workers = 0
        self.peak_no_prefect = 0
        self.max_workers_seen = self.max_servers_seen = 0
        self._cmds: dict[int, str] = {}
        self.samples = 0
        self.worker_cpu: dict[int, float] = {}
        self.worker_peak: dict[int, int] = {}  # peak RSS of each worker process (one model each with camel)
        self.worker_peak_pss: dict[int, int] = {}
        self.peak_pss_total = 0  # the tree's proportional set size: shared file pages counted once

    def sample(self) -> None:
        me = os.getpid()
        main = _rss(me)
        kids = [p for p in descendants(me) if p not in self.exclude]
        servers = [p for p in kids if p in self.prefect_pids or "uvicorn" in self.cmd(p)]
        prefect = sum(_rss(p) for p in servers)
        workers = [p for p in kids if p not in servers]
        wrss = sum(_rss(p) for p in workers)
        for p in workers:
            st = _stat(p)
            if st:
                self.worker_cpu[p] = st[1]
            self.worker_peak[p] = max(self.worker_peak.get(p, 0), _rss(p))
        if self.samples % 5 == 0:  # smaps_rollup walks every mapping: about once a second is enough
            for p in workers:
                self.worker_peak_pss[p] = max(self.worker_peak_pss.get(p, 0), _pss(p))
            self.peak_pss_total = max(self.peak_pss_total, sum(_pss(p) for p in [me, *kids]))
        total = main + prefect + wrss
        self.peak_total = max(self.peak_total, total)
        self.peak_no_prefect = max(self.peak_no_prefect, main + wrss)
        self.peak_main = max(self.peak_main, main)
        self.peak_prefect = max(self.peak_prefect, prefect)
        self.peak_workers = max(self.peak_workers, wrss)
        self.max_workers_seen = max(self.max_workers_seen, sum(1 for p in workers if "spawn_main" in self.cmd(p)
                                                               or "resource_tracker" not in self.cmd(p)))
        self.max_servers_seen = max(self.max_servers_seen, len(servers))
        self.samples += 1

    def cmd(self, pid: int) -> str:
        if pid not in self._cmds:
            self._cmds[pid] = cmdline(pid)
        return self._cmds[pid]

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()
        self.sample()


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> tuple[float, float]:
    """(cpu seconds, max RSS MB) of terminated, waited-for children (the task-runner workers)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


# ------------------------------------------------------------------------------------------ site
def start_site(n: int, seed: int, workdir: Path, copies: int = 1) -> tuple[subprocess.Popen, dict]:
    site_dir = workdir / "site"
    site_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "corpus.py"), "serve", "--n", str(n), "--seed", str(seed), "--dir", str(site_dir),
         "--copies", str(copies)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        raise SystemExit("benchmark site did not start (see the error above)")
    info = json.loads(line)
    if "error" in info:
        proc.kill()
        raise SystemExit(info["error"])
    info["dir"] = str(site_dir)
    return proc, info


def read_manifest(site_dir: Path) -> list[dict]:
    with open(site_dir / "manifest.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def page_bytes(site_dir: Path, i: int) -> bytes:
    return (site_dir / "pages" / f"{i}.html").read_bytes()


# ------------------------------------------------------------------------------------------ the flow
def run_flow(args: argparse.Namespace, base: str, workdir: Path, site_pid: int) -> dict:
    from prefect.client.orchestration import get_client

    import flows  # noqa: F401  (telemetry off before Prefect loads)

    # start Prefect's ephemeral API server now, outside the timings (a deployment talks to a running server)
    t0 = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.hello()
    prefect_start = time.perf_counter() - t0
    if args.api == "shared":
        # Experiment: hand the parent's ephemeral API URL to the process-pool workers (they inherit os.environ);
        # by default each spawned worker starts a temporary Prefect server of its own.
        from prefect.server.api.server import SubprocessASGIServer

        os.environ["PREFECT_API_URL"] = SubprocessASGIServer().api_url
    # every child started so far except the site server is Prefect's API server (and its helpers)
    prefect_pids = {p for p in descendants(os.getpid()) if p != site_pid}
    prefect_cpu0 = sum((_stat(p) or (0, 0.0))[1] for p in prefect_pids)
    site_cpu0 = (_stat(site_pid) or (0, 0.0))[1]

    import flows.ingest as fi
    from flows.ingest import ingest

    marks: dict[str, float] = {}
    orig_load_config, orig_interleave, orig_run_batches = fi.load_config, fi.interleave, fi.run_batches
    orig_prepare = fi.prepare_run

    def prepare_hook(*a, **k):
        try:
            return orig_prepare(*a, **k)
        finally:
            marks["prepared"] = time.perf_counter()

    def load_config_hook(*a, **k):
        marks.setdefault("body_start", time.perf_counter())
        return orig_load_config(*a, **k)

    def interleave_hook(*a, **k):
        marks["discovered"] = time.perf_counter()
        return orig_interleave(*a, **k)

    def run_batches_hook(*a, **k):
        marks["batches_start"] = time.perf_counter()
        try:
            return orig_run_batches(*a, **k)
        finally:
            marks["batches_end"] = time.perf_counter()

    fi.load_config, fi.interleave, fi.run_batches = load_config_hook, interleave_hook, run_batches_hook
    fi.prepare_run = prepare_hook

    sources = workdir / "sources.toml"
    sources.write_text(
        f'[crawl]\ntimeout_seconds = 30\n\n[[sources]]\nname = "bench-news"\nsitemaps = ["{base}/sitemap_index.xml"]\n'
        f"max_articles = {max(args.n, 1)}\nrequests_per_second = 0\nmax_concurrency = {args.concurrency}\n"
        f'timezone = "Asia/Riyadh"\n', encoding="utf-8")
    # a fresh DuckDB file, or with --db lake a fresh DuckLake (SQLite catalog, Parquet files beside it)
    db = f"ducklake:sqlite:{workdir / 'lake' / 'catalog.sqlite'}" if args.db == "lake" else str(workdir / "bench.duckdb")

    sampler = TreeSampler(exclude={site_pid}, prefect_pids=prefect_pids)
    cpu_main0, (cpu_kids0, _) = cpu_self(), cpu_children()
    load_before = loadavg()
    sampler.start()
    t_call = time.perf_counter()
    summary = ingest(sources_file=str(sources), db_path=db, allow_private_addresses=True, backend=args.backend,
                     batch_size=args.batch_size)
    t_done = time.perf_counter()
    sampler.stop()
    cpu_main = cpu_self() - cpu_main0
    cpu_kids, kids_maxrss = cpu_children()
    cpu_kids -= cpu_kids0
    if cpu_kids == 0 and sampler.worker_cpu:  # workers still alive (not waited for): use the sampled figure
        cpu_kids = sum(sampler.worker_cpu.values())
    prefect_cpu = sum((_stat(p) or (0, 0.0))[1] for p in prefect_pids) - prefect_cpu0
    site_cpu = (_stat(site_pid) or (0, 0.0))[1] - site_cpu0
    fi.load_config, fi.interleave, fi.run_batches = orig_load_config, orig_interleave, orig_run_batches
    fi.prepare_run = orig_prepare

    # task runs of this flow run, through the Prefect API
    from uuid import UUID

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    task_runs: Counter = Counter()
    try:
        with get_client(sync_client=True) as client:
            offset = 0
            while True:
                page = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(summary.run_id)])),
                    limit=200, offset=offset)
                for tr in page:
                    task_runs[tr.name.rsplit("-", 1)[0] if tr.name.count("-") >= 2 else tr.name] += 1
                if len(page) < 200:
                    break
                offset += 200
    except Exception as exc:
        task_runs[f"(could not count: {exc})"] = 0

    st = summary.stage_seconds
    wall = t_done - t_call
    return {
        "summary": summary, "db": db, "wall": wall, "prefect_start": prefect_start,
        "startup": marks.get("body_start", t_call) - t_call,
        "prepare": marks.get("prepared", t_call) - marks.get("body_start", t_call),
        "discover": marks.get("discovered", t_call) - marks.get("prepared", t_call),
        "batches_wall": marks.get("batches_end", t_done) - marks.get("batches_start", t_call),
        "finish": t_done - marks.get("batches_end", t_done),
        "fetch": st.get("fetch", 0.0), "extract": st.get("extract", 0.0), "entities": st.get("entities", 0.0),
        "load": st.get("load", 0.0),
        "rss_total": sampler.peak_total, "rss_no_prefect": sampler.peak_no_prefect, "rss_main": sampler.peak_main,
        "rss_prefect": sampler.peak_prefect, "rss_workers": sampler.peak_workers,
        "rss_per_worker": sorted((v for p, v in sampler.worker_peak.items() if "resource_tracker" not in sampler.cmd(p)),
                                 reverse=True),
        "pss_per_worker": sorted((v for p, v in sampler.worker_peak_pss.items()
                                  if "resource_tracker" not in sampler.cmd(p)), reverse=True),
        "pss_total": sampler.peak_pss_total,
        "workers_seen": sampler.max_workers_seen, "servers_seen": sampler.max_servers_seen, "kids_maxrss_mb": kids_maxrss,
        "cpu_main": cpu_main, "cpu_workers": cpu_kids, "cpu_prefect": prefect_cpu, "cpu_site": site_cpu,
        "task_runs": dict(task_runs), "load_before": load_before, "load_after": loadavg(),
    }


# ------------------------------------------------------------------------------------------ floors
def floor_fetch(urls: list[str], concurrency: int) -> float:
    import httpx

    async def go() -> float:
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                                     timeout=30) as client:
            async def one(u: str) -> int:
                async with sem:
                    r = await client.get(u)
                    return len(r.content)

            t0 = time.perf_counter()
            sizes = await asyncio.gather(*(one(u) for u in urls))
            assert all(sizes)
            return time.perf_counter() - t0

    return asyncio.run(go())


def floor_discover(base: str) -> tuple[float, int]:
    import httpx
    from lxml import etree

    t0 = time.perf_counter()
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    with httpx.Client() as client:
        index = etree.fromstring(client.get(f"{base}/sitemap_index.xml").content)
        n = 0
        for loc in index.iter(f"{ns}loc"):
            child = etree.fromstring(client.get(loc.text).content)
            n += sum(1 for _ in child.iter(f"{ns}loc"))
    return time.perf_counter() - t0, n


def floor_cpu(site_dir: Path, indices: list[int], texts: list[str], backend_name: str = "crf") -> dict:
    import lxml.html
    import trafilatura

    from extractors.entities.mentions import find_mentions, get_backend

    out: dict = {}
    htmls = [page_bytes(site_dir, i) for i in indices]
    trafilatura.extract(htmls[0])  # warm
    t0 = time.perf_counter()
    for h in htmls:
        lxml.html.fromstring(h)
    out["lxml"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    traf = [trafilatura.extract(h) for h in htmls]
    out["trafilatura"] = time.perf_counter() - t0
    out["trafilatura_texts"] = dict(zip(indices, traf))
    backend = get_backend(backend_name)
    find_mentions("اجتمع الرئيس في الرياض مع وزير الخارجية.", backend)  # warm
    t0 = time.perf_counter()
    n_m = sum(len(find_mentions(t, backend)) for t in texts)
    out["ner"] = time.perf_counter() - t0
    out["ner_mentions"] = n_m
    out["ner_texts"] = len(texts)
    return out


def floor_duckdb(db: str, workdir: Path) -> dict:
    import duckdb

    from warehouse.connection import connect

    src = connect(db, read_only=True)  # the run's warehouse: a DuckDB file or a lake
    def table(sql: str):
        rel = src.execute(sql)
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()

    arts = table("SELECT * FROM articles")
    ments = table("SELECT * FROM mentions")
    fetches = table("SELECT * FROM fetches")
    src.close()
    path = workdir / "floor.duckdb"
    t0 = time.perf_counter()
    con = duckdb.connect(str(path))
    con.register("a", arts)
    con.register("m", ments)
    con.register("f", fetches)
    con.execute("BEGIN")
    con.execute("CREATE TABLE articles AS SELECT * FROM a")
    con.execute("CREATE TABLE mentions AS SELECT * FROM m")
    con.execute("CREATE TABLE fetches AS SELECT * FROM f")
    con.execute("COMMIT")
    con.close()
    return {"seconds": time.perf_counter() - t0, "articles": arts.num_rows, "mentions": ments.num_rows,
            "fetches": fetches.num_rows}


# ------------------------------------------------------------------------------------------ peers
PEER_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from newspaper import Article
jobs = json.load(open(sys.argv[1], encoding="utf-8"))
def parse(url, path):
    html = open(path, "rb").read().decode("utf-8")
    a = Article(url, language="ar", fetch_images=False)
    a.download(input_html=html)
    a.parse()
    return a.text
for url, path in jobs[:3]:
    parse(url, path)  # warm
out = {}
t0 = time.perf_counter()
for url, path in jobs:
    try:
        out[url] = parse(url, path)
    except Exception as exc:
        out[url] = None
secs = time.perf_counter() - t0
import newspaper
json.dump({"seconds": secs, "texts": out, "version": newspaper.__version__}, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
"""


def run_peers(site_dir: Path, base: str, manifest: list[dict], sample: list[int], workdir: Path) -> dict:
    if not PEERS_PY.exists():
        return {"error": f"no peer environment at {PEERS_PY.parent.parent} (python3 -m venv benchmarks/.venv-peers && "
                         f"benchmarks/.venv-peers/bin/pip install -r benchmarks/requirements-peers.txt)"}
    jobs = [(base + manifest[i]["path"], str(site_dir / "pages" / f"{i}.html")) for i in sample]
    jf, of = workdir / "peer_jobs.json", workdir / "peer_out.json"
    jf.write_text(json.dumps(jobs), encoding="utf-8")
    script = workdir / "peer_newspaper.py"
    script.write_text(PEER_SCRIPT, encoding="utf-8")
    r = subprocess.run([str(PEERS_PY), str(script), str(jf), str(of)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": f"newspaper4k run failed: {r.stderr.strip()[-500:]}"}
    return json.loads(of.read_text(encoding="utf-8"))


def time_ours(site_dir: Path, base: str, manifest: list[dict], sample: list[int]) -> float:
    from extractors.extract.article import NotAnArticle, extract_article

    htmls = [(base + manifest[i]["path"], page_bytes(site_dir, i)) for i in sample]
    extract_article(htmls[0][1], htmls[0][0])
    t0 = time.perf_counter()
    for url, h in htmls:
        with contextlib.suppress(NotAnArticle):
            extract_article(h, url, timezone="Asia/Riyadh")
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------ camel model
def camel_model(workdir: Path, layers: int) -> Path:
    """A random BERT-base-shaped camel model folder (written by ner_speed.py in a subprocess, so this process,
    the flow's, never imports torch); AKHBAR_CAMEL_MODEL points at it for the flow and its workers."""
    folder = workdir / "camel-model"
    os.environ["XDG_CACHE_HOME"] = str(workdir / "cache")  # the model's int8 file, for the flow and its workers
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "ner_speed.py"), "--make-model", str(folder),
                           "--layers", str(layers), "--warm-int8"], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"could not write the camel model:\n{done.stderr[-3000:]}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    os.environ["AKHBAR_CAMEL_MODEL"] = str(folder)
    print(f"camel model: random weights, {info['params'] / 1e6:.1f} M parameters, {info['layers']} layers x "
          f"{info['hidden']} hidden, vocabulary {info['vocab']:,} (written in {time.perf_counter() - t0:.1f}s, "
          f"its int8 file quantised once in {info['int8_seconds']:.1f}s, before the timer, as on a machine that "
          f"has run it before); "
          f"AKHBAR_CAMEL_INT8={os.environ.get('AKHBAR_CAMEL_INT8') or '(unset: the default)'}")
    return folder


# ------------------------------------------------------------------------------------------ profile
def profile_batch(site_dir: Path, base: str, manifest: list[dict], n: int, top: int = 30) -> str:
    """cProfile of extractors.batch.process_pages on one batch of n pages (single process)."""
    import cProfile
    import io
    import pstats

    from extractors.batch import process_pages
    from extractors.records import FetchedPage

    now = datetime.now(UTC)
    pages = [FetchedPage(url=base + m["path"], source="bench-news", fetched_at=now, status=200,
                         body=page_bytes(site_dir, m["i"]), final_url=base + m["path"],
                         content_type="text/html; charset=utf-8", encoding="utf-8")
             for m in manifest[:n]]
    process_pages(pages[:5], backend_name="crf", timezones={"bench-news": "Asia/Riyadh"})  # warm, load model
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    batch = process_pages(pages, backend_name="crf", timezones={"bench-news": "Asia/Riyadh"})
    prof.disable()
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    buf.write(f"process_pages on {len(pages)} pages: {wall:.2f}s under cProfile (extract {batch.seconds_extract:.2f}s, "
              f"entities {batch.seconds_entities:.2f}s)\n")
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ report
def fmt_rate(n: int, s: float) -> str:
    return f"{n / s:9.1f}" if s > 0 else f"{'inf':>9}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="article pages (default 2000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runner", default=None, help="AKHBAR_TASK_RUNNER for the flow: thread, process[:N] "
                                                   "(default: the environment's value, else the project default)")
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--copies", type=int, default=1, metavar="K",
                    help="each story published K times across the site (wire copies; default 1: unique stories)")
    ap.add_argument("--concurrency", type=int, default=16, help="max_concurrency of the source (and of the fetch floor)")
    ap.add_argument("--floor-pages", type=int, default=0,
                    help="pages for the CPU floors (0 = all N); fewer pages are scaled up to N")
    ap.add_argument("--peer-pages", type=int, default=200, help="pages for the newspaper4k comparison (evenly spread)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-floors", action="store_true")
    ap.add_argument("--profile", type=int, default=0, metavar="PAGES",
                    help="also cProfile process_pages on one batch of PAGES pages and print the top functions")
    ap.add_argument("--api", choices=["ephemeral", "shared"], default="ephemeral",
                    help="ephemeral: as `akhbar ingest` runs today (no PREFECT_API_URL; each process-pool worker then "
                         "starts its own temporary server); shared: experiment, workers get the parent's API URL")
    ap.add_argument("--backend", choices=["crf", "camel"], default="crf",
                    help="NER backend of the flow; camel: over a random BERT-base-shaped model the benchmark writes")
    ap.add_argument("--camel-layers", type=int, default=12, help="encoder layers of that model (BERT-base: 12)")
    ap.add_argument("--json", help="write the figures to this JSON file")
    ap.add_argument("--db", choices=["file", "lake"], default="file",
                    help="the flow's warehouse: a fresh DuckDB file (default) or a fresh DuckLake (ducklake:sqlite:, "
                         "local Parquet files); many writers into one lake: benchmarks/lake_writers.py")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (pages, databases)")
    args = ap.parse_args(argv)

    import corpus

    if not corpus.have_corpus():
        print(f"pipeline benchmark: shared corpus not found at {corpus.CORPUS_DIR} "
              "(needs ../shared/data/corpus/saudinewsnet beside the repository); nothing to do.")
        return 0
    if args.runner:
        os.environ["AKHBAR_TASK_RUNNER"] = args.runner
    runner = os.environ.get("AKHBAR_TASK_RUNNER", "thread (project default)")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    workdir = Path(tempfile.mkdtemp(prefix="akhbar-bench-"))
    # a private Prefect home: the ephemeral API's SQLite database is fresh and nobody else's runs share it
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect-home"))
    os.environ.pop("PREFECT_API_URL", None)

    started_at = datetime.now(UTC)
    if args.backend == "camel":
        camel_model(workdir, args.camel_layers)
    experiments = [f"api={args.api}"] if args.api != "ephemeral" else []
    print(f"akhbar pipeline benchmark {started_at:%Y-%m-%d %H:%M} UTC; N={args.n}, runner={runner}, "
          f"batch={args.batch_size}, concurrency={args.concurrency}, copies={args.copies}; experiments: {', '.join(experiments) or 'none'}")
    print(f"machine: {machine()}; load average at start: {loadavg()}")
    t0 = time.perf_counter()
    site, info = start_site(args.n, args.seed, workdir, args.copies)
    site_dir = Path(info["dir"])
    print(f"site: {info['pages']} pages, mean {info['mean_kb']} KB, sitemap index with {info['sitemaps']} child "
          f"sitemaps at {info['base']} (stdlib ThreadingHTTPServer, separate process; generated in "
          f"{time.perf_counter() - t0:.1f}s)")
    res: dict = {"date": f"{started_at:%Y-%m-%d %H:%M} UTC", "machine": machine(), "n": args.n, "runner": runner,
                 "backend": args.backend, "db": args.db,
                 "batch_size": args.batch_size, "concurrency": args.concurrency, "copies": args.copies, "experiments": experiments, "command": " ".join(sys.argv)}
    try:
        r = run_flow(args, info["base"], workdir, site.pid)
        s = r["summary"]
        n_ok = s.stored
        print(f"\nflow run {s.run_id}: discovered {s.discovered}, fetched {s.fetched}, stored {s.stored}, "
              f"failed {s.failed}, mentions {s.mentions}; wall {r['wall']:.1f}s "
              f"(Prefect API server start before it: {r['prefect_start']:.1f}s, not counted)")
        if s.failures:
            print(f"  failures: {Counter(reason[:60] for _, reason in s.failures).most_common(5)}")
        manifest = read_manifest(site_dir)
        from warehouse.connection import connect

        con = connect(r["db"], read_only=True)
        stored = dict(con.execute("SELECT url, text FROM articles").fetchall())
        con.close()
        base = info["base"]
        from extract_eval import prf

        f1_all = [prf(stored.get(base + m["path"]), m["text"])[2] for m in manifest]
        pipeline_f1 = sum(f1_all) / len(f1_all)

        # ---------------- floors
        fl: dict = {}
        if not args.no_floors:
            print(f"\nfloors (load average now {loadavg()}) ...", flush=True)
            urls = [base + m["path"] for m in manifest]
            fl["fetch"] = floor_fetch(urls, args.concurrency)
            fl["discover"], n_locs = floor_discover(base)
            k = len(manifest) if args.floor_pages <= 0 else min(args.floor_pages, len(manifest))
            idx = [round(j * len(manifest) / k) for j in range(k)]
            texts = [stored[base + manifest[i]["path"]] for i in idx if base + manifest[i]["path"] in stored]
            cpu = floor_cpu(site_dir, idx, texts, args.backend)
            scale = len(manifest) / k
            fl["lxml"] = cpu["lxml"] * scale
            fl["trafilatura"] = cpu["trafilatura"] * scale
            fl["ner"] = cpu["ner"] * (n_ok / max(len(texts), 1))
            fl["trafilatura_texts"] = cpu["trafilatura_texts"]
            fl["floor_pages"] = k
            dd = floor_duckdb(r["db"], workdir)
            fl["duckdb"] = dd["seconds"]
            fl["duckdb_rows"] = dd
            fl["load_after"] = loadavg()

        # ---------------- peers
        peers: dict = {}
        if not args.no_peers:
            k = min(args.peer_pages, len(manifest))
            sample = [round(j * len(manifest) / k) for j in range(k)]
            print(f"peers: newspaper4k on {k} pages (load average {loadavg()}) ...", flush=True)
            peers = run_peers(site_dir, base, manifest, sample, workdir)
            peers["pages"] = k
            peers["ours_seconds"] = time_ours(site_dir, base, manifest, sample)
            gold = {base + manifest[i]["path"]: manifest[i]["text"] for i in sample}
            if "texts" in peers:
                peers["f1"] = sum(prf(peers["texts"].get(u), g)[2] for u, g in gold.items()) / k
            peers["ours_f1"] = sum(prf(stored.get(u), g)[2] for u, g in gold.items()) / k
            if fl.get("trafilatura_texts"):
                tt = fl["trafilatura_texts"]
                have = [i for i in sample if i in tt]
                if have:
                    peers["traf_f1"] = sum(prf(tt[i], manifest[i]["text"])[2] for i in have) / len(have)
            peers["load_after"] = loadavg()
            peers.pop("texts", None)

        # ---------------- report
        workers = r["workers_seen"] or 1
        N = s.discovered or args.n
        mb = 1024 * 1024
        print()
        print(f"{'stage':<10}{'seconds':>9}{'pages/s':>9}{'share':>7}   {'floor':<34}{'floor s':>8}{'pages/s':>9}{'ratio':>7}")
        print("-" * 97)

        def row(name: str, secs: float, share_of: float, floor_name: str = "", floor_s: float | None = None,
                note: str = "") -> None:
            fs = f"{floor_s:8.2f}{fmt_rate(N, floor_s)}{secs / floor_s:6.1f}×" if floor_s else ""
            print(f"{name:<10}{secs:9.2f}{fmt_rate(N, secs)}{100 * secs / share_of:6.1f}%   {floor_name:<34}{fs}{note}")

        wall = r["wall"]
        row("discover", r["discover"], wall, "GET + lxml parse of the sitemaps", fl.get("discover"))
        row("fetch", r["fetch"], wall, f"bare httpx GET, {args.concurrency} at a time", fl.get("fetch"))
        row("extract", r["extract"], wall, "bare trafilatura.extract", fl.get("trafilatura"))
        if fl:
            print(f"{'':<35}{'lxml.html.fromstring only':<34}{fl['lxml']:8.2f}{fmt_rate(N, fl['lxml'])}"
                  f"{r['extract'] / fl['lxml']:6.1f}×")
        row("entities", r["entities"], wall, f"{args.backend} find_mentions alone", fl.get("ner"))
        row("load", r["load"], wall, "Arrow bulk insert, fresh file", fl.get("duckdb"))
        print("-" * 97)
        print(f"{'total':<10}{wall:9.2f}{fmt_rate(n_ok, wall)}{'100%':>7}   (wall clock of the flow call; pages/s = "
              f"stored pages / wall)")
        print(f"  extract/entities are worker-seconds summed over batches ({workers} worker process(es) seen; with "
              f"threads they include GIL waits); share = stage seconds / flow wall.")
        print(f"  wall breakdown: flow start {r['startup']:.2f}s, discover {r['discover']:.2f}s, batches "
              f"{r['batches_wall']:.2f}s (of which fetch {r['fetch']:.2f}s + load {r['load']:.2f}s in the flow "
              f"thread, waiting for process results {max(0.0, r['batches_wall'] - r['fetch'] - r['load']):.2f}s), "
              f"finish (run row + artifacts) {r['finish']:.2f}s")
        cpu_all = r["cpu_main"] + r["cpu_workers"] + r["cpu_prefect"]
        print(f"  CPU seconds: flow process {r['cpu_main']:.1f}, task-runner workers {r['cpu_workers']:.1f}, "
              f"Prefect API server {r['cpu_prefect']:.1f} (site server {r['cpu_site']:.1f}); "
              f"pipeline used {cpu_all / wall:.2f} cores on average")
        print(f"  peak RSS (sampled every 0.2s): {r['rss_total'] / mb:.0f} MB for the tree = flow process "
              f"{r['rss_main'] / mb:.0f} + workers {r['rss_workers'] / mb:.0f} + Prefect API server(s) "
              f"{r['rss_prefect'] / mb:.0f} [{r['servers_seen']} seen] (peaks of the parts need not coincide); without the Prefect server "
              f"{r['rss_no_prefect'] / mb:.0f} MB; ru_maxrss of the largest waited-for child {r['kids_maxrss_mb']:.0f} MB")
        print(f"  peak RSS per worker process: {', '.join(f'{v / mb:.0f} MB' for v in r['rss_per_worker']) or '-'}"
              f" (PSS: {', '.join(f'{v / mb:.0f} MB' for v in r['pss_per_worker']) or '-'}); peak PSS of the tree "
              f"{r['pss_total'] / mb:.0f} MB (pages shared between processes, e.g. a mapped model file, counted once)"
              f"; entities by {s.ner_backend}: {s.ner_model}")
        print(f"  Prefect task runs: {sum(r['task_runs'].values())} {r['task_runs']}")
        print(f"  body F1 of the stored articles vs the corpus text: {pipeline_f1:.3f} over {len(manifest)} pages")
        print(f"  load average before / after the flow: {r['load_before']} / {r['load_after']}")
        res.update({k: v for k, v in r.items() if k != "summary"})
        res.update({"stored": s.stored, "failed": s.failed, "mentions": s.mentions, "discovered": s.discovered,
                    "pages_per_s": n_ok / wall, "f1": pipeline_f1})
        checks = []
        if fl:
            serial = fl["fetch"] + fl["discover"] + fl["trafilatura"] + fl["ner"] + fl["duckdb"]
            par = fl["fetch"] + fl["discover"] + (fl["trafilatura"] + fl["ner"]) / 2 + fl["duckdb"]
            print(f"\nsum of floors: {serial:.1f}s serial (single-process CPU floors); {par:.1f}s with the CPU floors "
                  f"split over 2 cores (the ideal for a 2-core pipeline). pipeline / floors: {wall / serial:.2f}× "
                  f"serial, {wall / par:.2f}× 2-core ideal")
            if fl["floor_pages"] != len(manifest):
                print(f"  (CPU floors measured on {fl['floor_pages']} evenly spread pages and scaled to {len(manifest)})")
            print(f"  floors ran at load average {fl['load_after']}")
            res["floors"] = {k: v for k, v in fl.items() if k != "trafilatura_texts"}
            res["floor_sum_serial"], res["floor_sum_2core"] = serial, par
            checks.append(("pipeline ≤ 1.5× sum of floors (2-core ideal)", wall / par <= 1.5, f"{wall / par:.2f}×"))
        if args.backend == "camel":  # issue 16's targets for the camel backend (int8) on 2 cores
            checks.append(("≥ 5 pages/s end to end", n_ok / wall >= 5, f"{n_ok / wall:.1f}"))
            checks.append(("peak RSS < 2.5 GB", r["rss_total"] < 2.5 * 2**30, f"{r['rss_total'] / mb:.0f} MB"))
        else:
            checks.append(("≥ 40 pages/s end to end", n_ok / wall >= 40, f"{n_ok / wall:.1f}"))
        checks.append(("load < 5% of total", r["load"] / wall < 0.05, f"{100 * r['load'] / wall:.1f}%"))
        if args.n >= 5000:
            checks.append(("peak RSS < 1.5 GB at N=5,000", r["rss_total"] < 1.5 * 2**30, f"{r['rss_total'] / mb:.0f} MB"))
        print("targets: " + "; ".join(f"{name}: {val} {'ok' if ok else 'MISSED'}" for name, ok, val in checks))

        if peers:
            print(f"\npeers on {peers.get('pages')} evenly spread pages of the same corpus (single process each; "
                  f"load average after: {peers.get('load_after')})")
            print(f"{'extractor':<42}{'ms/page':>9}{'pages/s':>9}{'body F1':>9}")
            k = peers["pages"]
            if "error" in peers:
                print(f"  newspaper4k: {peers['error']}")
            else:
                print(f"{'newspaper4k ' + peers.get('version', '') + ' (Article.parse)':<42}"
                      f"{1000 * peers['seconds'] / k:9.1f}{k / peers['seconds']:9.1f}{peers['f1']:9.3f}")
            if fl:
                tk = fl["trafilatura"] / len(manifest)
                print(f"{'trafilatura.extract (bare)':<42}{1000 * tk:9.1f}{1 / tk:9.1f}{peers.get('traf_f1', float('nan')):9.3f}")
            print(f"{'akhbar extract_article (single process)':<42}{1000 * peers['ours_seconds'] / k:9.1f}"
                  f"{k / peers['ours_seconds']:9.1f}{peers['ours_f1']:9.3f}")
            print(f"{'akhbar extract stage in the pipeline':<42}{1000 * r['extract'] / max(s.fetched, 1):9.1f}"
                  f"{max(s.fetched, 1) / r['extract']:9.1f}{'':>9}  (worker-seconds per page)")
            print(f"{'akhbar whole pipeline (fetch..load)':<42}{1000 * wall / max(n_ok, 1):9.1f}{n_ok / wall:9.1f}"
                  f"{pipeline_f1:9.3f}  (wall, all {len(manifest)} pages)")
            res["peers"] = peers

        if args.profile:
            print("\n" + profile_batch(site_dir, base, manifest, args.profile))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(res, indent=1, default=str, ensure_ascii=False), encoding="utf-8")
    finally:
        if site.stdin:
            site.stdin.close()
        try:
            site.wait(timeout=10)
        except subprocess.TimeoutExpired:
            site.kill()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
