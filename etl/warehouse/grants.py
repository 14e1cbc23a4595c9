"""Read-only access to a PostgreSQL warehouse for another role (BI tools, analysts).

``grant_reader`` gives a role what reading needs and nothing more: USAGE on the warehouse's
schema, SELECT on every table, view and materialized view in it, and the same SELECT on the
ones the writing role creates later (default privileges: a view the sync drops and creates
again stays readable). Writing, creating and sequences are not granted. DuckDB has no roles:
its readers open the published file read-only.
"""

from __future__ import annotations

import sqlalchemy as sa

from ctmirror.errors import ConfigError


def grant_reader(engine: sa.Engine, role: str) -> str:
    """Grant ``role`` read-only access to the warehouse's schema; return the schema's name."""
    if engine.dialect.name != "postgresql":
        raise ConfigError("grant-reader is for a PostgreSQL warehouse; DuckDB has no roles: "
                          "readers open the DuckDB file read-only")
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"),
                        {"role": role}).first() is None:
            raise ConfigError(f"role {role!r} does not exist: create it first "
                              f"(CREATE ROLE {quote(role)} LOGIN PASSWORD '...')")
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        who, where = quote(role), quote(schema)
        for statement in (
            f"GRANT USAGE ON SCHEMA {where} TO {who}",
            # ALL TABLES covers views and materialized views.
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {where} TO {who}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {where} GRANT SELECT ON TABLES TO {who}",
        ):
            conn.exec_driver_sql(statement)
    return str(schema)


__all__ = ["grant_reader"]
