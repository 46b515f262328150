"""What a flow run started through `akhbar serve` may ask for.

Anyone who can reach a served Prefect API can start the deployments with any parameters. So `akhbar serve` puts
its policy in the environment of the flow runs it serves (`AKHBAR_SERVE_*`, flows/settings.py), and the flows
check their parameters against it before doing anything: `db_path` (for a lake, its catalog file; a catalog on
a database server counts as outside), `sources_file` and `data_path` must stay under the project directory (where
`akhbar serve` was started) unless the server was started with `--allow-any-path`, and `allow_private_addresses`
is refused unless it was started with `--allow-private-addresses`. Runs started any other way (the command line,
a worker) are not restricted.
"""

from __future__ import annotations

from pathlib import Path

from flows.settings import load_settings
from warehouse.lake_location import catalog_file, is_lake


class ServedRunRefused(ValueError):
    """A served flow run's parameters ask for more than the server allows; the message says which and why."""


def check_served_run(*, db_path: str, allow_private_addresses: bool, sources_file: str | None = None,
                     data_path: str | None = None) -> None:
    """Raise ServedRunRefused when this is a served run whose parameters the server does not allow."""
    settings = load_settings()
    if not settings.serve_project_dir:
        return
    if allow_private_addresses and not settings.serve_allow_private_addresses:
        raise ServedRunRefused("allow_private_addresses is refused: this server was not started with "
                               "`akhbar serve --allow-private-addresses`")
    if settings.serve_allow_any_path:
        return
    root = Path(settings.serve_project_dir).resolve()
    for name, value in (("db_path", db_path), ("sources_file", sources_file), ("data_path", data_path)):
        if value and not _under(value, root):
            raise ServedRunRefused(f"{name}={value!r} is outside the project directory {root}: this server was "
                                   "not started with `akhbar serve --allow-any-path`")


def _under(value: str, root: Path) -> bool:
    """Whether the path `value` (relative to the working directory, symbolic links followed) is inside `root`."""
    if "://" in value:
        return False  # a URL (a lake's data path on object storage) is never under the project directory
    path = catalog_file(value) if is_lake(value) else Path(value)  # a lake: its catalog file (None: on a server)
    return path is not None and path.expanduser().resolve().is_relative_to(root)
