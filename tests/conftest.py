"""Fixtures shared by every test package.

- ``clean_environ`` (autouse): no CTMIRROR_* / PREFECT_* variable from the shell leaks in.
- ``synth_snapshot``: a small fully synthetic replica snapshot, built once per session.
- ``replica``: a replica server on loopback serving ``synth_snapshot``.
- ``real_snapshot``: the replica corpus built from the published data in ``shared/realdata``
  beside the repository (or CTMIRROR_TEST_REALDATA); tests using it skip where it is absent.
- ``warehouse_url``: a fresh, empty warehouse database, parametrized over the backends in
  CTMIRROR_TEST_BACKENDS (default ``duckdb,postgres``).
- ``postgres_url``: the PostgreSQL server those databases are created on: the one at
  CTMIRROR_TEST_POSTGRES_URL when set, else a throwaway cluster (``tests/pg_cluster.py``) started
  on first use and removed at the end of the session. Without PostgreSQL binaries the PostgreSQL
  tests are skipped, with the reason in the summary and the header.

A run that collects no test fails (pytest's exit code 5 becomes 1): a selection that matches
nothing is a mistake, never a pass.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.pg_cluster import BIN_PATTERNS, find_bin_dir, throwaway_cluster

_BACKENDS = [
    b.strip()
    for b in os.environ.get("CTMIRROR_TEST_BACKENDS", "duckdb,postgres").split(",")
    if b.strip()
]
_POSTGRES_URL = os.environ.get("CTMIRROR_TEST_POSTGRES_URL")
_NO_POSTGRES = (
    "PostgreSQL tests skipped: CTMIRROR_TEST_POSTGRES_URL is not set and no PostgreSQL binaries "
    f"(initdb, postgres) are in {', '.join(BIN_PATTERNS)} or on PATH"
)


def pytest_report_header(config: pytest.Config) -> str:
    if "postgres" not in _BACKENDS:
        return "postgres: not in CTMIRROR_TEST_BACKENDS"
    if _POSTGRES_URL:
        return "postgres: the server at CTMIRROR_TEST_POSTGRES_URL"
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return _NO_POSTGRES
    return f"postgres: a throwaway cluster from {bin_dir}, started on first use"


_POSTGRES_LEFT_OUT = pytest.StashKey[int]()


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return item.get_closest_marker("postgres") is not None or (
        callspec is not None and callspec.params.get("warehouse_url") == "postgres"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server to use, leave its tests out, said once in the summary."""
    if "postgres" not in _BACKENDS or _POSTGRES_URL or find_bin_dir() is not None:
        return
    left_out = [item for item in items if _needs_postgres(item)]
    if left_out:
        items[:] = [item for item in items if not _needs_postgres(item)]
        config.hook.pytest_deselected(items=left_out)
        config.stash[_POSTGRES_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config
                            ) -> None:
    left_out = config.stash.get(_POSTGRES_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(f"{_NO_POSTGRES} ({left_out} deselected)", yellow=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("error: no tests were collected; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    for name in list(os.environ):
        if name.startswith("CTMIRROR_") and not name.startswith("CTMIRROR_TEST_"):
            monkeypatch.delenv(name)
        if name.startswith("PREFECT_") and name not in ("PREFECT_HOME",):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # NEURON runs of every biophysical model take minutes: only the tests of that stage run
    # them (with the extra installed); elsewhere the stage is off, as without the extra
    if "tests/biophys/" not in request.node.nodeid:
        monkeypatch.setenv("CTMIRROR_FEATURES__BIOPHYS", "false")


@pytest.fixture(scope="session")
def synth_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctmirror.replica.corpus.synth import build_synthetic_snapshot

    out = tmp_path_factory.mktemp("synth") / "snapshot"
    build_synthetic_snapshot(out, cells=12, seed=7, nwb_cells=3)
    return out


def duckdb_url(root: Path) -> str:
    """The warehouse URL of a mirror root synced with the default DuckDB warehouse."""
    return f"duckdb:///{root / 'warehouse.duckdb'}"


@pytest.fixture(scope="session")
def synced_mirror(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mirror synced from the synthetic corpus with every derived stage (GLIF voltages too),
    shared by the tests that only read it (the Python API, the export, the notebook, the web
    pages)."""
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.settings import Settings
    from ctmirror.sync import run_sync_locally

    root = tmp_path_factory.mktemp("synced") / "mirror"
    settings = Settings()
    settings.root = root
    settings.warehouse.url = duckdb_url(root)
    settings.features.glif_voltages = True
    settings.features.biophys = False  # minutes with NEURON; tests/biophys run that stage
    with serve_in_thread(synth_snapshot) as replica:
        settings.api.base_url = replica.base_url
        result = run_sync_locally(settings.sync_config())
    assert not result.errors
    return root


@pytest.fixture(scope="session")
def warehouse_sql(synced_mirror: Path) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """SQL on the shared mirror's warehouse: what the API and the web pages are compared with."""
    import sqlalchemy as sa

    from ctmirror.serve.warehouse_source import open_for_reading

    engine = open_for_reading(duckdb_url(synced_mirror))

    def run(query: str, **params: Any) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]

    yield run
    engine.dispose()


REALDATA = Path(
    os.environ.get("CTMIRROR_TEST_REALDATA")
    or Path(__file__).resolve().parents[2] / "shared" / "realdata"
)


@pytest.fixture(scope="session")
def real_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"the published data set is not at {REALDATA}")
    from ctmirror.replica.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("real") / "snapshot"
    build_corpus(REALDATA, out, nwb_cells=1, seed=0)
    return out


@pytest.fixture
def replica(synth_snapshot: Path) -> Iterator[object]:
    from ctmirror.replica.server import serve_in_thread

    with serve_in_thread(synth_snapshot) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if _POSTGRES_URL:
        yield _POSTGRES_URL
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(_NO_POSTGRES)
    with throwaway_cluster(bin_dir) as url:
        yield url


def _postgres_database(server_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"ctmirror_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {server_url} ({exc.orig}); start it or set "
            "CTMIRROR_TEST_BACKENDS=duckdb"
        )
    url = sa.engine.make_url(server_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=_BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    elif request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        yield from _postgres_database(request.getfixturevalue("postgres_url"))
    else:
        raise ValueError(f"unknown backend {request.param!r} in CTMIRROR_TEST_BACKENDS")


@pytest.fixture
def webhook_listener() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A local HTTP listener for webhooks: its base URL and the (content type, JSON body) of
    each POST; it answers 200 at `/ok` and 500 anywhere else."""
    received: list[tuple[str, dict[str, Any]]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
