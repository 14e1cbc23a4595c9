"""`ctmirror sync` end to end against the replica: completeness, idempotence, history, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.replica.snapshot import Snapshot
from ctmirror.schema import MODEL_TABLES
from ctmirror.schema.allen_model import MODELS, REFERENCE_MODELS, primary_key
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally


def _config(base_url: str, root: Path, warehouse_url: str, limit: int | None = None,
            *, files: bool = True) -> SyncConfig:
    """The sync's settings; ``files=False`` mirrors the records only (no file, no conversion,
    no feature stage), for tests about records: the file stages are tested on their own."""
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = warehouse_url
    settings.limit = limit
    if not files:
        settings.files.categories = "none"
        settings.features.ephys = settings.features.morphology = settings.features.glif = False
    return settings.sync_config()


def _snapshot_counts(snapshot: Path) -> dict[str, int]:
    """Records the mirror holds (``Snapshot.mirrored_records``)."""
    snap = Snapshot(snapshot)
    return {model: sum(1 for _ in snap.mirrored_records(model))
            for model in snap.models() if model not in REFERENCE_MODELS}


def _warehouse_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                model: conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(
                        table.c.removed_at.is_(None))
                ).scalar_one()
                for model, table in MODEL_TABLES.items()
            }
    finally:
        engine.dispose()


def _warehouse_state(url: str) -> dict[str, dict[object, tuple[str, bool]]]:
    """Every record's content hash and removed flag, per model: the state a sync must reach."""
    engine = sa.create_engine(url)
    state: dict[str, dict[object, tuple[str, bool]]] = {}
    try:
        with engine.connect() as conn:
            for model, table in MODEL_TABLES.items():
                key = table.c[primary_key(model)]
                rows = conn.execute(sa.select(key, table.c.content_hash, table.c.removed_at))
                state[model] = {r[0]: (r[1], r[2] is not None) for r in rows}
    finally:
        engine.dispose()
    return state


def test_sync_mirrors_every_record_then_changes_nothing(
    replica: object, synth_snapshot: Path, warehouse_url: str, tmp_path: Path
) -> None:
    # Records only: what is checked is every record and the second sync's load; the files'
    # completeness and idempotence are test_file_mirror.py's.
    config = _config(replica.base_url, tmp_path / "mirror", warehouse_url, files=False)
    first = run_sync_locally(config)

    expected = _snapshot_counts(synth_snapshot)
    assert set(expected) <= set(MODELS)
    counts = _warehouse_counts(warehouse_url)
    assert {m: counts[m] for m in expected} == expected
    assert first.load.inserted == sum(expected.values())
    cells = expected["ApiCellTypesSpecimenDetail"]
    # bulk queries: far fewer requests than one per cell per model
    assert first.requests < cells * len(expected) / 2
    assert not first.errors

    second = run_sync_locally(config)
    assert (second.load.inserted, second.load.updated, second.load.removed) == (0, 0, 0)
    assert second.load.unchanged == sum(expected.values())
    assert second.sync_id != first.sync_id
    assert not (config.staging_root / second.sync_id).exists()


def test_changed_record_keeps_history_and_removed_record_is_marked(
    synth_snapshot: Path, warehouse_url: str, tmp_path: Path
) -> None:
    from ctmirror.replica.server import serve_in_thread

    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    with serve_in_thread(snapshot) as replica:
        config = _config(replica.base_url, tmp_path / "mirror", warehouse_url, files=False)
        run_sync_locally(config)

        cells_file = snapshot / "records" / "ApiCellTypesSpecimenDetail.jsonl"
        cells = [json.loads(line) for line in cells_file.read_text().splitlines()]
        changed, removed = cells[0], cells[1]
        old_layer = changed["structure__layer"]
        changed["structure__layer"] = "6b" if old_layer != "6b" else "2/3"
        cells_file.write_text("".join(json.dumps(c) + "\n" for c in cells if c is not removed))
        replica.reload()

        result = run_sync_locally(config)
    counts = result.load.models["ApiCellTypesSpecimenDetail"]
    assert (counts.inserted, counts.updated, counts.removed) == (0, 1, 1)

    engine = sa.create_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            table = MODEL_TABLES["ApiCellTypesSpecimenDetail"]
            row = conn.execute(sa.select(table.c.structure__layer, table.c.removed_at).where(
                table.c.specimen__id == changed["specimen__id"])).one()
            assert row.structure__layer == changed["structure__layer"]
            assert row.removed_at is None
            gone = conn.execute(sa.select(table.c.removed_at).where(
                table.c.specimen__id == removed["specimen__id"])).scalar_one()
            assert gone is not None  # marked, never deleted
            history = conn.execute(sa.text(
                "SELECT change_kind, old_raw FROM sync_record_history "
                "WHERE table_name = 'api_cell_types_specimen_details' AND record_id = :id"
            ), {"id": changed["specimen__id"]}).all()
    finally:
        engine.dispose()
    assert len(history) == 1
    kind, old_raw = history[0]
    assert kind == "updated"
    old = old_raw if isinstance(old_raw, dict) else json.loads(old_raw)
    assert old["structure__layer"] == old_layer


def test_limit_mirrors_first_cells_and_removes_nothing(
    replica: object, warehouse_url: str, tmp_path: Path
) -> None:
    config = _config(replica.base_url, tmp_path / "mirror", warehouse_url, files=False)
    run_sync_locally(config)
    limited = run_sync_locally(_config(replica.base_url, tmp_path / "mirror", warehouse_url,
                                       limit=2, files=False))
    assert limited.load.models["ApiCellTypesSpecimenDetail"].rows == 2
    assert limited.load.removed == 0


@pytest.mark.slow
def test_killed_sync_resumes_to_the_same_state(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    from ctmirror.replica.faults import FaultConfig
    from ctmirror.replica.server import serve_in_thread

    reference_url = f"duckdb:///{tmp_path / 'reference.duckdb'}"
    resumed_url = f"duckdb:///{tmp_path / 'resumed.duckdb'}"
    # The state compared is the records' (the crawl is killed): every sync mirrors the
    # records only; killing and resuming the file stages is tested in test_file_mirror.py.
    records_only = ["--files", "none", "--no-convert", "--no-features", "--no-glif"]
    with serve_in_thread(synth_snapshot) as replica:
        run_sync_locally(_config(replica.base_url, tmp_path / "ref", reference_url,
                                 files=False))
        replica.faults = FaultConfig(latency_s=0.05)  # slow enough to kill half way
        root = tmp_path / "resumed"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTMIRROR_")}
        args = [sys.executable, "-m", "ctmirror", "sync", "--no-prefect", "--api-base",
                replica.base_url, "--root", str(root), "--db", resumed_url, *records_only]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        staging = root / "staging"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pages = list(staging.glob("*/*/*.jsonl")) if staging.exists() else []
            if len(pages) >= 5:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert len(pages) >= 5, "the sync finished or stalled before it could be killed"
        replica.faults = FaultConfig()
        result = CliRunner().invoke(app, ["sync", "--no-prefect", "--api-base",
                                          replica.base_url, "--root", str(root),
                                          "--db", resumed_url, *records_only])
        assert result.exit_code == 0, result.output
        assert "resumed" in result.output
    assert _warehouse_state(resumed_url) == _warehouse_state(reference_url)
    engine = sa.create_engine(resumed_url)
    with engine.connect() as conn:
        runs = Counter(r[0] for r in conn.execute(sa.text("SELECT status FROM sync_runs")))
    engine.dispose()
    assert runs == Counter({"succeeded": 1})


@pytest.mark.slow
def test_cli_sync_runs_as_a_quiet_prefect_flow(
    replica: object, synth_snapshot: Path, tmp_path: Path
) -> None:
    """The default path: the `sync` flow on Prefect's temporary server, no tracebacks."""
    root = tmp_path / "mirror"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CTMIRROR_", "PREFECT_"))}
    # Every stage but GLIF runs as the flow's task (the features in this machine's worker
    # processes, as GLIF's would be): GLIF is the slowest stage and adds nothing to what is
    # checked here; it runs in the same flow, with the same check for tracebacks, in
    # tests/scale/test_dask_sync.py.
    proc = subprocess.run(
        [sys.executable, "-m", "ctmirror", "sync", "--api-base", replica.base_url, "--root",
         str(root), "--no-glif"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "HTTP requests" in proc.stdout
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    expected = _snapshot_counts(synth_snapshot)
    assert {m: n for m, n in _warehouse_counts(url).items() if m in expected} == expected
