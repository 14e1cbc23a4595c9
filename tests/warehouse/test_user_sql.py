"""``ctmirror sql`` is read-only on both backends: every statement that would write the
warehouse, reach the host (files, programs, extensions, other databases) or unlock the session
is refused with a one-line error, and the warehouse and the host are left as they were."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.errors import CtMirrorError

CANARY = "canary: host file, never to be read or written\n"

#: Statements ``ctmirror sql`` refuses, whichever backend they were written for; ``{canary}``
#: is a host file outside the mirror, ``{tmp}`` a host folder.
REFUSED = [
    # writes and DDL
    "DELETE FROM donors WHERE id = 1",
    "UPDATE donors SET name = 'x'",
    "INSERT INTO donors (id) VALUES (99)",
    "TRUNCATE donors",
    "CREATE TABLE evil (a INTEGER)",
    "ALTER TABLE donors ADD COLUMN evil INTEGER",
    "DROP TABLE sync_errors CASCADE",
    "CREATE OR REPLACE VIEW sweeps AS SELECT 1 AS a",
    "WITH gone AS (DELETE FROM donors RETURNING *) SELECT * FROM gone",
    "SELECT nextval('sync_errors_error_id_seq')",
    # transaction escapes
    "DELETE FROM donors WHERE id > 0; COMMIT",
    "DROP TABLE sync_errors CASCADE; COMMIT",
    "COMMIT; DELETE FROM donors",
    "SELECT 1; DELETE FROM donors",
    "BEGIN; DELETE FROM donors; COMMIT",
    "BEGIN READ WRITE",
    "ROLLBACK",
    # settings that guard the session
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET transaction_read_only = off",
    "RESET ALL",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET lock_configuration = false",
    "PRAGMA enable_profiling",
    # host files, programs, extensions, other databases
    "COPY (SELECT 1) TO '{canary}'",
    "COPY donors TO '{canary}'",
    "COPY donors FROM '{canary}'",
    "COPY (SELECT 1) TO PROGRAM 'touch {canary}.pwned'",
    "COPY donors FROM PROGRAM 'touch {canary}.pwned'",
    "SELECT content FROM read_text('{canary}')",
    "SELECT * FROM read_csv('{canary}')",
    # relative to the mirror root, as the views name their files, but leaving its folders
    "SELECT * FROM read_csv('parquet/../../host/canary.txt')",
    "SELECT * FROM read_csv('published/../../host/canary.txt')",
    "SELECT * FROM glob('{tmp}/*')",
    "SELECT pg_read_file('{canary}')",
    "SELECT pg_ls_dir('{tmp}')",
    "SELECT lo_import('{canary}')",
    "SELECT query_to_xml('COPY (SELECT 1) TO PROGRAM ''touch {canary}.pwned''', true, false, '')",
    "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(a INTEGER)",
    "SELECT dblink_exec('dbname=postgres', 'DROP TABLE donors')",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "EXPORT DATABASE '{tmp}/export'",
]


def _sql(query: str, url: str, root: Path) -> tuple[BaseException | None, str]:
    result = CliRunner().invoke(app, ["sql", "--db", url, "--root", str(root),
                                       "--format", "csv", "--", query])
    return result.exception, result.output


def _warehouse_digest(url: str, root: Path) -> dict[str, str]:
    """Every table's and view's name with a hash of its rows (what a refused statement must not
    change)."""
    from ctmirror.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(url, mirror_root=root)
    try:
        inspector = sa.inspect(engine)
        names = sorted(inspector.get_table_names()) + sorted(inspector.get_view_names())
        out = {}
        with engine.connect() as conn:
            for name in names:
                result = conn.exec_driver_sql(f'SELECT * FROM "{name}"')
                rows = sorted(repr(tuple(r)) for r in result)
                out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return out
    finally:
        engine.dispose()


@pytest.fixture
def warehouse(warehouse_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A migrated warehouse with three donors and one error row, its Parquet views published."""
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.migrate import upgrade_engine
    from ctmirror.warehouse.views import publish_parquet_views

    root = tmp_path / "root"
    engine = create_warehouse_engine(warehouse_url, mirror_root=root)
    upgrade_engine(engine)
    with engine.begin() as conn:
        for donor_id, name in ((1, "a"), (2, "b"), (3, "c")):
            conn.exec_driver_sql(
                "INSERT INTO donors (id, name, raw, content_hash, first_seen, last_seen, "
                "first_sync_id, last_sync_id) VALUES "
                f"({donor_id}, '{name}', '{{}}', 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                "'s', 's')")
        conn.exec_driver_sql(
            "INSERT INTO sync_errors (sync_id, message, occurred_at) "
            "VALUES ('s', 'boom', CURRENT_TIMESTAMP)")
    publish_parquet_views(engine, root)
    engine.dispose()
    yield warehouse_url, root


def test_sql_refuses_every_write_and_host_access(warehouse: tuple[str, Path],
                                                 tmp_path: Path) -> None:
    url, root = warehouse
    host = tmp_path / "host"
    host.mkdir()
    canary = host / "canary.txt"
    canary.write_text(CANARY)
    before = _warehouse_digest(url, root)
    assert before and "donors" in before and "sync_errors" in before

    accepted = []
    for template in REFUSED:
        query = template.format(canary=canary, tmp=host)
        error, output = _sql(query, url, root)
        if not isinstance(error, CtMirrorError):
            accepted.append(f"{query!r} -> {output.strip() or error!r}")
            continue
        message = str(error)
        assert "\n" not in message and message.strip(), query
        assert "canary" not in output.replace(str(canary), ""), query

    assert accepted == [], "accepted:\n" + "\n".join(accepted)
    assert _warehouse_digest(url, root) == before
    assert sorted(p.name for p in host.iterdir()) == ["canary.txt"]
    assert canary.read_text() == CANARY


def test_sql_still_answers_queries(warehouse: tuple[str, Path]) -> None:
    url, root = warehouse
    error, output = _sql("SELECT count(*) AS n, max(name) AS last FROM donors", url, root)
    assert error is None, output
    assert output.splitlines() == ["n,last", "3,c"]
    # a statement that ends with a semicolon, comments, a CTE and a join are one statement
    error, output = _sql("-- the donors\nWITH d AS (SELECT id FROM donors) "
                         "SELECT count(*) AS n FROM d JOIN donors USING (id);", url, root)
    assert error is None, output
    assert output.splitlines() == ["n", "3"]


def test_sql_reads_the_parquet_views_on_duckdb(warehouse: tuple[str, Path]) -> None:
    url, root = warehouse
    if not url.startswith("duckdb"):
        pytest.skip("PostgreSQL has no Parquet views")
    for view in ("sweeps", "reconstruction_nodes", "reconstruction_markers"):
        error, output = _sql(f"SELECT count(*) AS n FROM {view}", url, root)
        assert error is None, output
        assert output.splitlines() == ["n", "0"]


#: Refused by the session alone, without the query check: the layers do not lean on each other.
REFUSED_BY_THE_SESSION = [
    "DELETE FROM donors",
    "DROP TABLE sync_errors CASCADE",
    "COMMIT; DELETE FROM donors",
    "SELECT 1; DELETE FROM donors; COMMIT",
    "WITH gone AS (DELETE FROM donors RETURNING *) SELECT * FROM gone",
    "SET enable_external_access = true",
    "COPY (SELECT 1) TO '{canary}'",
    "SELECT content FROM read_text('{canary}')",
    "SELECT pg_read_file('{canary}')",
    "COPY (SELECT 1) TO PROGRAM 'touch {canary}.pwned'",
    "SELECT lo_import('{canary}')",
]


def test_the_session_refuses_without_the_query_check(warehouse: tuple[str, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ctmirror.warehouse import user_sql

    url, root = warehouse
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    before = _warehouse_digest(url, root)
    monkeypatch.setattr(user_sql, "check_query", lambda sql: None)
    accepted = []
    for template in REFUSED_BY_THE_SESSION:
        query = template.format(canary=canary)
        try:
            result = user_sql.run_readonly(url, query, parquet_root=root)
        except CtMirrorError as exc:
            assert "\n" not in str(exc)
        else:
            accepted.append(f"{query!r} -> {result}")
    assert accepted == []
    assert _warehouse_digest(url, root) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("canary")) == [
        "canary.txt"]
    assert canary.read_text() == CANARY
