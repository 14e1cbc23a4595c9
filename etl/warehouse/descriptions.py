"""Descriptions of every table, view and column of the warehouse, as the database's own comments
(I/O edge).

The text comes from one place per kind of object: SQLAlchemy ``comment`` on the tables and
columns of ``ctmirror.schema``, the Arrow field metadata of the Parquet datasets (their DuckDB
views), ``ctmirror.warehouse.views`` for the comparison views and
``ctmirror.schema.analyst.ANALYST_VIEWS`` for the analyst views. ``apply_descriptions`` writes
them with ``COMMENT ON`` (idempotent: it sets every comment again); a view that is replaced
loses its comments, so they are applied after the views are published. ``described_objects``
and ``described_columns`` read them back, the same way on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ctmirror.schema import metadata
from ctmirror.schema.analyst import ANALYST_VIEWS
from ctmirror.warehouse.engine import is_duckdb
from ctmirror.warehouse.views import view_descriptions

#: The table Alembic keeps the schema's revision in (no ``ctmirror.schema`` table).
ALEMBIC_VERSION = ("alembic_version", "the Alembic revision the warehouse schema is at "
                   "(`ctmirror db current`)", {"version_num": "revision id (hex)"})

_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}


@dataclass(frozen=True)
class Described:
    """A table or view with its description and its columns' descriptions."""

    name: str
    description: str
    columns: dict[str, str]


@dataclass(frozen=True)
class DescribedObject:
    name: str
    #: TABLE, VIEW or MATERIALIZED VIEW
    kind: str
    description: str | None


@dataclass(frozen=True)
class DescribedColumn:
    table: str
    name: str
    type: str
    description: str | None


def descriptions() -> Iterator[Described]:
    """Every description the warehouse can hold, whether or not its object exists yet."""
    for table in metadata.sorted_tables:
        yield Described(table.name, table.comment or "",
                        {c.name: c.comment or "" for c in table.columns})
    yield Described(*ALEMBIC_VERSION)
    for name, description, columns in view_descriptions():
        yield Described(name, description, dict(columns))
    for view in ANALYST_VIEWS:
        yield Described(view.name, view.description,
                        {c.name: c.description for c in view.columns})


def apply_descriptions(conn: sa.Connection) -> int:
    """``COMMENT ON`` every existing table, view and column that has a description; return how
    many comments were set."""
    objects = {o.name: o for o in described_objects(conn)}
    columns = {(c.table, c.name) for c in described_columns(conn)}
    count = 0
    for described in descriptions():
        found = objects.get(described.name)
        if found is None:
            continue
        if described.description:
            _execute(conn, f'COMMENT ON {found.kind} "{found.name}" IS '
                           f"{_literal(described.description)}")
            count += 1
        for column, text in described.columns.items():
            if text and (found.name, column) in columns:
                _execute(conn, f'COMMENT ON COLUMN "{found.name}"."{column}" IS '
                               f"{_literal(text)}")
                count += 1
    return count


def described_objects(conn: sa.Connection) -> list[DescribedObject]:
    """Every table and view of the warehouse's schema with its comment, by name."""
    if is_duckdb(conn):
        rows = conn.exec_driver_sql(
            "SELECT table_name, 'TABLE', comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = current_schema() "
            "UNION ALL SELECT view_name, 'VIEW', comment FROM duckdb_views() "
            "WHERE NOT internal AND database_name = current_database() "
            "AND schema_name = current_schema() ORDER BY 1")
        return [DescribedObject(name, kind, comment) for name, kind, comment in rows]
    rows = conn.exec_driver_sql(
        "SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') "
        "ORDER BY 1")
    return [DescribedObject(name, _KINDS[kind], comment) for name, kind, comment in rows]


def described_columns(conn: sa.Connection, table: str | None = None
                      ) -> list[DescribedColumn]:
    """The columns of every table and view (or of ``table``) with type and comment, in order."""
    if is_duckdb(conn):
        sql = ("SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
               "WHERE NOT internal AND database_name = current_database() "
               "AND schema_name = current_schema()")
        order = " ORDER BY table_name, column_index"
    else:
        sql = ("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
               "col_description(c.oid, a.attnum) FROM pg_attribute a "
               "JOIN pg_class c ON c.oid = a.attrelid "
               "JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') "
               "AND a.attnum > 0 AND NOT a.attisdropped")
        order = " ORDER BY c.relname, a.attnum"
    if table is not None:
        sql += f" AND {'table_name' if is_duckdb(conn) else 'c.relname'} = {_literal(table)}"
    rows: list[Any] = list(_execute(conn, sql + order))
    return [DescribedColumn(str(name), str(column), str(type_), comment)
            for name, column, type_, comment in rows]


def missing_descriptions(conn: sa.Connection) -> list[tuple[str, str]]:
    """(table, column) of every column without a description; (table, '') for a table or view
    without one."""
    missing = [(o.name, "") for o in described_objects(conn) if not o.description]
    return missing + [(c.table, c.name) for c in described_columns(conn) if not c.description]


def _execute(conn: sa.Connection, sql: str) -> sa.CursorResult[Any]:
    """Run literal SQL; psycopg reads ``%`` as a placeholder even without parameters."""
    return conn.exec_driver_sql(sql if is_duckdb(conn) else sql.replace("%", "%%"))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


__all__ = ["ALEMBIC_VERSION", "Described", "DescribedColumn", "DescribedObject",
           "apply_descriptions", "described_columns", "described_objects", "descriptions",
           "missing_descriptions"]
