"""Opening the warehouse: a SQLAlchemy engine for DuckDB (default) or PostgreSQL (I/O edge)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ctmirror.errors import ConfigError
from ctmirror.warehouse import duckdb_dialect

log = logging.getLogger(__name__)

#: The wheel ships only json, parquet, icu and core_functions; offline, an extension download
#: would hang for seconds and fail, so the warehouse never tries.
_DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_POSTGRES_CONNECT_TIMEOUT_S = 10


#: DuckDB's cap on its buffer pool in a syncing process. Its default (80% of the machine's
#: memory) let the load's merges and the published copy cache the whole warehouse beside the
#: imported pipeline; past the cap DuckDB evicts cached blocks or spills to its temp folder.
SYNC_DUCKDB_MEMORY = "256MB"


def create_warehouse_engine(url: str, *, read_only: bool = False,
                            mirror_root: Path | None = None,
                            memory_limit: str | None = None) -> sa.Engine:
    """An engine on the warehouse at ``url``, checked by opening one connection.

    ``postgresql://`` means psycopg 3. ``read_only`` opens a DuckDB file without taking the
    writer's lock (``ctmirror sql``/``status``), and makes every PostgreSQL transaction
    read-only unless it says otherwise (user SQL runs through ``user_sql``). On DuckDB the
    views' relative Parquet paths resolve against ``mirror_root`` (by default the file's own
    folder, where the default layout keeps it). Raises ``ConfigError`` when the database
    cannot be opened (a DuckDB file locked by another process, an unreachable or refusing
    PostgreSQL, a malformed URL). ``memory_limit`` caps DuckDB's memory (``SET memory_limit``
    on each connection: a setting of the database instance, so connections opened without it
    are not refused as another configuration would be); PostgreSQL ignores it.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "duckdb":
        engine = _duckdb_engine(parsed, read_only=read_only, mirror_root=mirror_root)
        if memory_limit is not None:
            _set_on_connect(engine, f"SET memory_limit = '{memory_limit}'")
    elif parsed.get_backend_name() == "postgresql":
        engine = _postgres_engine(parsed, read_only=read_only)
    else:
        raise ConfigError(
            f"unsupported warehouse URL {_shown(parsed)}: use duckdb:///<file> or "
            "postgresql+psycopg://user@host/db"
        )
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(
            exc.orig).__name__
        raise ConfigError(f"cannot open the warehouse {_shown(parsed)}: {reason}") from None
    return engine


def _parse(url: str) -> sa.URL:
    try:
        return sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"{url!r} is not a database URL (e.g. duckdb:///data/warehouse.duckdb)"
                          ) from None


def _shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def warehouse_options(url: str | sa.URL) -> str:
    """The command-line options that name this warehouse, for a command a message suggests:
    ``--root DIR`` for a mirror's own DuckDB file (working or published), ``--db URL`` (no
    password) otherwise."""
    import shlex

    parsed = _parse(url) if isinstance(url, str) else url
    database = Path(parsed.database or "")
    if parsed.get_backend_name() == "duckdb" and database.name in ("warehouse.duckdb",
                                                                   "warehouse.published.duckdb"):
        return f" --root {shlex.quote(str(database.parent))}"
    return f" --db {shlex.quote(_shown(parsed))}"


def _duckdb_engine(url: sa.URL, *, read_only: bool, mirror_root: Path | None) -> sa.Engine:
    database = url.database or ":memory:"
    config: dict[str, object] = dict(_DUCKDB_CONFIG)
    if database != ":memory:":
        path = Path(database)
        if read_only and not path.exists():
            where = warehouse_options(url)
            raise ConfigError(f"no warehouse at {path}: run `ctmirror sync{where}` or "
                              f"`ctmirror db upgrade{where}` first")
        path.parent.mkdir(parents=True, exist_ok=True)
        mirror_root = mirror_root or path.parent
    if mirror_root is not None:
        config["file_search_path"] = str(Path(mirror_root).resolve())
    return sa.create_engine(
        url.set(drivername=f"duckdb+{duckdb_dialect.DRIVER}"),
        connect_args={"read_only": read_only, "config": config}
    )


def _set_on_connect(engine: sa.Engine, statement: str) -> None:
    def run(dbapi_connection: Any, record: object) -> None:
        dbapi_connection.execute(statement)

    sa.event.listen(engine, "connect", run)


def _postgres_engine(url: sa.URL, *, read_only: bool) -> sa.Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    connect_args: dict[str, object] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = _POSTGRES_CONNECT_TIMEOUT_S
    if read_only:
        # string literals as user SQL's checker parsed them: no backslash escapes
        connect_args["options"] = ("-c default_transaction_read_only=on "
                                   "-c standard_conforming_strings=on")
    return sa.create_engine(url, connect_args=connect_args)


def is_duckdb(engine: sa.Engine | sa.Connection) -> bool:
    return engine.dialect.name == "duckdb"


__all__ = ["SYNC_DUCKDB_MEMORY", "create_warehouse_engine", "is_duckdb"]
