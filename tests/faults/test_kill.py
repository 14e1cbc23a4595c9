"""``kill -9`` during a sync, then resume: the same state as a fault-free sync of the same
corpus.

Each seed kills the command-line sync (``ctmirror sync --no-prefect`` in a subprocess) a few
times, each after a random delay drawn over the length of a whole sync, so the kills land in
every stage (crawl, load, downloads, conversions, close-out) across seeds; then one more run
must finish the mirror. Random delays can miss a short stage, so each stage also has a case that
kills as soon as the stage has left its first outputs on disk.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ctmirror.replica.faults import FaultConfig
from ctmirror.replica.server import serve_in_thread
from tests.digest import mirror_digest
from tests.e2e.warehouse_sql import query_rows
from tests.faults.harness import Outcome, compare

KILLS = 3
#: the side file of a Parquet output that a kill interrupted (the resumed run removes it)
LEFTOVER = re.compile(r"/\.[^/]+\.parquet\.tmp-\d+$")
#: Python start-up and imports before the sync begins, added to the window kills fall in.
STARTUP_S = 1.5


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTMIRROR_")}
    # the suite's sync: no feature stages (tests/faults/harness.py says why)
    for stage in ("EPHYS", "MORPHOLOGY", "GLIF"):
        env[f"CTMIRROR_FEATURES__{stage}"] = "false"
    return env


def _count(root: Path, pattern: str) -> int:
    return sum(1 for p in root.glob(pattern) if p.is_file())


#: Stage markers: (stage, files whose appearance shows it under way, how many)
STAGES = {
    "crawl": ("staging/*/*/*.jsonl", 3),
    "download": ("files/*/*/*", 20),
    "convert": ("parquet/*/*/*.parquet", 2),
}


def _where(root: Path) -> str:
    """How far the killed sync got, from what it left on disk (the warehouse stays shut, so
    that the next run is the first to open it after the kill)."""
    return (f"{_count(root, 'staging/*/*/*.jsonl')} pages staged, "
            f"{_count(root, 'files/*/*/*')} files, "
            f"{_count(root, 'parquet/*/*/*.parquet')} Parquet files")


ON_POSTGRES = (pytest.mark.faults, pytest.mark.postgres)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "backend"), [
    (1, "duckdb"),
    *(pytest.param(seed, "duckdb", marks=pytest.mark.faults) for seed in (2, 3, 4, 5)),
    *(pytest.param(seed, "postgres", marks=ON_POSTGRES) for seed in (6, 7)),
])
def test_kill_9_at_random_points_then_resume(
    seed: int, backend: str, synth_snapshot: Path, tmp_path: Path, port: int,
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest,
) -> None:
    if backend == "postgres":
        reference: Outcome = request.getfixturevalue("postgres_reference")
        url = request.getfixturevalue("new_postgres_database")()
    else:
        reference = request.getfixturevalue("reference")
        url = f"duckdb:///{tmp_path / 'mirror' / 'warehouse.duckdb'}"
    rng = random.Random(seed)
    window = STARTUP_S + reference.runs[0].seconds
    root = tmp_path / "mirror"
    args = [sys.executable, "-m", "ctmirror", "sync", "--no-prefect", "--api-base",
            f"http://127.0.0.1:{port}", "--root", str(root), "--db", url]
    killed: list[str] = []
    # a little latency, so the crawl is not over before the first kill can land in it
    with serve_in_thread(synth_snapshot, port=port, faults=FaultConfig(latency_s=0.01)):
        for _ in range(KILLS):
            delay = rng.uniform(0.5, window)
            proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed.append(f"at {delay:.1f} s: " + (
                _where(root) if proc.returncode == -signal.SIGKILL else "finished first"))
        final = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    with capsys.disabled():
        print(f"\nkill -9, seed {seed}: " + "; ".join(killed) + "; resumed")
    assert final.returncode == 0, final.stdout + final.stderr
    assert "Traceback" not in final.stdout + final.stderr
    _assert_resumed_to_reference(reference, root, url, capsys)


def _assert_resumed_to_reference(reference: Outcome, root: Path, url: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    expected = mirror_digest(reference.root, reference.url)
    got = mirror_digest(root, url)
    assert sorted(p for p in got["files"] if LEFTOVER.search(p)) == []
    assert compare(Outcome(reference.root, expected), Outcome(root, got)) == []
    runs = Counter(status for (status,) in query_rows(url, "SELECT status FROM sync_runs"))
    assert set(runs) == {"succeeded"}, runs
    assert not list(root.rglob("*.part"))


def _kill_in(stage: str, snapshot: Path, root: Path, url: str, port: int
             ) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Kill a sync as soon as ``stage`` has left its first outputs, then run it to the end:
    where the kill landed, and the resumed run."""
    pattern, enough = STAGES[stage]
    args = [sys.executable, "-m", "ctmirror", "sync", "--no-prefect", "--api-base",
            f"http://127.0.0.1:{port}", "--root", str(root), "--db", url]
    # slow enough that the stage is still under way when its marker shows
    slow = FaultConfig(latency_s=0.02, throttle_bytes_per_s=20_000_000)
    with serve_in_thread(snapshot, port=port, faults=slow) as replica:
        proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if _count(root, pattern) >= enough:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the sync finished before the kill"
        where = _where(root)
        replica.faults = None
        final = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "Traceback" not in final.stdout + final.stderr
    return where, final


@pytest.mark.slow
@pytest.mark.parametrize("stage", [
    pytest.param(stage, marks=() if stage == "convert" else pytest.mark.faults)
    for stage in STAGES])
def test_kill_9_as_a_stage_starts_then_resume(
    stage: str, reference: Outcome, synth_snapshot: Path, tmp_path: Path, port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    where, _ = _kill_in(stage, synth_snapshot, root, url, port)
    with capsys.disabled():
        print(f"\nkill -9 in {stage}: {where}; resumed")
    _assert_resumed_to_reference(reference, root, url, capsys)


@pytest.mark.faults
def test_a_file_adopted_after_a_kill_keeps_its_validators(
    reference: Outcome, synth_snapshot: Path, tmp_path: Path, port: int
) -> None:
    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    _kill_in("download", synth_snapshot, root, url, port)
    validators = ("SELECT source, source_id, etag, last_modified FROM mirror_files "
                  "ORDER BY source, source_id")
    assert query_rows(url, validators) == query_rows(reference.warehouse_url, validators)
