"""The download stage of a sync: bring every planned file onto disk, verified, and record it.

A file whose record is unchanged and whose verified copy is on disk with the recorded size
costs no request. Anything else goes through ``download_many``: a partial left by a killed
run is resumed, a complete copy whose row was never written is re-hashed instead of fetched
again, a changed record fetches the file again. Rows are written after every batch, so a
killed sync loses at most one batch of bookkeeping, never a file.

With an object store, "on disk" means on the store: one listing gives every object's size,
and a verified download is put under its final key before its row is written (a kill between
the two re-hashes the local copy and puts it again).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from ctmirror.mirror import (
    DownloadError,
    DownloadJob,
    DownloadResult,
    Existing,
    ProgressSink,
    download_many,
)
from ctmirror.mirror.plan import PlannedFile, live_file_keys, plan_files
from ctmirror.rma.client import USER_AGENT
from ctmirror.settings import SyncConfig
from ctmirror.stages import Failure, StageReport
from ctmirror.storage import ObjectStore
from ctmirror.warehouse.mirror_files import (
    MirroredFile,
    mark_unlinked,
    mirrored_files,
    touch_mirrored,
    upsert_mirrored,
)

log = logging.getLogger(__name__)

#: Files per bookkeeping batch: rows are written after each.
BATCH_FILES = 64


def download_files(engine: sa.Engine, config: SyncConfig, sync_id: str,
                   progress: ProgressSink | None = None) -> StageReport:
    """Mirror every planned file under the root; see the module docstring."""
    root, concurrency, store = config.root, config.files.concurrency, config.object_store
    with engine.connect() as conn:
        planned = plan_files(conn, config.api_base, config.file_categories,
                             image_downsample=config.files.image_downsample)
        known = mirrored_files(conn)
        live = live_file_keys(conn)
    with engine.begin() as conn:
        unlinked = mark_unlinked(conn, known.values(), live)

    present = _on_disk(root) if store is None else _in_store(store.sizes("files"))
    current, jobs = _split(planned, known, root, present)
    with engine.begin() as conn:
        touch_mirrored(conn, (f.key for f in current), sync_id)

    counts = {"up_to_date": len(current), "resumed": 0, "rehashed": 0, "bytes_transferred": 0}
    if store is not None:
        counts["uploaded"] = 0
        # The derived stages read the working copy: bring back what a new work dir lacks.
        counts["fetched_from_store"] = _fill_working_copy(store, root, current)
    downloaded = 0
    failures: list[Failure] = []
    with _http_client(concurrency, config.api.timeout_s, config.api_auth) as http:
        for batch in _batches(jobs, BATCH_FILES):
            results = download_many(http, [job for _, job in batch], concurrency=concurrency,
                                    progress=progress)
            put_errors = {} if store is None else _put_verified(
                store, root, [f.relpath for (f, _), result in zip(batch, results, strict=True)
                              if not isinstance(result, DownloadError)], concurrency)
            rows = []
            for (planned_file, _), result in zip(batch, results, strict=True):
                if isinstance(result, DownloadError):
                    failures.append(Failure(planned_file.source.value, planned_file.source_id,
                                            planned_file.url, result.message))
                    continue
                if planned_file.relpath in put_errors:
                    failures.append(Failure(planned_file.source.value, planned_file.source_id,
                                            planned_file.url, put_errors[planned_file.relpath]))
                    continue
                if store is not None:
                    counts["uploaded"] += 1
                rows.append(_row(planned_file, result, sync_id))
                counts["bytes_transferred"] += result.bytes_transferred
                if result.skipped:
                    counts["rehashed"] += 1
                else:
                    downloaded += 1
                    counts["resumed"] += int(result.resumed)
            with engine.begin() as conn:
                upsert_mirrored(conn, rows)
    report = StageReport("download", pending=len(planned), done=downloaded,
                         withdrawn=len(unlinked), failures=tuple(failures), counts=counts)
    log.info("download: %s", report.summary())
    return report


def _split(planned: list[PlannedFile], known: dict[tuple[str, int], MirroredFile], root: Path,
           present: Callable[[str, int], bool]
           ) -> tuple[list[PlannedFile], list[tuple[PlannedFile, DownloadJob]]]:
    """Files that need nothing (same record, recorded copy present with its size) and the
    download jobs for the rest."""
    current: list[PlannedFile] = []
    jobs: list[tuple[PlannedFile, DownloadJob]] = []
    for planned_file in planned:
        row = known.get(planned_file.key)
        same_record = (row is not None and row.record_hash == planned_file.record_hash
                       and row.relpath == planned_file.relpath)
        if same_record and row is not None and present(planned_file.relpath, row.size):
            current.append(planned_file)
            continue
        # Without a row, a copy on disk is one a killed run verified but did not record: check
        # it again instead of fetching it. With a row, the copy is missing, damaged or from
        # an older record: fetch it (a partial download is still resumed).
        existing = Existing.VERIFY if row is None else Existing.OVERWRITE
        jobs.append((planned_file, DownloadJob(url=planned_file.url,
                                               target=root / planned_file.relpath,
                                               kind=planned_file.kind, existing=existing)))
    return current, jobs


def _put_verified(store: ObjectStore, root: Path, relpaths: list[str], concurrency: int
                  ) -> dict[str, str]:
    """Put each verified local file under its final key, ``concurrency`` at a time; the
    message of each put that failed, by relpath."""
    def put(relpath: str) -> str | None:
        try:
            store.put(root / relpath, relpath)
        except OSError as exc:
            return f"cannot put {relpath} on {store.url}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(put, relpaths))
    return {relpath: error for relpath, error in zip(relpaths, outcomes, strict=True)
            if error is not None}


def _fill_working_copy(store: ObjectStore, root: Path, current: list[PlannedFile]) -> int:
    missing = [f.relpath for f in current if not (root / f.relpath).exists()]
    for relpath in missing:
        store.fetch(relpath, root / relpath)
    return len(missing)


def _on_disk(root: Path) -> Callable[[str, int], bool]:
    # One stat per recorded file is what a no-op sync pays to notice a deleted or truncated
    # copy (its content is checked by `ctmirror verify --content`); os.path, not pathlib,
    # since pathlib's parsing of 18,000 paths costs more than the stats.
    folder = os.fspath(root)

    def present(relpath: str, size: int) -> bool:
        try:
            return os.stat(os.path.join(folder, relpath)).st_size == size
        except OSError:
            return False
    return present


def _in_store(sizes: dict[str, int]) -> Callable[[str, int], bool]:
    return lambda relpath, size: sizes.get(relpath) == size


def _row(planned_file: PlannedFile, result: DownloadResult, sync_id: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "source": planned_file.source.value,
        "source_id": planned_file.source_id,
        "specimen_id": planned_file.specimen_id,
        "url": planned_file.url,
        "relpath": planned_file.relpath,
        "kind": planned_file.kind.value,
        "size": result.size,
        "sha256": result.sha256,
        "etag": result.etag,
        "last_modified": result.last_modified,
        "downloaded_at": now,
        "record_hash": planned_file.record_hash,
        "first_sync_id": sync_id,
        "last_sync_id": sync_id,
        "removed_at": None,
    }


def _http_client(concurrency: int, timeout_s: float, auth: tuple[str, str] | None
                 ) -> httpx.Client:
    return httpx.Client(
        auth=auth,
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=concurrency,
                            max_keepalive_connections=concurrency),
        headers={"User-Agent": USER_AGENT},
    )


def _batches(items: list[tuple[PlannedFile, DownloadJob]], size: int
             ) -> Iterator[list[tuple[PlannedFile, DownloadJob]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["BATCH_FILES", "download_files"]
