"""download_file against the replica on loopback: clean, resumed, retried, killed and corrupt
downloads of the synthetic snapshot's files, checked against files.jsonl."""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ctmirror.errors import (
    ApiTransportError,
    FileIntegrityError,
    TerminalApiStatusError,
    TransientApiStatusError,
)
from ctmirror.mirror import (
    BytesReceived,
    DownloadDirectory,
    DownloadDone,
    DownloadEvent,
    DownloadInProgressError,
    DownloadStarted,
    Existing,
    FileKind,
    download_file,
)
from ctmirror.mirror.download_dir import part_dir
from ctmirror.replica.faults import Fault, FaultConfig
from ctmirror.replica.snapshot import Snapshot, StoredFile
from ctmirror.rma.retry import RetryPolicy

from .conftest import file_url

ONE_ATTEMPT = RetryPolicy(max_attempts=1)


class Killed(Exception):
    """Stands in for the process dying mid-download."""


def kill_after(limit: int) -> Any:
    def sink(event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived) and event.done >= limit:
            raise Killed

    return sink


def download(http: httpx.Client, replica: Any, stored: StoredFile, target: Path,
             **kwargs: Any) -> Any:
    kwargs.setdefault("kind", FileKind.from_name(stored.relpath)
                      if stored.kind == "well_known_file" else FileKind.ZIP)
    return download_file(http, file_url(replica.base_url, stored), target,
                         expected_size=stored.size, expected_sha256=stored.sha256, **kwargs)


def partial_size(target: Path) -> int:
    return (part_dir(target) / "data").stat().st_size


@pytest.mark.parametrize("kind", ["nwb", "swc", "marker", "json", "png", "zip"])
def test_clean_download_matches_files_jsonl(http, replica, stored_files, tmp_path, kind):
    stored = stored_files[kind]
    target = tmp_path / "mirror" / Path(stored.relpath).name
    result = download(http, replica, stored, target)
    assert result.path == target
    assert result.size == stored.size == target.stat().st_size
    assert result.sha256 == stored.sha256
    assert hashlib.sha256(target.read_bytes()).hexdigest() == stored.sha256
    assert result.bytes_transferred == stored.size
    assert result.etag == f'"{stored.sha256}"'
    assert (result.resumed, result.skipped) == (False, False)
    assert target.stat().st_mtime == parsedate_to_datetime(stored.last_modified).timestamp()
    assert not part_dir(target).exists()


def test_second_call_with_skip_transfers_nothing(http, replica, nwb_file, tmp_path):
    target = tmp_path / "ephys.nwb"
    download(http, replica, nwb_file, target)
    requests = replica.request_count
    events: list[DownloadEvent] = []
    again = download(http, replica, nwb_file, target, progress=events.append)
    assert (again.skipped, again.bytes_transferred, again.sha256) == (True, 0, nwb_file.sha256)
    assert replica.request_count == requests
    assert events == [DownloadDone(target, nwb_file.size, 0, skipped=True)]


def test_verify_mode_downloads_a_damaged_target_again(http, replica, stored_files, tmp_path):
    stored = stored_files["json"]
    target = tmp_path / "config.json"
    download(http, replica, stored, target)
    damaged = bytearray(target.read_bytes())
    damaged[0] ^= 0xFF  # same size, so only a re-hash can tell
    target.write_bytes(bytes(damaged))
    assert download(http, replica, stored, target, existing=Existing.SKIP).skipped
    result = download(http, replica, stored, target, existing=Existing.VERIFY)
    assert (result.skipped, result.bytes_transferred) == (False, stored.size)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == stored.sha256


def test_resume_after_dropped_connection(http, replica, nwb_file, tmp_path, sleeps):
    target = tmp_path / "ephys.nwb"
    replica.faults = FaultConfig(faults=(Fault("drop", scope="files", first=1),))
    with pytest.raises(ApiTransportError):
        download(http, replica, nwb_file, target, retry=ONE_ATTEMPT)
    assert not target.exists()
    kept = partial_size(target)
    assert 0 < kept < nwb_file.size
    result = download(http, replica, nwb_file, target, sleep=sleeps)
    assert result.resumed
    assert result.bytes_transferred == nwb_file.size - kept
    assert result.sha256 == nwb_file.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert sleeps == []


def test_drop_is_retried_within_one_call(http, replica, nwb_file, tmp_path, sleeps):
    replica.faults = FaultConfig(faults=(Fault("drop", scope="files", first=1),))
    events: list[DownloadEvent] = []
    result = download(http, replica, nwb_file, tmp_path / "ephys.nwb", sleep=sleeps,
                      progress=events.append)
    starts = [e for e in events if isinstance(e, DownloadStarted)]
    assert [s.offset > 0 for s in starts] == [False, True]
    assert result.resumed and result.sha256 == nwb_file.sha256
    assert result.bytes_transferred < 2 * nwb_file.size
    assert len(sleeps) == 1


def test_truncated_body_is_never_complete(http, replica, nwb_file, tmp_path, sleeps):
    # Every answer stops halfway under a full Content-Length: each attempt resumes and gets
    # half of what is left, so three attempts reach 7/8 of the file and no further.
    replica.faults = FaultConfig(faults=(Fault("truncate", scope="files"),))
    target = tmp_path / "ephys.nwb"
    with pytest.raises(ApiTransportError, match="body ended|broke off"):
        download(http, replica, nwb_file, target, sleep=sleeps,
                 retry=RetryPolicy(max_attempts=3))
    assert not target.exists()
    assert partial_size(target) < nwb_file.size
    assert len(sleeps) == 2


@pytest.mark.parametrize("fault, waits", [
    (Fault("status", scope="files", status=503, first=2), None),
    (Fault("status", scope="files", status=429, retry_after=3, first=1), [3.0]),
])
def test_busy_server_is_retried(http, replica, stored_files, tmp_path, sleeps, fault, waits):
    stored = stored_files["swc"]
    replica.faults = FaultConfig(faults=(fault,))
    result = download(http, replica, stored, tmp_path / "cell.swc", sleep=sleeps)
    assert result.sha256 == stored.sha256
    assert len(sleeps) == (fault.first or 0)
    if waits is not None:
        assert sleeps == waits


def test_busy_server_gives_up_after_the_last_attempt(http, replica, stored_files, tmp_path,
                                                     sleeps):
    replica.faults = FaultConfig(faults=(Fault("status", scope="files", status=503),))
    with pytest.raises(TransientApiStatusError) as caught:
        download(http, replica, stored_files["swc"], tmp_path / "cell.swc", sleep=sleeps,
                 retry=RetryPolicy(max_attempts=4))
    assert caught.value.status_code == 503
    assert len(sleeps) == 3


def test_missing_file_is_not_retried(http, replica, tmp_path, sleeps):
    with pytest.raises(TerminalApiStatusError):
        download_file(http, f"{replica.base_url}/api/v2/well_known_file_download/1",
                      tmp_path / "x.json", kind=FileKind.JSON, sleep=sleeps)
    assert sleeps == []
    assert not (tmp_path / "x.json").exists()


def test_killed_download_is_resumed(http, replica, nwb_file, tmp_path):
    target = tmp_path / "ephys.nwb"
    with pytest.raises(Killed):
        download(http, replica, nwb_file, target, progress=kill_after(2_000_000))
    assert not target.exists()
    kept = partial_size(target)
    assert 2_000_000 <= kept < nwb_file.size
    result = download(http, replica, nwb_file, target)
    assert result.resumed
    assert result.bytes_transferred == nwb_file.size - kept
    assert result.sha256 == nwb_file.sha256
    assert not part_dir(target).exists()


def test_corrupt_partial_is_caught_by_the_final_hash(http, replica, nwb_file, tmp_path):
    target = tmp_path / "ephys.nwb"
    with pytest.raises(Killed):
        download(http, replica, nwb_file, target, progress=kill_after(2_000_000))
    with (part_dir(target) / "data").open("ab") as fh:
        fh.write(b"garbage" * 100)
    # With no attempt left to start over, the bad bytes are refused, not delivered.
    with pytest.raises(FileIntegrityError, match="sha256"):
        download(http, replica, nwb_file, target, retry=ONE_ATTEMPT)
    assert not target.exists()

    with pytest.raises(Killed):
        download(http, replica, nwb_file, target, progress=kill_after(2_000_000))
    with (part_dir(target) / "data").open("ab") as fh:
        fh.write(b"garbage" * 100)
    kept = partial_size(target)
    result = download(http, replica, nwb_file, target)
    # The resume completed a file whose hash was wrong, so it started over from byte 0.
    assert not result.resumed
    assert result.bytes_transferred == (nwb_file.size - kept) + nwb_file.size
    assert hashlib.sha256(target.read_bytes()).hexdigest() == nwb_file.sha256


def test_changed_expectations_restart_from_zero(http, replica, stored_files, tmp_path):
    stored = stored_files["swc"]
    target = tmp_path / "cell.swc"
    with pytest.raises(Killed):
        download(http, replica, stored, target, progress=kill_after(1))
    assert partial_size(target) > 0
    # The partial was fetched for another URL; resuming it would splice two files.
    other = stored_files["marker"]
    result = download_file(http, file_url(replica.base_url, other), target,
                           expected_size=other.size, expected_sha256=other.sha256,
                           kind=FileKind.MARKER)
    assert (result.resumed, result.bytes_transferred) == (False, other.size)
    assert result.sha256 == other.sha256


def test_lock_refuses_a_second_downloader(http, replica, nwb_file, tmp_path):
    target = tmp_path / "ephys.nwb"
    with DownloadDirectory(target), pytest.raises(DownloadInProgressError, match="another"):
        download(http, replica, nwb_file, target)
    assert not target.exists()
    assert download(http, replica, nwb_file, target).sha256 == nwb_file.sha256


def test_wrong_expected_size_is_refused(http, replica, stored_files, tmp_path):
    stored = stored_files["json"]
    target = tmp_path / "config.json"
    with pytest.raises(FileIntegrityError, match="changed upstream"):
        download_file(http, file_url(replica.base_url, stored), target,
                      expected_size=stored.size + 1, kind=FileKind.JSON)
    assert not target.exists()


def test_section_image_follows_the_redirect(http, replica, synth_snapshot, tmp_path):
    image = next(Snapshot(synth_snapshot).iter_records("SubImage"))
    target = tmp_path / "image.jpg"
    result = download_file(
        http, f"{replica.base_url}/api/v2/section_image_download/{image['id']}?downsample=4",
        target, kind=FileKind.JPEG)
    assert target.read_bytes()[:3] == b"\xff\xd8\xff"
    assert result.size == target.stat().st_size > 0
    assert result.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
