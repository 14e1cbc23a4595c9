"""Data tests run at the end of each sync: checks of the warehouse's content that no
constraint makes, recorded in ``sync_runs.data_tests`` and shown by ``ctmirror status``.

Each test is a small function registered by name (``@data_test``) that returns its failures,
one line each (empty: passed). A test that cannot run (a missing view, an unreadable file)
fails with the reason; it never stops the others or the sync. A sync whose data tests fail
ends ``completed_with_errors``, the status of a sync that finished with something to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from ctmirror.schema.allen_model import MODEL_TABLES
from ctmirror.schema.dataset_tables import DATASET_TABLES
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.parquet import (
    BIOPHYSICAL_SPIKES,
    DATASETS,
    DATASETS_BY_NAME,
    EPHYS_SPIKES,
    GLIF_SPIKES,
    ParquetDataset,
)
from ctmirror.warehouse.load import ModelCounts

log = logging.getLogger(__name__)

#: Failures kept per test (the count says how many there were).
SHOWN_FAILURES = 20


@dataclass(frozen=True)
class DataTestContext:
    """What a data test reads: the warehouse, the mirror root, and what this sync's load did
    per Allen model (with the API's row counts seen by the crawl, ``api_total_rows``)."""

    engine: sa.Engine
    root: Path
    models: Mapping[str, ModelCounts] = field(default_factory=dict)


DataTest = Callable[[DataTestContext], list[str]]
DATA_TESTS: dict[str, DataTest] = {}


def data_test(name: str) -> Callable[[DataTest], DataTest]:
    def register(test: DataTest) -> DataTest:
        DATA_TESTS[name] = test
        return test

    return register


@dataclass(frozen=True)
class DataTestResults:
    passed: tuple[str, ...] = ()
    #: test name -> its first ``SHOWN_FAILURES`` failures (and a line saying how many more)
    failed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"passed": list(self.passed),
                "failed": {name: list(lines) for name, lines in self.failed.items()}}

    def summary(self) -> str:
        text = f"{len(self.passed)} passed, {len(self.failed)} failed"
        return text + "".join(f"; {name}: {lines[0]}" for name, lines in self.failed.items())


def run_data_tests(context: DataTestContext) -> DataTestResults:
    passed: list[str] = []
    failed: dict[str, tuple[str, ...]] = {}
    for name, test in DATA_TESTS.items():
        try:
            failures = test(context)
        except Exception as exc:  # a test that cannot run is a failed test, not a failed sync
            failures = [f"could not run: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
        if failures:
            more = len(failures) - SHOWN_FAILURES
            failed[name] = (*failures[:SHOWN_FAILURES], *([f"and {more} more"] if more > 0
                                                           else []))
            log.warning("data test %s failed: %s", name, failures[0])
        else:
            passed.append(name)
    return DataTestResults(tuple(passed), failed)


# -- the tests ------------------------------------------------------------------------------


@data_test("row_counts_match_the_api")
def row_counts_match_the_api(context: DataTestContext) -> list[str]:
    """Each model's current rows are as many as the API said it has (``total_rows``), for
    the models this sync crawled completely. Quarantined records are in the API's count but
    may have no row."""
    failures = []
    with context.engine.connect() as conn:
        for model, counts in context.models.items():
            total, quarantined = counts.api_total_rows, counts.quarantined
            if total is None:
                continue
            table = MODEL_TABLES[model]
            current = conn.execute(sa.select(sa.func.count()).select_from(table)
                                   .where(table.c.removed_at.is_(None))).scalar_one()
            if not total - quarantined <= current <= total:
                failures.append(f"{table.name}: {current} current rows, the API counts {total}"
                                + (f" ({quarantined} quarantined)" if quarantined else ""))
    return failures


@data_test("keys_unique")
def keys_unique(context: DataTestContext) -> list[str]:
    """No two rows share a key where no constraint enforces one: the datasets read from
    Parquet (DuckDB's views; PostgreSQL's tables have the key as primary key) and ``cells``."""
    failures = []
    with context.engine.connect() as conn:
        views = relation_names(conn)
        checks = [(d.name, d.row_key) for d in DATASETS if d.row_key and d.name in views
                  and not (conn.dialect.name == "postgresql" and d.name in DATASET_TABLES)]
        checks += [("cells", ("specimen_id",))] if "cells" in views else []
        for name, key in checks:
            columns = ", ".join(key)
            repeats = conn.exec_driver_sql(
                f"SELECT {columns}, count(*) FROM {name} GROUP BY {columns} "
                f"HAVING count(*) > 1 ORDER BY {columns}").all()
            failures += [f"{name}: {count} rows with ({columns}) = "
                         f"({', '.join(map(str, values))})" for *values, count in repeats]
    return failures


@data_test("current_cells_in_cells")
def current_cells_in_cells(context: DataTestContext) -> list[str]:
    """Every current cell of the cell list has its row in the ``cells`` view."""
    with context.engine.connect() as conn:
        if "cells" not in relation_names(conn):
            return ["the view cells does not exist"]
        missing = conn.exec_driver_sql("""
            SELECT a.specimen__id FROM api_cell_types_specimen_details a
            WHERE a.removed_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM cells c WHERE c.specimen_id = a.specimen__id)
            ORDER BY 1""").scalars().all()
    return [f"current cell {specimen_id} is not in cells" for specimen_id in missing]


@data_test("converted_files_have_their_rows")
def converted_files_have_their_rows(context: DataTestContext) -> list[str]:
    """Every converted mirror file's Parquet file is there with the rows its conversion
    counted, every cell's spike file and every simulated model's spike file is there, and on
    PostgreSQL each of their items has as many rows in its table as in its file."""
    root = context.root
    failures: list[str] = []
    with context.engine.connect() as conn:
        on_postgres = conn.dialect.name == "postgresql"
        items: list[tuple[ParquetDataset, Path, dict[str, Any], int | None]] = []
        for target, specimen_id, file_id, rows in conn.execute(sa.text("""
                SELECT converted_to, specimen_id, source_id, converted_rows FROM mirror_files
                WHERE source = :source AND removed_at IS NULL AND converted_rows IS NOT NULL
                  AND converted_sha256 = sha256 AND specimen_id IS NOT NULL
                ORDER BY source_id"""), {"source": FileSource.WELL_KNOWN_FILE.value}):
            dataset = DATASETS_BY_NAME.get(target)
            if dataset is not None:
                items.append((dataset, dataset.file_path(root, specimen_id, file_id),
                              {"well_known_file_id": file_id}, rows))
        for specimen_id, file_id, definitions in conn.execute(sa.text(
                "SELECT specimen_id, well_known_file_id, definitions "
                "FROM ephys_features_recomputed ORDER BY 1, 3")):
            items.append((EPHYS_SPIKES, EPHYS_SPIKES.file_path(root, specimen_id, file_id,
                                                               variant=definitions),
                          {"specimen_id": specimen_id, "definitions": definitions}, None))
        for model_id, specimen_id, spikes in conn.execute(sa.text(
                "SELECT neuronal_model_id, specimen_id, model_spikes FROM model_metrics "
                "WHERE model_spikes IS NOT NULL AND specimen_id IS NOT NULL ORDER BY 1")):
            items.append((GLIF_SPIKES, GLIF_SPIKES.file_path(root, specimen_id, model_id),
                          {"neuronal_model_id": model_id}, spikes))
        for model_id, specimen_id, spikes in conn.execute(sa.text(
                "SELECT neuronal_model_id, specimen_id, model_spikes "
                "FROM biophysical_model_metrics "
                "WHERE model_spikes IS NOT NULL AND specimen_id IS NOT NULL ORDER BY 1")):
            items.append((BIOPHYSICAL_SPIKES,
                          BIOPHYSICAL_SPIKES.file_path(root, specimen_id, model_id),
                          {"neuronal_model_id": model_id}, spikes))
        for dataset, path, item, expected in items:
            where = ", ".join(f"{name} {value}" for name, value in item.items())
            if not path.is_file():
                failures.append(f"{dataset.name}: no file {path.relative_to(root)} ({where})")
                continue
            in_file = pq.ParquetFile(path).metadata.num_rows
            if expected is not None and in_file != expected:
                failures.append(f"{dataset.name}: {path.relative_to(root)} has {in_file} rows, "
                                f"{expected} were written ({where})")
            if on_postgres and dataset.name in DATASET_TABLES:
                table = DATASET_TABLES[dataset.name]
                in_table = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                    *(table.c[name] == value for name, value in item.items()))).scalar_one()
                if in_table != in_file:
                    failures.append(f"{dataset.name}: {in_table} rows in the table, {in_file} "
                                    f"in {path.relative_to(root)} ({where})")
    return failures


def relation_names(conn: sa.Connection) -> set[str]:
    """Tables, views and materialized views of the warehouse's schema."""
    inspector = sa.inspect(conn)
    names = {*inspector.get_table_names(), *inspector.get_view_names()}
    if conn.dialect.name == "postgresql":
        names |= set(inspector.get_materialized_view_names())
    return names


__all__ = ["DATA_TESTS", "DataTestContext", "DataTestResults", "data_test", "relation_names",
           "run_data_tests"]
