"""`ctmirror db grant-reader ROLE`: a role that may read every table and view, now and later,
and may write and create nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.errors import ConfigError


@pytest.fixture
def reader_role(engine: sa.Engine) -> Iterator[str]:
    role = f"ctmirror_reader_{uuid.uuid4().hex[:8]}"
    if engine.dialect.name != "postgresql":
        yield role
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    yield role
    with engine.begin() as conn:  # roles belong to the cluster, not to the test's database
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE "{role}"')


def test_granted_role_reads_everything_and_writes_nothing(
    engine: sa.Engine, reader_role: str
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "grant-reader", reader_role, "--db", url])
    if engine.dialect.name != "postgresql":
        # The CLI's entry point prints a ConfigError as one line and exits 1.
        assert isinstance(result.exception, ConfigError)
        assert "grant-reader is for a PostgreSQL warehouse" in str(result.exception)
        return
    assert result.exit_code == 0, result.output
    assert f"{reader_role} may read schema public" in result.output
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO sync_runs (sync_id, started_at, status, api_base) "
                             "VALUES ('s1', now(), 'succeeded', 'http://api')")
        # Created after the grant, as the sync does with its views.
        conn.exec_driver_sql("CREATE VIEW later_view AS SELECT sync_id FROM sync_runs")
        conn.exec_driver_sql("CREATE MATERIALIZED VIEW later_matview AS "
                             "SELECT count(*) AS runs FROM sync_runs")
    reader = sa.create_engine(engine.url.set(username=reader_role, password=None))
    try:
        with reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT sync_id FROM sync_runs").all() == [("s1",)]
            assert conn.exec_driver_sql("SELECT sync_id FROM later_view").all() == [("s1",)]
            assert conn.exec_driver_sql("SELECT runs FROM later_matview").all() == [(1,)]
            assert conn.exec_driver_sql("SELECT count(*) FROM ephys_spikes").scalar() == 0
        for statement in ("INSERT INTO sync_runs (sync_id, started_at, status, api_base) "
                          "VALUES ('s2', now(), 'running', 'x')",
                          "DELETE FROM sync_runs",
                          "CREATE TABLE mine (x int)",
                          "CREATE VIEW mine AS SELECT 1 AS x"):
            with reader.connect() as conn, pytest.raises(sa.exc.ProgrammingError,
                                                         match="permission denied"):
                conn.exec_driver_sql(statement)
    finally:
        reader.dispose()


def test_grant_reader_names_a_missing_role(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "grant-reader", "no_such_role_x", "--db", url])
    assert isinstance(result.exception, ConfigError)
    assert "role 'no_such_role_x' does not exist" in str(result.exception)
