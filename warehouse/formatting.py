"""Render query results as a text table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
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


def to_csv(cols: list[str], rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if v is None else (json.dumps(_jsonable(v), ensure_ascii=False)
                                            if isinstance(v, (list, dict)) else _jsonable(v)) for v in r])
    return buf.getvalue()


def _width(s: str) -> int:
    return sum(0 if unicodedata.combining(c) else (2 if unicodedata.east_asian_width(c) in "WF" else 1) for c in s)


def _cell(v: Any, cap: int = 60) -> str:
    if v is None:
        return ""
    s = str(_jsonable(v)) if not isinstance(v, str) else v
    s = " ".join(s.split())
    return s if len(s) <= cap else s[: cap - 1] + "…"


def to_table(cols: list[str], rows: list[tuple[Any, ...]]) -> str:
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(cols)]
    def line(values: list[str]) -> str:
        return " | ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()
    out = [line(cols), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def render(cols: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    return {"table": to_table, "csv": to_csv, "json": to_json}[fmt](cols, rows)
