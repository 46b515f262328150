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
