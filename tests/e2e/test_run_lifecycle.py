"""A run's life: one at a time per warehouse, closed out when it fails, abandoned when its process
is gone and it cannot be resumed."""

from __future__ import annotations

import errno
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ctmirror.errors import ConfigError
from ctmirror.sync import run_sync_locally
from tests.e2e.test_sync import _config


def _runs(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT sync_id, status, reason, finished_at IS NOT NULL FROM sync_runs "
                "ORDER BY started_at"))]
    finally:
        engine.dispose()


def test_a_second_sync_is_refused_while_the_first_runs(
    replica: Any, warehouse_url: str, tmp_path: Path
) -> None:
    from ctmirror.replica.faults import FaultConfig

    config = _config(replica.base_url, tmp_path / "mirror", warehouse_url, files=False)
    replica.faults = FaultConfig(latency_s=0.05)  # slow enough to overlap
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            outcome["result"] = run_sync_locally(config)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    staging = config.staging_root
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(staging.glob("*/*/*.jsonl")):
        time.sleep(0.02)
    try:
        with pytest.raises(ConfigError, match="another ctmirror sync is running"):
            run_sync_locally(config)
    finally:
        replica.faults = FaultConfig()
        thread.join()
    assert "error" not in outcome, outcome.get("error")
    assert [status for _, status, _, _ in _runs(warehouse_url)] == ["succeeded"]
    # The lock is released with the run: the next sync goes ahead.
    assert run_sync_locally(config).load.unchanged > 0


def test_a_failing_run_is_closed_out_and_the_next_one_starts_afresh(
    replica: Any, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ctmirror import cli
    from ctmirror.crawl import staging

    write = staging.atomic_write

    def disk_full(path: Path, text: str) -> None:
        if path.suffix == ".jsonl":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write(path, text)

    monkeypatch.setattr(staging, "atomic_write", disk_full)
    root = tmp_path / "mirror"
    monkeypatch.setattr(sys, "argv", [
        "ctmirror", "sync", "--no-prefect", "--files", "none", "--api-base", replica.base_url,
        "--root", str(root), "--db", warehouse_url])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"error: No space left on device ({err.split('(', 1)[1].split(')')[0]})"]
    (run,) = _runs(warehouse_url)
    assert run[1:] == ("failed", run[2], True)
    assert run[2].startswith("OSError: [Errno 28] No space left on device")
    assert not (root / "staging" / run[0]).exists()

    monkeypatch.setattr(staging, "atomic_write", write)
    result = run_sync_locally(_config(replica.base_url, root, warehouse_url, files=False))
    assert not result.resumed and result.sync_id != run[0]
    assert [r[1] for r in _runs(warehouse_url)] == ["failed", "succeeded"]


def test_a_run_left_running_that_cannot_be_resumed_is_abandoned(
    replica: Any, warehouse_url: str, tmp_path: Path
) -> None:
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.migrate import upgrade_engine
    from ctmirror.warehouse.runs import begin_sync_run

    engine = create_warehouse_engine(warehouse_url)
    upgrade_engine(engine)
    begin_sync_run(engine, sync_id="20200101T000000Z-dead00",
                   api_base="http://127.0.0.1:9", limit=None)
    engine.dispose()
    run_sync_locally(_config(replica.base_url, tmp_path / "mirror", warehouse_url,
                             files=False))
    runs = _runs(warehouse_url)
    assert [r[:2] for r in runs] == [("20200101T000000Z-dead00", "abandoned"),
                                     (runs[1][0], "succeeded")]
    assert runs[0][3] is True and "process was gone" in runs[0][2]
