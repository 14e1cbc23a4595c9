"""Schema migrations from code: Alembic on the warehouse, with no alembic.ini needed (I/O edge)."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

import ctmirror.migrations.dialects  # noqa: F401  (registers Alembic's DuckDB implementation)
from ctmirror import migrations
from ctmirror.errors import SchemaError
from ctmirror.warehouse.engine import create_warehouse_engine, warehouse_options

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(migrations.__file__).parent
#: New revision files sort by date: ``2025_01_31_<rev>_<slug>.py``.
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"


def alembic_config(url: str | None = None, *, connection: sa.Connection | None = None) -> Config:
    """An Alembic config for this project's migrations, built in code.

    With ``connection``, migrations run on it inside the caller's transaction.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision the code expects the warehouse to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaError("no migrations found: the ctmirror installation is incomplete")
    return head


def upgrade(url: str, revision: str = "head", *, mirror_root: Path | None = None) -> None:
    """Migrate the warehouse at ``url`` (of the mirror at ``mirror_root``, whose Parquet files
    its views read) up to ``revision``, all in one transaction."""
    engine = create_warehouse_engine(url, mirror_root=mirror_root)
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def upgrade_engine(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate up to ``revision`` in one transaction. The analyst views are dropped first (a
    migration may alter the tables they read) and, at head, published again with every
    description, so a fresh warehouse has them before its first sync."""
    from ctmirror.warehouse.analyst import drop_analyst_views, publish_analyst_views
    from ctmirror.warehouse.descriptions import apply_descriptions

    with engine.begin() as conn:
        drop_analyst_views(conn)
        command.upgrade(alembic_config(connection=conn), revision)
        if MigrationContext.configure(conn).get_current_revision() == head_revision():
            publish_analyst_views(conn)
            apply_descriptions(conn)


def downgrade(url: str, revision: str, *, mirror_root: Path | None = None) -> None:
    """Migrate the warehouse at ``url`` down to ``revision`` (``base`` drops every table)."""
    from ctmirror.warehouse.analyst import drop_analyst_views

    engine = create_warehouse_engine(url, mirror_root=mirror_root)
    try:
        with engine.begin() as conn:
            drop_analyst_views(conn)
            command.downgrade(alembic_config(connection=conn), revision)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The warehouse's revision, or None for a database no migration has touched."""
    engine = create_warehouse_engine(url, read_only=True)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_at_head(engine: sa.Engine) -> None:
    """Raise ``SchemaError`` unless the warehouse is at the revision the code expects."""
    at, expected = current_revision(engine), head_revision()
    if at == expected:
        return
    script = ScriptDirectory.from_config(alembic_config())
    if at is not None and not _known(script, at):
        raise SchemaError(f"warehouse at {at}, which this ctmirror does not know (a newer "
                          "version migrated it): upgrade ctmirror")
    raise SchemaError(f"warehouse at {at or 'no revision'}, code expects {expected}: "
                      f"run `ctmirror db upgrade{warehouse_options(engine.url)}`")


def prepare_warehouse(engine: sa.Engine) -> None:
    """Create the schema in a brand-new warehouse; otherwise insist it is at head.

    An existing warehouse is never migrated implicitly: ``ctmirror db upgrade`` does that.
    """
    if current_revision(engine) is None and not sa.inspect(engine).get_table_names():
        log.info("empty warehouse: creating the schema at %s", head_revision())
        upgrade_engine(engine, "head")
        return
    ensure_at_head(engine)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current",
    "current_revision",
    "downgrade",
    "ensure_at_head",
    "head_revision",
    "prepare_warehouse",
    "upgrade",
    "upgrade_engine",
]
