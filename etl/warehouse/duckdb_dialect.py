"""duckdb-engine's dialect with column reflection that works on SQLAlchemy 2.1.

duckdb-engine reflects columns with PostgreSQL's catalog query, which since SQLAlchemy 2.0.45
joins ``pg_collation.collnamespace`` (DuckDB's stub view has no such column) and hands rows to a
private helper whose signature changed in 2.1. This dialect asks DuckDB's own catalog
(``duckdb_columns()``) instead, so ``Inspector.get_columns`` and Alembic's ``compare_metadata``
work. Engines get it through the URL ``duckdb+ctmirror://``; the dialect name stays ``duckdb``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

import duckdb_engine
import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.engine.interfaces import (
    ReflectedCheckConstraint,
    ReflectedColumn,
    ReflectedForeignKeyConstraint,
    ReflectedIndex,
    ReflectedPrimaryKeyConstraint,
    ReflectedTableComment,
    ReflectedUniqueConstraint,
)
from sqlalchemy.engine.reflection import ReflectionDefaults
from sqlalchemy.types import TypeEngine

DRIVER = "ctmirror"

_TYPES: dict[str, TypeEngine[Any]] = {
    "BIGINT": sa.BigInteger(),
    "INTEGER": sa.Integer(),
    "SMALLINT": sa.SmallInteger(),
    "DOUBLE": sa.Double(),
    "FLOAT": sa.Float(),
    "BOOLEAN": sa.Boolean(),
    # DuckDB strings are unbounded: TEXT is an alias of VARCHAR and reads back as VARCHAR.
    "VARCHAR": sa.Text(),
    "JSON": sa.JSON(),
    "DATE": sa.Date(),
    "TIMESTAMP": sa.DateTime(),
    "TIMESTAMP WITH TIME ZONE": sa.DateTime(timezone=True),
}
_V = TypeVar("_V")
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def reflected_type(duckdb_type: str) -> TypeEngine[Any]:
    """The SQLAlchemy type for a DuckDB ``data_type`` string."""
    if (decimal := _DECIMAL.fullmatch(duckdb_type)) is not None:
        return sa.Numeric(int(decimal[1]), int(decimal[2]))
    return _TYPES.get(duckdb_type, sa.types.NULLTYPE)


_Key = tuple[str | None, str]


class WarehouseDuckDBDialect(duckdb_engine.Dialect):
    supports_statement_cache = False

    def get_multi_columns(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> list[tuple[_Key, list[ReflectedColumn]]]:
        tables: dict[_Key, list[ReflectedColumn]] = {}
        rows = self._catalog(
            connection, "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "comment FROM duckdb_columns() WHERE {scope} ORDER BY table_name, column_index",
            schema)
        for table, column, data_type, nullable, default, comment in rows:
            if filter_names is None or table in filter_names:
                tables.setdefault((schema, table), []).append(ReflectedColumn(
                    name=column, type=reflected_type(data_type), nullable=bool(nullable),
                    default=default, autoincrement=False, comment=comment,
                ))
        return list(tables.items())

    def get_multi_pk_constraint(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> Iterable[tuple[_Key, ReflectedPrimaryKeyConstraint]]:
        found = {
            (schema, table): ReflectedPrimaryKeyConstraint(
                constrained_columns=list(columns), name=name)
            for table, name, columns in self._constraints(connection, schema, "PRIMARY KEY")
        }
        return self._per_table(connection, schema, filter_names, found,
                               ReflectionDefaults.pk_constraint)

    def get_multi_unique_constraints(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> Iterable[tuple[_Key, list[ReflectedUniqueConstraint]]]:
        found: dict[_Key, list[ReflectedUniqueConstraint]] = {}
        for table, name, columns in self._constraints(connection, schema, "UNIQUE"):
            found.setdefault((schema, table), []).append(
                ReflectedUniqueConstraint(name=name, column_names=list(columns)))
        return self._per_table(connection, schema, filter_names, found,
                               ReflectionDefaults.unique_constraints)

    def get_multi_foreign_keys(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        postgresql_ignore_search_path: bool = False, **kw: Any,
    ) -> Iterable[tuple[_Key, list[ReflectedForeignKeyConstraint]]]:
        # The warehouse declares no foreign keys on DuckDB (they block ALTER TABLE).
        return self._per_table(connection, schema, filter_names, {},
                               ReflectionDefaults.foreign_keys)

    def get_multi_indexes(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> Iterable[tuple[_Key, list[ReflectedIndex]]]:
        # The warehouse creates no secondary indexes on DuckDB (they block ALTER TABLE).
        return self._per_table(connection, schema, filter_names, {}, ReflectionDefaults.indexes)

    def get_multi_check_constraints(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> Iterable[tuple[_Key, list[ReflectedCheckConstraint]]]:
        return self._per_table(connection, schema, filter_names, {},
                               ReflectionDefaults.check_constraints)

    def get_multi_table_comment(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> Iterable[tuple[_Key, ReflectedTableComment]]:
        found: dict[_Key, ReflectedTableComment] = {
            (schema, table): ReflectedTableComment(text=comment)
            for table, comment in self._catalog(
                connection, "SELECT table_name, comment FROM duckdb_tables() WHERE {scope} "
                "AND comment IS NOT NULL", schema)}
        return self._per_table(connection, schema, filter_names, found,
                               ReflectionDefaults.table_comment)

    def get_multi_table_options(
        self, connection: sa.Connection, schema: str | None = None,
        filter_names: Collection[str] | None = None, scope: Any = None, kind: Any = None,
        **kw: Any,
    ) -> Iterable[tuple[_Key, dict[str, Any]]]:
        return self._per_table(connection, schema, filter_names, {},
                               ReflectionDefaults.table_options)

    @staticmethod
    def _catalog(connection: sa.Connection, query: str, schema: str | None,
                 **params: object) -> sa.CursorResult[*tuple[Any, ...]]:
        scope = ("database_name = current_database() "
                 "AND schema_name = coalesce(:schema, current_schema())")
        return connection.execute(sa.text(query.format(scope=scope)),
                                  {"schema": schema, **params})

    def _constraints(self, connection: sa.Connection, schema: str | None,
                     kind: str) -> sa.CursorResult[*tuple[Any, ...]]:
        return self._catalog(
            connection, "SELECT table_name, constraint_name, constraint_column_names "
            "FROM duckdb_constraints() WHERE {scope} AND constraint_type = :kind "
            "ORDER BY table_name, constraint_index", schema, kind=kind)

    def _per_table(self, connection: sa.Connection, schema: str | None,
                   filter_names: Collection[str] | None, found: dict[_Key, _V],
                   default: Callable[[], _V]) -> Iterable[tuple[_Key, _V]]:
        tables = self._catalog(
            connection, "SELECT table_name FROM duckdb_tables() WHERE {scope} "
            "AND NOT internal", schema).scalars()
        return [
            ((schema, table), found.get((schema, table)) or default())
            for table in tables
            if filter_names is None or table in filter_names
        ]


registry.register(f"duckdb.{DRIVER}", __name__, "WarehouseDuckDBDialect")

__all__ = ["DRIVER", "WarehouseDuckDBDialect", "reflected_type"]
