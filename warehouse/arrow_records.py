"""Pipeline records (extractors.records) as Arrow tables shaped by the table specs, and back.

The loader registers these tables in DuckDB for its bulk statements; archived pages are read back into records
for reprocessing. A column takes the value of the record's attribute of the same
name unless the builder passes it explicitly, so a field added to a record and to a spec needs no code here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from extractors.dedup import band_keys
from extractors.records import ExtractedArticle, FetchLogRow, ProcessedArticle, RawPage
from warehouse.tables import ARTICLES, FETCHES, MENTIONS, RAW_PAGES, STORY_BANDS, TIMESTAMPTZ, VARCHAR_LIST, TableSpec

# Columns of `articles` that hold the fields of ExtractedArticle of the same name (url is the canonical one of
# ProcessedArticle instead).
EXTRACTED_COLUMNS = tuple(f.name for f in fields(ExtractedArticle) if f.name in ARTICLES.names and f.name != "url")
# Columns of `fetches` a FetchLogRow holds (the rest, run_id, comes from the load).
RAW_PAGE_COLUMNS = tuple(f.name for f in fields(RawPage))


def utc(dt: datetime | None) -> datetime | None:
    """The instant in UTC; a naive datetime is taken to be UTC already."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _column_values(spec: TableSpec, name: str, records: Sequence[Any]) -> list[Any]:
    ctype = next(c.type for c in spec.columns if c.name == name)
    values = [getattr(r, name) for r in records]
    if ctype == TIMESTAMPTZ:
        return [utc(v) for v in values]
    if ctype == VARCHAR_LIST:
        return [list(v or []) for v in values]
    return values


def spec_table(spec: TableSpec, records: Sequence[Any], given: dict[str, list[Any]] | None = None, *,
               without: Iterable[str] = ()) -> pa.Table:
    """An Arrow table of `spec`'s columns: those in `given` as given, the others from the records' attributes."""
    given = given or {}
    schema = spec.arrow_schema(without=without)
    columns = {name: given[name] if name in given else _column_values(spec, name, records) for name in schema.names}
    return pa.table(columns, schema=schema)


def articles_table(items: Sequence[ProcessedArticle], run_id: str | None) -> pa.Table:
    now = datetime.now(UTC)
    given: dict[str, list[Any]] = {
        "first_stored_at": [now] * len(items), "updated_at": [now] * len(items), "run_id": [run_id] * len(items),
        "ner_backend": [it.backend for it in items], "minhash": [it.minhash or None for it in items],
        "story_id": [it.story_id or it.article_id for it in items],
    }
    extracted = [it.article for it in items]
    for name in EXTRACTED_COLUMNS:
        given[name] = _column_values(ARTICLES, name, extracted)
    return spec_table(ARTICLES, items, given)


def raw_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    with_raw = [it for it in items if it.raw is not None]
    raws = [it.raw for it in with_raw]
    return spec_table(RAW_PAGES, raws, {"article_id": [it.article_id for it in with_raw]})


def mentions_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    pairs = [(it, m) for it in items for m in it.mentions or ()]
    return spec_table(MENTIONS, [m for _, m in pairs], {"article_id": [it.article_id for it, _ in pairs],
                                                        "backend": [it.backend for it, _ in pairs]})


def fetches_table(rows: Sequence[FetchLogRow], run_id: str | None) -> pa.Table:
    return spec_table(FETCHES, rows, {"run_id": [run_id] * len(rows)})


def item_band_keys(items: Sequence[ProcessedArticle]) -> dict[str, list[int]]:
    """LSH band keys of each item with a MinHash signature, computed once per load."""
    return {it.article_id: band_keys(it.minhash) for it in items if it.minhash}


def bands_table(items: Sequence[ProcessedArticle], keys: dict[str, list[int]] | None = None) -> pa.Table:
    keys = item_band_keys(items) if keys is None else keys
    ids: list[str] = []
    band_no: list[int] = []
    values: list[int] = []
    for it in items:
        item_keys = keys.get(it.article_id) if it.minhash else None
        if not item_keys:
            continue
        ids.extend([it.article_id] * len(item_keys))
        band_no.extend(range(len(item_keys)))
        values.extend(item_keys)
    return pa.table({"article_id": ids, "band": band_no, "key": values}, schema=STORY_BANDS.arrow_schema())


def raw_page_of(row: dict[str, Any]) -> RawPage:
    """The RawPage of a raw_pages row (a dict with at least RawPage's fields)."""
    return RawPage(**{name: row[name] for name in RAW_PAGE_COLUMNS})
