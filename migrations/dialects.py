"""Alembic support for DuckDB through duckdb-engine.

Alembic looks its dialect implementations up by dialect name; duckdb-engine ships none, so this
module registers one on import (as the duckdb-engine README asks). DuckDB rolls back DDL inside a
transaction, so each migration can run in one transaction, as on PostgreSQL.
"""

from __future__ import annotations

from alembic.ddl.impl import DefaultImpl


class AlembicDuckDBImpl(DefaultImpl):
    __dialect__ = "duckdb"
    transactional_ddl = True


__all__ = ["AlembicDuckDBImpl"]
