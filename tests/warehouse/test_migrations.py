"""Alembic on DuckDB and PostgreSQL: one head, no drift from ``schema``, a round trip with data."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from ctmirror import schema
from ctmirror.errors import SchemaError
from ctmirror.schema.dataset_tables import DATASET_TABLES, postgres_only_metadata
from ctmirror.warehouse import migrate
from ctmirror.warehouse.engine import create_warehouse_engine


def test_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1
    assert migrate.head_revision() == script.get_heads()[0]


def test_revision_files_are_date_prefixed_and_do_not_import_schema() -> None:
    revisions = sorted((migrate.MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert revisions
    for path in revisions:
        text = path.read_text()
        assert path.name[:11].replace("_", "").isdigit(), path.name
        assert "import schema" not in text and "from schema" not in text
        assert "def downgrade() -> None:" in text


def test_upgrade_matches_schema(warehouse_url: str) -> None:
    migrate.upgrade(warehouse_url)
    assert migrate.current(warehouse_url) == migrate.head_revision()
    engine = create_warehouse_engine(warehouse_url)
    try:
        # The dataset tables are PostgreSQL's alone: DuckDB has views of the same names.
        targets = [schema.metadata] + ([] if engine.dialect.name == "duckdb"
                                       else [postgres_only_metadata])
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), targets) == []
    finally:
        engine.dispose()


def test_dataset_tables_go_and_come_back_with_their_revision(warehouse_url: str) -> None:
    engine = create_warehouse_engine(warehouse_url)
    try:
        migrate.upgrade(warehouse_url)
        on_postgres = engine.dialect.name == "postgresql"
        tables = set(sa.inspect(engine).get_table_names())
        assert (set(DATASET_TABLES) <= tables) is on_postgres
        assert not set(DATASET_TABLES) & tables or on_postgres
        engine.dispose()
        migrate.downgrade(warehouse_url, "8a4c6e2f1b57")
        inspector = sa.inspect(engine)
        assert not set(DATASET_TABLES) & set(inspector.get_table_names())
        assert "data_tests" not in {c["name"] for c in inspector.get_columns("sync_runs")}
        engine.dispose()
        migrate.upgrade(warehouse_url)
        assert (set(DATASET_TABLES) <= set(sa.inspect(engine).get_table_names())) is on_postgres
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back_with_data(warehouse_url: str) -> None:
    migrate.upgrade(warehouse_url)
    engine = create_warehouse_engine(warehouse_url)
    donors = schema.Donor.__table__
    row = {"id": 1, "name": "H16.06.013", "raw": {"id": 1}, "content_hash": "h",
           "first_seen": sa.func.now(), "last_seen": sa.func.now(), "first_sync_id": "s",
           "last_sync_id": "s"}
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(donors).values(row))
            conn.execute(sa.insert(schema.SyncError.__table__).values(
                sync_id="s", message="m", occurred_at=sa.func.now()))
        engine.dispose()
        migrate.downgrade(warehouse_url, "base")
        assert migrate.current(warehouse_url) is None
        assert "donors" not in sa.inspect(engine).get_table_names()
        engine.dispose()
        migrate.upgrade(warehouse_url)
        with engine.begin() as conn:
            conn.execute(sa.insert(donors).values(row))
            assert conn.execute(sa.select(donors.c.name)).scalar_one() == "H16.06.013"
            # The error-id sequence was dropped and recreated with its table.
            conn.execute(sa.insert(schema.SyncError.__table__).values(
                sync_id="s", message="m", occurred_at=sa.func.now()))
            assert conn.execute(sa.text("SELECT error_id FROM sync_errors")).scalar_one() == 1
    finally:
        engine.dispose()


def test_ensure_at_head_refuses_an_old_database(warehouse_url: str) -> None:
    engine = create_warehouse_engine(warehouse_url)
    try:
        with pytest.raises(SchemaError,
                           match="code expects .*run `ctmirror db upgrade --(root|db) "):
            migrate.ensure_at_head(engine)
        migrate.upgrade_engine(engine)
        migrate.ensure_at_head(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '000000000000'"))
        with pytest.raises(SchemaError, match="does not know"):
            migrate.ensure_at_head(engine)
    finally:
        engine.dispose()


def test_prepare_warehouse_creates_a_new_one_but_never_migrates_an_old_one(
    warehouse_url: str,
) -> None:
    engine = create_warehouse_engine(warehouse_url)
    try:
        migrate.prepare_warehouse(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        migrate.prepare_warehouse(engine)  # at head: nothing to do
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM alembic_version"))
        with pytest.raises(SchemaError):
            migrate.prepare_warehouse(engine)
    finally:
        engine.dispose()


def test_db_commands(warehouse_url: str) -> None:
    from ctmirror.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "--db", warehouse_url])
    assert result.exit_code == 0, result.output
    head = migrate.head_revision()
    assert f"warehouse at {head}" in result.output
    result = runner.invoke(app, ["db", "current", "--db", warehouse_url])
    assert result.exit_code == 0 and f"{head} (code expects {head}: at head)" in result.output
    result = runner.invoke(app, ["db", "downgrade", "--revision", "base", "--db", warehouse_url])
    assert result.exit_code == 0 and "warehouse at base" in result.output


def test_db_upgrade_defaults_to_the_root(tmp_path: Path) -> None:
    from ctmirror.cli import app

    result = CliRunner().invoke(app, ["db", "upgrade", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "warehouse.duckdb").is_file()
