"""A download in progress: the sibling directory ``<target>.part/`` and its lock.

Layout (dandi-cli's ``.dandidownload/``)::

    <target>.part/
        data            the bytes received so far
        expected.json   what they should become: url, size, sha256, and the server's ETag and
                        Last-Modified when the bytes were fetched (a resume must match them)
        lock            held with a non-blocking ``fcntl.flock`` while a process works on it

The directory survives an exception when it holds bytes, so the next attempt can resume;
:meth:`finalize` moves
``data`` onto the target with ``os.replace`` (atomic: the target is either the old file or the
complete new one) and removes the directory.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ctmirror.errors import DownloadInProgressError

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"


@dataclass(frozen=True)
class PartialState:
    """The contents of ``expected.json``: where the partial bytes came from."""

    url: str
    size: int | None = None
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartialState:
        return cls(
            url=str(data["url"]),
            size=None if data.get("size") is None else int(data["size"]),
            sha256=data.get("sha256"),
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
        )


def part_dir(target: Path) -> Path:
    return target.with_name(target.name + PART_SUFFIX)


class DownloadDirectory:
    """Context manager owning ``<target>.part/`` for one download; see the module docstring."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path = part_dir(self.target)
        self.data_path = self.path / "data"
        self.expected_path = self.path / "expected.json"
        self.lock_path = self.path / "lock"
        self._expected_tmp = self.path / "expected.json.tmp"
        self._lock: IO[bytes] | None = None
        self._finalized = False

    def __enter__(self) -> DownloadDirectory:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.lock_path.open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DownloadInProgressError(
                f"{self.target} is being downloaded by another process (lock {self.lock_path}); "
                "wait for it to finish or stop it",
                path=str(self.target),
            ) from None
        self._lock = lock
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Nothing worth resuming (finished, discarded, or no byte ever arrived): leave no trace.
        if self._finalized or not self.data_path.exists():
            for leftover in (self.data_path, self.expected_path, self._expected_tmp,
                             self.lock_path):
                leftover.unlink(missing_ok=True)
            self.path.rmdir()
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    # -- state ------------------------------------------------------------------------------

    def recorded(self) -> PartialState | None:
        """The recorded expectations, or None when there are none (or they are unreadable,
        which only means the partial cannot be trusted)."""
        try:
            return PartialState.from_json(json.loads(self.expected_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s - unreadable %s (%s); starting over", self.target,
                        self.expected_path.name, exc)
            return None

    def record(self, state: PartialState) -> None:
        self._expected_tmp.write_text(json.dumps(asdict(state), indent=1) + "\n")
        os.replace(self._expected_tmp, self.expected_path)

    def data_size(self) -> int:
        try:
            return self.data_path.stat().st_size
        except FileNotFoundError:
            return 0

    def open_data(self, offset: int) -> IO[bytes]:
        """``data`` opened for writing at ``offset``; anything after it is cut off."""
        fh = self.data_path.open("r+b" if self.data_path.exists() else "wb")
        fh.truncate(offset)
        fh.seek(offset)
        return fh

    def reset(self) -> None:
        """Forget the partial bytes and what they were expected to be."""
        self.data_path.unlink(missing_ok=True)
        self.expected_path.unlink(missing_ok=True)

    # -- endings ----------------------------------------------------------------------------

    def finalize(self, mtime: float | None) -> Path:
        """Move the data onto the target atomically, set its mtime, and mark the directory
        for removal when the block exits."""
        if mtime is not None:
            os.utime(self.data_path, (mtime, mtime))
        os.replace(self.data_path, self.target)
        self._finalized = True
        return self.target

    def discard(self) -> None:
        """Drop the partial for good (it is known bad); the directory goes when the block exits."""
        self.reset()


__all__ = ["PART_SUFFIX", "DownloadDirectory", "DownloadInProgressError", "PartialState",
           "part_dir"]
