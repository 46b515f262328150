"""The benchmark news site: N realistic Arabic article pages, generated at run time, served on 127.0.0.1.

Pages: real articles from ../shared/data/corpus/saudinewsnet (CC BY-NC-SA 4.0: read at run time, written only
to a temporary directory, never into the repository) inside the publisher layouts of
benchmarks/extract_layouts/ (the generator of benchmarks/extract_eval.py: navigation, share bars, «اقرأ أيضا»,
comments, footers; ~30 KB per page). Site: /robots.txt (with a Sitemap line), /sitemap_index.xml with up to 8
child Google News sitemaps (the discoverer follows at most 8 children per index), /news/<layout>/<i>.html.

    python benchmarks/corpus.py serve --n 2000 [--copies 20] --dir /tmp/x
    # prints one JSON line {"base": ...}, then serves until its stdin closes

The server runs in its own process (so its memory and the page bytes never count in the pipeline's RSS) and
keeps every response in memory; HTTP/1.1 keep-alive, one thread per connection (stdlib ThreadingHTTPServer).
The directory gets pages/<i>.html (the exact bytes served) and manifest.jsonl (url path, gold title and text,
layout, timezone) so the benchmark's floors and peers read the same pages.
"""

from __future__ import annotations

import argparse
import html as htmllib
import json
import math
import random
import sys
import threading
import zipfile
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import extract_eval  # noqa: E402  (the page generator and the scoring)

SHARED = extract_eval.SHARED
CORPUS_DIR = SHARED / "data" / "corpus" / "saudinewsnet"
MAX_CHILDREN = 8  # extractors.discover.feeds.MAX_CHILD_SITEMAPS
SOURCE_NAME = "bench-news"


def have_corpus() -> bool:
    return CORPUS_DIR.is_dir() and any(CORPUS_DIR.glob("*.zip"))


def _load_corpus(seed: int, n: int) -> list[dict]:
    """Like extract_eval.load_corpus, but reads as many zips as needed for n distinct articles (+ spares)."""
    zips = sorted(CORPUS_DIR.glob("*.zip"))
    rng = random.Random(seed)
    rng.shuffle(zips)
    good: list[dict] = []
    want = int(n * 1.2) + 200
    for zp in zips:
        with zipfile.ZipFile(zp) as zf:
            for name in zf.namelist():
                if name.endswith(".json"):
                    good.extend(a for a in json.loads(zf.read(name))
                                if a.get("title") and 500 <= len(a.get("content") or "") <= 9000)
        if len(good) >= want:
            break
    rng.shuffle(good)
    return good


def generate(n: int, seed: int, base: str, out: Path, copies: int = 1) -> list[tuple[str, str, bytes]]:
    """Build the pages, write pages/ and manifest.jsonl to `out`; return the site's (path, ctype, body).
    `copies`: each story is published that many times (pages i, i + n/copies, ...: other layouts, dates and
    URLs around the same text), as outlets republish agency wire stories."""
    stories = max(1, math.ceil(n / max(copies, 1)))

    def load_stories(seed: int, n: int) -> list[dict]:
        # build_pages takes page i's story from articles[i % len(articles)] and related links from the rest
        articles = _load_corpus(seed, n)
        return articles[:stories] if copies > 1 else articles

    extract_eval.load_corpus = load_stories  # more zips than the extraction eval needs
    pages = extract_eval.build_pages(n, seed)
    (out / "pages").mkdir(parents=True, exist_ok=True)
    routes: list[tuple[str, str, bytes]] = []
    entries = []
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as man:
        for i, p in enumerate(pages):
            path = f"/news/{p.layout}/{i}.html"
            (out / "pages" / f"{i}.html").write_bytes(p.html)
            routes.append((path, "text/html; charset=utf-8", p.html))
            date = p.gold_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            entries.append((path, date, p.gold_title or ""))
            man.write(json.dumps({"i": i, "path": path, "layout": p.layout, "timezone": p.timezone,
                                  "title": p.gold_title, "text": p.gold_text}, ensure_ascii=False) + "\n")
    # newest first, split into child sitemaps (each child's lastmod = its newest URL)
    entries.sort(key=lambda e: e[1], reverse=True)
    children = max(1, min(MAX_CHILDREN, math.ceil(len(entries) / 500)))
    per = math.ceil(len(entries) / children)
    index = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for k in range(children):
        part = entries[k * per:(k + 1) * per]
        if not part:
            continue
        xml = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">']
        for path, date, title in part:
            xml.append(f"<url><loc>{base}{path}</loc><news:news><news:publication><news:name>{SOURCE_NAME}"
                       f"</news:name><news:language>ar</news:language></news:publication>"
                       f"<news:publication_date>{date}</news:publication_date>"
                       f"<news:title>{escape(htmllib.unescape(title))}</news:title></news:news></url>")
        xml.append("</urlset>")
        routes.append((f"/sitemap-{k + 1}.xml", "application/xml", "\n".join(xml).encode("utf-8")))
        index.append(f"<sitemap><loc>{base}/sitemap-{k + 1}.xml</loc><lastmod>{part[0][1]}</lastmod></sitemap>")
    index.append("</sitemapindex>")
    routes.append(("/sitemap_index.xml", "application/xml", "\n".join(index).encode("utf-8")))
    routes.append(("/robots.txt", "text/plain; charset=utf-8",
                   f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap_index.xml\n".encode()))
    return routes


def make_server(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, dict]:
    routes: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: httpx reuses connections

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            hit = routes.get(self.path.split("?", 1)[0])
            if hit is None:
                ctype, body, status = "text/html", b"<h1>not found</h1>", 404
            else:
                (ctype, body), status = hit, 200
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server, routes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["serve"])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--copies", type=int, default=1, help="each story published this many times (default 1)")
    ap.add_argument("--dir", required=True, help="temporary directory for pages/ and manifest.jsonl")
    args = ap.parse_args(argv)
    if not have_corpus():
        print(json.dumps({"error": f"no corpus at {CORPUS_DIR}"}), flush=True)
        return 0
    server, routes = make_server()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for path, ctype, body in generate(args.n, args.seed, base, Path(args.dir), args.copies):
        routes[path] = (ctype, body)
    n_pages = sum(1 for p in routes if p.startswith("/news/"))
    mean_kb = sum(len(b) for p, (_, b) in routes.items() if p.startswith("/news/")) / max(n_pages, 1) / 1024
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(json.dumps({"base": base, "pages": n_pages, "mean_kb": round(mean_kb, 1),
                      "sitemaps": sum(1 for p in routes if p.startswith("/sitemap-"))}), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or exits)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
