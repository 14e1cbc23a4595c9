"""The morphology feature stage of a sync: recompute features from the mirrored SWC files.

A reconstruction is (re)computed when its SWC file's bytes (``sha256`` of a file successfully
converted into ``reconstruction_nodes``) or the code version differ from what its
``morphology_features_recomputed`` rows record; so a second sync over unchanged files computes
nothing. Each reconstruction takes milliseconds, so they are computed in this process, one
transaction per reconstruction replacing its rows (one per compartment). A reconstruction whose
file disappears, or no longer converts, has its rows withdrawn. A file that fails is reported
with its reason, keeps the rows an earlier computation left, and costs nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ctmirror.errors import CtMirrorError
from ctmirror.sync_files import FileFailure
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.morphology_recomputed import (
    CELL_LIST_FEATURES,
    RECONSTRUCTION_FEATURES,
    morphology_features_recomputed,
)
from ctmirror.schema.parquet import RECONSTRUCTION_NODES

log = logging.getLogger(__name__)

_table = morphology_features_recomputed

#: Bumped whenever the feature code changes what it computes; older rows are recomputed.
MORPHOLOGY_CODE_VERSION = 1

#: An SWC file converted from its current bytes (``m``: mirror_files, ``w``: well_known_files).
_CONVERTED = f"""m.source = :source AND m.converted_to = '{RECONSTRUCTION_NODES.name}'
      AND m.removed_at IS NULL AND m.converted_rows IS NOT NULL
      AND m.converted_sha256 = m.sha256 AND m.specimen_id IS NOT NULL
      AND w.attachable_id IS NOT NULL"""
_PENDING = sa.text(f"""
    SELECT m.source_id, m.specimen_id, m.relpath, m.sha256,
           w.attachable_id AS neuron_reconstruction_id,
           r.source_sha256 AS done_sha256, r.code_version AS done_version,
           r.well_known_file_id AS done_file
    FROM mirror_files m
    JOIN well_known_files w ON w.id = m.source_id
    LEFT JOIN {_table.name} r
      ON r.neuron_reconstruction_id = w.attachable_id AND r.compartment = 'all'
    WHERE {_CONVERTED}
    ORDER BY m.source_id
""")
_ORPHANS = sa.text(f"""
    SELECT DISTINCT r.neuron_reconstruction_id FROM {_table.name} r
    WHERE NOT EXISTS (
        SELECT 1 FROM mirror_files m JOIN well_known_files w ON w.id = m.source_id
        WHERE {_CONVERTED} AND m.source_id = r.well_known_file_id
          AND w.attachable_id = r.neuron_reconstruction_id)
""")


@dataclass(frozen=True)
class ReconstructionTask:
    neuron_reconstruction_id: int
    specimen_id: int
    well_known_file_id: int
    sha256: str
    path: Path


@dataclass(frozen=True)
class MorphologyReport:
    pending: int = 0
    computed: int = 0
    withdrawn: int = 0
    failures: tuple[FileFailure, ...] = field(default=())

    def summary(self) -> str:
        return (f"{self.computed} of {self.pending} reconstructions computed, "
                f"{len(self.failures)} failed, {self.withdrawn} withdrawn")


def morphology_features_stage(engine: sa.Engine, *, root: Path) -> MorphologyReport:
    """Compute the pending reconstructions (see the module doc) and return what happened."""
    tasks = _plan(engine, root)
    withdrawn = _withdraw(engine)
    computed = 0
    failures: list[FileFailure] = []
    for task in tasks:
        outcome = compute_reconstruction(task)
        if isinstance(outcome, str):
            failures.append(FileFailure(FileSource.WELL_KNOWN_FILE.value,
                                        task.well_known_file_id, str(task.path), outcome))
            log.warning("morphology features of reconstruction %s failed: %s",
                        task.neuron_reconstruction_id, outcome)
            continue
        with engine.begin() as conn:
            _delete_rows(conn, task.neuron_reconstruction_id)
            conn.execute(sa.insert(_table), outcome)
        computed += 1
    report = MorphologyReport(pending=len(tasks), computed=computed, withdrawn=withdrawn,
                              failures=tuple(failures))
    log.info("morphology features: %s", report.summary())
    return report


def _plan(engine: sa.Engine, root: Path) -> list[ReconstructionTask]:
    with engine.connect() as conn:
        rows = conn.execute(_PENDING, {"source": FileSource.WELL_KNOWN_FILE.value}).all()
    # One SWC file per reconstruction; should there be several, the newest (highest id).
    newest = {int(row.neuron_reconstruction_id): row for row in rows}
    return [ReconstructionTask(reconstruction, int(row.specimen_id), int(row.source_id),
                               row.sha256, root / row.relpath)
            for reconstruction, row in newest.items()
            if not (row.done_sha256 == row.sha256 and row.done_file == row.source_id
                    and row.done_version == MORPHOLOGY_CODE_VERSION)]


def compute_reconstruction(task: ReconstructionTask) -> list[dict[str, Any]] | str:
    """The rows of one reconstruction (one per compartment), or why they cannot be computed."""
    from ctmirror.features.morphology import Compartment, compute_morphology_features
    from ctmirror.readers.swc import read_swc

    try:
        morphology = read_swc(task.path)
        values = {compartment: compute_morphology_features(morphology, compartment)
                  for compartment in Compartment}
    except (CtMirrorError, OSError, ValueError) as exc:
        return str(exc) if task.path.name in str(exc) else f"{task.path.name}: {exc}"
    except Exception as exc:  # a feature that trips on one file must not stop the others
        log.exception("morphology features of %s", task.path)
        return f"{task.path.name}: {type(exc).__name__} in the feature code: {exc}"
    common = {"neuron_reconstruction_id": task.neuron_reconstruction_id,
              "specimen_id": task.specimen_id, "well_known_file_id": task.well_known_file_id,
              "source_sha256": task.sha256, "code_version": MORPHOLOGY_CODE_VERSION,
              "computed_at": datetime.now(UTC)}
    return [{**common, "compartment": compartment.value,
             **{name: features.get(name) for name in (*RECONSTRUCTION_FEATURES,
                                                      *CELL_LIST_FEATURES)}}
            for compartment, features in values.items()]


def _withdraw(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        orphans = conn.execute(_ORPHANS, {"source": FileSource.WELL_KNOWN_FILE.value}
                               ).scalars().all()
        for reconstruction in orphans:
            _delete_rows(conn, int(reconstruction))
    return len(orphans)


def _delete_rows(conn: sa.Connection, neuron_reconstruction_id: int) -> None:
    conn.execute(sa.delete(_table).where(
        _table.c.neuron_reconstruction_id == neuron_reconstruction_id))


__all__ = ["MORPHOLOGY_CODE_VERSION", "MorphologyReport", "ReconstructionTask",
           "compute_reconstruction", "morphology_features_stage"]
