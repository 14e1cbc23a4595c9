"""Bad arguments, an unreachable API, an unusable warehouse: one line each, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _ctmirror(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTMIRROR_", "PREFECT_"))}
    return subprocess.run([sys.executable, "-m", "ctmirror", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_unreachable_api(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    proc = _ctmirror("sync", "--api-base", url, "--root", str(tmp_path))
    line = _one_error_line(proc)
    assert line.startswith("error: cannot use the API at " + url)


def test_bad_limit_is_a_usage_error(tmp_path: Path) -> None:
    proc = _ctmirror("sync", "--limit", "0", "--root", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--limit" in proc.stderr


def test_warehouse_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "warehouse.duckdb"
    bad.write_bytes(b"this is not a database file" * 100)
    proc = _ctmirror("sql", "SELECT 1", "--db", f"duckdb:///{bad}")
    line = _one_error_line(proc)
    assert line.startswith("error: cannot open the warehouse")


def test_locked_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "c.execute('CREATE TABLE t (x INT)'); print('ready', flush=True); time.sleep(60)",
         str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        proc = _ctmirror("sql", "SELECT 1", "--db", f"duckdb:///{path}")
        line = _one_error_line(proc)
        assert "cannot open the warehouse" in line
    finally:
        holder.kill()
        holder.wait()


def test_bad_sql_is_one_line(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    proc = _ctmirror("sql", "SELEC nonsense", "--db", f"duckdb:///{path}")
    line = _one_error_line(proc)
    assert line.startswith("error: SQL failed:")
