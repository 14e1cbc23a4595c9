"""The fault matrix: every replica fault kind on the crawl's queries and on file downloads,
against a fault-free sync of the same corpus.

Faults fire on the first few requests in their scope (``first``), so a sync must come through
by retrying and end byte-identical to the reference: every warehouse table's rows and every
mirrored, converted or derived file (``tests/digest.py``; conversions are in the digest, as
Parquet files and parameter rows). Query faults let the preflight request through (``skip=1``)
to reach the crawl; the preflight has its own case. Where faults outlast the retries, the sync
ends with per-item errors and a second, fault-free sync must reach the same state.

A few cases run with the default suite; the whole matrix runs with ``make faults``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ctmirror.replica.faults import FaultConfig
from tests.faults.harness import ERROR_LOG_TABLES, MatrixRow, Outcome, compare, run_case

FAULTS = pytest.mark.faults

#: (case, fault specs as ``ctmirror replica serve --fault`` takes them, marks)
RETRIED = [
    ("queries status 500", ["status=queries:500", "skip=1", "first=3"], [FAULTS]),
    ("queries status 503", ["status=queries:503", "skip=1", "first=3"], []),
    ("queries retry-after 429", ["retry-after=queries:429:1:1", "skip=1", "first=3"], [FAULTS]),
    ("queries drop", ["drop=queries:1", "skip=1", "first=3"], [FAULTS]),
    ("queries truncate", ["truncate=queries:1", "skip=1", "first=3"], [FAULTS]),
    ("queries html", ["html=1", "skip=1", "first=3"], [FAULTS]),
    ("queries latency", ["latency=queries:0.05"], [FAULTS]),
    ("queries throttle", ["throttle=queries:200000"], [FAULTS]),
    ("preflight status 503", ["status=queries:503", "first=3"], [FAULTS]),
    ("files status 500", ["status=files:500", "first=6"], [FAULTS]),
    ("files status 503", ["status=files:503", "first=6"], [FAULTS]),
    ("files retry-after 429", ["retry-after=files:429:1:1", "first=6"], [FAULTS]),
    ("files drop", ["drop=files:1", "first=6"], []),
    ("files truncate", ["truncate=files:1", "first=6"], [FAULTS]),
    ("files latency", ["latency=files:0.02"], [FAULTS]),
    ("files throttle", ["throttle=files:4000000"], [FAULTS]),
    ("all mixed p=0.1", ["status=503:0.05", "drop=0.05", "truncate=0.05", "html=0.05",
                         "retry-after=429:0.05:1", "skip=1", "seed=16"], [FAULTS]),
]

#: Faults that outlast the retries: per-item errors, then a fault-free sync.
#: (case, specs, max attempts per request, marks)
RESYNCED = [
    ("files status 404, then resync", ["status=files:404", "first=6"], 8, []),
    ("queries status 503 x2 attempts, then resync",
     ["status=queries:503", "skip=1", "first=4"], 2, [FAULTS]),
    ("queries html x2 attempts, then resync", ["html=1", "skip=1", "first=4"], 2, [FAULTS]),
]


def _params(cases: list[tuple[object, ...]]) -> list[object]:
    return [pytest.param(*case[:-1], marks=case[-1], id=str(case[0]).replace(" ", "-"))
            for case in cases]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "specs"), _params(RETRIED))
def test_faults_absorbed_by_retries_change_nothing(
    case: str, specs: list[str], reference: Outcome, synth_snapshot: Path, tmp_path: Path,
    matrix: list[MatrixRow], port: int,
) -> None:
    faults = FaultConfig.parse(specs)
    outcome = run_case(synth_snapshot, tmp_path / "mirror", faults, port=port)
    diff = compare(reference, outcome)
    matrix.append(MatrixRow(case, outcome.injected, outcome.rows, outcome.files, len(diff)))
    [run] = outcome.runs
    assert run.errors == ()
    assert sum(outcome.injected.values()) > 0, "no fault fired: the case tests nothing"
    assert diff == []


@pytest.mark.slow
@pytest.mark.parametrize(("case", "specs", "attempts"), _params(RESYNCED))
def test_per_item_errors_then_a_resync_reach_the_same_state(
    case: str, specs: list[str], attempts: int, reference: Outcome, synth_snapshot: Path,
    tmp_path: Path, matrix: list[MatrixRow], port: int,
) -> None:
    outcome = run_case(synth_snapshot, tmp_path / "mirror", FaultConfig.parse(specs),
                       port=port, resync=True, max_attempts=attempts)
    # the error log keeps the first run's per-item errors; every other table must agree
    diff = compare(reference, outcome, ignore=ERROR_LOG_TABLES)
    matrix.append(MatrixRow(case, outcome.injected, outcome.rows_without(ERROR_LOG_TABLES),
                            outcome.files, len(diff)))
    first, second = outcome.runs
    assert first.errors, "the faults were absorbed: the case does not test a resync"
    assert second.errors == ()
    assert diff == []


@FAULTS
@pytest.mark.postgres
def test_faults_on_a_postgresql_warehouse_change_nothing(
    postgres_reference: Outcome, new_postgres_database: Callable[[], str],
    synth_snapshot: Path, tmp_path: Path, matrix: list[MatrixRow], port: int,
) -> None:
    faults = FaultConfig.parse(["status=503:0.05", "drop=0.05", "truncate=0.05", "html=0.05",
                                "retry-after=429:0.05:1", "skip=1", "seed=17"])
    outcome = run_case(synth_snapshot, tmp_path / "mirror", faults, port=port,
                       warehouse_url=new_postgres_database())
    diff = compare(postgres_reference, outcome)
    matrix.append(MatrixRow("all mixed p=0.1, PostgreSQL", outcome.injected, outcome.rows,
                            outcome.files, len(diff)))
    assert outcome.runs[0].errors == ()
    assert sum(outcome.injected.values()) > 0
    assert diff == []
