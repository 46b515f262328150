"""`akhbar report`: one self-contained, offline HTML page of charts about what the news says.

The page holds five interactive Plotly figures (plotly.js inlined once, no CDN): articles per UTC day and
source; the top entities over time (one line per entity, legend entries toggle them); a co-mention network of the
top entities; source health (fetch outcomes by failure reason, and latency); the biggest story clusters (stories
with two copies or more; a message when there are none). Entities are merged entities (spelling variants through
`entity_aliases`, migration 016), named by their display form (`entities.display`), as everywhere else.

Everything is read on a read-only connection with the named SQL below (values as query parameters). Source
health and story clusters come from the warehouse's table macros `fetch_health`, `fetch_failures` and
`story_groups` (warehouse/schema/010_health_and_stories.sql), the definitions behind the views and named queries.

Windows. Articles are counted by UTC day of publication (fetch day when the date is unknown), in the `days`
days up to the newest article's day (never later than the latest fetch day, so one mis-dated article in the
future cannot empty the window). Fetches are counted in the `days` days up to the latest fetch. An archive
crawled today about last year therefore still gets a useful page. The header shows the two windows apart, each
with its own days and the figures counted in it.

Arabic text is handed to the browser as ordinary Unicode strings (never reversed or pre-shaped): the browser's
shaping and bidi algorithm joins the letters. The page is `dir="rtl"`; each chart sits in a `dir="ltr"` box
because Plotly positions its SVG text assuming left-to-right anchors; the English footer is `dir="ltr"` (in the
page's right-to-left flow its final full stop went to the front of the line). Labels of the co-mention network
are placed so that no two overlap (`_label_places`); day axes slant their dates at a fixed angle so that the
axis title can clear them.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from warehouse.connection import DEFAULT_DB_PATH, WarehouseError, connect
from warehouse.lake_location import catalog_file, display_location, is_lake

DEFAULT_DAYS = 30
TOP_TIMELINE_ENTITIES = 10
TOP_NETWORK_ENTITIES = 25
TOP_STORIES = 15
TOP_FAILURE_REASONS = 8
TITLE_CHARS = 64
STORY_LABEL_PX = 470
NETWORK_HEIGHT_PX = 620
NETWORK_MARGIN = dict(l=20, r=20, t=30, b=20)
NETWORK_Y_HALF = 1.8           # the y axis runs from -1.8 to 1.8: nodes sit within ±1.4, labels need the rest
LABEL_FONT_PX = 13
LABEL_CHAR_PX = 7.8            # upper bound of one character's advance at 13 px (Chromium: 4.5-7 Arabic, 7.5 Latin)
LABEL_HEIGHT_PX = 22           # the label's box as the browser reports it
LABEL_GAP_PX = 3               # between a marker and its label
DAY_TICK_ANGLE = -45           # dates on day axes: at a fixed angle, so their height is known (about 60 px)
DAY_TITLE_STANDOFF_PX = 66     # from the level dates' line to the axis title: clears the slanted dates
DAY_AXIS_MARGIN_PX = 140       # slanted dates, standoff and title

FONT_STACK = ('"Noto Naskh Arabic", "Noto Sans Arabic", "Noto Kufi Arabic", "Geeza Pro", "Segoe UI", Tahoma, '
              '"Arabic Typesetting", "Amiri", "DejaVu Sans", Arial, sans-serif')
TYPE_NAMES = {"PERS": ("أشخاص", "people"), "LOC": ("أماكن", "places"), "ORG": ("منظمات", "organisations"),
              "MISC": ("أخرى", "other")}
TYPE_COLORS = {"PERS": "#d62728", "LOC": "#1f77b4", "ORG": "#2ca02c", "MISC": "#9467bd"}
NO_DATA = ("لا توجد بيانات في هذه الفترة", "no data in this window")


class ReportError(WarehouseError):
    """The report cannot be built; the message says why and what to do."""


# ---------------------------------------------------------------- SQL (DuckDB named parameters, UTC session)

ARTICLE_DAY = "CAST(timezone('UTC', coalesce(a.published_at, a.fetched_at)) AS DATE)"

# Newest article day, latest fetch day, newest fetch day of any article; the window is anchored on these.
BOUNDS_SQL = f"""
SELECT (SELECT max({ARTICLE_DAY}) FROM articles a) AS last_article_day,
       (SELECT max({ARTICLE_DAY}) FROM articles a
         WHERE {ARTICLE_DAY} <= (SELECT max(CAST(timezone('UTC', fetched_at) AS DATE)) FROM articles)) AS capped_day,
       (SELECT min({ARTICLE_DAY}) FROM articles a) AS first_article_day,
       (SELECT max(CAST(timezone('UTC', fetched_at) AS DATE)) FROM fetches) AS last_fetch_day
"""

# The articles of the window (a CTE prefix shared by the queries below).
WINDOW_CTE = f"""
WITH win AS (
    SELECT a.article_id, a.source, {ARTICLE_DAY} AS day
    FROM articles a
    WHERE {ARTICLE_DAY} BETWEEN CAST($first_day AS DATE) AND CAST($last_day AS DATE)
)
"""

HEADLINE_SQL = WINDOW_CTE + """
SELECT (SELECT count(*) FROM win) AS articles,
       (SELECT count(DISTINCT source) FROM win) AS sources,
       (SELECT count(*) FROM mentions m JOIN win USING (article_id)) AS mentions,
       (SELECT count(*) FROM (SELECT DISTINCT m.entity, m.entity_type
                              FROM entity_mentions m JOIN win USING (article_id))) AS entities,
       (SELECT sum(requests) FROM fetch_health($fetch_since, $fetch_until)) AS fetches,
       (SELECT sum(failed) FROM fetch_health($fetch_since, $fetch_until)) AS failures,
       (SELECT count(*) FROM story_groups($since, $until) WHERE copies > 1) AS stories
"""

ARTICLES_PER_DAY_SQL = WINDOW_CTE + """
SELECT day, source, count(*) AS articles
FROM win
GROUP BY ALL
ORDER BY day, source
"""

# Entities are merged entities (migration 016: spelling variants through entity_aliases), named by the display
# form every other reader shows (entities.display).
TOP_ENTITIES_SQL = WINDOW_CTE + """
SELECT m.entity, m.entity_type,
       coalesce(any_value(e.display), mode(m.text)) AS display,
       count(*) AS mentions,
       count(DISTINCT m.article_id) AS articles
FROM entity_mentions m
JOIN win USING (article_id)
LEFT JOIN entities e ON e.canonical = m.entity AND e.entity_type = m.entity_type
GROUP BY m.entity, m.entity_type
ORDER BY mentions DESC, articles DESC, m.entity, m.entity_type
LIMIT CAST($limit AS INTEGER)
"""

# $canonicals and $types are parallel lists naming the wanted entities. Every query orders its rows completely
# (ties too), so the same rows make the same page whether they come from a DuckDB file or a lake.
WANTED_CTE = """
, wanted AS (SELECT unnest(CAST($canonicals AS VARCHAR[])) AS canonical,
                    unnest(CAST($types AS VARCHAR[])) AS entity_type)
"""

ENTITY_DAILY_SQL = WINDOW_CTE + WANTED_CTE + """
SELECT win.day, m.entity, m.entity_type, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
FROM entity_mentions m
JOIN win USING (article_id)
JOIN wanted w ON w.canonical = m.entity AND w.entity_type = m.entity_type
GROUP BY ALL
ORDER BY win.day, m.entity, m.entity_type
"""

CO_MENTIONS_SQL = WINDOW_CTE + WANTED_CTE + """
, present AS (
    SELECT DISTINCT m.article_id, m.entity, m.entity_type, m.entity || chr(31) || m.entity_type AS k
    FROM entity_mentions m
    JOIN win USING (article_id)
    JOIN wanted w ON w.canonical = m.entity AND w.entity_type = m.entity_type
)
SELECT x.entity, x.entity_type, y.entity, y.entity_type, count(*) AS shared_articles
FROM present x
JOIN present y ON x.article_id = y.article_id AND x.k < y.k
GROUP BY ALL
ORDER BY shared_articles DESC, x.entity, x.entity_type, y.entity, y.entity_type
"""

SOURCE_HEALTH_SQL = """
SELECT coalesce(source, '(none)') AS source, requests, ok, failed, median_ms, p90_ms
FROM fetch_health($fetch_since, $fetch_until)
ORDER BY 1
"""

# A retry skipped because the host asked to back off is the same failure as the attempt before it.
FAILURE_REASONS_SQL = """
SELECT coalesce(source, '(none)') AS source, regexp_replace(reason, '; skipped retry:.*$', '') AS reason,
       sum(n) AS n
FROM fetch_failures($fetch_since, $fetch_until)
GROUP BY ALL
ORDER BY n DESC, reason, source
"""

STORIES_SQL = """
SELECT story_id, coalesce(story_title, headline) AS title, copies, sources,
       array_to_string(source_list, ', ') AS source_list, first_published
FROM story_groups($since, $until)
WHERE copies >= CAST($min_copies AS INTEGER)
ORDER BY copies DESC, sources DESC, first_published DESC, story_id
LIMIT CAST($limit AS INTEGER)
"""

REQUIRED_TABLES = ("articles", "mentions", "entities", "fetches")
# the warehouse's own tables (a lake's connection also shows the catalog's metadata tables)
WAREHOUSE_TABLES_SQL = "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"


# ---------------------------------------------------------------- results


@dataclass(slots=True)
class ReportInfo:
    """What `build_report` wrote."""

    out_path: Path
    db_path: str                                   # the file's absolute path, or the lake (no password)
    bytes: int
    seconds: float
    charts: int
    days: int
    headline: dict[str, int]                       # articles, sources, mentions, entities, fetches, failures, stories
    article_window: tuple[date, date] | None       # first and last UTC day of the articles counted
    fetch_window: tuple[date, date] | None         # first and last UTC day of the fetches counted
    empty_charts: list[str] = field(default_factory=list)   # charts without data: daily, entities, network, ...
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(slots=True)
class _Window:
    days: int
    first_day: date | None
    last_day: date | None
    fetch_first_day: date | None
    fetch_last_day: date | None

    def params(self) -> dict[str, Any]:
        """The window as query parameters: first and last UTC day, and as instants (first one, one after)."""
        far = date(1, 1, 1)  # an empty window: matches nothing
        days = {"first_day": self.first_day or far, "last_day": self.last_day or far,
                "fetch_first_day": self.fetch_first_day or far, "fetch_last_day": self.fetch_last_day or far}
        return {**days, "since": _start_of(days["first_day"]), "until": _start_of(days["last_day"], 1),
                "fetch_since": _start_of(days["fetch_first_day"]), "fetch_until": _start_of(days["fetch_last_day"], 1)}


def _start_of(day: date, later_days: int = 0) -> datetime:
    """The first instant of a UTC day (`later_days` after it); an empty window's far day stays as it is."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start if day == date(1, 1, 1) else start + timedelta(days=later_days)


LAKE_REPORT_FOLDER = Path("data")  # for a lake whose catalog is a server: the working directory's data folder


def report_path_for(db_path: str | Path) -> Path:
    """Where nightly runs put the report: next to the database, `<name>-report.html`; for a lake beside its
    catalog file, or in ./data/ when the catalog is a server (`ducklake-<dbname or host>-report.html`)."""
    if not is_lake(db_path):
        p = Path(db_path)
        return p.with_name(f"{p.stem}-report.html")
    file = catalog_file(str(db_path))
    if file is not None:
        return file.with_name(f"{file.stem}-report.html")
    return LAKE_REPORT_FOLDER / f"ducklake-{_server_catalog_name(str(db_path))}-report.html"


def _server_catalog_name(db: str) -> str:
    """A file-name-safe name for a server catalog: its dbname (or host), so two lakes do not share a report."""
    named = (re.search(r"\bdbname\s*=\s*'?([\w.-]+)", db) or re.search(r"://[^/]*/([\w.-]+)", db)
             or re.search(r"\bhost\s*=\s*'?([\w.-]+)", db))
    return named.group(1) if named else "lake"


# ---------------------------------------------------------------- building


def build_report(db_path: str | Path, out_path: str | Path | None = None, days: int = DEFAULT_DAYS, *,
                 wait_seconds: float = 60.0) -> ReportInfo:
    """Read the database (read-only) and write the HTML report; returns what was written."""
    started = time.perf_counter()
    out_path = Path(out_path) if out_path is not None else report_path_for(db_path)
    if days < 1:
        raise ReportError(f"--days must be at least 1, got {days}")
    if not is_lake(db_path) and not Path(db_path).exists():  # a lake's connect says what is missing itself
        raise ReportError(f"no database at {db_path}: run `akhbar ingest` or `akhbar demo` first, or pass --db")
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise ReportError("the report needs Plotly: pip install plotly") from None

    con = connect(db_path, read_only=True, wait_seconds=wait_seconds)
    try:
        tables = {t for (t,) in con.execute(WAREHOUSE_TABLES_SQL).fetchall()}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise ReportError(f"{display_location(db_path)} is not an akhbar database (no table {', '.join(missing)}); "
                              "run `akhbar ingest` into it first")
        window = _window(con, days)
        data = _read(con, window)
    finally:
        con.close()

    figures = [
        ("daily", "المقالات يومياً حسب المصدر", "Articles per UTC day, by source", _fig_daily(data, window)),
        ("entities", "أبرز الكيانات عبر الزمن", "Top entities over time (click a name in the legend to hide or "
         "show it; double-click to show it alone)", _fig_entity_timeline(data, window)),
        ("network", "شبكة الذكر المشترك", "Co-mention network of the top entities (lines: articles mentioning "
         "both)", _fig_network(data)),
        ("health", "صحة المصادر", "Source health: fetch outcomes by failure reason, and latency of successful "
         "fetches", _fig_health(data)),
        ("stories", "أكبر مجموعات الأخبار", "Biggest story clusters (copies of the same story, exact or near "
         "duplicates)", _fig_stories(data)),
    ]
    empty = [key for key, _, _, (_, has_data) in figures if not has_data]
    page = _page(display_location(db_path), window, data["headline"],
                 [(k, ar, en, fig) for k, ar, en, (fig, _) in figures])

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_path)
    return ReportInfo(
        out_path=out_path, db_path=display_location(db_path), bytes=out_path.stat().st_size,
        seconds=time.perf_counter() - started, charts=len(figures), days=days, headline=data["headline"],
        article_window=_day_span(window.first_day, window.last_day),
        fetch_window=_day_span(window.fetch_first_day, window.fetch_last_day),
        empty_charts=empty,
    )


def _day_span(first: date | None, last: date | None) -> tuple[date, date] | None:
    return (first, last) if first is not None and last is not None else None


def _window(con, days: int) -> _Window:
    last_article_day, capped_day, first_article_day, last_fetch_day = con.execute(BOUNDS_SQL).fetchone()
    last = capped_day or last_article_day
    first = None
    if last is not None:
        first = max(last - timedelta(days=days - 1), first_article_day or last)
    fetch_first = last_fetch_day - timedelta(days=days - 1) if last_fetch_day else None
    return _Window(days=days, first_day=first, last_day=last, fetch_first_day=fetch_first,
                   fetch_last_day=last_fetch_day)


def _read(con, window: _Window) -> dict[str, Any]:
    p = window.params()

    def rows(sql: str, **extra: Any) -> list[tuple]:
        names = {n for n in p if f"${n}" in sql}
        return con.execute(sql, {**{k: v for k, v in p.items() if k in names}, **extra}).fetchall()

    cols = ("articles", "sources", "mentions", "entities", "fetches", "failures", "stories")
    headline = dict(zip(cols, (int(v or 0) for v in rows(HEADLINE_SQL)[0])))
    top = rows(TOP_ENTITIES_SQL, limit=max(TOP_TIMELINE_ENTITIES, TOP_NETWORK_ENTITIES))
    entities = [dict(canonical=c, type=t, display=d or c, mentions=n, articles=na) for c, t, d, n, na in top]
    timeline_ents = entities[:TOP_TIMELINE_ENTITIES]
    network_ents = entities[:TOP_NETWORK_ENTITIES]

    def wanted(ents: list[dict]) -> dict[str, list[str]]:
        return {"canonicals": [e["canonical"] for e in ents], "types": [e["type"] for e in ents]}

    entity_daily = rows(ENTITY_DAILY_SQL, **wanted(timeline_ents)) if timeline_ents else []
    co_mentions = rows(CO_MENTIONS_SQL, **wanted(network_ents)) if network_ents else []
    stories = rows(STORIES_SQL, min_copies=2, limit=TOP_STORIES)
    return dict(
        headline=headline,
        daily=rows(ARTICLES_PER_DAY_SQL),
        timeline_entities=timeline_ents,
        network_entities=network_ents,
        entity_daily=entity_daily,
        co_mentions=co_mentions,
        health=rows(SOURCE_HEALTH_SQL),
        reasons=rows(FAILURE_REASONS_SQL),
        stories=stories,
    )


# ---------------------------------------------------------------- figures

_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
RLI, PDI = "\u2067", "\u2069"


def _t(s: object) -> str:
    """Text for Plotly labels. Plotly reads a small HTML subset in labels, so what came from the web is escaped.
    Text with Arabic letters is wrapped in a right-to-left isolate (RLI … PDI, invisible): Plotly's SVG text is
    laid out left to right, where a trailing "…", "?" or Latin word of an Arabic title would land on the wrong
    side; inside the isolate the browser orders it as Arabic. The letters themselves are untouched."""
    text = html.escape(str(s if s is not None else ""), quote=False)
    return f"{RLI}{text}{PDI}" if _ARABIC.search(text) else text


def _short(s: str | None, n: int = TITLE_CHARS) -> str:
    s = " ".join((s or "").split())
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def _layout(fig, *, height: int = 420, **kw: Any) -> None:
    base: dict[str, Any] = dict(
        template="plotly_white", height=height, font=dict(family=FONT_STACK, size=14),
        margin=dict(l=72, r=30, t=30, b=50), hoverlabel=dict(font=dict(family=FONT_STACK)),
        legend=dict(font=dict(size=14)))
    for key, value in kw.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    fig.update_layout(**base)


def _no_data(fig, message: tuple[str, str] = NO_DATA):
    _layout(fig, height=260)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=f"{_t(message[0])} · {_t(message[1])}", x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font=dict(size=18, color="#777"))
    return fig, False


def _day_range(window: _Window) -> list[date]:
    if window.first_day is None or window.last_day is None:
        return []
    n = (window.last_day - window.first_day).days + 1
    return [window.first_day + timedelta(days=i) for i in range(n)]


def _fig_daily(data: dict, window: _Window):
    import plotly.graph_objects as go

    fig = go.Figure()
    if not data["daily"]:
        return _no_data(fig)
    per_source: dict[str, dict[date, int]] = defaultdict(dict)
    for day, source, n in data["daily"]:
        per_source[source][day] = n
    days = _day_range(window)
    for source in sorted(per_source, key=lambda s: -sum(per_source[s].values())):
        fig.add_trace(go.Bar(x=days, y=[per_source[source].get(d, 0) for d in days], name=_t(source),
                             width=0.8 * 86_400_000,  # ms of a date axis: bars a day wide whatever the data
                             hovertemplate="%{x|%Y-%m-%d}<br>" + _t(source) + ": %{y}<extra></extra>"))
    # the legend above the bars: below them it would compete with the dates and the axis title for the margin
    _layout(fig, height=480, barmode="stack", yaxis_title="articles", showlegend=True,
            legend=dict(title=dict(text="source"), orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom"),
            margin=dict(t=60))
    _day_axis(fig, days)
    return fig, True


def _day_axis(fig, days: list[date]) -> None:
    """Dates on the x axis, one tick per day when there are few (else Plotly's hours would show), titled
    "UTC day" below them. Plotly turned the dates sideways on a narrow page but placed the title as if they were
    level, over them: the dates are always at DAY_TICK_ANGLE, so the title's standoff can clear them (Plotly
    counts it from where level dates would end), and the bottom margin holds both."""
    fig.update_xaxes(tickformat="%Y-%m-%d", dtick=86_400_000 if len(days) <= 14 else None, automargin=True,
                     tickangle=DAY_TICK_ANGLE, title=dict(text="UTC day", standoff=DAY_TITLE_STANDOFF_PX))
    fig.update_layout(margin=dict(b=DAY_AXIS_MARGIN_PX))
    if len(days) == 1:
        fig.update_xaxes(range=[datetime.combine(days[0], datetime.min.time()) - timedelta(hours=18),
                                datetime.combine(days[0], datetime.min.time()) + timedelta(hours=18)])


def _fig_entity_timeline(data: dict, window: _Window):
    import plotly.graph_objects as go

    fig = go.Figure()
    ents = data["timeline_entities"]
    if not ents or not data["entity_daily"]:
        return _no_data(fig)
    counts: dict[tuple[str, str], dict[date, tuple[int, int]]] = defaultdict(dict)
    for day, canonical, etype, mentions, articles in data["entity_daily"]:
        counts[(canonical, etype)][day] = (mentions, articles)
    days = _day_range(window)
    for e in ents:
        per_day = counts.get((e["canonical"], e["type"]), {})
        values = [per_day.get(d, (0, 0)) for d in days]
        name = _t(e["display"])
        fig.add_trace(go.Scatter(
            x=days, y=[m for m, _ in values], customdata=[a for _, a in values], mode="lines+markers",
            name=name, line=dict(width=2), marker=dict(size=5),
            hovertemplate=(f"<b>{name}</b> ({e['type']})<br>%{{x|%Y-%m-%d}}<br>"
                           "mentions: %{y}<br>articles: %{customdata}<extra></extra>")))
    _layout(fig, height=520, yaxis_title="mentions",
            legend=dict(title=dict(text="entity"), itemclick="toggle", itemdoubleclick="toggleothers"),
            hovermode="closest")
    _day_axis(fig, days)
    return fig, True


def _components(nodes: list, edges: list[tuple]) -> list[list]:
    """Connected components, biggest first, each in the order of `nodes`."""
    parent = {n: n for n in nodes}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict = defaultdict(list)
    for n in nodes:
        groups[find(n)].append(n)
    return sorted(groups.values(), key=lambda g: (-len(g), nodes.index(g[0])))


def _stress_layout(nodes: list, edges: list[tuple], iterations: int = 300) -> dict:
    """Positions whose distances follow the graph's hop distances (stress majorization, as Kamada-Kawai),
    starting from a circle: deterministic, pure Python, instant for the few dozen nodes of the chart."""
    n = len(nodes)
    index = {v: i for i, v in enumerate(nodes)}
    adj: list[set[int]] = [set() for _ in nodes]
    for a, b in edges:
        adj[index[a]].add(index[b])
        adj[index[b]].add(index[a])
    dist = []
    for s in range(n):  # breadth-first hop distances
        d = [0] * n
        seen = {s}
        frontier = [s]
        while frontier:
            nxt = []
            for u in frontier:
                for v in adj[u]:
                    if v not in seen:
                        seen.add(v)
                        d[v] = d[u] + 1
                        nxt.append(v)
            frontier = nxt
        dist.append(d)
    xs = [math.cos(2 * math.pi * i / n) * n / 6 for i in range(n)]
    ys = [math.sin(2 * math.pi * i / n) * n / 6 for i in range(n)]
    for _ in range(iterations):
        moved = 0.0
        for i in range(n):
            sx = sy = sw = 0.0
            for j in range(n):
                if i == j:
                    continue
                dij = dist[i][j]
                w = 1.0 / (dij * dij)
                dx, dy = xs[i] - xs[j], ys[i] - ys[j]
                norm = math.hypot(dx, dy) or 1e-9
                sx += w * (xs[j] + dij * dx / norm)
                sy += w * (ys[j] + dij * dy / norm)
                sw += w
            moved = max(moved, abs(sx / sw - xs[i]) + abs(sy / sw - ys[i]))
            xs[i], ys[i] = sx / sw, sy / sw
        if moved < 1e-4:
            break
    return {v: (xs[i], ys[i]) for v, i in index.items()}


def _layout_positions(nodes: list[tuple[str, str]], weights: dict[tuple, int]) -> dict[tuple, tuple[float, float]]:
    """Deterministic node positions in about [-1.4, 1.4]²: the biggest connected group by stress layout, the
    other nodes on an outer ring, each small group side by side, so they neither drift away nor squash the rest."""
    groups = _components(nodes, list(weights))
    core = groups[0] if groups and len(groups[0]) > 1 else []
    rest = [n for g in groups if g is not core for n in g]
    pos: dict[tuple, tuple[float, float]] = {}
    if core:
        raw = _stress_layout(core, [(a, b) for a, b in weights if a in set(core)])
        xs = [x for x, _ in raw.values()]
        ys = [y for _, y in raw.values()]
        cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        scale = max(max(xs) - min(xs), max(ys) - min(ys)) / 2 or 1.0
        pos = {v: ((x - cx) / scale, (y - cy) / scale) for v, (x, y) in raw.items()}
    ring = 1.4 if core else 1.0
    for i, v in enumerate(rest):
        angle = math.pi / 2 + 2 * math.pi * i / len(rest)
        pos[v] = (ring * math.cos(angle), ring * math.sin(angle))
    return pos


def _fig_network(data: dict):
    import plotly.graph_objects as go

    fig = go.Figure()
    ents = data["network_entities"]
    if not ents:
        return _no_data(fig)
    keys = [(e["canonical"], e["type"]) for e in ents]
    info = {(e["canonical"], e["type"]): e for e in ents}
    weights = {((c1, t1), (c2, t2)): n for c1, t1, c2, t2, n in data["co_mentions"]}
    pos = _layout_positions(keys, weights)
    top = max(weights.values(), default=1)

    # Edges: one trace per width class (a Plotly line trace has one width), then invisible midpoints for hover.
    classes: dict[int, list[tuple]] = defaultdict(list)
    for edge, w in weights.items():
        classes[1 + round(4 * w / top)].append(edge)
    for width in sorted(classes):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b in classes[width]:
            xs += [pos[a][0], pos[b][0], None]
            ys += [pos[a][1], pos[b][1], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(width=width, color=f"rgba(120,120,120,{0.25 + 0.1 * width:.2f})")))
    if weights:
        mids = list(weights.items())
        fig.add_trace(go.Scatter(
            x=[(pos[a][0] + pos[b][0]) / 2 for (a, b), _ in mids],
            y=[(pos[a][1] + pos[b][1]) / 2 for (a, b), _ in mids],
            mode="markers", marker=dict(size=8, opacity=0), showlegend=False,
            text=[f"{_t(info[a]['display'])} — {_t(info[b]['display'])}: {w} shared articles" for (a, b), w in mids],
            hovertemplate="%{text}<extra></extra>"))
    most = max(e["articles"] for e in ents) or 1
    degree: dict[tuple, int] = defaultdict(int)
    for a, b in weights:
        degree[a] += 1
        degree[b] += 1
    sizes = {(e["canonical"], e["type"]): 12 + 28 * math.sqrt(e["articles"] / most) for e in ents}
    places = _label_places(keys, pos, sizes, {k: _t(info[k]["display"]) for k in keys})
    for etype in ("PERS", "LOC", "ORG", "MISC"):
        group = [e for e in ents if e["type"] == etype]
        if not group:
            continue
        k = [(e["canonical"], e["type"]) for e in group]
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in k], y=[pos[n][1] for n in k], mode="markers+text",
            name=f"{_t(TYPE_NAMES[etype][0])} · {TYPE_NAMES[etype][1]}",
            text=[_t(e["display"]) if places[n] else "" for e, n in zip(group, k)],
            textposition=[places[n] or "top center" for n in k], cliponaxis=False,
            textfont=dict(size=LABEL_FONT_PX), marker=dict(
                size=[sizes[n] for n in k], color=TYPE_COLORS[etype], line=dict(width=1, color="white")),
            customdata=[[e["mentions"], e["articles"], degree[n], _t(e["display"])] for e, n in zip(group, k)],
            hovertemplate=("<b>%{customdata[3]}</b><br>mentions: %{customdata[0]}<br>articles: %{customdata[1]}"
                           "<br>co-mentioned with: %{customdata[2]}<extra></extra>")))
    _layout(fig, height=NETWORK_HEIGHT_PX, hovermode="closest", legend=dict(title=dict(text="type"),
            itemsizing="constant"), margin=NETWORK_MARGIN)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1, range=[-NETWORK_Y_HALF, NETWORK_Y_HALF])
    return fig, True


# Where a label may go around its marker, in order of preference: Plotly's textposition and the label box's
# centre relative to the marker's, in units of (marker radius + gap, half the label's width, half its height).
LABEL_PLACES = (("top center", (0, 1), (0, 1)), ("bottom center", (0, -1), (0, -1)),
                ("middle right", (1, 0), (1, 0)), ("middle left", (-1, 0), (-1, 0)),
                ("top right", (0.7, 0.7), (1, 1)), ("top left", (-0.7, 0.7), (-1, 1)),
                ("bottom right", (0.7, -0.7), (1, -1)), ("bottom left", (-0.7, -0.7), (-1, -1)))

Box = tuple[float, float, float, float]  # left, bottom, right, top in pixels


def _boxes_meet(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _box_meets_circle(box: Box, cx: float, cy: float, r: float) -> bool:
    nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
    return (nx - cx) ** 2 + (ny - cy) ** 2 < r * r


def _label_places(nodes: list[tuple], pos: dict, sizes: dict[tuple, float], labels: dict[tuple, str],
                  ) -> dict[tuple, str | None]:
    """A text position for each node's label such that no two labels overlap, the most important nodes (first)
    choosing first; a label that fits nowhere is left off (its name stays in the hover). Sizes are estimated in
    pixels from the chart's fixed height and y range (the x scale follows: the axes are locked 1:1); labels also
    keep off other markers when they can."""
    plot_h = NETWORK_HEIGHT_PX - NETWORK_MARGIN["t"] - NETWORK_MARGIN["b"]
    px = plot_h / (2 * NETWORK_Y_HALF)
    circles = {n: (pos[n][0] * px, pos[n][1] * px, sizes[n] / 2) for n in nodes}
    placed: list[Box] = []
    out: dict[tuple, str | None] = {}
    for n in nodes:
        cx, cy, r = circles[n]
        visible = html.unescape(re.sub("[\u2066-\u2069]", "", labels[n]))
        w, h = len(visible) * LABEL_CHAR_PX + 4, LABEL_HEIGHT_PX
        best: tuple[int, str, Box] | None = None
        for name, (ax, ay), (bx, by) in LABEL_PLACES:
            x = cx + ax * (r + LABEL_GAP_PX) + bx * w / 2
            y = cy + ay * (r + LABEL_GAP_PX) + by * h / 2
            box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            if any(_boxes_meet(box, other) for other in placed):
                continue
            crowding = sum(_box_meets_circle(box, *circles[m]) for m in nodes if m != n)
            if best is None or crowding < best[0]:
                best = (crowding, name, box)
            if crowding == 0:
                break
        out[n] = best[1] if best else None
        if best:
            placed.append(best[2])
    return out


def _fig_health(data: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    health = data["health"]
    if not health:
        return _no_data(go.Figure())
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "fetches by outcome (ok / failure reason)", "latency of successful fetches (ms)"))
    sources = [r[0] for r in health]
    ok = {r[0]: r[2] for r in health}
    fig.add_trace(go.Bar(x=sources, y=[ok[s] for s in sources], name="ok", marker_color="#2ca02c",
                         legendgroup="outcome", legendgrouptitle_text="outcome",
                         hovertemplate="%{x}: %{y} ok<extra></extra>"), row=1, col=1)
    totals: dict[str, int] = defaultdict(int)
    for _, reason, n in data["reasons"]:
        totals[reason] += n
    ranked = sorted(totals, key=lambda r: (-totals[r], r))
    kept = set(ranked[:TOP_FAILURE_REASONS])
    per_reason: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for source, reason, n in data["reasons"]:
        per_reason[reason if reason in kept else "other failures"][source] += n
    palette = ["#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#9467bd", "#17becf", "#aec7e8"]
    for i, reason in enumerate(sorted(per_reason, key=lambda r: -sum(per_reason[r].values()))):
        label = _t(_short(reason, 48))
        fig.add_trace(go.Bar(x=sources, y=[per_reason[reason].get(s, 0) for s in sources], name=label,
                             marker_color=palette[i % len(palette)], legendgroup="outcome",
                             hovertemplate="%{x}: %{y} × " + label + "<extra></extra>"), row=1, col=1)
    for label, idx, color, symbol in (("median", 4, "#1f77b4", "circle"), ("p90", 5, "#ff7f0e", "diamond")):
        fig.add_trace(go.Scatter(x=sources, y=[None if r[idx] is None else round(r[idx], 1) for r in health],
                                 name=f"{label} ms", mode="markers", legendgroup="latency",
                                 legendgrouptitle_text="latency",
                                 marker=dict(color=color, symbol=symbol, size=13, line=dict(width=1, color="white")),
                                 hovertemplate="%{x}: " + label + " %{y} ms<extra></extra>"), row=1, col=2)
    _layout(fig, height=440, barmode="stack", margin=dict(l=60, r=30, t=50, b=60))
    if all(r[4] is None for r in health):
        fig.add_annotation(text="no successful fetch", x=0.5, y=0.5, xref="x2 domain", yref="y2 domain",
                           showarrow=False, font=dict(size=15, color="#777"))
    fig.update_yaxes(title_text="fetches", row=1, col=1)
    fig.update_yaxes(title_text="ms", row=1, col=2)
    return fig, True


NO_STORIES = ("لا يوجد خبر بأكثر من نسخة في هذه الفترة",
              "no story has more than one copy in this window (nothing was republished or duplicated)")


def _fig_stories(data: dict):
    """Stories with two copies or more, biggest first. Without any, a message: bars of one copy each would say
    nothing (and drew an axis running from 1 to 0)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    stories = data["stories"]
    if not stories:
        return _no_data(fig, NO_STORIES)
    stories = list(reversed(stories))  # biggest at the top of a horizontal bar chart
    rows = list(range(len(stories)))      # positions, so that two stories with the same title stay apart
    fig.add_trace(go.Bar(
        y=rows, x=[s[2] for s in stories], orientation="h", marker_color="#1f77b4",
        customdata=[[s[3], _t(s[4]), _t(_short(s[1], 200)), str(s[5])[:16]] for s in stories],
        hovertemplate=("<b>%{customdata[2]}</b><br>copies: %{x}<br>sources (%{customdata[0]}): "
                       "%{customdata[1]}<br>first: %{customdata[3]}<extra></extra>"),
        text=[s[2] for s in stories], textposition="inside", insidetextanchor="start", name="copies"))
    height = max(260, 70 + 32 * len(stories))
    # Right to left, as the titles read: bars grow leftwards from the titles on the right, from 0 copies.
    _layout(fig, height=height, xaxis_title="copies (articles)", margin=dict(l=30, r=STORY_LABEL_PX, t=40, b=50),
            showlegend=False)
    fig.update_yaxes(side="right", tickvals=rows, ticktext=[_t(_short(s[1] or "(untitled)")) for s in stories],
                     tickfont=dict(size=14), automargin=False, showgrid=False)
    most = max(s[2] for s in stories)
    fig.update_xaxes(range=[most * 1.05, 0], dtick=1 if most <= 10 else None, rangemode="tozero")
    return fig, True


# ---------------------------------------------------------------- page

PAGE = """<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="akhbar report">
<title>akhbar · تقرير الأخبار</title>
<style>
  :root {{ color-scheme: light; }}
  body {{ font-family: {font}; margin: 0; background: #f6f7f9; color: #222; line-height: 1.5; }}
  header, main, footer {{ max-width: 1200px; margin: 0 auto; padding: 0 20px; }}
  header h1 {{ margin: 24px 0 4px; font-size: 28px; }}
  header p {{ margin: 2px 0; color: #555; }}
  .window {{ margin: 14px 0 0; }}
  .window p {{ margin: 0; color: #444; font-weight: 600; }}
  .cards {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 10px; margin: 18px 0; }}
  .card {{ background: #fff; border: 1px solid #e2e4e8; border-radius: 8px; padding: 8px 14px; }}
  .card b {{ display: block; font-size: 26px; }}
  .card span {{ display: block; color: #555; font-size: 15px; }}
  .card span.en {{ color: #777; font-size: 13px; }}
  section {{ background: #fff; border: 1px solid #e2e4e8; border-radius: 8px; margin: 18px 0; padding: 12px 16px; }}
  section h2 {{ margin: 4px 0 0; font-size: 21px; }}
  section p.en {{ margin: 0 0 8px; color: #666; font-size: 14px; }}
  .chart {{ width: 100%; }}
  code, .ltr {{ direction: ltr; unicode-bidi: isolate; }}
  footer {{ color: #777; font-size: 13px; padding-bottom: 30px; }}
</style>
</head>
<body>
<header>
  <h1>ماذا تقول الأخبار · What the news says</h1>
  <p>قاعدة البيانات · <span dir="ltr">database: <code>{db}</code></span></p>
{windows}
</header>
<main>
{sections}
</main>
<footer dir="ltr">
  <p>akhbar report · generated <span class="ltr">{generated}</span> · Plotly {plotly_version} (inlined; works offline).
  Days are UTC days of publication (the fetch day when the publication date is unknown).</p>
</footer>
</body>
</html>
"""

SECTION = """<section id="{key}">
  <h2>{ar}</h2>
  <p class="en" dir="ltr">{en}</p>
  <div class="chart" dir="ltr">{chart}</div>
</section>"""

CARD_LABELS = (("articles", "مقالات", "articles"), ("sources", "مصادر", "sources"),
               ("mentions", "إشارات", "mentions"), ("entities", "كيانات", "entities"),
               ("stories", "أخبار مكررة", "multi-copy stories"), ("fetches", "طلبات", "fetches"),
               ("failures", "إخفاقات", "failed fetches"))
# The header's two windows and the cards counted in each: articles by publication day up to the newest article,
# fetches up to the latest fetch (module docstring). Each group says its own days, so no figure reads as if it
# covered the other window.
ARTICLE_CARDS = ("articles", "sources", "mentions", "entities", "stories")
FETCH_CARDS = ("fetches", "failures")
WINDOW_GROUP = """<div class="window" id="{key}-window">
  <p>{ar} · <span dir="ltr" class="ltr">{en}</span></p>
  <div class="cards">{cards}</div>
</div>"""


def _span_text(first: date | None, last: date | None, what: str, anchor: str) -> str:
    if first is None or last is None:
        return f"no {what} yet"
    days = (last - first).days + 1
    return f"{what} {first} – {last} (UTC): the {days} day{'s' if days != 1 else ''} up to the {anchor}"


def _windows_html(window: _Window, headline: dict[str, int]) -> str:
    def cards(keys: tuple[str, ...]) -> str:
        labels = {k: (ar, en) for k, ar, en in CARD_LABELS}
        return "".join(f'<div class="card"><b>{headline.get(k, 0):,}</b><span>{labels[k][0]}</span>'
                       f'<span class="en">{labels[k][1]}</span></div>' for k in keys)

    groups = (
        ("articles", "المقالات حسب يوم النشر",
         _span_text(window.first_day, window.last_day, "articles published", "newest article"), ARTICLE_CARDS),
        ("fetches", "الطلبات حسب يوم الجلب",
         _span_text(window.fetch_first_day, window.fetch_last_day, "fetches", "latest fetch"), FETCH_CARDS),
    )
    return "\n".join(WINDOW_GROUP.format(key=key, ar=ar, en=html.escape(en), cards=cards(keys))
                     for key, ar, en, keys in groups)


def _page(db_label: str, window: _Window, headline: dict[str, int], figures: list) -> str:
    import plotly
    import plotly.io as pio

    sections = []
    for i, (key, ar, en, fig) in enumerate(figures):
        fig.update_layout(autosize=True)
        chart = pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), div_id=f"chart-{key}",
                            config={"displaylogo": False, "responsive": True, "showTips": False,
                                    "toImageButtonOptions": {"filename": f"akhbar-{key}"}})
        sections.append(SECTION.format(key=key, ar=html.escape(ar), en=html.escape(en), chart=chart))
    return PAGE.format(font=FONT_STACK, windows=_windows_html(window, headline), db=html.escape(db_label),
                       sections="\n".join(sections),
                       generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                       plotly_version=html.escape(plotly.__version__))


# ---------------------------------------------------------------- markdown for the Prefect UI


def report_markdown(info: ReportInfo) -> str:
    """The headline figures and the report's path, as markdown (for a Prefect markdown artifact)."""
    h = info.headline
    first, last = info.article_window or (None, None)
    articles = _span_text(first, last, "articles published", "newest article")
    first, last = info.fetch_window or (None, None)
    fetches = _span_text(first, last, "fetches", "latest fetch")
    lines = [
        "## akhbar report",
        "",
        f"Report: `{info.out_path.resolve()}` ({info.bytes / 1e6:.1f} MB, {info.charts} charts, built in "
        f"{info.seconds:.1f}s; open it in a browser, it works offline)",
        "",
        f"Windows (at most {info.days} days each): {articles}; {fetches}.",
        "",
        "| figure | value |",
        "|---|---:|",
    ]
    for key, _, en in CARD_LABELS:
        lines.append(f"| {en} | {h.get(key, 0):,} |")
    if info.empty_charts:
        lines += ["", "Charts with no data in this window: " + "; ".join(info.empty_charts) + "."]
    lines += ["", f"Database: `{info.db_path}`"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- command line


def add_report_parser(sub: argparse._SubParsersAction, default_db: str = DEFAULT_DB_PATH) -> argparse.ArgumentParser:
    """Add `report` to an argparse subcommand set (flows/cli.py); its func is `cmd_report`."""
    sp = sub.add_parser("report", help="write an offline HTML report with charts of the database")
    _add_options(sp, default_db)
    sp.set_defaults(func=cmd_report)
    return sp


def _add_options(sp: argparse.ArgumentParser, default_db: str) -> None:
    sp.add_argument("--db", default=default_db,
                    help=f"DuckDB file or ducklake:CATALOG (default: {default_db})")
    sp.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    sp.add_argument("--days", type=int, default=DEFAULT_DAYS,
                    help=f"days of articles and fetches to show, up to the newest (default: {DEFAULT_DAYS})")


def cmd_report(args: argparse.Namespace) -> int:
    info = build_report(args.db, args.out, days=args.days)
    h = info.headline
    print(f"wrote {info.out_path} ({info.bytes / 1e6:.1f} MB, {info.charts} charts) in {info.seconds:.1f}s")
    print(f"  last {info.days} days: {h['articles']} articles from {h['sources']} sources, {h['mentions']} mentions "
          f"of {h['entities']} entities, {h['stories']} multi-copy stories; {h['failures']} of {h['fetches']} "
          "fetches failed")
    for title in info.empty_charts:
        print(f"  no data for: {title}")
    print(f"open it: file://{info.out_path.resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="akhbar report", description="write an offline HTML report of the database")
    _add_options(p, DEFAULT_DB_PATH)
    args = p.parse_args(argv)
    try:
        return cmd_report(args)
    except WarehouseError as exc:
        print(f"akhbar: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
