"""A sync whose preflight fails leaves no file behind in what it created."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctmirror.errors import ApiError
from ctmirror.settings import Settings
from ctmirror.sync import preflight

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def _config(root: Path):  # type: ignore[no-untyped-def]
    return Settings(root=root, api={"base_url": UNREACHABLE}).sync_config()


def test_a_new_root_is_removed_again(tmp_path: Path) -> None:
    root = tmp_path / "new" / "mirror"
    with pytest.raises(ApiError, match="cannot use the API"):
        preflight(_config(root))
    assert not root.exists()


def test_an_existing_root_keeps_its_files_but_loses_the_new_warehouse(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ApiError):
        preflight(_config(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_existing_warehouse_is_kept(tmp_path: Path) -> None:
    from ctmirror.warehouse import migrate

    migrate.upgrade(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", "head", mirror_root=tmp_path)
    with pytest.raises(ApiError):
        preflight(_config(tmp_path))
    assert (tmp_path / "warehouse.duckdb").is_file()
