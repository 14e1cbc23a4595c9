"""Sync-run bookkeeping: begin, errors, finish, and what `ctmirror status` reads."""

from __future__ import annotations

import sqlalchemy as sa

from ctmirror.schema import Donor, SyncRun, SyncStatus
from ctmirror.warehouse.load import LoadReport, ModelCounts
from ctmirror.warehouse.runs import (
    begin_sync_run,
    finish_sync_run,
    latest_runs,
    recent_errors,
    record_sync_error,
    table_counts,
    unfinished_sync_run,
)

API = "http://127.0.0.1:8765"


def test_a_run_from_begin_to_finish(engine: sa.Engine) -> None:
    begin_sync_run(engine, sync_id="s1", api_base=API, limit=None)
    assert unfinished_sync_run(engine, api_base=API, limit=None) == "s1"
    assert unfinished_sync_run(engine, api_base=API, limit=5) is None
    assert unfinished_sync_run(engine, api_base="http://elsewhere", limit=None) is None
    record_sync_error(engine, "s1", model="EphysSweep", record_id=None,
                      url=f"{API}/api/v2/data/query.json?q=x", message="HTTP 503 after 8 attempts")
    record_sync_error(engine, "s1", model="WellKnownFile", record_id=491459173, url=None,
                      message="size mismatch")
    report = LoadReport("s1", {
        "Donor": ModelCounts(rows=3, inserted=2, unchanged=1),
        "EphysSweep": ModelCounts(rows=5, updated=1, unchanged=3, removed=2, restored=1,
                                  api_total_rows=5),
    })
    outcome = {"passed": ["keys_unique"], "failed": {"current_cells_in_cells": ["cell 7"]}}
    finish_sync_run(engine, "s1", report=report, requests=42,
                    status=SyncStatus.COMPLETED_WITH_ERRORS, data_tests=outcome)
    assert unfinished_sync_run(engine, api_base=API, limit=None) is None

    (run,) = latest_runs(engine, 5)
    assert (run.sync_id, run.status, run.requests, run.error_count) == (
        "s1", "completed_with_errors", 42, 2)
    assert (run.inserted, run.updated, run.unchanged, run.removed, run.restored) == (2, 1, 4, 2, 1)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    with engine.connect() as conn:
        per_model = conn.execute(sa.select(SyncRun.__table__.c.model_counts)).scalar_one()
    assert per_model["EphysSweep"] == {"rows": 5, "inserted": 0, "updated": 1, "unchanged": 3,
                                       "removed": 2, "restored": 1, "quarantined": 0, "held": 0,
                                       "api_total_rows": 5, "package_digest": None}
    assert run.data_tests == outcome
    errors = recent_errors(engine, 10)
    assert [(e.model, e.record_id, e.message) for e in errors] == [
        ("WellKnownFile", 491459173, "size mismatch"),
        ("EphysSweep", None, "HTTP 503 after 8 attempts"),
    ]


def test_latest_runs_newest_first_and_limited(engine: sa.Engine) -> None:
    for sync_id in ("s1", "s2", "s3"):
        begin_sync_run(engine, sync_id=sync_id, api_base=API, limit=10)
    assert [r.sync_id for r in latest_runs(engine, 2)] == ["s3", "s2"]
    assert unfinished_sync_run(engine, api_base=API, limit=10) == "s3"


def test_table_counts_split_current_and_removed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for donor_id, removed in ((1, None), (2, None), (3, sa.func.now())):
            conn.execute(sa.insert(Donor.__table__).values(
                id=donor_id, raw={"id": donor_id}, content_hash="h", first_seen=sa.func.now(),
                last_seen=sa.func.now(), removed_at=removed, first_sync_id="s",
                last_sync_id="s"))
    counts = {name: (current, removed) for name, current, removed in table_counts(engine)}
    assert counts["donors"] == (2, 1)
    assert counts["ephys_sweeps"] == (0, 0)
    assert len(counts) == 16
