"""`akhbar report`: the offline HTML report, built from a real ingest of the sample site, opened in headless Chromium.

The browser test uses Debian's `chromium` (/usr/bin/chromium) through Playwright's Python package (no browser
download); it skips when either is missing. Its screenshot goes to a temporary folder; AKHBAR_UPDATE_DOCS=1 writes docs/report.png, the one the README shows.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from flows.sample_site import SAMPLE_SITE, StaticSite
from warehouse.report import ReportError, build_report, report_markdown, report_path_for

CHROMIUM = Path("/usr/bin/chromium")
CHART_KEYS = ("daily", "entities", "network", "health", "stories")
DOCS_SCREENSHOT = REPO / "docs" / "report.png"  # refreshed only with AKHBAR_UPDATE_DOCS=1, so tests leave the tree clean
MIRRORED = ("world/iraq-un-talks-new-york.html", "news/palestinian-factions-cairo.html")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def sample_db(prefect_harness, tmp_path_factory):
    """The sample site through the real ingest flow, plus two of its stories republished by a second source
    (exact copies under /mirror/), so that the report has story clusters and two sources to show."""
    from flows.ingest import ingest, ingest_urls

    tmp = tmp_path_factory.mktemp("report")
    root = tmp / "site"
    shutil.copytree(SAMPLE_SITE, root)
    for page in MIRRORED:
        body = (root / page).read_text(encoding="utf-8")
        (root / "mirror").mkdir(exist_ok=True)
        (root / "mirror" / Path(page).name).write_text(body.replace("{{BASE}}/" + page, "{{BASE}}/mirror/"
                                                                    + Path(page).name), encoding="utf-8")
    db = tmp / "news.duckdb"
    started = time.perf_counter()
    with StaticSite(root) as site:
        sources = tmp / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        ingest(sources_file=str(sources), db_path=str(db), allow_private_addresses=True)
        ingest_urls(urls=[f"{site.base_url}/mirror/{Path(p).name}" for p in MIRRORED], db_path=str(db),
                    source="mirror-news", allow_private_addresses=True)
    print(f"ingest of the sample site and its mirror: {time.perf_counter() - started:.1f}s")
    return db


@pytest.fixture(scope="module")
def report(sample_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "report.html"
    return build_report(sample_db, out, days=30)


def query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def top_entity_names(db, n=5):
    return [d for (d,) in query(db, f"SELECT coalesce(display, canonical) FROM entities "
                                    f"ORDER BY mention_count DESC, article_count DESC, canonical LIMIT {n}")]


def test_report_is_one_offline_rtl_file_with_five_charts(report, sample_db):
    page = report.out_path.read_text(encoding="utf-8")
    assert report.charts == 5 and report.empty_charts == []
    assert report.bytes == report.out_path.stat().st_size > 1_000_000  # plotly.js is inside
    assert '<html lang="ar" dir="rtl">' in page and '<meta charset="utf-8">' in page
    # plotly.js inlined exactly once, nothing loaded from elsewhere
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"?https?:", page)
    for key in CHART_KEYS:
        assert f'id="chart-{key}"' in page
    counts = dict(zip(("articles", "mentions"), query(sample_db, "SELECT (SELECT count(*) FROM articles), "
                                                                "(SELECT count(*) FROM mentions)")[0]))
    h = report.headline
    assert h["articles"] == counts["articles"] and h["mentions"] == counts["mentions"]
    assert h["sources"] == 2 and h["stories"] == len(MIRRORED) and h["failures"] == 2
    md = report_markdown(report)
    assert str(report.out_path.resolve()) in md and f"| articles | {h['articles']:,} |" in md


def test_empty_database_gives_a_page_of_no_data_charts(tmp_path):
    from warehouse.store import Warehouse

    db = tmp_path / "empty.duckdb"
    Warehouse(db, wait_seconds=5).migrate()
    info = build_report(db, days=7)
    assert info.out_path == report_path_for(db) == tmp_path / "empty-report.html"
    assert info.charts == 5 and len(info.empty_charts) == 5
    assert info.headline["articles"] == 0 and info.article_window is None
    assert "no data" in info.out_path.read_text(encoding="utf-8")
    assert "0" in report_markdown(info)


def test_missing_or_foreign_database_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match=re.escape(str(tmp_path / "nope.duckdb"))):
        build_report(tmp_path / "nope.duckdb", tmp_path / "r.html")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(ReportError, match="not an akhbar database"):
        build_report(other, tmp_path / "r.html")
    with pytest.raises(ReportError, match="--days"):
        build_report(other, tmp_path / "r.html", days=0)
    assert not (tmp_path / "r.html").exists()


RENDER_CHECK = """keys => keys.map(k => {
    const div = document.getElementById('chart-' + k);
    const svg = div && div.querySelector('svg.main-svg');
    const marks = div ? Array.from(div.querySelectorAll('g.trace path.point, g.trace path.js-line, g.trace.bars path'))
        .filter(p => (p.getAttribute('d') || '').length > 4 && p.getBoundingClientRect().width + p.getBoundingClientRect().height > 0)
        : [];
    return {key: k, svg: !!svg, traces: div ? div.querySelectorAll('g.trace').length : 0, marks: marks.length};
})"""

STRIP_ISOLATES = "t => t.textContent.replace(/[\\u2066-\\u2069]/g, '')"

# Width of a label as rendered, and of the same text with a zero-width non-joiner between letters: an Arabic
# word whose letters are joined (shaped) is narrower than its isolated letters.
SHAPING_CHECK = """name => {
    const t = Array.from(document.querySelectorAll('#chart-entities g.legend text'))
        .find(e => e.textContent.replace(/[\u2066-\u2069]/g, '') === name);
    if (!t) return null;
    const broken = t.cloneNode(true);
    broken.textContent = Array.from(name).join('\\u200c');
    t.parentNode.appendChild(broken);
    const out = [t.getComputedTextLength(), broken.getComputedTextLength()];
    broken.remove();
    return out;
}"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                    reason="needs the playwright Python package (pip install playwright; no browser download needed)")
def test_report_renders_in_headless_chromium(report, sample_db, tmp_path):
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    errors: list[str] = []
    outside: list[str] = []
    with tempfile.TemporaryDirectory(prefix="akhbar-chromium-") as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, locale="ar")
        try:
            def route(r):
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    outside.append(r.request.url)
                    r.abort()

            ctx.route("**/*", route)
            page = ctx.new_page()
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: None if r.url in outside else errors.append(f"failed: {r.url}"))
            page.goto(report.out_path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("keys => keys.every(k => document.querySelector('#chart-' + k + ' svg.main-svg'))",
                                   arg=list(CHART_KEYS), timeout=20_000)
            rendered = page.evaluate(RENDER_CHECK, list(CHART_KEYS))
            assert [r for r in rendered if not (r["svg"] and r["traces"] > 0 and r["marks"] > 0)] == [], rendered

            # Arabic labels are wrapped in invisible bidi isolates (see warehouse.report._t); compare without them
            texts = page.evaluate(f"() => Array.from(document.querySelectorAll('svg text')).map({STRIP_ISOLATES})")
            names = top_entity_names(sample_db)
            assert all(re.search("[\u0600-\u06ff]", n) for n in names)
            legend = page.evaluate("() => Array.from(document.querySelectorAll('#chart-entities g.legend text'))"
                                   f".map({STRIP_ISOLATES})")
            network = page.evaluate("() => Array.from(document.querySelectorAll('#chart-network g.trace text'))"
                                    f".map({STRIP_ISOLATES})")
            assert [n for n in names if n not in legend] == []      # in logical order, not reversed
            assert [n for n in names if n not in network] == []
            story_titles = [t for (t,) in query(sample_db, "SELECT title FROM articles WHERE source = 'mirror-news'")]
            assert any(t[:30] in " ".join(texts) for t in story_titles)
            joined, isolated = page.evaluate(SHAPING_CHECK, names[0])
            assert joined < 0.9 * isolated, (names[0], joined, isolated)

            # legend entries are clickable: a click hides that entity's line
            first_entry = page.locator("#chart-entities g.legend g.traces").first
            first_entry.click()
            page.wait_for_function("() => document.getElementById('chart-entities').data[0].visible === 'legendonly'",
                                   timeout=5_000)
            page.wait_for_timeout(500)  # two clicks closer than Plotly's double-click delay would "show only this"
            first_entry.click()
            page.wait_for_function("() => document.getElementById('chart-entities').data.every(t => t.visible !== "
                                   "'legendonly')", timeout=5_000)
            page.mouse.move(0, 0)  # no hover label or mode bar in the screenshot
            page.wait_for_timeout(300)

            shot = DOCS_SCREENSHOT if os.environ.get("AKHBAR_UPDATE_DOCS") == "1" else tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            ctx.close()
    assert errors == []
    assert outside == []
    assert shot.stat().st_size > 50_000
    assert time.perf_counter() - started < 45
