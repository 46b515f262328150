"""What one huge page costs: wall time and peak RSS of extract + tag + hash (extractors.batch.process_pages) on
pages just under the 10 MB response cap, each in a fresh process (so its peak RSS is the page's alone).

Pages (issue 18): `one-line`, 9.5 MB of Arabic text in one <p> with no line break; `distinct-words`, 9.7 MB
of distinct made-up Arabic words; `tiny-tags`, 7.6 MB of <span>s of one word each; `article`, a normal
~30 KB page for scale. Target: every page < 300 MB above the process's baseline and < 10 s.

    .venv/bin/python benchmarks/big_page.py [--pages one-line,distinct-words,tiny-tags,article]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
SENTENCE = "قال وزير الخارجية السعودي في الرياض إن المحادثات مع الأمم المتحدة كانت مثمرة "


def page(kind: str) -> bytes:
    rng = random.Random(7)
    head = "<html><head><meta charset='utf-8'><title>عنوان الخبر</title></head><body><article><h1>عنوان الخبر</h1>"
    if kind == "one-line":
        body = "<p>" + SENTENCE * (9_500_000 // len(SENTENCE.encode())) + "</p>"
    elif kind == "distinct-words":
        words = []
        size = 0
        while size < 9_700_000:
            w = "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 9)))
            words.append(w)
            size += len(w.encode()) + 1
        body = "<p>" + " ".join(words) + "</p>"
    elif kind == "tiny-tags":
        body = "<p>" + "".join(f"<span>{rng.choice(SENTENCE.split())}</span>"
                               for _ in range(7_600_000 // 26)) + "</p>"
    else:
        body = "".join(f"<p>{SENTENCE * 4}</p>" for _ in range(60))
    return (head + body + "</article></body></html>").encode("utf-8")


def measure(kind: str) -> dict:
    """In this (fresh) process: RSS after imports, a warm-up page and building the big page's bytes, then the
    peak while processing it."""
    from datetime import UTC, datetime

    from extractors.batch import process_pages
    from extractors.records import FetchedPage

    def fetched(body: bytes) -> FetchedPage:
        return FetchedPage(url="http://127.0.0.1/p.html", source="s", fetched_at=datetime.now(UTC), status=200,
                           body=body, final_url="http://127.0.0.1/p.html", content_type="text/html; charset=utf-8",
                           encoding="utf-8")

    process_pages([fetched(page("article"))], backend_name="crf")  # imports, model, caches
    body = page(kind)
    base = int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_BYTES / 2**20  # RSS now, with the page
    t0 = time.perf_counter()
    out = process_pages([fetched(body)], backend_name="crf")
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    art = out.articles[0] if out.articles else None
    return {"page": kind, "mb": round(len(body) / 2**20, 1), "seconds": round(wall, 2),
            "rss_added_mb": round(peak - base, 0), "peak_rss_mb": round(peak, 0),
            "stored_chars": len(art.article.text) if art else 0,
            "mentions": len(art.mentions or []) if art else 0,
            "log": [r.cut or r.error for r in out.fetch_rows if r.cut or r.error] or None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", default="article,one-line,distinct-words,tiny-tags")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child), ensure_ascii=False))
        return 0
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}")
    for kind in args.pages.split(","):
        done = subprocess.run([sys.executable, __file__, "--child", kind], capture_output=True, text=True)
        if done.returncode:
            print(f"{kind}: failed: {done.stderr.strip()[-500:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        ok = r["seconds"] < 10 and r["rss_added_mb"] < 300
        print(f"{r['page']:<15} {r['mb']:5.1f} MB  {r['seconds']:7.2f} s  +{r['rss_added_mb']:5.0f} MB RSS "
              f"(peak {r['peak_rss_mb']:.0f})  stored {r['stored_chars']} chars, {r['mentions']} mentions  "
              f"{'ok' if ok else 'MISSED'}  {r['log'] or ''}")
    print(f"load average at end: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
