"""Entity aliases: spelling variants merged into one entity (table `entity_aliases`, migration 016).

A row maps the canonical key of a variant («ترمب») to the canonical key of the entity it belongs to («ترامب»);
keys are made from what the user writes by ``extractors.entities.canon.canonical_entity``, the function that
makes ``mentions.canonical``. The table stays flat: a target is never itself a variant (adding X -> Y where Y is a
variant of Z stores X -> Z; adding X -> Y where X was a target moves X's variants to Y), so one join resolves any
mention. The views of migration 016 (`entity_mentions`, `entity_display`, `entity_summary`) and the named queries
group by the merged key; the `entities` table holds one row per merged entity and type (display form included),
refreshed by ``refresh_entities`` for the keys a load touches (warehouse/loader.py) or an alias change touches.

A starter list ships in ``warehouse/entity_aliases.tsv`` (origin and rules in its header); migration 016 holds
the rows generated from it (``python -m warehouse.aliases --starter-sql``; a test checks they agree).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from extractors.entities.canon import canonical_entity
from warehouse.connection import connect, write_transaction
from warehouse.lake_location import catalog_file, is_lake
from warehouse.tables import ENTITY_ALIASES, sql_literal

STARTER_PATH = Path(__file__).resolve().parent / "entity_aliases.tsv"
STARTER_ADDED_AT = "2026-11-29 00:00:00+00"
STARTER_BEGIN = "-- BEGIN starter aliases"
STARTER_END = "-- END starter aliases"

# After mentions changed (a load, a repair) or aliases changed: the entities rows of the keys in the temp table
# `touched_entities (canonical, entity_type)` are recomputed by merged entity (refresh_entities). The rows of the
# touched keys themselves (a key that became a variant has none any more) and of the merged entities they belong
# to are deleted, and the merged entities' rows inserted from the macro entity_rows (migration 016).
TOUCHED_MERGED = """
CREATE OR REPLACE TEMP TABLE touched_merged AS
SELECT DISTINCT coalesce(al.canonical, t.canonical) AS canonical, t.entity_type
FROM touched_entities t
LEFT JOIN entity_aliases al ON al.variant = t.canonical
"""
TOUCHED_MERGED_LISTS = """
SELECT list(canonical ORDER BY canonical, entity_type), list(entity_type ORDER BY canonical, entity_type)
FROM touched_merged
"""  # parallel lists: both in the same order
DELETE_TOUCHED_ENTITIES = """
DELETE FROM entities
WHERE (canonical, entity_type) IN (SELECT canonical, entity_type FROM touched_entities)
   OR (canonical, entity_type) IN (SELECT canonical, entity_type FROM touched_merged)
"""
INSERT_MERGED_ENTITIES = "INSERT INTO entities SELECT * FROM entity_rows($keys, $types)"
REBUILD_ENTITIES = "DELETE FROM entities; INSERT INTO entities SELECT * FROM entity_summary"

# Every type of each key in `touched_keys (canonical)`: an alias applies to every entity type.
TOUCH_KEYS = """
CREATE OR REPLACE TEMP TABLE touched_entities AS
SELECT k.canonical, t.entity_type
FROM touched_keys k
CROSS JOIN (SELECT unnest(['PERS', 'LOC', 'ORG', 'MISC']) AS entity_type) t
"""

ALIAS_OF = "SELECT canonical FROM entity_aliases WHERE variant = $key"
VARIANTS_OF = "SELECT variant FROM entity_aliases WHERE canonical = $key"
UPSERT_ALIAS = ENTITY_ALIASES.merge(ENTITY_ALIASES.parameter_row(given={"origin": "'user'"}), key=("variant",))
MOVE_VARIANTS = "UPDATE entity_aliases SET canonical = $new WHERE canonical = $old"
DELETE_ALIAS = "DELETE FROM entity_aliases WHERE variant = $variant"
LIST_ALIASES = """
SELECT variant, canonical, variant_written, canonical_written, origin, added_at
FROM entity_aliases
ORDER BY canonical, variant
"""
MENTIONS_OF_KEY = "SELECT count(*) FROM mentions WHERE canonical = $key"


class AliasError(ValueError):
    """A wrong alias request (same entity, a loop, no such alias): one line, exit 2."""


@dataclass(frozen=True, slots=True)
class Alias:
    variant: str      # canonical key of the variant
    canonical: str    # canonical key of the entity it merges into
    variant_written: str
    canonical_written: str


@dataclass(frozen=True, slots=True)
class AliasChange:
    """What an add or remove did, for the command's one-line answer."""

    variant: str
    canonical: str
    replaced: str | None = None     # the variant's previous target, when it had one
    moved: tuple[str, ...] = ()     # variants of the old key now pointing at the new target
    mentions: int = 0               # mentions stored under the variant's key
    unchanged: bool = False         # the alias was there already


def entity_key(written: str) -> str:
    """The canonical key of a name as written (what mentions.canonical holds for it)."""
    return canonical_entity(written.strip())


# ---------------------------------------------------------------- the starter list


def starter_aliases(path: Path = STARTER_PATH) -> list[Alias]:
    """The shipped starter list: rows of the TSV whose two forms have different keys, in file order."""
    rows: list[Alias] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        variant_written, sep, canonical_written = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected VARIANT<TAB>CANONICAL")
        variant, canonical = entity_key(variant_written), entity_key(canonical_written)
        if variant == canonical or variant in seen:
            raise ValueError(f"{path}:{number}: {variant_written!r} is already the same key or listed twice")
        seen.add(variant)
        rows.append(Alias(variant, canonical, variant_written.strip(), canonical_written.strip()))
    targets = {a.canonical for a in rows}
    loops = [a.variant for a in rows if a.variant in targets]
    if loops:
        raise ValueError(f"{path}: {', '.join(loops)} are both a variant and a target; keep the list flat")
    return rows


def starter_sql(rows: list[Alias] | None = None) -> str:
    """The INSERT of migration 016's starter block (between STARTER_BEGIN and STARTER_END)."""
    rows = starter_aliases() if rows is None else rows
    values = ",\n".join(
        f"    ({sql_literal(a.variant)}, {sql_literal(a.canonical)}, {sql_literal(a.variant_written)}, "
        f"{sql_literal(a.canonical_written)}, 'starter', TIMESTAMPTZ {sql_literal(STARTER_ADDED_AT)})"
        for a in rows)
    return (f"{STARTER_BEGIN} (generated from warehouse/entity_aliases.tsv: python -m warehouse.aliases "
            f"--starter-sql)\nINSERT OR IGNORE INTO entity_aliases VALUES\n{values};\n{STARTER_END}\n")


# ---------------------------------------------------------------- changing and reading the table


def _check_exists(db_path: str | Path) -> None:
    file = catalog_file(str(db_path)) if is_lake(db_path) else Path(db_path)
    if file is not None and not file.is_file():
        raise AliasError(f"no database at {db_path}: run `akhbar ingest` or `akhbar demo` first, or pass --db")


def _ready(db_path: str | Path, wait_seconds: float) -> None:
    """The warehouse exists and is up to date (a reader's connect migrates an older one first)."""
    _check_exists(db_path)
    connect(db_path, read_only=True, wait_seconds=wait_seconds).close()


def refresh_entities(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the `entities` rows of the keys in the temp table `touched_entities (canonical, entity_type)`
    (the loader's name for the keys a load touched) by merged entity; runs inside the caller's transaction."""
    con.execute(TOUCHED_MERGED)
    keys, types = con.execute(TOUCHED_MERGED_LISTS).fetchone() or (None, None)
    con.execute(DELETE_TOUCHED_ENTITIES)
    if keys:  # NULL lists would mean every entity to entity_rows
        con.execute(INSERT_MERGED_ENTITIES, {"keys": keys, "types": types})
    con.execute("DROP TABLE touched_merged")


def rebuild_entities(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the whole `entities` table from the mentions and aliases (what migration 016 does once)."""
    con.execute(REBUILD_ENTITIES)


def _refresh(con: duckdb.DuckDBPyConnection, keys: set[str]) -> None:
    """Recompute the entities rows of these keys (every type) and of the merged entities they now belong to."""
    con.execute("CREATE OR REPLACE TEMP TABLE touched_keys (canonical VARCHAR)")
    con.executemany("INSERT INTO touched_keys VALUES (?)", [[k] for k in sorted(keys)])
    con.execute(TOUCH_KEYS)
    refresh_entities(con)
    con.execute("DROP TABLE touched_keys; DROP TABLE touched_entities")


def _target(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute(ALIAS_OF, {"key": key}).fetchone()
    return row[0] if row else None


def add_alias(db_path: str | Path, variant_written: str, canonical_written: str, *,
              wait_seconds: float = 60.0) -> AliasChange:
    """Merge the entity written `variant_written` into the one written `canonical_written` (both as a person
    writes them; the keys are made here), and refresh the entities rows concerned."""
    variant, canonical = entity_key(variant_written), entity_key(canonical_written)
    if not variant or not canonical:
        raise AliasError("both VARIANT and CANONICAL must hold a name")
    _ready(db_path, wait_seconds)

    def merge(con: duckdb.DuckDBPyConnection) -> AliasChange:
        final = _target(con, canonical) or canonical  # the target's own target: the table stays flat
        if final == variant:
            how = "the same key" if canonical == variant else f"an alias of {variant!r} already"
            raise AliasError(f"{canonical_written.strip()!r} is {how} (key {variant!r}); nothing to merge")
        replaced = _target(con, variant)
        if replaced == final:
            return AliasChange(variant, final, unchanged=True)
        moved = tuple(sorted(v for (v,) in con.execute(VARIANTS_OF, {"key": variant}).fetchall()))
        if moved:
            con.execute(MOVE_VARIANTS, {"new": final, "old": variant})
        con.execute(UPSERT_ALIAS, {"variant": variant, "canonical": final,
                                   "variant_written": variant_written.strip(),
                                   "canonical_written": canonical_written.strip(), "added_at": datetime.now(UTC)})
        _refresh(con, {variant, final, *moved, *([replaced] if replaced else [])})
        mentions = con.execute(MENTIONS_OF_KEY, {"key": variant}).fetchone()
        return AliasChange(variant, final, replaced, moved, int(mentions[0]) if mentions else 0)

    return write_transaction(db_path, merge, what="entity alias", wait_seconds=wait_seconds)


def remove_alias(db_path: str | Path, variant_written: str, *, wait_seconds: float = 60.0) -> AliasChange:
    """Remove the alias of the variant written `variant_written` (starter or user); AliasError when none."""
    variant = entity_key(variant_written)
    _ready(db_path, wait_seconds)

    def remove(con: duckdb.DuckDBPyConnection) -> AliasChange:
        target = _target(con, variant)
        if target is None:
            raise AliasError(f"{variant_written.strip()!r} (key {variant!r}) is no alias; "
                             "see `akhbar entities alias --list`")
        con.execute(DELETE_ALIAS, {"variant": variant})
        _refresh(con, {variant, target})
        return AliasChange(variant, target)

    return write_transaction(db_path, remove, what="entity alias", wait_seconds=wait_seconds)


def list_aliases(db_path: str | Path, *, wait_seconds: float = 60.0) -> tuple[list[str], list[tuple]]:
    """Every alias: (column names, rows), ordered by target then variant."""
    _check_exists(db_path)
    con = connect(db_path, read_only=True, wait_seconds=wait_seconds)  # an older warehouse is migrated first
    try:
        cur = con.execute(LIST_ALIASES)
        return [d[0] for d in cur.description or []], cur.fetchall()
    finally:
        con.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["--starter-sql"]:
        print(starter_sql(), end="")
    else:
        print("usage: python -m warehouse.aliases --starter-sql", file=sys.stderr)
        sys.exit(2)
