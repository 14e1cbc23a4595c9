"""Typed download progress events and the sinks that show them.

``download_file`` sends every event to a sink (any callable taking an event). Byte events
come once per received chunk; :class:`Throttled` thins them to one per interval per file and
always lets the first and last through. Sinks used by ``download_many`` are called from
several threads, so the ones here lock their own state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadStarted:
    """A request is about to stream bytes into ``path``'s partial, starting at ``offset``."""

    path: Path
    url: str
    offset: int
    total: int | None


@dataclass(frozen=True)
class BytesReceived:
    """``done`` of ``total`` bytes of ``path`` are on disk (``done`` counts resumed bytes)."""

    path: Path
    done: int
    total: int | None


@dataclass(frozen=True)
class DownloadDone:
    path: Path
    size: int
    bytes_transferred: int
    skipped: bool


@dataclass(frozen=True)
class DownloadFailed:
    path: Path
    error: str


DownloadEvent = DownloadStarted | BytesReceived | DownloadDone | DownloadFailed
ProgressSink = Callable[[DownloadEvent], None]


def null_sink(event: DownloadEvent) -> None:
    """Ignore every event (the default)."""


class Throttled:
    """Passes byte events for one file at most once per ``interval_s``; every other event, and
    a file's first and final byte events, always pass."""

    def __init__(self, sink: ProgressSink, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[Path, float] = {}
        self._lock = threading.Lock()

    def __call__(self, event: DownloadEvent) -> None:
        if isinstance(event, BytesReceived) and event.done != event.total:
            now = self._clock()
            with self._lock:
                last = self._last.get(event.path)
                if last is not None and now - last < self.interval_s:
                    return
                self._last[event.path] = now
        elif isinstance(event, DownloadDone | DownloadFailed):
            with self._lock:
                self._last.pop(event.path, None)
        self.sink(event)


class LogSink:
    """One log line per start, end and failure, and one per file per ``interval_s`` between."""

    def __init__(self, logger: logging.Logger = log, interval_s: float = 10.0) -> None:
        self._log = logger
        self._throttled = Throttled(self._emit, interval_s)

    def __call__(self, event: DownloadEvent) -> None:
        self._throttled(event)

    def _emit(self, event: DownloadEvent) -> None:
        if isinstance(event, DownloadStarted):
            how = f"resuming at {event.offset} bytes" if event.offset else "starting"
            self._log.info("%s - %s (%s bytes)", event.path, how, event.total or "?")
        elif isinstance(event, BytesReceived):
            self._log.info("%s - %d of %s bytes", event.path, event.done, event.total or "?")
        elif isinstance(event, DownloadDone):
            what = ("already present" if event.skipped
                    else f"{event.bytes_transferred} bytes fetched")
            self._log.info("%s - done, %d bytes (%s)", event.path, event.size, what)
        else:
            self._log.warning("%s - failed: %s", event.path, event.error)


class RichProgressSink:
    """One rich bar for all files: bytes on disk of bytes expected, and the transfer rate.

    Use as a context manager. ``total_bytes`` (the sum of the expected sizes) makes the bar's
    end known from the start; without it the total grows as files start.
    """

    def __init__(self, total_bytes: int | None = None, *, console: Console | None = None,
                 description: str = "files") -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(elapsed_when_finished=True),
            console=console,
            transient=False,
        )
        self._fixed_total = total_bytes is not None
        self._task: TaskID = self._progress.add_task(description, total=total_bytes or 0)
        self._done: dict[Path, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgressSink:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, event: DownloadEvent) -> None:
        with self._lock:
            if isinstance(event, DownloadStarted):
                if not self._fixed_total and event.path not in self._done and event.total:
                    self._progress.update(self._task, total=self._total() + event.total)
                # A restart from 0 takes back what this file had counted.
                advance = event.offset - self._done.get(event.path, 0)
                self._done[event.path] = event.offset
            elif isinstance(event, BytesReceived):
                advance = event.done - self._done.get(event.path, 0)
                self._done[event.path] = event.done
            elif isinstance(event, DownloadDone) and event.skipped:
                advance = event.size if self._fixed_total else 0
            else:
                return
            self._progress.update(self._task, advance=advance)

    def _total(self) -> float:
        return self._progress.tasks[0].total or 0.0

    @property
    def completed(self) -> float:
        """Bytes counted so far."""
        return self._progress.tasks[0].completed


__all__ = [
    "BytesReceived",
    "DownloadDone",
    "DownloadEvent",
    "DownloadFailed",
    "DownloadStarted",
    "LogSink",
    "ProgressSink",
    "RichProgressSink",
    "Throttled",
    "null_sink",
]
