"""Progress events: throttling, the rich bar's byte count, the log sink, and download_many."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from rich.console import Console

from ctmirror.errors import TerminalApiStatusError
from ctmirror.mirror import (
    BytesReceived,
    DownloadDone,
    DownloadError,
    DownloadEvent,
    DownloadFailed,
    DownloadJob,
    DownloadResult,
    DownloadStarted,
    FileKind,
    LogSink,
    RichProgressSink,
    Throttled,
    download_many,
)

from .conftest import file_url

A, B = Path("a.nwb"), Path("b.nwb")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_throttle_passes_one_byte_event_per_interval_per_file():
    seen: list[DownloadEvent] = []
    clock = Clock()
    sink = Throttled(seen.append, interval_s=1.0, clock=clock)
    sink(DownloadStarted(A, "u", 0, 100))
    for done in (10, 20, 30):
        sink(BytesReceived(A, done, 100))
        sink(BytesReceived(B, done, 100))
        clock.now += 0.4
    sink(BytesReceived(A, 40, 100))  # 1.2 s after A's first byte event
    sink(BytesReceived(A, 100, 100))  # the last one always passes
    sink(DownloadDone(A, 100, 100, skipped=False))
    assert seen == [
        DownloadStarted(A, "u", 0, 100),
        BytesReceived(A, 10, 100),
        BytesReceived(B, 10, 100),
        BytesReceived(A, 40, 100),
        BytesReceived(A, 100, 100),
        DownloadDone(A, 100, 100, skipped=False),
    ]


def test_rich_sink_counts_bytes_and_takes_back_a_restart():
    with RichProgressSink(console=Console(file=io.StringIO())) as sink:
        sink(DownloadStarted(A, "u", 0, 1000))
        sink(BytesReceived(A, 600, 1000))
        sink(DownloadStarted(A, "u", 0, 1000))  # restarted from byte 0
        sink(BytesReceived(A, 1000, 1000))
        sink(DownloadStarted(B, "u", 200, 500))  # resumed: bytes on disk count
        sink(BytesReceived(B, 500, 500))
        assert sink.completed == 1500
        assert sink._total() == 1500


def test_log_sink_lines(caplog):
    sink = LogSink(logging.getLogger("test.mirror"), interval_s=60.0)
    with caplog.at_level(logging.INFO, logger="test.mirror"):
        sink(DownloadStarted(A, "u", 200, 500))
        sink(BytesReceived(A, 300, 500))
        sink(BytesReceived(A, 400, 500))  # throttled
        sink(DownloadDone(A, 500, 300, skipped=False))
        sink(DownloadFailed(B, "HTTP 404"))
    assert caplog.messages == [
        "a.nwb - resuming at 200 bytes (500 bytes)",
        "a.nwb - 300 of 500 bytes",
        "a.nwb - done, 500 bytes (300 bytes fetched)",
        "b.nwb - failed: HTTP 404",
    ]


def test_download_many_reports_each_file(http, replica, stored_files, tmp_path, sleeps):
    kinds = ["nwb", "swc", "json", "zip", "png"]
    jobs = [
        DownloadJob(file_url(replica.base_url, stored_files[k]), tmp_path / k / f"f.{k}",
                    FileKind.ZIP if k == "zip" else FileKind(k),
                    stored_files[k].size, stored_files[k].sha256)
        for k in kinds
    ]
    missing = DownloadJob(f"{replica.base_url}/api/v2/well_known_file_download/1",
                          tmp_path / "missing.json", FileKind.JSON)
    jobs.insert(2, missing)
    total = sum(stored_files[k].size for k in kinds)
    console = Console(file=io.StringIO(), width=100)
    with RichProgressSink(total, console=console) as bar:
        results = download_many(http, jobs, concurrency=3, progress=Throttled(bar), sleep=sleeps)
        assert bar.completed == total
    assert len(results) == len(jobs)
    failed = results.pop(2)
    assert isinstance(failed, DownloadError)
    assert isinstance(failed.error, TerminalApiStatusError)
    assert failed.path == missing.target and "HTTP 404" in failed.message
    for kind, result in zip(kinds, results, strict=True):
        assert isinstance(result, DownloadResult)
        assert result.sha256 == stored_files[kind].sha256
    # Everything is there now: a second run fetches nothing and the bar still fills.
    with RichProgressSink(total, console=console) as bar:
        again = download_many(http, [j for j in jobs if j is not missing], progress=bar)
        assert bar.completed == total
    assert all(isinstance(r, DownloadResult) and r.skipped for r in again)
