"""The verified file mirror: download files so that a target only ever holds checked bytes.

I/O edge, no orchestration: ``download_file`` / ``download_many`` take an injected
``httpx.Client`` and report typed progress events to a sink.
"""

from __future__ import annotations

from ctmirror.mirror.download_dir import DownloadDirectory, DownloadInProgressError, PartialState
from ctmirror.mirror.downloader import (
    DownloadError,
    DownloadJob,
    DownloadResult,
    download_file,
    download_many,
    file_target,
    safe_name,
)
from ctmirror.mirror.policy import DOWNLOAD_RETRY, Existing
from ctmirror.mirror.progress import (
    BytesReceived,
    DownloadDone,
    DownloadEvent,
    DownloadFailed,
    DownloadStarted,
    LogSink,
    ProgressSink,
    RichProgressSink,
    Throttled,
)
from ctmirror.mirror.verify import FileKind, sha256_file, verify_content

__all__ = [
    "DOWNLOAD_RETRY",
    "BytesReceived",
    "DownloadDirectory",
    "DownloadDone",
    "DownloadError",
    "DownloadEvent",
    "DownloadFailed",
    "DownloadInProgressError",
    "DownloadJob",
    "DownloadResult",
    "DownloadStarted",
    "Existing",
    "FileKind",
    "LogSink",
    "PartialState",
    "ProgressSink",
    "RichProgressSink",
    "Throttled",
    "download_file",
    "download_many",
    "file_target",
    "safe_name",
    "sha256_file",
    "verify_content",
]
