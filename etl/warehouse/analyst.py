"""Publishing the analyst views (``ctmirror.schema.analyst``) on the warehouse (I/O edge).

DuckDB gets plain views. On PostgreSQL the views that join derived data are MATERIALIZED, so a
BI reader never sees half a sync; every view is dropped and created again in ONE transaction
(PostgreSQL's DDL is transactional), so readers see every view before or after, never a mix,
and a changed definition takes effect at the next sync. The privileges granted on a view (a
read-only role) are granted again on its new version.
"""

from __future__ import annotations

import sqlalchemy as sa

from ctmirror.schema.analyst import ANALYST_VIEWS, AnalystView
from ctmirror.warehouse.descriptions import apply_descriptions
from ctmirror.warehouse.engine import is_duckdb

#: ``pg_class.relkind`` of a view and a materialized view.
_VIEW_KINDS = {"v": "VIEW", "m": "MATERIALIZED VIEW"}


def publish_analyst_layer(engine: sa.Engine) -> list[str]:
    """Create or replace every analyst view and set every description of the warehouse, in one
    transaction (the end of a sync); return the views' names."""
    with engine.begin() as conn:
        names = publish_analyst_views(conn)
        apply_descriptions(conn)
    return names


def publish_analyst_views(conn: sa.Connection) -> list[str]:
    """Create or replace every analyst view inside the caller's transaction."""
    if is_duckdb(conn):
        for view in ANALYST_VIEWS:
            conn.execute(sa.text(f'CREATE OR REPLACE VIEW "{view.name}" AS {view.select}'))
    else:
        _replace_on_postgres(conn)
    return [view.name for view in ANALYST_VIEWS]


def drop_analyst_views(conn: sa.Connection) -> None:
    """Drop every analyst view, so a migration may alter or drop the tables they read."""
    if is_duckdb(conn):
        for view in reversed(ANALYST_VIEWS):
            conn.exec_driver_sql(f'DROP VIEW IF EXISTS "{view.name}"')
        return
    existing = _existing(conn)
    for view in reversed(ANALYST_VIEWS):
        kind = existing.get(view.name)
        if kind in _VIEW_KINDS:
            conn.exec_driver_sql(f'DROP {_VIEW_KINDS[kind]} "{view.name}"')


def postgres_kind(view: AnalystView) -> str:
    """What ``view`` is on PostgreSQL: a MATERIALIZED VIEW when it joins derived data."""
    return _VIEW_KINDS["m" if view.derived else "v"]


def _existing(conn: sa.Connection) -> dict[str, str]:
    """``pg_class.relkind`` of the analyst views that exist, by name."""
    return {row.relname: row.relkind for row in conn.execute(sa.text(
        "SELECT c.relname, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(:names)"),
        {"names": [view.name for view in ANALYST_VIEWS]})}


def _replace_on_postgres(conn: sa.Connection) -> None:
    names = [view.name for view in ANALYST_VIEWS]
    regrants = [(row.relname, row.privilege_type, row.grantee) for row in conn.execute(sa.text(
        "SELECT c.relname, a.privilege_type, "
        "       CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "            ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "     aclexplode(c.relacl) a "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(:names) "
        "  AND a.grantee <> c.relowner"), {"names": names})]
    drop_analyst_views(conn)
    for view in ANALYST_VIEWS:
        conn.execute(sa.text(f'CREATE {postgres_kind(view)} "{view.name}" AS {view.select}'))
    for name, privilege, grantee in regrants:
        conn.exec_driver_sql(f'GRANT {privilege} ON "{name}" TO {grantee}')


__all__ = ["drop_analyst_views", "postgres_kind", "publish_analyst_layer",
           "publish_analyst_views"]
