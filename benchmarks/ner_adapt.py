#!/usr/bin/env python
"""`akhbar ner adapt` with SaudiNewsNet playing the user's warehouse: time, memory and what it changes.

    .venv/bin/python benchmarks/ner_adapt.py --articles 2000                  # the real settings
    .venv/bin/python benchmarks/ner_adapt.py --articles 200 --iterations 20 --train-sentences 1000   # a smoke run

1. A DuckDB warehouse of N SaudiNewsNet articles (2015 Saudi newspapers, CC BY-NC-SA 4.0; read at run time)
   is written with the project's loader (``warehouse.store.Warehouse.load``) to a temporary directory.
2. The adapt command (``python -m flows.cli ner adapt``, i.e. ``akhbar ner adapt``) runs in its own
   process with ``AKHBAR_DATA_DIR`` in the temporary directory: its wall time and peak RSS (``wait4``) are printed.
   The model it trains is benchmark-only: it is never written into the repository and goes away with the
   temporary directory.
3. Quality. The command trains on every split of the corpora, dev ones included (the shipped recipe), so its
   model cannot be scored on them. Two models are therefore trained the same way but on the train splits only
   (``crf_train.train_model`` with ``corpora.training_sentences(whole=False)``, what ``train_for_adaptation``
   does otherwise): ``held-out`` with word clusters from the training text alone, ``adapted`` with the user's
   sentences too (``adapt.user_sentences`` over the warehouse, as the command reads them). The difference
   between the two is what the user's articles bring. Both are scored, with the shipped model for reference, on
   ANERcorp dev, AQMAR dev and Wojood val (span-exact, per type, micro over PERS/LOC/ORG with
   ``training.scoring.core_micro``). The shipped model was trained on all of ANERcorp: its ANERcorp figure is
   optimistic. ``--no-quality`` skips this part.

Exits 0 with a message when ../shared/data/corpus/saudinewsnet is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402  (the SaudiNewsNet reader the other benchmarks use)

from extractors.entities.crf.tagger import MODEL_DIR, CRFTagger, installed_in  # noqa: E402
from extractors.entities.iob import to_iob2  # noqa: E402
from extractors.entities.training import corpora  # noqa: E402
from extractors.entities.training.conll import score  # noqa: E402
from extractors.entities.training.scoring import core_micro  # noqa: E402
from extractors.records import ExtractedArticle, ProcessedArticle  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

DEV_SETS = ("anercorp", "aqmar", "wojood")
TYPES = ("PERS", "LOC", "ORG", "MISC")


def build_warehouse(db: Path, n: int, seed: int) -> int:
    """A warehouse holding n SaudiNewsNet articles, written by the project's loader; returns how many."""
    articles = corpus._load_corpus(seed, n)[:n]
    now = datetime.now(UTC)
    items = []
    for a in articles:
        text = a["content"]
        article = ExtractedArticle(url=a["url"], title=a["title"], author=a.get("author"), published_at=None,
                                   language="ar", text=text)
        items.append(ProcessedArticle(
            article_id=hashlib.sha256(a["url"].encode("utf-8")).hexdigest(), url=a["url"], source=a["source"],
            article=article, content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(), fetched_at=now,
            final_url=None, mentions=[], backend=None))
    warehouse = Warehouse(db)
    warehouse.migrate()
    for start in range(0, len(items), 1000):
        warehouse.load(items[start : start + 1000], [], None)
    return len(items)


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float]:
    """Run cmd; (exit code, wall seconds, the child's peak RSS in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024


HELD_OUT = """
import sys
from pathlib import Path
from extractors.entities.training import corpora
from extractors.entities.training.adapt import user_sentences
from extractors.entities.training.crf_train import BEST, shipped_corpora, train_model
from flows.ner_adapt import article_texts
out, db, iterations = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
train = corpora.training_sentences(shipped_corpora(), whole=False)
params = {**BEST, **({"max_iterations": iterations} if iterations else {})}
text = user_sentences(article_texts(Path(db))).sentences if db else []
train_model(train, out, params, cluster_text=text, data="benchmark: train splits only")
"""


def dev_scores(model_dir: Path) -> dict[str, dict]:
    """Per dev set: conll.score per type, core micro, tokens/s of the tagging."""
    tagger = CRFTagger(model_dir)
    out = {}
    for name in DEV_SETS:
        if not corpora.available(name):
            continue
        dev = corpora.read_split(name, "dev")
        toks = [t for t, _ in dev]
        t0 = time.perf_counter()
        pred = tagger.tag(toks)
        secs = time.perf_counter() - t0
        result = score([to_iob2(g) for _, g in dev], pred)
        out[name] = {"result": result, "core": core_micro(result),
                     "tokens_per_second": sum(len(t) for t in toks) / max(secs, 1e-9)}
    return out


def print_table(models: dict[str, dict[str, dict]]) -> None:
    print(f"\n{'dev set':10} {'model':9} {'PLO F1':>7} {'all F1':>7} " + " ".join(f"{t:>6}" for t in TYPES)
          + f" {'tok/s':>8}")
    sets = [s for s in DEV_SETS if any(s in m for m in models.values())]
    for name in sets:
        for label, scores in models.items():
            if name not in scores:
                continue
            s = scores[name]
            per_type = " ".join(f"{s['result'].get(t, {}).get('f1', 0.0):6.3f}" for t in TYPES)
            micro = s["result"]["micro"]["f1"]
            print(f"{name:10} {label:9} {s['core']['f1']:7.3f} {micro:7.3f} {per_type} {s['tokens_per_second']:8,.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=2000, help="SaudiNewsNet articles in the warehouse")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=0, help="training iterations (0: the shipped recipe's)")
    ap.add_argument("--train-sentences", type=int, default=0, help="labelled sentences (0: all)")
    ap.add_argument("--max-sentences", type=int, default=0, help="user sentences read at most (0: the default)")
    ap.add_argument("--no-quality", action="store_true", help="only run the command (no held-out models)")
    ap.add_argument("--no-command", action="store_true", help="only the held-out models (no adapt command)")
    ap.add_argument("--json", help="append the figures as one JSON line to this file")
    args = ap.parse_args(argv)
    if not corpus.have_corpus():
        print(f"SaudiNewsNet not found at {corpus.CORPUS_DIR}; nothing to benchmark")
        return 0
    with tempfile.TemporaryDirectory(prefix="akhbar-adapt-bench-") as tmp:
        db, data_dir = Path(tmp) / "user.duckdb", Path(tmp) / "data"
        t0 = time.perf_counter()
        n = build_warehouse(db, args.articles, args.seed)
        print(f"warehouse: {n} SaudiNewsNet articles in {time.perf_counter() - t0:.1f}s ({db.stat().st_size / 1e6:.1f} MB)")
        env = {**os.environ, "AKHBAR_DATA_DIR": str(data_dir)}
        cmd = [sys.executable, "-m", "flows.cli", "ner", "adapt", "--db", str(db), "--min-articles", "1"]
        cmd += ["--iterations", str(args.iterations)] if args.iterations else []
        cmd += ["--train-sentences", str(args.train_sentences)] if args.train_sentences else []
        cmd += ["--max-sentences", str(args.max_sentences)] if args.max_sentences else []
        load = os.getloadavg()
        record: dict = {"articles": n, "iterations": args.iterations, "train_sentences": args.train_sentences}
        if not args.no_command:
            code, adapt_secs, adapt_rss = run_measured(cmd, env)
            if code != 0:
                print(f"adapt failed with exit {code}")
                return 1
            installed = installed_in(data_dir / "ner" / "crf")
            assert installed is not None
            print(f"adapt: {adapt_secs:.1f}s wall, peak RSS {adapt_rss:,.0f} MB; {installed.model_id}; "
                  f"{installed.manifest['articles']} articles, {installed.manifest['sentences']} sentences, "
                  f"{installed.manifest['tokens']} tokens")
            record.update(adapt_seconds=round(adapt_secs, 1), adapt_rss_mb=round(adapt_rss))
        models = {"shipped": dev_scores(MODEL_DIR)}
        if not args.no_quality:
            for label, source in (("held-out", ""), ("adapted", str(db))):
                folder = Path(tmp) / label
                code, secs, rss = run_measured(
                    [sys.executable, "-c", HELD_OUT, str(folder), source, str(args.iterations)], env)
                if code != 0:
                    print(f"{label} training failed with exit {code}")
                    return 1
                print(f"{label} (train splits only{', clusters with the user text' if source else ''}): "
                      f"{secs:.1f}s wall, peak RSS {rss:,.0f} MB")
                models[label] = dev_scores(folder)
                record[f"{label}_seconds"], record[f"{label}_rss_mb"] = round(secs, 1), round(rss)
        end_load = os.getloadavg()
        print_table(models)
        print(f"\nload average {load[0]:.2f} at the start, {end_load[0]:.2f} at the end (2 shared cores: times are "
              "upper bounds)")
        record["scores"] = {label: {name: {"core_f1": round(s["core"]["f1"], 4),
                                           **{t: round(s["result"].get(t, {}).get("f1", 0.0), 4) for t in TYPES}}
                                    for name, s in scores.items()} for label, scores in models.items()}
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
