"""Alembic environment: run migrations on the warehouse (DuckDB or PostgreSQL).

Run through ``ctmirror.warehouse.migrate`` (``ctmirror db ...``), which builds the Alembic config in
code and hands over an open connection in ``config.attributes["connection"]``. Without one the
URL comes from ``sqlalchemy.url`` or, failing that, from ``ctmirror.settings``. Offline mode prints
the SQL instead of running it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import ctmirror.migrations.dialects  # noqa: F401  (registers Alembic's DuckDB implementation)
from ctmirror import schema
from ctmirror.settings import Settings

config = context.config
target_metadata = schema.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().warehouse_url()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from ctmirror.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(_url())
    try:
        with engine.begin() as conn:
            _run_on(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
