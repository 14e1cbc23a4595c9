"""Sync-run bookkeeping in ``sync_runs`` / ``sync_errors`` / ``sync_quarantine``, and what
``ctmirror status`` reads."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from ctmirror.errors import ConfigError
from ctmirror.schema import MODEL_TABLES, SyncError, SyncQuarantine, SyncRun, SyncStatus
from ctmirror.schema.base import mapped_table
from ctmirror.warehouse.load import LoadReport

_runs = mapped_table(SyncRun)
_errors = mapped_table(SyncError)
_quarantine = mapped_table(SyncQuarantine)


@dataclass(frozen=True)
class SyncRunSummary:
    """One row of ``sync_runs``."""

    sync_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    api_base: str
    limit: int | None
    requests: int | None
    error_count: int | None
    inserted: int | None
    updated: int | None
    unchanged: int | None
    removed: int | None
    restored: int | None
    quarantined: int | None
    held_removals: int | None
    reason: str | None
    #: ``DataTestResults.as_json()`` of the run, None before it finished.
    data_tests: dict[str, Any] | None = None
    #: Seconds per stage, by stage name, None before it finished.
    stage_seconds: dict[str, Any] | None = None


@dataclass(frozen=True)
class QuarantineRow:
    """One row of ``sync_quarantine``, without the raw record."""

    sync_id: str
    model: str
    record_id: str | None
    reason: str


@dataclass(frozen=True)
class SyncErrorRow:
    """One row of ``sync_errors``."""

    sync_id: str
    stage: str | None
    model: str | None
    record_id: int | None
    url: str | None
    message: str
    occurred_at: datetime


#: The PostgreSQL advisory lock key of the sync run lock (advisory locks are per database).
RUN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"ctmirror sync run").digest()[:8], "big",
                              signed=True)
_LOCKED = ("another ctmirror sync is running on this warehouse ({how}); wait for it to finish "
           "or stop it")


@contextmanager
def run_lock(url: str) -> Iterator[None]:
    """Hold the sync lock of the warehouse at ``url`` for the whole run, or raise
    ``ConfigError`` at once.

    PostgreSQL: a session-level advisory lock on a connection kept open for the run (released
    when the process dies, however it dies). DuckDB: ``flock`` on ``<database>.sync-lock``, as
    the file's own lock is only held while an engine is open, not between stages; no engine is
    kept open for it, so the file stays free between stages as before.
    """
    from ctmirror.warehouse.engine import create_warehouse_engine

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb":
        engine = create_warehouse_engine(url)
        try:
            with engine.connect() as conn:
                got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(RUN_LOCK_KEY))
                                   ).scalar()
                conn.commit()
                if not got:
                    raise ConfigError(_LOCKED.format(
                        how="it holds the PostgreSQL advisory lock"))
                try:
                    yield
                finally:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(RUN_LOCK_KEY)))
                    conn.commit()
        finally:
            engine.dispose()
        return
    database = parsed.database
    if not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.sync-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Mode left to the umask: a lab sharing one mirror shares its lock too.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(_LOCKED.format(how=f"it holds {path}")) from None
        yield
    finally:
        os.close(fd)


def begin_sync_run(engine: sa.Engine, *, sync_id: str, api_base: str, limit: int | None) -> None:
    """Record that a sync started; it stays ``running`` until ``finish_sync_run``."""
    with engine.begin() as conn:
        conn.execute(sa.insert(_runs).values(
            sync_id=sync_id, started_at=_now(), status=SyncStatus.RUNNING.value,
            api_base=api_base, limit=limit,
        ))


def finish_sync_run(engine: sa.Engine, sync_id: str, *, report: LoadReport, requests: int,
                    status: SyncStatus | str, data_tests: dict[str, Any] | None = None,
                    stage_seconds: Mapping[str, float] | None = None) -> None:
    """Record a sync's outcome: its status, requests, what the load changed, the outcome
    of its data tests and the seconds each stage took."""
    status = SyncStatus(status)
    with engine.begin() as conn:
        errors = conn.execute(
            sa.select(sa.func.count()).select_from(_errors).where(_errors.c.sync_id == sync_id)
        ).scalar_one()
        conn.execute(sa.update(_runs).where(_runs.c.sync_id == sync_id).values(
            finished_at=_now(), status=status.value, requests=requests, error_count=errors,
            inserted=report.inserted, updated=report.updated, unchanged=report.unchanged,
            removed=report.removed, restored=report.restored, quarantined=report.quarantined,
            held_removals=report.held,
            model_counts={model: asdict(counts) for model, counts in report.models.items()},
            data_tests=data_tests,
            stage_seconds=None if stage_seconds is None else {
                name: round(seconds, 3) for name, seconds in stage_seconds.items()},
        ))


@dataclass(frozen=True)
class FinishedRun:
    """The latest finished run before another: what a sync that changed nothing compares with."""

    sync_id: str
    status: str
    model_counts: dict[str, Any]
    data_tests: dict[str, Any]


def previous_finished_run(engine: sa.Engine, sync_id: str) -> FinishedRun | None:
    """The latest run other than ``sync_id`` that finished (any status)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_runs.c.sync_id, _runs.c.status, _runs.c.model_counts, _runs.c.data_tests)
            .where(_runs.c.sync_id != sync_id, _runs.c.finished_at.is_not(None))
            .order_by(_runs.c.started_at.desc()).limit(1)
        ).one_or_none()
    if row is None:
        return None
    return FinishedRun(row.sync_id, row.status, _json(row.model_counts) or {},
                       _json(row.data_tests) or {})


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def fail_sync_run(engine: sa.Engine, sync_id: str, *, reason: str) -> None:
    """Close out a run that stopped on an error: ``failed``, with the error's first line."""
    line = (reason.strip().splitlines() or ["unknown error"])[0][:500]
    with engine.begin() as conn:
        conn.execute(sa.update(_runs).where(
            _runs.c.sync_id == sync_id, _runs.c.status == SyncStatus.RUNNING.value,
        ).values(finished_at=_now(), status=SyncStatus.FAILED.value, reason=line))


def abandon_running_runs(engine: sa.Engine, *, keep: str | None) -> list[str]:
    """Mark ``abandoned`` every run still ``running`` but ``keep``; only the holder of the run
    lock may call this, so none of them has a live process. Returns their ids."""
    with engine.begin() as conn:
        stale = list(conn.execute(sa.select(_runs.c.sync_id).where(
            _runs.c.status == SyncStatus.RUNNING.value,
            _runs.c.sync_id != (keep or ""),
        )).scalars())
        if stale:
            conn.execute(sa.update(_runs).where(_runs.c.sync_id.in_(stale)).values(
                finished_at=_now(), status=SyncStatus.ABANDONED.value,
                reason="found running by a later sync; its process was gone"))
    return stale


def record_sync_error(engine: sa.Engine, sync_id: str, *, model: str | None,
                      record_id: int | None, url: str | None, message: str,
                      stage: str = "extract") -> None:
    """Record a request, record or file the sync could not mirror."""
    with engine.begin() as conn:
        conn.execute(sa.insert(_errors).values(
            sync_id=sync_id, model=model, record_id=record_id, url=url, message=message,
            occurred_at=_now(), stage=stage,
        ))


def unfinished_sync_run(engine: sa.Engine, *, api_base: str, limit: int | None) -> str | None:
    """The newest run against the same API and limit that is still ``running`` (it was killed),
    which the next sync resumes; None when there is none."""
    limit_matches = _runs.c.limit.is_(None) if limit is None else _runs.c.limit == limit
    with engine.connect() as conn:
        return conn.execute(
            sa.select(_runs.c.sync_id)
            .where(_runs.c.status == SyncStatus.RUNNING.value, _runs.c.api_base == api_base,
                   limit_matches)
            .order_by(_runs.c.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()


_Row = TypeVar("_Row", "SyncRunSummary", "SyncErrorRow", "QuarantineRow")


def latest_runs(engine: sa.Engine, n: int) -> list[SyncRunSummary]:
    """The ``n`` most recently started runs, newest first."""
    return _newest(engine, _runs, _runs.c.started_at, SyncRunSummary, n)


def recent_errors(engine: sa.Engine, n: int) -> list[SyncErrorRow]:
    """The ``n`` most recent sync errors, newest first."""
    return _newest(engine, _errors, _errors.c.error_id, SyncErrorRow, n)


def recent_quarantine(engine: sa.Engine, n: int) -> list[QuarantineRow]:
    """The ``n`` most recently quarantined records, newest first."""
    return _newest(engine, _quarantine, _quarantine.c.quarantine_id, QuarantineRow, n)


def _newest(engine: sa.Engine, table: sa.Table, order: sa.ColumnElement[Any],
            row_type: type[_Row], n: int) -> list[_Row]:
    """The ``n`` last rows of ``table`` by ``order``, as ``row_type`` (a dataclass whose
    fields are columns of the table)."""
    fields = row_type.__dataclass_fields__
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*(table.c[name] for name in fields)).order_by(order.desc()).limit(n)
        ).mappings()
        return [row_type(**row) for row in rows]


def table_counts(engine: sa.Engine) -> list[tuple[str, int, int]]:
    """(table, current rows, rows removed upstream) for every mirrored table."""
    counts = []
    with engine.connect() as conn:
        for table in MODEL_TABLES.values():
            current, removed = conn.execute(sa.select(
                sa.func.count().filter(table.c.removed_at.is_(None)),
                sa.func.count().filter(table.c.removed_at.is_not(None)),
            )).one()
            counts.append((table.name, current, removed))
    return counts


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = ["FinishedRun", "previous_finished_run", 
    "QuarantineRow",
    "SyncErrorRow",
    "SyncRunSummary",
    "abandon_running_runs",
    "begin_sync_run",
    "fail_sync_run",
    "finish_sync_run",
    "latest_runs",
    "recent_errors",
    "recent_quarantine",
    "run_lock",
    "record_sync_error",
    "table_counts",
    "unfinished_sync_run",
]
