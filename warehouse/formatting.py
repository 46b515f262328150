"""Render query results as a text table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _jsonable(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.hex()
    return v


def to_json(cols: list[str], rows: list[tuple[Any, ...]]) -> str:
    """One JSON array of objects."""
    return json.dumps([{c: _jsonable(v) for c, v in zip(cols, r)} for r in rows], ensure_ascii=False, indent=1)


# A spreadsheet opening the CSV runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        v = json.dumps(_jsonable(v), ensure_ascii=False)
    if isinstance(v, str) and v.startswith(FORMULA_PREFIXES):
        return "'" + v  # shown as text, not evaluated; numbers keep their sign (they are not strings)
    return _jsonable(v)


def to_csv(cols: list[str], rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_csv_value(c) for c in cols])
    for r in rows:
        w.writerow([_csv_value(v) for v in r])
    return buf.getvalue()


# Characters a terminal would act on rather than print: C0/C1 controls (escape sequences can rewrite the screen or
# the window title) and bidi embeddings, overrides and isolates (they reorder what follows: "Trojan Source").
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(s: str) -> str:
    """`s` with every control or bidi-override character shown as an escape (\\x1b, \\u202e)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", s)


def _width(s: str) -> int:
    return sum(0 if unicodedata.combining(c) else (2 if unicodedata.east_asian_width(c) in "WF" else 1) for c in s)


DEFAULT_CELL_WIDTH = 60  # characters of a table cell; longer values are cut with "…" (`--width`)


def _cell(v: Any, cap: int | None = DEFAULT_CELL_WIDTH) -> str:
    if v is None:
        return ""
    s = str(_jsonable(v)) if not isinstance(v, str) else v
    s = _visible(" ".join(s.split()))
    return s if cap is None or len(s) <= cap else s[: cap - 1] + "…"


def to_table(cols: list[str], rows: list[tuple[Any, ...]], *, cap: int | None = DEFAULT_CELL_WIDTH) -> str:
    """An aligned text table; each cell cut at `cap` characters (None: never cut, so URLs can be copied)."""
    cols = [_visible(c) for c in cols]
    cells = [[_cell(v, cap) for v in r] for r in rows]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(cols)]
    def line(values: list[str]) -> str:
        return " | ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()
    out = [line(cols), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def render(cols: list[str], rows: list[tuple[Any, ...]], fmt: str, *, cap: int | None = DEFAULT_CELL_WIDTH) -> str:
    """Rows as a table (cells cut at `cap`, None: not cut), CSV or JSON (never cut)."""
    if fmt == "table":
        return to_table(cols, rows, cap=cap)
    return {"csv": to_csv, "json": to_json}[fmt](cols, rows)
