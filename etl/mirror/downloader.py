"""Download one file, or many, so that a target path only ever holds verified bytes.

Each download is the state machine of ``download_dir``: bytes go to ``<target>.part/data``,
a later attempt resumes them with ``Range`` + ``If-Range`` (so a changed file on the server
answers 200 and the download restarts from byte 0), the sha256 is computed while writing (and
over the whole file after a resume), the size, checksum and content are checked, and only then
is the file moved onto the target. Transient failures are retried per ``ctmirror.rma.retry``;
anything left over stays in ``.part/`` for the next call.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from ctmirror.errors import (
    ApiError,
    ApiTransportError,
    ConfigError,
    CtMirrorError,
    FileIntegrityError,
    TerminalApiStatusError,
    TransientApiStatusError,
)
from ctmirror.mirror.download_dir import DownloadDirectory, PartialState
from ctmirror.mirror.policy import Existing
from ctmirror.mirror.progress import (
    BytesReceived,
    DownloadDone,
    DownloadFailed,
    DownloadStarted,
    ProgressSink,
    null_sink,
)
from ctmirror.mirror.verify import FileKind, sha256_file, verify_content
from ctmirror.rma.retry import DOWNLOAD_RETRY, RetryPolicy, parse_retry_after, retry_delay

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# Longest file name most file systems take, less room for the ".part" suffix of the partial.
MAX_NAME_BYTES = 250
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    etag: str | None
    last_modified: str | None
    bytes_transferred: int  # body bytes received by this call, over all attempts
    resumed: bool  # the file was completed from bytes an earlier attempt left behind
    skipped: bool  # the target was already there and kept (see ``Existing``)


@dataclass(frozen=True)
class DownloadJob:
    url: str
    target: Path
    kind: FileKind
    expected_size: int | None = None
    expected_sha256: str | None = None
    existing: Existing = Existing.SKIP


@dataclass(frozen=True)
class DownloadError:
    """A download that failed; ``download_many`` returns it in place of a result."""

    url: str
    path: Path
    error: CtMirrorError | OSError

    @property
    def message(self) -> str:
        return str(self.error)


def safe_name(name: str) -> str:
    """A server-given file name reduced to one harmless path component.

    Only the last component of a path survives (Allen's ``WellKnownFile.path`` is a server
    path); separators, NUL and control characters become ``_``; ``.``, ``..`` and empty names
    become ``_``; overlong names are shortened, keeping the suffix.
    """
    base = _UNSAFE_CHARS.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if base in ("", ".", ".."):
        return "_"
    encoded = base.encode()
    if len(encoded) <= MAX_NAME_BYTES:
        return base
    stem, dot, suffix = base.rpartition(".")
    keep = f"{dot}{suffix}" if dot and stem and len(suffix.encode()) < 16 else ""
    head = encoded[: MAX_NAME_BYTES - len(keep.encode())].decode(errors="ignore")
    return head + keep


def file_target(root: Path, file_id: int, server_name: str) -> Path:
    """``root/<file_id>/<safe name>``: the only way a server name becomes a local path."""
    root = Path(root)
    target = root / str(int(file_id)) / safe_name(server_name)
    # A symlink planted inside the mirror could still lead out; refuse rather than follow.
    if not target.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"{target} resolves outside the mirror root {root}; "
                          "remove the symlink that leads there")
    return target


class _Restart(Exception):
    """The partial cannot be continued; start again from byte 0 without waiting."""


@dataclass(frozen=True)
class _Served:
    """What a response says about the file it carries."""

    offset: int  # where its body starts in the file
    total: int | None  # the whole file's size
    length: int | None  # the body's size
    etag: str | None
    last_modified: str | None


class _Download:
    """One ``download_file`` call: its inputs, and the bytes received over all attempts."""

    def __init__(self, http: httpx.Client, url: str, target: Path, kind: FileKind,
                 expected_size: int | None, expected_sha256: str | None,
                 sink: ProgressSink) -> None:
        self.http = http
        self.url = url
        self.target = target
        self.kind = kind
        self.expected_size = expected_size
        self.expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        self.sink = sink
        self.bytes_transferred = 0

    # -- an existing target -----------------------------------------------------------------

    def reuse(self, existing: Existing) -> DownloadResult | None:
        """The kept target as a skipped result, or None when it must be downloaded again."""
        if existing is Existing.OVERWRITE or not self.target.is_file():
            return None
        size = self.target.stat().st_size
        if self.expected_size is not None and size != self.expected_size:
            log.info("%s - %d bytes on disk, %d expected; downloading again",
                     self.target, size, self.expected_size)
            return None
        if existing is Existing.SKIP and self.expected_sha256 is not None:
            sha256 = self.expected_sha256
        else:
            sha256 = sha256_file(self.target)
        if existing is Existing.VERIFY:
            if self.expected_sha256 is not None and sha256 != self.expected_sha256:
                log.info("%s - sha256 differs from the expected one; downloading again",
                         self.target)
                return None
            try:
                verify_content(self.target, self.kind)
            except FileIntegrityError as exc:
                log.info("%s - %s; downloading again", self.target, exc)
                return None
            # a copy a killed run verified but did not record: ask the server for the
            # validators it was served with, so that later syncs can still make conditional
            # requests for it
            etag, last_modified = self._validators(size)
            return DownloadResult(self.target, size, sha256, etag, last_modified, 0, False, True)
        return DownloadResult(self.target, size, sha256, None, None, 0, False, True)

    def _validators(self, size: int) -> tuple[str | None, str | None]:
        """The server's ETag and Last-Modified for a copy of ``size`` bytes, by one HEAD
        request; none when the server does not answer it or serves another size."""
        try:
            response = self.http.head(self.url, headers={"Accept-Encoding": "identity"},
                                      follow_redirects=True)
        except httpx.HTTPError as exc:
            log.info("%s - no validators (%s)", self.url, exc)
            return None, None
        length = response.headers.get("content-length")
        if response.status_code != 200 or length is None or length.strip() != str(size):
            return None, None
        return response.headers.get("etag"), response.headers.get("last-modified")

    # -- one attempt ------------------------------------------------------------------------

    def attempt(self, part: DownloadDirectory) -> DownloadResult:
        offset = self._resume_offset(part)
        recorded = part.recorded()
        # _resume_offset kept the partial only if its recorded size agrees with the expected one.
        if offset and recorded is not None and offset == recorded.size:
            # Complete bytes whose move onto the target was interrupted: check them, no request.
            served = _Served(offset, offset, 0, recorded.etag, recorded.last_modified)
            return self._finish(part, served, digest=None)
        headers = {"Accept-Encoding": "identity"}
        validator = _validator(recorded) if recorded is not None else None
        if offset and validator is not None:
            headers["Range"] = f"bytes={offset}-"
            headers["If-Range"] = validator
        try:
            with self.http.stream("GET", self.url, headers=headers,
                                  follow_redirects=True) as response:
                served = self._served(response, offset)
                part.record(PartialState(self.url, served.total, self.expected_sha256,
                                         served.etag, served.last_modified))
                digest = self._receive(response, part, served)
        except httpx.TransportError as exc:
            raise ApiTransportError(
                f"{self.url}: the download broke off ({type(exc).__name__}: {exc}); "
                "the partial is kept and the next attempt resumes it",
                url=self.url,
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise ApiError(f"{self.url}: too many redirects; check the download link",
                           url=self.url) from exc
        return self._finish(part, served, digest)

    def _resume_offset(self, part: DownloadDirectory) -> int:
        """How many partial bytes can be kept: all of them if they were fetched from this URL
        under the same expectations with a validator to resume on, else none."""
        size = part.data_size()
        if size == 0:
            return 0
        recorded = part.recorded()
        usable = (
            recorded is not None
            and recorded.url == self.url
            and _agrees(recorded.size, self.expected_size)
            and _agrees(recorded.sha256, self.expected_sha256)
            and _validator(recorded) is not None
            and (recorded.size is None or size <= recorded.size)
        )
        if not usable:
            log.info("%s - the partial does not match the expected file; starting over",
                     self.target)
            part.reset()
            return 0
        return size

    def _served(self, response: httpx.Response, offset: int) -> _Served:
        status = response.status_code
        headers = response.headers
        length = _int_header(headers.get("content-length"))
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if status == 206:
            match = _CONTENT_RANGE.fullmatch(headers.get("content-range", "").strip())
            if match is None or int(match.group(1)) != offset:
                raise _Restart(f"the server sent the range {headers.get('content-range')!r} "
                               f"for a request from byte {offset}")
            total = None if match.group(3) == "*" else int(match.group(3))
            served = _Served(offset, total, length, etag, last_modified)
        elif status == 200:
            if offset:
                log.info("%s - the server sent the whole file (changed, or no range support); "
                         "restarting from byte 0", self.target)
            served = _Served(0, length, length, etag, last_modified)
        elif status == 416:
            raise _Restart("the server has fewer bytes than the partial")
        else:
            raise _status_error(self.url, response)
        if (self.expected_size is not None and served.total is not None
                and served.total != self.expected_size):
            raise FileIntegrityError(
                f"{self.url}: the server offers {served.total} bytes, the record says "
                f"{self.expected_size}; the file changed upstream, sync the metadata again",
                path=str(self.target),
            )
        return served

    def _receive(self, response: httpx.Response, part: DownloadDirectory,
                 served: _Served) -> hashlib._Hash | None:
        """Stream the body into the partial; return the running sha256 when it covers the
        whole file (a fresh start), None after a resume."""
        total = served.total if served.total is not None else self.expected_size
        self.sink(DownloadStarted(self.target, self.url, served.offset, total))
        digest = hashlib.sha256() if served.offset == 0 else None
        received = 0
        with part.open_data(served.offset) as fh:
            for chunk in response.iter_raw(CHUNK_SIZE):
                fh.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                received += len(chunk)
                self.bytes_transferred += len(chunk)
                self.sink(BytesReceived(self.target, served.offset + received, total))
        if served.length is not None and received != served.length:
            raise ApiTransportError(
                f"{self.url}: the body ended after {received} of {served.length} bytes; "
                "the partial is kept and the next attempt resumes it",
                url=self.url,
            )
        return digest

    def _finish(self, part: DownloadDirectory, served: _Served,
                digest: hashlib._Hash | None) -> DownloadResult:
        resumed = digest is None
        size = part.data_size()
        sha256 = sha256_file(part.data_path) if digest is None else digest.hexdigest()
        problem = None
        if self.expected_size is not None and size != self.expected_size:
            problem = f"{size} bytes, expected {self.expected_size}"
        elif self.expected_sha256 is not None and sha256 != self.expected_sha256:
            problem = f"sha256 {sha256}, expected {self.expected_sha256}"
        if problem is not None:
            if resumed:
                raise _Restart(f"the resumed file has {problem}")
            raise FileIntegrityError(
                f"{self.url}: the downloaded file has {problem}; it was not kept, try again "
                "and report the server's copy if it stays wrong",
                path=str(self.target),
            )
        verify_content(part.data_path, self.kind, name=self.target.name)
        part.finalize(_timestamp(served.last_modified))
        return DownloadResult(self.target, size, sha256, served.etag, served.last_modified,
                              self.bytes_transferred, resumed, False)


def download_file(
    http: httpx.Client,
    url: str,
    target: Path,
    *,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    kind: FileKind,
    existing: Existing = Existing.SKIP,
    progress: ProgressSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryPolicy = DOWNLOAD_RETRY,
) -> DownloadResult:
    """Download ``url`` to ``target``, verified; see the module docstring.

    Raises ``ApiError`` when the server cannot be made to answer within ``retry``,
    ``FileIntegrityError`` when the file is not what was expected (the target is then
    untouched), and ``DownloadInProgressError`` when another process holds the target's lock.
    """
    sink = progress or null_sink
    job = _Download(http, url, Path(target), kind, expected_size, expected_sha256, sink)
    try:
        kept = job.reuse(existing)
        if kept is not None:
            sink(DownloadDone(kept.path, kept.size, 0, skipped=True))
            return kept
        with DownloadDirectory(job.target) as part:
            result = _attempts(job, part, sleep, retry)
    except (CtMirrorError, OSError) as exc:
        sink(DownloadFailed(job.target, str(exc)))
        raise
    sink(DownloadDone(result.path, result.size, result.bytes_transferred, skipped=False))
    return result


def _attempts(job: _Download, part: DownloadDirectory, sleep: Callable[[float], None],
              retry: RetryPolicy) -> DownloadResult:
    attempt = 0
    while True:
        attempt += 1
        try:
            return job.attempt(part)
        except FileIntegrityError:
            part.discard()  # known bad: resuming it could only repeat the failure
            raise
        except _Restart as exc:
            part.reset()
            if attempt >= retry.max_attempts:
                raise FileIntegrityError(
                    f"{job.url}: {exc}, and no attempt is left to start over; try again later",
                    path=str(job.target),
                ) from None
            log.info("%s - %s; starting over from byte 0", job.target, exc)
        except CtMirrorError as exc:
            delay = retry_delay(exc, attempt, retry)
            if delay is None:
                raise
            log.info("%s - attempt %d/%d failed (%s); retrying in %.1f s",
                     job.target, attempt, retry.max_attempts, exc, delay)
            sleep(delay)


def download_many(
    http: httpx.Client,
    jobs: Iterable[DownloadJob],
    *,
    concurrency: int = 4,
    progress: ProgressSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryPolicy = DOWNLOAD_RETRY,
) -> list[DownloadResult | DownloadError]:
    """Run ``jobs`` on ``concurrency`` threads; results in job order, a failed file as a
    ``DownloadError`` record that does not stop the others. ``progress`` is called from
    several threads."""
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")

    def run(job: DownloadJob) -> DownloadResult | DownloadError:
        try:
            return download_file(
                http, job.url, job.target, expected_size=job.expected_size,
                expected_sha256=job.expected_sha256, kind=job.kind, existing=job.existing,
                progress=progress, sleep=sleep, retry=retry,
            )
        except (CtMirrorError, OSError) as exc:
            log.warning("%s - %s", job.target, exc)
            return DownloadError(job.url, Path(job.target), exc)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="download") as pool:
        return list(pool.map(run, jobs))


def _agrees(recorded: object, expected: object) -> bool:
    return expected is None or recorded == expected


def _validator(state: PartialState) -> str | None:
    """What ``If-Range`` can carry: a strong ETag, else the Last-Modified date."""
    if state.etag and not state.etag.startswith("W/"):
        return state.etag
    return state.last_modified


def _int_header(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _status_error(url: str, response: httpx.Response) -> ApiError:
    status = response.status_code
    if status == 429 or status >= 500:
        return TransientApiStatusError(
            f"{url}: HTTP {status}; the server is busy or failing, try again later",
            url=url, status_code=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    return TerminalApiStatusError(
        f"{url}: HTTP {status}; check the download link", url=url, status_code=status,
    )


def _timestamp(last_modified: str | None) -> float | None:
    if not last_modified:
        return None
    try:
        return parsedate_to_datetime(last_modified).timestamp()
    except (TypeError, ValueError):
        return None


__all__ = [
    "CHUNK_SIZE",
    "DownloadError",
    "DownloadJob",
    "DownloadResult",
    "download_file",
    "download_many",
    "file_target",
    "safe_name",
]
