"""The faults suite's reference: one fault-free sync of the synthetic corpus per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.faults.harness import MatrixRow, Outcome, free_port, run_case


@pytest.fixture(scope="session")
def port() -> int:
    """The replica's port for the reference and every case (see ``harness.free_port``)."""
    return free_port()


@pytest.fixture(scope="session")
def new_postgres_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases on the tests' server, dropped at the end of the run."""
    backends = os.environ.get("CTMIRROR_TEST_BACKENDS", "duckdb,postgres").split(",")
    if "postgres" not in (b.strip() for b in backends):
        pytest.skip("postgres is not in CTMIRROR_TEST_BACKENDS")
    postgres_url: str = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def new() -> str:
        name = f"ctmirror_faults_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        url = sa.engine.make_url(postgres_url).set(database=name)
        return url.render_as_string(hide_password=False)

    yield new
    with admin.connect() as conn:
        for name in made:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_reference(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory,
                       port: int, new_postgres_database: Callable[[], str]) -> Outcome:
    """The fault-free sync with its warehouse on PostgreSQL."""
    outcome = run_case(synth_snapshot, tmp_path_factory.mktemp("pg-reference") / "mirror", None,
                       port=port, warehouse_url=new_postgres_database())
    assert outcome.runs[0].errors == ()
    return outcome


@pytest.fixture(scope="session")
def reference(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory, port: int
              ) -> Outcome:
    outcome = run_case(synth_snapshot, tmp_path_factory.mktemp("reference") / "mirror", None,
                       port=port)
    assert outcome.runs[0].errors == ()
    assert outcome.rows > 500 and outcome.files > 100  # a corpus worth comparing
    return outcome


_ROWS: list[MatrixRow] = []


@pytest.fixture
def matrix() -> list[MatrixRow]:
    """Where a matrix case records its numbers, printed as a table at the end of the run."""
    return _ROWS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix")
    write(f"{'case':<46} {'faults injected':<28} {'rows':>6} {'files':>6} {'diffs':>6}")
    for row in _ROWS:
        fired = ", ".join(f"{k} x{n}" for k, n in sorted(row.injected.items())) or "-"
        write(f"{row.case:<46} {fired:<28} {row.rows:>6} {row.files:>6} {row.differences:>6}")
