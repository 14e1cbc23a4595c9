"""Opening the warehouse, and the errors when it cannot be opened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctmirror.errors import ConfigError
from ctmirror.warehouse.engine import create_warehouse_engine

_HOLD_LOCK = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


def test_duckdb_file_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="cannot open the warehouse") as caught:
            create_warehouse_engine(f"duckdb:///{path}")
        assert "\n" not in str(caught.value)
    finally:
        holder.communicate("")


def test_unreachable_postgres() -> None:
    # Port 9 (discard) on loopback is closed: the connection is refused at once.
    with pytest.raises(ConfigError, match="cannot open the warehouse postgresql"):
        create_warehouse_engine("postgresql://nobody@127.0.0.1:9/nothing")


def test_read_only_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no warehouse at"):
        create_warehouse_engine(f"duckdb:///{tmp_path / 'missing.duckdb'}", read_only=True)


def test_bad_urls() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        create_warehouse_engine("not a url")
    with pytest.raises(ConfigError, match="unsupported warehouse URL"):
        create_warehouse_engine("sqlite:///x.db")


def test_duckdb_creates_the_parent_directory(tmp_path: Path) -> None:
    engine = create_warehouse_engine(f"duckdb:///{tmp_path / 'new' / 'warehouse.duckdb'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 42")).scalar_one() == 42
        assert engine.dialect.name == "duckdb"
    finally:
        engine.dispose()
    assert (tmp_path / "new" / "warehouse.duckdb").is_file()
