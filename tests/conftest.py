"""Fixtures shared by every test package.

- ``clean_environ`` (autouse): no CTMIRROR_* / PREFECT_* variable from the shell leaks in.
- ``synth_snapshot``: a small fully synthetic replica snapshot, built once per session.
- ``replica``: a replica server on loopback serving ``synth_snapshot``.
- ``real_snapshot``: the replica corpus built from the published data in ``shared/realdata``
  beside the repository (or CTMIRROR_TEST_REALDATA); tests using it skip where it is absent.
- ``warehouse_url``: a fresh, empty warehouse database, parametrized over the backends in
  CTMIRROR_TEST_BACKENDS (default ``duckdb,postgres``); PostgreSQL comes from
  CTMIRROR_TEST_POSTGRES_URL (default: the local server, database ``test``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_BACKENDS = [
    b.strip()
    for b in os.environ.get("CTMIRROR_TEST_BACKENDS", "duckdb,postgres").split(",")
    if b.strip()
]
_POSTGRES_URL = os.environ.get("CTMIRROR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CTMIRROR_") and not name.startswith("CTMIRROR_TEST_"):
            monkeypatch.delenv(name)
        if name.startswith("PREFECT_") and name not in ("PREFECT_HOME",):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def synth_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctmirror.replica.corpus.synth import build_synthetic_snapshot

    out = tmp_path_factory.mktemp("synth") / "snapshot"
    build_synthetic_snapshot(out, cells=12, seed=7, nwb_cells=3)
    return out


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


def _postgres_database() -> Iterator[str]:
    import sqlalchemy as sa

    name = f"ctmirror_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {_POSTGRES_URL} ({exc.orig}); start it or set "
            "CTMIRROR_TEST_BACKENDS=duckdb"
        )
    url = sa.engine.make_url(_POSTGRES_URL).set(database=name)
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
        yield from _postgres_database()
    else:
        raise ValueError(f"unknown backend {request.param!r} in CTMIRROR_TEST_BACKENDS")
