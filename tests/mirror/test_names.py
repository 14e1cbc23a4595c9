"""Server-given names can never place a file outside the mirror root."""

from __future__ import annotations

import os

import pytest

from ctmirror.errors import ConfigError
from ctmirror.mirror import file_target, safe_name


@pytest.mark.parametrize("name, safe", [
    ("2000000000_ephys.nwb", "2000000000_ephys.nwb"),
    ("/external/mousecelltypes/prod208/specimen_1/cell_m.swc", "cell_m.swc"),
    ("../../etc/passwd", "passwd"),
    ("..", "_"),
    ("a/..", "_"),
    (".", "_"),
    ("", "_"),
    ("dir\\..\\..\\win.ini", "win.ini"),
    ("C:\\Windows\\evil.dll", "evil.dll"),
    ("evil\x00.nwb", "evil_.nwb"),
    ("tab\tnew\nline.json", "tab_new_line.json"),
    ("...", "..."),
])
def test_safe_name(name, safe):
    assert safe_name(name) == safe


def test_long_names_keep_their_suffix():
    name = "x" * 400 + ".nwb"
    safe = safe_name(name)
    assert safe.endswith(".nwb")
    assert len(safe.encode()) == 250
    assert len(safe_name("é" * 300).encode()) <= 250  # never cuts a character in half


@pytest.mark.parametrize("server_name", [
    "../../../outside.nwb", "/abs/outside.nwb", "..", "a/../../b", "\x00", "..\\..\\x",
])
def test_targets_stay_under_the_root(tmp_path, server_name):
    root = tmp_path / "mirror"
    target = file_target(root, 2100000003, server_name)
    assert target.parent == root / "2100000003"
    assert target.resolve().is_relative_to(root.resolve())


def test_symlink_leading_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    os.symlink(tmp_path / "elsewhere", root / "7")
    with pytest.raises(ConfigError, match="outside the mirror root"):
        file_target(root, 7, "file.nwb")
