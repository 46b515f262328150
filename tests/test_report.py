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


# -- layout of the page (issue 17): a synthetic warehouse loaded by the real loader, no Prefect -----------------

NETWORK_NAMES = [
    ("PERS", "محمد بن سلمان"), ("PERS", "دونالد ترامب"), ("LOC", "الرياض"), ("LOC", "واشنطن"),
    ("ORG", "الأمم المتحدة"), ("LOC", "القاهرة"), ("PERS", "جو بايدن"), ("ORG", "جامعة الدول العربية"),
    ("LOC", "بيروت"), ("LOC", "دمشق"), ("PERS", "فلاديمير بوتين"), ("LOC", "موسكو"), ("ORG", "منظمة الصحة العالمية"),
    ("LOC", "غزة"), ("LOC", "طهران"), ("PERS", "رجب طيب أردوغان"), ("LOC", "أنقرة"), ("ORG", "حلف شمال الأطلسي"),
    ("MISC", "كأس العالم"), ("LOC", "الدوحة"), ("PERS", "إيمانويل ماكرون"), ("LOC", "باريس"), ("ORG", "البنك الدولي"),
    ("LOC", "بغداد"), ("LOC", "عمّان")]


def synthetic_db(path: Path, days: int = 12) -> Path:
    """`days` days of articles from three sources, each naming six of 25 entities (a dense co-mention network),
    no two alike (no story has copies), fetched 40 days after publication (two different windows)."""
    from datetime import UTC, datetime, timedelta

    from extractors.entities.canon import canonical_entity
    from extractors.records import ExtractedArticle, FetchLogRow, Mention, ProcessedArticle
    from warehouse.store import Warehouse

    wh = Warehouse(path, wait_seconds=5)
    wh.migrate()
    t0 = datetime(2024, 3, 1, 8, tzinfo=UTC)
    articles, fetches = [], []
    for i in range(days * 4):
        names = list(dict.fromkeys(NETWORK_NAMES[(i * 7 + k * 3) % len(NETWORK_NAMES)] for k in range(6)))
        text = " و ".join(written for _, written in names) + "."
        mentions, at = [], 0
        for etype, written in names:
            at = text.index(written, at)
            mentions.append(Mention(etype, written, canonical_entity(written), at, at + len(written)))
            at += len(written)
        day = t0 + timedelta(days=i % days, hours=i % 5)
        a = ExtractedArticle(url=f"https://e{i % 3}.com/{i}", title=f"خبر رقم {i} عن {names[0][1]}", author=None,
                             published_at=day, language="ar", text=text)
        articles.append(ProcessedArticle(article_id=f"a{i}", url=a.url, source=f"source-{i % 3}", article=a,
                                         content_hash=f"h{i}", fetched_at=day, final_url=None, mentions=mentions,
                                         backend="crf"))
        fetches.append(FetchLogRow(url=a.url, source=f"source-{i % 3}", kind="article", status=200, error=None,
                                   fetched_at=day + timedelta(days=40)))
    wh.load(articles, fetches, "r1")
    return path


@pytest.fixture(scope="module")
def layout_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    return build_report(synthetic_db(tmp / "layout.duckdb"), tmp / "layout.html", days=30)


def plotly_figure(page: str, key: str) -> tuple[list, dict]:
    """The data and layout the page hands Plotly.newPlot for chart `key`."""
    import json

    decoder = json.JSONDecoder()
    at = page.index(f'"chart-{key}",', page.index("Plotly.newPlot"))
    data, end = decoder.raw_decode(page, page.index("[", at))
    layout, _ = decoder.raw_decode(page, page.index("{", end))
    return data, layout


def test_no_story_with_copies_is_said_not_drawn_as_bars_of_one(layout_report):
    page = layout_report.out_path.read_text(encoding="utf-8")
    data, layout = plotly_figure(page, "stories")
    assert [t for t in data if t.get("type") == "bar"] == []
    assert any("no story has more than one copy" in a["text"] for a in layout.get("annotations", []))
    assert "stories" in layout_report.empty_charts


def test_story_axis_starts_at_zero_copies(report):
    data, layout = plotly_figure(report.out_path.read_text(encoding="utf-8"), "stories")
    bars = [t for t in data if t.get("type") == "bar"]
    assert bars and min(bars[0]["x"]) >= 2                    # only stories with copies
    assert layout["xaxis"]["range"][1] == 0 and layout["xaxis"]["range"][0] >= max(bars[0]["x"])


class _Header(__import__("html.parser").parser.HTMLParser):
    """The header's window groups: id -> (their heading text, the English labels of their cards)."""

    def __init__(self):
        super().__init__()
        self.groups: dict[str, tuple[str, list[str]]] = {}
        self.group: str | None = None
        self.in_heading = self.in_label = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "window":
            self.group = a["id"]
            self.groups[self.group] = ("", [])
        elif self.group and tag == "p":
            self.in_heading = True
        elif self.group and tag == "span" and a.get("class") == "en":
            self.in_label = True

    def handle_endtag(self, tag):
        if tag == "p":
            self.in_heading = False
        if tag == "span":
            self.in_label = False
        if tag == "header":
            self.group = None

    def handle_data(self, data):
        if self.group and self.in_heading:
            heading, cards = self.groups[self.group]
            self.groups[self.group] = (heading + data, cards)
        elif self.group and self.in_label:
            self.groups[self.group][1].append(data)


def test_header_gives_each_window_its_own_days_and_cards(layout_report):
    header = _Header()
    page = layout_report.out_path.read_text(encoding="utf-8")
    header.feed(page[: page.index("</header>") + 9])
    assert set(header.groups) == {"articles-window", "fetches-window"}
    (a_first, a_last), (f_first, f_last) = layout_report.article_window, layout_report.fetch_window
    assert a_first != f_first  # two different windows, as in an archive fetched later
    articles_heading, article_cards = header.groups["articles-window"]
    fetches_heading, fetch_cards = header.groups["fetches-window"]
    assert f"{a_first} – {a_last}" in articles_heading and str(f_first) not in articles_heading
    assert f"{f_first} – {f_last}" in fetches_heading and str(a_first) not in fetches_heading
    assert article_cards == ["articles", "sources", "mentions", "entities", "multi-copy stories"]
    assert fetch_cards == ["fetches", "failed fetches"]
    assert "last 30 days ·" not in page


GEOMETRY = """() => {
    const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    const axes = {};
    for (const key of ['daily', 'entities']) {
        const div = document.getElementById('chart-' + key);
        axes[key] = {title: box(div.querySelector('g.g-xtitle text')),
                     ticks: Array.from(div.querySelectorAll('g.xtick text')).map(box)};
    }
    const labels = Array.from(document.querySelectorAll('#chart-network g.trace text'))
        .filter(t => t.textContent.trim()).map(t => [t.textContent.replace(/[\\u2066-\\u2069]/g, ''), box(t)]);
    const p = document.querySelector('footer p');
    const node = Array.from(p.childNodes).filter(n => n.nodeType === 3).pop();
    const at = i => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                      return r.getBoundingClientRect().left; };
    const end = node.textContent.trimEnd().length;
    return {axes, labels, stop: [at(end - 1), at(end - 2), node.textContent.trimEnd().slice(-2)]};
}"""


def _meet(a, b, slack=1.0):
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                    reason="needs the playwright Python package (pip install playwright; no browser download needed)")
def test_layout_in_headless_chromium_axis_titles_labels_and_footer(layout_report):
    """At a narrow width the dates turn sideways: the "UTC day" title stays below them. At the usual width no
    two labels of the co-mention network overlap, and the footer's final full stop ends its line."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="akhbar-chromium-") as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                   args=CHROMIUM_ARGS, viewport={"width": 640, "height": 900},
                                                   locale="ar")
        try:
            ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
            page = ctx.new_page()
            seen = {}
            for width in (640, 1280):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(layout_report.out_path.resolve().as_uri(), wait_until="load")
                page.wait_for_function("() => ['daily', 'entities', 'network'].every(k => "
                                       "document.querySelector('#chart-' + k + ' svg.main-svg'))", timeout=20_000)
                seen[width] = page.evaluate(GEOMETRY)
        finally:
            ctx.close()
    for width, geometry in seen.items():
        for key, axis in geometry["axes"].items():
            assert axis["ticks"], (width, key)
            overlapping = [t for t in axis["ticks"] if _meet(t, axis["title"])]
            assert overlapping == [], (width, key, axis["title"], overlapping)
            assert axis["title"][1] >= max(t[3] for t in axis["ticks"]) - 1, (width, key)
    labels = seen[1280]["labels"]
    assert len(labels) >= 20  # most names shown, the most mentioned first
    collisions = [(a[0], b[0]) for i, a in enumerate(labels) for b in labels[i + 1:] if _meet(a[1], b[1])]
    assert collisions == []
    for width, geometry in seen.items():
        stop, before, last_two = geometry["stop"]
        assert last_two == ").", last_two
        assert stop > before, (width, stop, before)  # left to right: the full stop after the bracket
