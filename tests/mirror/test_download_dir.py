"""The ``<target>.part/`` directory: lock, recorded state, atomic finish."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ctmirror.mirror import DownloadDirectory, DownloadInProgressError, PartialState
from ctmirror.mirror.download_dir import part_dir

STATE = PartialState("http://x.test/f", 10, "ab" * 32, '"e"', "Tue, 02 Jan 2018 03:04:05 GMT")


def test_lock_is_refused_within_and_across_processes(tmp_path):
    target = tmp_path / "f.nwb"
    with DownloadDirectory(target) as held:
        # flock locks belong to an open file description, so a second open in this process
        # contends just as another process does.
        with pytest.raises(DownloadInProgressError, match="another process") as caught:
            DownloadDirectory(target).__enter__()
        assert caught.value.path == str(target)
        probe = (
            "import fcntl, sys\n"
            "fh = open(sys.argv[1], 'ab')\n"
            "try:\n    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "except BlockingIOError:\n    sys.exit(3)\n"
        )
        other = subprocess.run([sys.executable, "-c", probe, str(held.lock_path)])
        assert other.returncode == 3
    with DownloadDirectory(target):  # released on exit
        pass


def test_partial_survives_an_exception(tmp_path):
    target = tmp_path / "f.nwb"
    with pytest.raises(RuntimeError), DownloadDirectory(target) as part:
        part.record(STATE)
        with part.open_data(0) as fh:
            fh.write(b"12345")
        raise RuntimeError("killed")
    with DownloadDirectory(target) as part:
        assert part.recorded() == STATE
        assert part.data_size() == 5


def test_open_data_cuts_what_follows_the_offset(tmp_path):
    with DownloadDirectory(tmp_path / "f") as part:
        with part.open_data(0) as fh:
            fh.write(b"0123456789")
        with part.open_data(4) as fh:
            fh.write(b"ab")
        assert part.data_path.read_bytes() == b"0123ab"


def test_finalize_renames_sets_mtime_and_cleans_up(tmp_path):
    target = tmp_path / "f.nwb"
    target.write_bytes(b"old")
    with DownloadDirectory(target) as part:
        with part.open_data(0) as fh:
            fh.write(b"new bytes")
        inode = part.data_path.stat().st_ino
        part.finalize(1_514_862_245.0)
    assert target.read_bytes() == b"new bytes"
    assert target.stat().st_ino == inode  # moved, not copied
    assert target.stat().st_mtime == 1_514_862_245.0
    assert not part_dir(target).exists()


def test_directory_without_bytes_leaves_no_trace(tmp_path):
    target = tmp_path / "f.nwb"
    with DownloadDirectory(target) as part:
        part.record(STATE)
    assert not part_dir(target).exists()


def test_unreadable_expectations_are_not_trusted(tmp_path):
    with DownloadDirectory(tmp_path / "f") as part:
        part.expected_path.write_text("{not json")
        assert part.recorded() is None
        part.expected_path.write_text('{"size": 3}')  # no url
        assert part.recorded() is None
