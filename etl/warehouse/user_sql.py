"""SQL a user typed, run read-only on the warehouse: the one entry point for user SQL
(``ctmirror sql`` and any later server), on DuckDB and PostgreSQL alike.

Three independent layers, so that a hole in one is not a hole in the sandbox:

1. **One query, checked before it is sent.** DuckDB's own parser (the grammar of PostgreSQL's)
   must read exactly one statement of type SELECT (``WITH``, ``VALUES``, ``TABLE``,
   ``DESCRIBE``, ``SHOW``, ``SUMMARIZE`` included); writes, DDL, ``COPY``, ``SET``/``RESET``/
   ``PRAGMA``, ``ATTACH``, ``INSTALL``/``LOAD``, ``EXPORT`` and transaction control never reach
   the database. A query calling one of :data:`REFUSED_FUNCTIONS` (server files, large objects,
   other connections, settings, SQL run from a string) is refused too.
2. **A session that cannot write.** DuckDB: the file opened read-only, external access off but
   for the mirror's Parquet folders (the views read them), the configuration then locked.
   PostgreSQL: ``default_transaction_read_only`` set at connection, the query run in a
   ``READ ONLY`` transaction that is always rolled back, sent with the extended protocol (the
   server refuses more than one command there, whatever a parser thought).
3. **No privileges beyond reading.** On PostgreSQL a login that may (a superuser may) runs the
   query as the predefined role ``pg_read_all_data``: it reads every table and nothing of the
   host (no ``pg_read_file``, ``COPY ... PROGRAM``, ``lo_import``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from ctmirror.errors import UserSqlError
from ctmirror.warehouse.engine import create_warehouse_engine, is_duckdb
from ctmirror.warehouse.published import PUBLISHED_FOLDER
from ctmirror.warehouse.views import PARQUET_FOLDER

#: Functions a query may not call: they reach the server's files or other connections, change
#: settings (``set_config('role', ...)``), or run SQL given as a string past layer 1.
REFUSED_FUNCTIONS = frozenset({
    "set_config", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
    "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir",
    "lo_import", "lo_export", "lo_from_bytea", "lo_put", "lo_create", "lo_unlink",
    "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
    "cursor_to_xmlschema", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
    "pg_rotate_logfile", "pg_promote", "pg_switch_wal", "pg_create_restore_point",
    "pg_logical_emit_message", "pg_advisory_lock", "pg_advisory_xact_lock", "pg_sleep",
    "pg_file_write", "pg_file_rename", "pg_file_unlink",
})
_REFUSED_PREFIXES = ("dblink", "lo_", "pg_file_")
#: The predefined PostgreSQL role (14 and later) that reads all data and nothing else.
_READER_ROLE = "pg_read_all_data"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    #: The columns' SQL types as the database names them (``FLOAT[]``, ``int8``, ...).
    types: list[str] = field(default_factory=list)
    #: Rows of the result past ``max_rows``: counted, not fetched.
    more_rows: int = 0


def run_readonly(url: str, sql: str, *, parquet_root: Path | None = None,
                 max_rows: int | None = None) -> QueryResult:
    """Run the one query ``sql`` on the warehouse at ``url`` without any way to write it or
    reach the host. ``parquet_root`` is the mirror folder the DuckDB views read (its
    ``parquet`` folder is the only one the query may read files from). With ``max_rows``,
    only that many rows are fetched as Python values and the rest are counted.

    Raises ``UserSqlError`` (one line) for a refused statement or one the database rejects,
    ``ConfigError`` when the warehouse cannot be opened.
    """
    check_query(sql)
    engine = create_warehouse_engine(url, read_only=True, mirror_root=parquet_root)
    try:
        if is_duckdb(engine):
            return _run_duckdb(engine, sql, parquet_root, max_rows)
        return _run_postgres(engine, sql, max_rows)
    finally:
        engine.dispose()


def check_query(sql: str) -> None:
    """Raise ``UserSqlError`` unless ``sql`` is exactly one SELECT calling no refused
    function."""
    parser = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        try:
            statements = parser.extract_statements(sql)
        except duckdb.Error as exc:
            raise UserSqlError(f"SQL failed: {_first_line(exc)}") from None
        if not statements:
            raise UserSqlError("SQL refused: the query is empty")
        if len(statements) != 1:
            raise UserSqlError(f"SQL refused: {len(statements)} statements given; run one at a "
                               "time")
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise UserSqlError(f"SQL refused: only queries are run ({kind.name} given); "
                               "the warehouse is read-only here")
        row = parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    finally:
        parser.close()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise UserSqlError(f"SQL refused: {tree.get('error_message', 'cannot be parsed')}")
    refused = sorted({name for name in _function_names(tree) if _is_refused(name)})
    if refused:
        raise UserSqlError(f"SQL refused: {', '.join(refused)}() is not allowed here")


def _function_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("class") == "FUNCTION" and isinstance(node.get("function_name"), str):
            yield node["function_name"].lower()
        for value in node.values():
            yield from _function_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _function_names(value)


def _is_refused(name: str) -> bool:
    return name in REFUSED_FUNCTIONS or name.startswith(_REFUSED_PREFIXES)


def _run_duckdb(engine: sa.Engine, sql: str, parquet_root: Path | None,
                max_rows: int | None) -> QueryResult:
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        # allowed_directories can only be set on a running database, before access is closed.
        # The views name their files relative to the root: DuckDB checks that relative name
        # and the file it resolves to against the list, and allows the pair only when both
        # pass, so the relative entry opens nothing outside the root's parquet folder.
        allowed = [] if parquet_root is None else [
            f"{folder}/" for name in (PARQUET_FOLDER, PUBLISHED_FOLDER)
            for folder in (Path(parquet_root).resolve() / name, name)]
        if _locked(conn):
            # DuckDB keeps one database per file in a process: an earlier query locked it,
            # so it runs sandboxed only if the lock holds exactly this sandbox
            _check_sandbox(conn, allowed)
        else:
            conn.execute("SET allowed_directories = ?", [allowed])
            conn.execute("SET enable_external_access = false")
            conn.execute("SET lock_configuration = true")
        try:
            cursor = conn.execute(sql)
            description = cursor.description or []
            if max_rows is None:
                return QueryResult([d[0] for d in description],
                                   [tuple(r) for r in cursor.fetchall()],
                                   [str(d[1]) for d in description])
            rows = [tuple(r) for r in cursor.fetchmany(max_rows)]
            if len(rows) < max_rows:
                return QueryResult([d[0] for d in description], rows,
                                   [str(d[1]) for d in description])
            with warnings.catch_warnings():
                # the rest is only counted, in Arrow batches: no Python object per value
                warnings.simplefilter("ignore", UserWarning)
                more = sum(batch.num_rows for batch in cursor.to_arrow_reader(65536))
            return QueryResult([d[0] for d in description], rows,
                               [str(d[1]) for d in description], more)
        except duckdb.Error as exc:
            raise UserSqlError(f"SQL failed: {_first_line(exc)}") from None
    finally:
        raw.invalidate()  # a locked, sandboxed connection never goes back to the pool


def _locked(conn: Any) -> bool:
    row = conn.execute("SELECT current_setting('lock_configuration')").fetchone()
    return bool(row and row[0])


def _check_sandbox(conn: Any, allowed: list[str]) -> None:
    """Raise unless the locked settings are this sandbox's: no external access but the
    ``allowed`` folders (DuckDB stores them absolute, and adds its own temporary folder)."""
    row = conn.execute("SELECT current_setting('enable_external_access'), "
                       "current_setting('allowed_directories')").fetchone()
    wanted = {f"{Path(entry).resolve()}/" for entry in allowed}
    held = {entry for entry in (row[1] or []) if not entry.endswith(".tmp/")} if row else None
    if row is None or row[0] or held != wanted:
        raise UserSqlError("SQL refused: the warehouse's settings were locked otherwise in "
                           "this process; run the query in a new one")


def _run_postgres(engine: sa.Engine, sql: str, max_rows: int | None) -> QueryResult:
    import psycopg

    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        conn.rollback()
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SELECT CASE WHEN to_regrole(%s) IS NULL THEN false "
                           "ELSE pg_has_role(%s, 'MEMBER') END", [_READER_ROLE, _READER_ROLE])
            if cursor.fetchone()[0]:
                cursor.execute(f"SET LOCAL ROLE {_READER_ROLE}")
            try:
                # prepare=True: the extended protocol, where the server runs one command only
                cursor.execute(sql, prepare=True)
                description = cursor.description or []
                types = [_postgres_type(conn, d.type_code) for d in description]
                if max_rows is None:
                    return QueryResult([d.name for d in description],
                                       [tuple(r) for r in cursor.fetchall()], types)
                rows = [tuple(r) for r in cursor.fetchmany(max_rows)]
                more = 0
                while batch := cursor.fetchmany(10_000):
                    more += len(batch)
                return QueryResult([d.name for d in description], rows, types, more)
            except psycopg.Error as exc:
                raise UserSqlError(f"SQL failed: {_first_line(exc)}") from None
    finally:
        try:
            raw.driver_connection.rollback()  # type: ignore[union-attr]
        finally:
            raw.invalidate()


def _postgres_type(conn: Any, oid: int) -> str:
    """A PostgreSQL type's name, arrays as ``<element>[]`` (as DuckDB names them)."""
    info = conn.adapters.types.get(oid)  # an array's oid finds its element's TypeInfo
    if info is None:
        return ""
    return f"{info.name}[]" if info.oid != oid else str(info.name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["REFUSED_FUNCTIONS", "QueryResult", "check_query", "run_readonly"]
