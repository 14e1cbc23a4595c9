"""Our own bookkeeping: sync runs, the history of changed records, and per-record errors."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Sequence
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base, describe


class SyncStatus(StrEnum):
    """Values of ``sync_runs.status``."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    #: Found ``running`` by a later run that holds the run lock, so its process is gone, and
    #: not resumable (another API or limit).
    ABANDONED = "abandoned"


class ChangeKind(StrEnum):
    """Values of ``sync_record_history.change_kind``."""

    UPDATED = "updated"
    REMOVED = "removed"
    RESTORED = "restored"


#: Numbers ``sync_errors`` rows (DuckDB has no SERIAL; an explicit sequence works on both).
sync_error_id_seq = Sequence("sync_errors_error_id_seq", metadata=Base.metadata)
#: Numbers ``sync_quarantine`` rows.
sync_quarantine_id_seq = Sequence("sync_quarantine_id_seq", metadata=Base.metadata)


class SyncRun(Base):
    """One ``ctmirror sync``: when, against which API, and what it changed.

    ``status`` is ``running`` until the run finishes; a run still ``running`` was interrupted
    and the next sync resumes it (or marks it ``abandoned`` when it cannot). A run that fails
    is closed out as ``failed`` with a one-line ``reason``.
    """

    __tablename__ = "sync_runs"

    sync_id: Mapped[str] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str]
    api_base: Mapped[str]
    limit: Mapped[int | None]
    requests: Mapped[int | None]
    error_count: Mapped[int | None]
    inserted: Mapped[int | None]
    updated: Mapped[int | None]
    unchanged: Mapped[int | None]
    removed: Mapped[int | None]
    restored: Mapped[int | None]
    #: ``{"<Model>": {"rows": n, "inserted": n, ...}}`` for the models the run loaded.
    model_counts: Mapped[dict[str, Any] | None]
    #: Records that broke their model's contract (rows in ``sync_quarantine``).
    quarantined: Mapped[int | None]
    #: Removals held back as a suspicious drop, waiting for the next sync to confirm them.
    held_removals: Mapped[int | None]
    #: Why a run failed, in one line.
    reason: Mapped[str | None]
    #: The data tests run at the end of the sync (``ctmirror.warehouse.data_tests``):
    #: ``{"passed": [name, ...], "failed": {name: [failure, ...]}}``.
    data_tests: Mapped[dict[str, Any] | None]
    #: Wall-clock seconds of each stage that ran, retries included: ``{"extract": 1.2, ...}``.
    stage_seconds: Mapped[dict[str, Any] | None]


class SyncRecordHistory(Base):
    """A record's previous content, written whenever a sync updates, removes or restores it.

    A record changes at most once per sync, so (table, record, sync) is the key; its index also
    serves lookups of one record's history.
    """

    __tablename__ = "sync_record_history"

    table_name: Mapped[str] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sync_id: Mapped[str] = mapped_column(primary_key=True)
    change_kind: Mapped[str]
    old_raw: Mapped[dict[str, Any] | None]
    new_raw: Mapped[dict[str, Any] | None]
    changed_at: Mapped[datetime]


class SyncError(Base):
    """A request or record a sync could not mirror; the run went on without it."""

    __tablename__ = "sync_errors"

    error_id: Mapped[int] = mapped_column(
        BigInteger, sync_error_id_seq, server_default=sync_error_id_seq.next_value(),
        primary_key=True,
    )
    sync_id: Mapped[str]
    model: Mapped[str | None]
    record_id: Mapped[int | None]
    url: Mapped[str | None]
    message: Mapped[str]
    occurred_at: Mapped[datetime]
    #: Which stage failed: ``extract`` (a query), ``download`` or ``convert`` (a file).
    stage: Mapped[str | None]


class SyncQuarantine(Base):
    """A record that broke its model's contract (``ctmirror.schema.contract``): kept as the API
    sent it, never loaded, and never counted as removed.

    ``record_id`` is text because the id itself may be what is wrong (``"abc"``, a number past
    BIGINT); ``raw`` is JSON text with every non-ASCII character escaped, so a lone surrogate or
    a NUL that no typed column or JSON column can hold is still kept.
    """

    __tablename__ = "sync_quarantine"

    quarantine_id: Mapped[int] = mapped_column(
        BigInteger, sync_quarantine_id_seq,
        server_default=sync_quarantine_id_seq.next_value(), primary_key=True,
    )
    sync_id: Mapped[str]
    model: Mapped[str]
    record_id: Mapped[str | None]
    reason: Mapped[str]
    raw: Mapped[str]
    quarantined_at: Mapped[datetime]


_SYNC_ID = "the sync (sync_runs.sync_id)"

describe(SyncRun, {
    "sync_id": "sync id, '<UTC start>-<random hex>' (key)",
    "started_at": "when the sync started (UTC timestamp)",
    "finished_at": "when it finished (UTC timestamp); empty while running",
    "status": "running, succeeded, completed_with_errors, failed or abandoned",
    "api_base": "the Allen API base URL it mirrored",
    "limit": "mirror only the first N cells (count); empty: every cell",
    "requests": "HTTP requests to the API (count)",
    "error_count": "requests and records it could not mirror (count; rows in sync_errors)",
    "inserted": "records inserted (count)",
    "updated": "records updated (count)",
    "unchanged": "records found unchanged (count)",
    "removed": "records marked removed (count)",
    "restored": "removed records that came back (count)",
    "model_counts": "per model: rows, inserted, updated, ... (JSON)",
    "quarantined": "records that broke their model's contract (count; rows in "
                   "sync_quarantine)",
    "held_removals": "removals held back as a suspicious drop (count)",
    "reason": "why the run failed, in one line",
    "data_tests": "the data tests run at the end of the sync: names passed, and each failed "
                  "test's failures (JSON)",
    "stage_seconds": "wall-clock seconds of each stage that ran, retries included, by stage "
                     "name (JSON)",
})

describe(SyncRecordHistory, {
    "table_name": "table of the record",
    "record_id": "the record's Allen id",
    "sync_id": _SYNC_ID,
    "change_kind": "updated, removed or restored",
    "old_raw": "the record before the change (JSON)",
    "new_raw": "the record after the change (JSON)",
    "changed_at": "when the change was written (UTC timestamp)",
})

describe(SyncError, {
    "error_id": "error number (key)",
    "sync_id": _SYNC_ID,
    "model": "Allen model of the failed request or record",
    "record_id": "Allen id of the record, when there is one",
    "url": "the request or file URL",
    "message": "what went wrong, in one line",
    "occurred_at": "when (UTC timestamp)",
    "stage": "stage that failed: extract, download, convert, ephys-features, ...",
})

describe(SyncQuarantine, {
    "quarantine_id": "quarantine number (key)",
    "sync_id": _SYNC_ID,
    "model": "Allen model of the record",
    "record_id": "the record's id as sent (text: the id may be what is wrong)",
    "reason": "the contract the record broke",
    "raw": "the record as the API sent it (JSON text, non-ASCII escaped)",
    "quarantined_at": "when (UTC timestamp)",
})


__all__ = [
    "ChangeKind", "SyncError", "SyncQuarantine", "SyncRecordHistory", "SyncRun", "SyncStatus",
    "sync_error_id_seq", "sync_quarantine_id_seq",
]
