"""sources.toml: loading and validation (the contract is in docs/ARCHITECTURE.md, section 3).

Unknown keys and bad values are rejected with a ConfigError naming the source and the key.

Refetch and retention: `refetch_after_days` (under [crawl] for every source, or per source) fetches a stored
article again once its stored copy is that old and a feed or sitemap still lists it; `keep_fetches_days` and
`keep_raw_days` (under [crawl]) are how long each run keeps rows of the fetch log and of the raw page archive
(warehouse/retention.py). Articles are never deleted.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extractors.discover.urls import BadURL, canonical_url

VERSION = version("akhbar")  # written once, in pyproject.toml
PROJECT_URL = "https://github.com/akhbar-news/akhbar"
DEFAULT_USER_AGENT = f"akhbar/{VERSION} (+{PROJECT_URL})"


class ConfigError(ValueError):
    """A sources file that cannot be used; the message says where and what to change."""


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    user_agent: str = DEFAULT_USER_AGENT
    timeout_seconds: float = 20.0
    proxy: str | None = None
    max_response_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    refetch_after_days: float | None = None  # None: a stored article is never fetched again by `ingest`
    keep_fetches_days: float | None = None  # None: the fetch log is kept for ever
    keep_raw_days: float | None = None  # None: the raw page archive is kept for ever


# Keys of Source that are settings of the crawl, not columns of the `sources` table.
CRAWL_ONLY_SOURCE_KEYS = ("refetch_after_days",)


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    homepage: str | None = None
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    max_articles: int = 200
    requests_per_second: float = 1.0
    max_concurrency: int = 2
    timezone: str = "UTC"
    refetch_after_days: float | None = None  # its own, else [crawl]'s; None: stored articles are not refetched

    def settings_dict(self) -> dict[str, Any]:
        """The columns of the `sources` table."""
        d = asdict(self)
        d["feeds"] = list(self.feeds)
        d["sitemaps"] = list(self.sitemaps)
        for key in CRAWL_ONLY_SOURCE_KEYS:
            del d[key]
        return d


@dataclass(frozen=True, slots=True)
class Config:
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    sources: tuple[Source, ...] = ()
    path: str | None = None


MAX_DAYS = 36_500  # refetch and retention ages: a hundred years is "for ever"

_CRAWL_KEYS = {
    "user_agent": str,
    "timeout_seconds": (int, float),
    "proxy": str,
    "max_response_bytes": int,
    "max_redirects": int,
    "retries": int,
    "refetch_after_days": (int, float),
    "keep_fetches_days": (int, float),
    "keep_raw_days": (int, float),
}
_SOURCE_KEYS = {
    "name": str,
    "homepage": str,
    "feeds": list,
    "sitemaps": list,
    "max_articles": int,
    "requests_per_second": (int, float),
    "max_concurrency": int,
    "timezone": str,
    "refetch_after_days": (int, float),
}


def _check_types(where: str, table: dict[str, Any], allowed: dict[str, Any]) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        expected = allowed[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise ConfigError(f"{where}: key {key!r} must be {names}, got {value!r}")


def _url(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must hold URL strings, got {value!r}")
    try:
        canonical_url(value)
    except BadURL as exc:
        raise ConfigError(f"{where}: {key} has a bad URL {value!r}: {exc}") from None
    return value.strip()


def _days(where: str, table: dict[str, Any], key: str) -> float | None:
    """A number of days (> 0, fractions allowed, at most MAX_DAYS) or None when the key is absent."""
    if key not in table:
        return None
    days = float(table[key])
    if not 0 < days <= MAX_DAYS:
        hint = "never fetch stored articles again" if key.startswith("refetch") else "keep the rows for ever"
        raise ConfigError(f"{where}: key {key!r} must be a number of days > 0 and <= {MAX_DAYS}, got {table[key]!r} "
                          f"(leave it out to {hint})")
    return days


def _crawl_settings(label: str, crawl_table: dict[str, Any]) -> CrawlSettings:
    where = f"{label} [crawl]"
    _check_types(where, crawl_table, _CRAWL_KEYS)
    days = {k: _days(where, crawl_table, k) for k in ("refetch_after_days", "keep_fetches_days", "keep_raw_days")}
    crawl = CrawlSettings(**{**crawl_table, **days})
    if crawl.timeout_seconds <= 0:
        raise ConfigError(f"{where}: timeout_seconds must be > 0")
    if crawl.max_response_bytes < 1024:
        raise ConfigError(f"{where}: max_response_bytes must be at least 1024")
    if not 0 <= crawl.max_redirects <= 30 or not 0 <= crawl.retries <= 10:
        raise ConfigError(f"{where}: max_redirects must be 0..30 and retries 0..10")
    return crawl


def parse_config(data: dict[str, Any], path: str | None = None) -> Config:
    """Validate a parsed TOML document."""
    label = path or "sources"
    unknown = set(data) - {"crawl", "sources"}
    if unknown:
        raise ConfigError(f"{label}: unknown top-level key(s) {', '.join(sorted(unknown))} (allowed: crawl, sources)")
    crawl_table = data.get("crawl", {})
    if not isinstance(crawl_table, dict):
        raise ConfigError(f"{label}: [crawl] must be a table")
    crawl = _crawl_settings(label, crawl_table)
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{label}: no [[sources]] defined; add at least one [[sources]] table with a name")
    sources: list[Source] = []
    seen: set[str] = set()
    for i, table in enumerate(raw_sources, start=1):
        if not isinstance(table, dict):
            raise ConfigError(f"{label}: sources entry #{i} must be a table")
        name = table.get("name")
        where = f"{label}: source {name!r}" if isinstance(name, str) and name else f"{label}: source #{i}"
        _check_types(where, table, _SOURCE_KEYS)
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: key 'name' is required and must be a non-empty string")
        name = name.strip()
        if name in seen:
            raise ConfigError(f"{where}: key 'name' is not unique ({name!r} appears twice)")
        seen.add(name)
        feeds = tuple(_url(where, "feeds", u) for u in table.get("feeds", []))
        sitemaps = tuple(_url(where, "sitemaps", u) for u in table.get("sitemaps", []))
        homepage = _url(where, "homepage", table["homepage"]) if "homepage" in table else None
        if not (feeds or sitemaps or homepage):
            raise ConfigError(f"{where}: give at least one of 'feeds', 'sitemaps' or 'homepage'")
        max_articles = table.get("max_articles", 200)
        if max_articles < 1:
            raise ConfigError(f"{where}: key 'max_articles' must be >= 1, got {max_articles}")
        rps = float(table.get("requests_per_second", 1.0))
        if rps < 0:
            raise ConfigError(f"{where}: key 'requests_per_second' must be >= 0 (0 means no delay), got {rps}")
        conc = table.get("max_concurrency", 2)
        if not 1 <= conc <= 64:
            raise ConfigError(f"{where}: key 'max_concurrency' must be between 1 and 64, got {conc}")
        tz = table.get("timezone", "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}: key 'timezone' is not a known IANA zone: {tz!r} "
                              "(e.g. 'Asia/Riyadh')") from None
        sources.append(
            Source(name=name, homepage=homepage, feeds=feeds, sitemaps=sitemaps, max_articles=max_articles,
                   requests_per_second=rps, max_concurrency=conc, timezone=tz,
                   refetch_after_days=_days(where, table, "refetch_after_days") or crawl.refetch_after_days)
        )
    return Config(crawl=crawl, sources=tuple(sources), path=path)


def load_config(path: str | Path) -> Config:
    """Read and validate a sources.toml file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sources file not found: {p} (pass --sources with the path to a sources.toml)")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    return parse_config(data, str(p))
