"""The Arabic normalisation table of extractors/arabic.py, emitted as SQL: the DuckDB macro ``akhbar_normalize``.

``akhbar_normalize(s)`` is ``extractors.arabic.fold_arabic(s)``: no diacritics, other marks or tatweel, one
alef, ى -> ي, ة -> ه, ASCII digits. DuckDB has no NFKC, so it equals ``normalize_arabic(s)`` for text already
in NFKC form (canonical entity forms are). Search and the named queries call the macro; migration
warehouse/schema/009_arabic_macro.sql creates it and is generated from here::

    python -m warehouse.arabic_sql > warehouse/schema/009_arabic_macro.sql

(tests/test_arabic.py checks the file is current and that the macro and the Python agree character by character).
Search calls it too: readers bring an older file up to date before reading (warehouse/connection.py).
"""

from __future__ import annotations

from extractors.arabic import REMOVED, UNIFIED, code_point_ranges
from warehouse.tables import sql_literal

MACRO_NAME = "akhbar_normalize"


def _re2_class(chars: frozenset[str]) -> str:
    """A RE2 character class (DuckDB's regexp dialect) matching exactly `chars`, written with code point escapes."""
    parts = (f"\\x{{{a:04X}}}" if a == b else f"\\x{{{a:04X}}}-\\x{{{b:04X}}}" for a, b in code_point_ranges(chars))
    return "[" + "".join(parts) + "]"


def normalize_expr(expr: str) -> str:
    """SQL expression applying the normalisation table to the SQL expression `expr` (cast to VARCHAR)."""
    removed = f"regexp_replace(CAST({expr} AS VARCHAR), {sql_literal(_re2_class(REMOVED))}, '', 'g')"
    sources = "".join(sorted(UNIFIED))
    targets = "".join(UNIFIED[c] for c in sorted(UNIFIED))
    return f"translate({removed}, {sql_literal(sources)}, {sql_literal(targets)})"


def macro_sql() -> str:
    """The migration creating the macro (the text of warehouse/schema/009_arabic_macro.sql)."""
    return (
        "-- The Arabic normalisation of extractors/arabic.py (fold_arabic) as a macro for the named queries and\n"
        "-- anyone's SQL: no diacritics, other marks or tatweel; one alef; alef maqsura -> yaa; taa marbuta -> haa;\n"
        "-- ASCII digits. Generated: python -m warehouse.arabic_sql > warehouse/schema/009_arabic_macro.sql\n"
        f"CREATE OR REPLACE MACRO {MACRO_NAME}(s) AS\n"
        f"    {normalize_expr('s')};\n"
    )


if __name__ == "__main__":
    print(macro_sql(), end="")
