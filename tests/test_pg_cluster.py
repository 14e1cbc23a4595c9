"""Finding the PostgreSQL binaries for the throwaway test cluster (tests/pg_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from tests.pg_cluster import find_bin_dir


def _install(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("initdb", "postgres"):
        (folder / name).write_text("")
    return folder


def test_newest_version_wins(tmp_path: Path) -> None:
    _install(tmp_path / "9.6" / "bin")
    newest = _install(tmp_path / "16" / "bin")
    _install(tmp_path / "15" / "bin")
    assert find_bin_dir([str(tmp_path / "*" / "bin")], path="") == newest


def test_a_folder_without_the_server_is_not_enough(tmp_path: Path) -> None:
    client_only = tmp_path / "17" / "bin"
    client_only.mkdir(parents=True)
    (client_only / "initdb").write_text("")
    assert find_bin_dir([str(tmp_path / "*" / "bin")], path="") is None


def test_nothing_installed(tmp_path: Path) -> None:
    assert find_bin_dir([str(tmp_path / "*" / "bin")], path=str(tmp_path)) is None
