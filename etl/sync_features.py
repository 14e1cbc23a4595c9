"""The ephys feature stage of a sync: recompute features from the converted recordings.

A cell is (re)computed when its recording's bytes (``sha256`` of a successfully converted NWB
file), the definition set or the code version differ from what its ``ephys_features_recomputed``
row records; so a second sync over unchanged recordings computes nothing. Cells are computed in
worker processes (the numeric work is per cell and independent) and written by this process: the
spike table as one Parquet file per recording and definition set (replaced atomically), the
per-sweep and per-cell rows in one transaction per cell. A cell whose recording disappears has
its outputs withdrawn. A cell that fails is reported with its reason and costs nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from ctmirror.convert.parquet_io import write_parquet_atomic
from ctmirror.errors import CtMirrorError
from ctmirror.schema.base import mapped_table
from ctmirror.schema.ephys_recomputed import (
    RECOMPUTED_FEATURES,
    RECOMPUTED_FLAGS,
    EphysSweepFeatures,
    ephys_features_recomputed,
)
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.parquet import EPHYS_SPIKES, SWEEPS
from ctmirror.stages import DerivedStage, Failure, Plan, Tally
from ctmirror.warehouse.dataset_rows import replace_dataset_rows

#: Bumped whenever the feature code changes what it computes; older rows are recomputed.
EPHYS_CODE_VERSION = 2

_sweep_table = mapped_table(EphysSweepFeatures)

_PENDING = sa.text("""
    SELECT m.source_id, m.specimen_id, m.sha256, r.source_sha256 AS done_sha256,
           r.code_version AS done_version, r.well_known_file_id AS done_file
    FROM mirror_files m
    LEFT JOIN ephys_features_recomputed r
      ON r.specimen_id = m.specimen_id AND r.definitions = :definitions
    WHERE m.source = :source AND m.converted_to = 'sweeps' AND m.removed_at IS NULL
      AND m.converted_sha256 = m.sha256 AND m.converted_rows IS NOT NULL
      AND m.specimen_id IS NOT NULL
    ORDER BY m.specimen_id
""")
_ORPHANS = sa.text("""
    SELECT r.specimen_id, r.well_known_file_id FROM ephys_features_recomputed r
    WHERE r.definitions = :definitions AND NOT EXISTS (
        SELECT 1 FROM mirror_files m
        WHERE m.source = :source AND m.source_id = r.well_known_file_id
          AND m.specimen_id = r.specimen_id AND m.converted_to = 'sweeps'
          AND m.converted_rows IS NOT NULL AND m.removed_at IS NULL)
""")


@dataclass(frozen=True)
class CellTask:
    specimen_id: int
    well_known_file_id: int
    sha256: str
    path: Path
    definitions: str


@dataclass(frozen=True)
class CellOutcome:
    task: CellTask
    cell_row: dict[str, Any]
    sweep_rows: list[dict[str, Any]]
    spikes: pa.Table


def compute_cell(task: CellTask) -> CellOutcome | str:
    """One cell's rows and spike table, or why they cannot be computed (runs in a worker)."""
    from ctmirror.convert.spike_table import spikes_table, with_ids
    from ctmirror.features.ephys import definitions as definition_set
    from ctmirror.features.ephys.cell import cell_features
    from ctmirror.features.ephys.sweeps import sweep_results
    from ctmirror.readers.ephys import stored_sweeps_from_parquet

    try:
        chosen = definition_set(task.definitions)
        # The samples stay in the file until a sweep is measured (bounded memory per worker).
        recordings, read_problems = stored_sweeps_from_parquet(task.path)
        cell = cell_features(recordings, chosen)
        spikes_by_sweep, sweeps = sweep_results(recordings, chosen)
    except (CtMirrorError, OSError, ValueError, pa.ArrowException) as exc:
        return f"{task.path.name}: {exc}"
    ids = {"specimen_id": task.specimen_id, "definitions": task.definitions}
    provenance = {"well_known_file_id": task.well_known_file_id, "source_sha256": task.sha256,
                  "code_version": EPHYS_CODE_VERSION}
    sweep_rows = [{**ids, **provenance, **asdict(row)} for row in sweeps]
    sweep_rows += [{**ids, **provenance, "sweep_number": number, "problem": reason,
                    **{c: None for c in _sweep_table.c.keys()
                       if c not in (*ids, *provenance, "sweep_number", "problem")}}
                   for number, reason in read_problems.items()]
    problems = {
        **{str(number): reason for number, reason in read_problems.items()},
        **{str(number): reason for number, reason in cell.sweep_problems.items()},
        **{f"protocol {name}": reason for name, reason in cell.protocol_problems.items()}}
    cell_row = {
        **ids, **provenance,
        "computed_at": datetime.now(UTC),
        "rheobase_sweep_number": cell.rheobase_sweep_number,
        "hero_sweep_number": cell.hero_sweep_number,
        **{name: cell.values.get(name) for name in (*RECOMPUTED_FEATURES, *RECOMPUTED_FLAGS)},
        "sweep_problems": problems or None,
    }
    spikes = with_ids(spikes_table(spikes_by_sweep), specimen_id=task.specimen_id,
                      well_known_file_id=task.well_known_file_id,
                      definitions=task.definitions)
    return CellOutcome(task, cell_row, sweep_rows, spikes)


class EphysFeatures(DerivedStage[CellTask, CellOutcome | str, tuple[int, int]]):
    """Compute the pending cells (see the module doc)."""

    name = "ephys-features"
    counts = ("spikes", "sweeps_with_problems")
    compute = staticmethod(compute_cell)

    def enabled(self) -> bool:
        return self.config.features.ephys and self.config.files.convert

    @property
    def definitions(self) -> str:
        return self.config.features.ephys_definitions

    def plan(self) -> Plan[CellTask, tuple[int, int]]:
        bind = {"source": FileSource.WELL_KNOWN_FILE.value, "definitions": self.definitions}
        with self.engine.connect() as conn:
            rows = conn.execute(_PENDING, bind).all()
            orphans = [(int(s), int(f)) for s, f in conn.execute(_ORPHANS, bind)]
        tasks = []
        for row in rows:
            if (row.done_sha256 == row.sha256 and row.done_version == EPHYS_CODE_VERSION
                    and row.done_file == row.source_id):
                continue
            specimen, file_id = int(row.specimen_id), int(row.source_id)
            tasks.append(CellTask(specimen, file_id, row.sha256,
                                  SWEEPS.file_path(self.config.root, specimen, file_id),
                                  self.definitions))
        return Plan(tasks, orphans)

    def withdraw(self, gone: Sequence[tuple[int, int]]) -> None:
        with self.transaction() as conn:
            for specimen_id, file_id in gone:
                _delete_rows(conn, specimen_id, self.definitions)
                replace_dataset_rows(conn, EPHYS_SPIKES, _cell(specimen_id, self.definitions),
                                     None)
                _spikes_path(self.config.root, specimen_id, file_id, self.definitions).unlink(
                    missing_ok=True)

    def write(self, task: CellTask, outcome: CellOutcome | str) -> Tally:
        if isinstance(outcome, str):
            return Tally(failures=(Failure(FileSource.WELL_KNOWN_FILE.value,
                                           task.well_known_file_id, str(task.path), outcome),))
        write_parquet_atomic(_spikes_path(self.config.root, task.specimen_id,
                                          task.well_known_file_id, task.definitions),
                             EPHYS_SPIKES.schema, [outcome.spikes])
        with self.transaction() as conn:
            _delete_rows(conn, task.specimen_id, task.definitions)
            if outcome.sweep_rows:
                conn.execute(sa.insert(_sweep_table), outcome.sweep_rows)
            conn.execute(sa.insert(ephys_features_recomputed), [outcome.cell_row])
            replace_dataset_rows(conn, EPHYS_SPIKES, _cell(task.specimen_id, task.definitions),
                                 outcome.spikes)
        return Tally(done=1, counts={
            "spikes": outcome.spikes.num_rows,
            "sweeps_with_problems": sum(1 for row in outcome.sweep_rows if row["problem"])})

    def publish(self) -> None:
        from ctmirror.warehouse.views import publish_comparison_view

        super().publish()
        publish_comparison_view(self.engine)


def _delete_rows(conn: sa.Connection, specimen_id: int, definitions: str) -> None:
    for table in (_sweep_table, ephys_features_recomputed):
        conn.execute(sa.delete(table).where(table.c.specimen_id == specimen_id,
                                            table.c.definitions == definitions))


def _cell(specimen_id: int, definitions: str) -> dict[str, int | str]:
    """A cell's rows of ``ephys_spikes`` for one definition set (one recording)."""
    return {"specimen_id": specimen_id, "definitions": definitions}


def _spikes_path(root: Path, specimen_id: int, file_id: int, definitions: str) -> Path:
    return EPHYS_SPIKES.file_path(root, specimen_id, file_id, variant=definitions)


__all__ = ["EPHYS_CODE_VERSION", "CellTask", "EphysFeatures", "compute_cell"]
