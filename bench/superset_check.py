"""The Superset dashboard of dashboards/superset, end to end against a PostgreSQL warehouse.

    python bench/superset_check.py OUT_DIR [--cells 30] [--nwb-cells 3]
                                           [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
                                           [--warehouse URL] [--venv DIR] [--keep]

1. Superset (the version of docker/superset/Dockerfile) in its own virtualenv, cached in
   ``--venv`` (default ``~/.cache/ctmirror-bench/superset-<version>``), with psycopg2 and
   Playwright; never in the project's environment.
2. A synthetic corpus (``ctmirror corpus synth``) served by ``ctmirror replica serve`` and synced
   (``ctmirror sync --no-prefect``) into a throwaway database on ``--postgres``.
3. The read-only role ``ctmirror_reader`` by docker/reader-role.sql, as docker-compose creates it.
4. Superset with its own SQLite metadata database in a temporary folder and
   docker/superset/superset_config.py: ``db upgrade``, an admin, ``init``, the dashboard bundle
   (dashboards/superset/bundle.py, connecting as ``ctmirror_reader``) imported with
   ``superset import-dashboards``, then served by gunicorn on a free port.
5. ``bench/superset_screenshot.py`` opens the dashboard in headless Chromium (Debian's
   ``chromium``), records the answer of every chart's ``/api/v1/chart/data`` query and writes
   ``OUT_DIR/superset_dashboard.png``.

Prints the time of each step and one line per chart (status, rows); exits 1 unless every chart of
the dashboard (``/api/v1/dashboard/<slug>/charts``) answered with rows and no error. Needs ``psql``
and ``chromium`` on PATH. The throwaway database is dropped unless ``--keep``; the role stays
(roles belong to the whole server).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "docker" / "superset" / "Dockerfile"
CONFIG = REPO / "docker" / "superset" / "superset_config.py"
READER_ROLE_SQL = REPO / "docker" / "reader-role.sql"
BUNDLE = REPO / "dashboards" / "superset" / "bundle.py"
SCREENSHOT = Path(__file__).with_name("superset_screenshot.py")
SLUG = "ctmirror"
READER = "ctmirror_reader"
ADMIN = "admin"
#: Superset 5.0.0 declares open ranges that pip fills with marshmallow 4, which it cannot load
#: ("unexpected keyword argument 'minLength'"): held back to the 3.x line it was released with.
PINS = ("marshmallow>=3.26,<4", "marshmallow-sqlalchemy>=1.1,<1.4")
EXTRAS = ("psycopg2-binary==2.9.10", "gunicorn", "playwright")


def superset_version() -> str:
    """The Superset version docker-compose runs: the tag of the Dockerfile's base image."""
    match = re.search(r"^FROM apache/superset:(\d+\.\d+\.\d+)\s*$", DOCKERFILE.read_text(), re.M)
    if match is None:
        raise SystemExit(f"{DOCKERFILE}: no pinned 'FROM apache/superset:X.Y.Z'")
    return match.group(1)


def ensure_superset(venv: Path, version: str) -> Path:
    """The ``bin`` folder of a virtualenv with Superset ``version``, installed once."""
    done = venv / ".installed"
    if done.is_file() and done.read_text() == version:
        return venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, f"apache-superset=={version}", *PINS, *EXTRAS], check=True)
    done.write_text(version)
    return venv / "bin"


def run_logged(command: list[str], log: Path, env: dict[str, str]) -> None:
    """Run ``command`` with its output appended to ``log``; on failure, show the log's end."""
    with log.open("ab") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        print("\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command[:3])} ...")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    start = time.monotonic()
    print(f"{name} ...", flush=True)
    yield
    print(f"{name}: {time.monotonic() - start:.1f} s", flush=True)


@contextlib.contextmanager
def running(command: list[str], log: Path, env: dict[str, str] | None = None
            ) -> Iterator[subprocess.Popen[bytes]]:
    """A background process writing to ``log``, terminated on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(predicate: Callable[[], str | None], what: str, timeout_s: float = 120.0) -> str:
    """Poll ``predicate()`` until it answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = predicate()
        if answer:
            return str(answer)
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


@contextlib.contextmanager
def throwaway_database(server: str, keep: bool) -> Iterator[sa.URL]:
    url = sa.make_url(server)
    name = f"ctm_superset_check_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ctmirror(*args: str) -> list[str]:
    return [sys.executable, "-m", "ctmirror", *args]


@contextlib.contextmanager
def synced_warehouse(args: argparse.Namespace, work: Path, env: dict[str, str]
                     ) -> Iterator[sa.URL]:
    """``--warehouse`` as it is, or a throwaway database synced from a synthetic corpus."""
    if args.warehouse:
        yield sa.make_url(args.warehouse)
        return
    with step(f"corpus of {args.cells} cells ({args.nwb_cells} with NWB)"):
        corpus = work / "corpus"
        subprocess.run(ctmirror("corpus", "synth", "--out", str(corpus), "--cells",
                                str(args.cells), "--nwb-cells", str(args.nwb_cells)),
                       check=True, env=env, stdout=subprocess.DEVNULL)
    log = work / "replica.log"
    with throwaway_database(args.postgres, args.keep) as warehouse, \
            running(ctmirror("replica", "serve", "--snapshot", str(corpus), "--port", "0"),
                    log, env):
        replica_url = wait_for(
            lambda: (m := re.search(r"http://[\d.]+:\d+", log.read_text())) and m.group(0)
            or None, "the replica")
        with step(f"ctmirror sync into {warehouse.database}"):
            subprocess.run(ctmirror("sync", "--api-base", replica_url, "--root",
                                    str(work / "mirror"), "--db",
                                    warehouse.render_as_string(hide_password=False),
                                    "--no-prefect"),
                           check=True, env=env, stdout=subprocess.DEVNULL)
        yield warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the screenshot")
    parser.add_argument("--cells", type=int, default=30)
    parser.add_argument("--nwb-cells", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a server where a throwaway database can be created")
    parser.add_argument("--warehouse", default=None,
                        help="a PostgreSQL warehouse synced already, instead of the corpus")
    parser.add_argument("--venv", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database and temp folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    version = superset_version()
    venv = args.venv or Path.home() / ".cache" / "ctmirror-bench" / f"superset-{version}"
    work = Path(tempfile.mkdtemp(prefix="ctmirror-superset-"))
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}

    with step(f"Superset {version} in {venv}"):
        bin_dir = ensure_superset(venv, version)
    with synced_warehouse(args, work, env) as warehouse:
        reader_password = secrets.token_urlsafe(16)
        with step(f"read-only role {READER}"):
            subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1",
                            "-v", f"reader_password={reader_password}",
                            "-v", f"owner={warehouse.username}",
                            "-f", str(READER_ROLE_SQL),
                            warehouse.set(drivername="postgresql").render_as_string(
                                hide_password=False)],
                           check=True, env=env)
        admin_password = secrets.token_urlsafe(16)
        superset_env = {**env, "SUPERSET_CONFIG_PATH": str(CONFIG),
                        "SUPERSET_SECRET_KEY": secrets.token_urlsafe(32),
                        "SUPERSET_METADATA_DB_URI": f"sqlite:///{work / 'superset.db'}",
                        "FLASK_APP": "superset"}
        superset = str(bin_dir / "superset")
        reader_uri = warehouse.set(drivername="postgresql+psycopg2", username=READER,
                                   password=reader_password)
        with step("Superset: db upgrade, admin, init, import the dashboard"):
            for command in (
                    [superset, "db", "upgrade"],
                    [superset, "fab", "create-admin", "--username", ADMIN, "--firstname",
                     "ctmirror", "--lastname", "admin", "--email", "admin@localhost",
                     "--password", admin_password],
                    [superset, "init"],
                    [str(bin_dir / "python"), str(BUNDLE), str(work / "dashboard.zip"),
                     "--warehouse-uri", reader_uri.render_as_string(hide_password=False)],
                    [superset, "import-dashboards", "-p", str(work / "dashboard.zip"),
                     "-u", ADMIN]):
                run_logged(command, work / "superset-setup.log", superset_env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                      "2", "--timeout", "120", "superset.app:create_app()"],
                     work / "superset.log", superset_env):
            with step(f"Superset serving on {base}"):
                wait_for(lambda: _get_ok(f"{base}/health"), "Superset's /health")
            charts = dashboard_charts(base, admin_password)
            with step(f"headless Chromium: the dashboard's {len(charts)} charts"):
                shot = args.out / "superset_dashboard.png"
                answer = subprocess.run(
                    [str(bin_dir / "python"), str(SCREENSHOT), base, SLUG, ADMIN, str(shot),
                     str(len(charts))],
                    check=True, capture_output=True, text=True,
                    env={**superset_env, "SUPERSET_PASSWORD": admin_password})
            answers = json.loads(answer.stdout.strip().splitlines()[-1])["charts"]
    failed = report(charts, answers)
    print(f"screenshot: {shot}")
    if args.keep:
        print(f"kept: {work}, database {warehouse.database}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


def _get_ok(url: str) -> str | None:
    try:
        return "ok" if httpx.get(url, timeout=3).status_code == 200 else None
    except httpx.HTTPError:
        return None


def dashboard_charts(base: str, password: str) -> dict[int, str]:
    """{chart id: name} of the dashboard's charts, from Superset's REST API."""
    login = httpx.post(f"{base}/api/v1/security/login", json={
        "username": ADMIN, "password": password, "provider": "db", "refresh": False})
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    answer = httpx.get(f"{base}/api/v1/dashboard/{SLUG}/charts", headers=headers, timeout=60)
    answer.raise_for_status()
    return {int(c["id"]): c["slice_name"] for c in answer.json()["result"]}


def report(charts: dict[int, str], answers: dict[str, dict[str, Any]]) -> list[str]:
    """Print one line per chart; return the names of those that failed."""
    failed = []
    for chart_id, name in sorted(charts.items(), key=lambda c: c[1]):
        answer = answers.get(str(chart_id))
        rows = answer["rows"] if answer else []
        ok = bool(answer and answer["status"] == 200 and not answer["errors"]
                  and rows and all(int(r) > 0 for r in rows))
        failed += [] if ok else [name]
        detail = "no query seen" if answer is None else \
            f"HTTP {answer['status']}, rows {rows}" + (
                f", errors {answer['errors']}" if answer["errors"] else "")
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    print(f"charts ok: {len(charts) - len(failed)} of {len(charts)}")
    return failed


if __name__ == "__main__":
    main()
