"""The warehouse problems a user can act on, each with a message that says what to do."""

from __future__ import annotations


class WarehouseError(RuntimeError):
    """A warehouse problem the user can act on; the message says what to do."""


class WarehouseLocked(WarehouseError):
    """Another process held the database file for longer than the caller was willing to wait."""


class WarehouseDamaged(WarehouseError):
    """The database file is truncated or has blocks whose checksums do not match."""


class WarehouseFull(WarehouseError):
    """The disk (or the file size limit) is full: the write was abandoned and rolled back."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its class name when empty), cut to `limit` characters: what a
    one-line error quotes of what DuckDB or the OS said."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]
