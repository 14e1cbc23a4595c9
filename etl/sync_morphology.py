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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ctmirror.errors import CtMirrorError
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.morphology_recomputed import (
    CELL_LIST_FEATURES,
    RECONSTRUCTION_FEATURES,
    morphology_features_recomputed,
)
from ctmirror.schema.parquet import RECONSTRUCTION_NODES
from ctmirror.stages import DerivedStage, Failure, Plan, Tally, error_message

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


def compute_reconstruction(task: ReconstructionTask) -> list[dict[str, Any]] | str:
    """The rows of one reconstruction (one per compartment), or why they cannot be computed."""
    from ctmirror.features.morphology import Compartment, compute_morphology_features
    from ctmirror.readers.swc import read_swc

    try:
        morphology = read_swc(task.path)
        values = {compartment: compute_morphology_features(morphology, compartment)
                  for compartment in Compartment}
    except (CtMirrorError, OSError, ValueError) as exc:
        return error_message(task.path.name, exc)
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


class MorphologyFeatures(DerivedStage[ReconstructionTask, list[dict[str, Any]] | str, int]):
    """Compute the pending reconstructions (see the module doc)."""

    name = "morphology-features"
    in_process = True
    compute = staticmethod(compute_reconstruction)

    def enabled(self) -> bool:
        return self.config.features.morphology and self.config.files.convert

    def plan(self) -> Plan[ReconstructionTask, int]:
        bind = {"source": FileSource.WELL_KNOWN_FILE.value}
        with self.engine.connect() as conn:
            rows = conn.execute(_PENDING, bind).all()
            orphans = [int(r) for r in conn.execute(_ORPHANS, bind).scalars()]
        # One SWC file per reconstruction; should there be several, the newest (highest id).
        newest = {int(row.neuron_reconstruction_id): row for row in rows}
        return Plan([ReconstructionTask(reconstruction, int(row.specimen_id),
                                        int(row.source_id), row.sha256,
                                        self.config.root / row.relpath)
                     for reconstruction, row in newest.items()
                     if not (row.done_sha256 == row.sha256 and row.done_file == row.source_id
                             and row.done_version == MORPHOLOGY_CODE_VERSION)], orphans)

    def withdraw(self, gone: Sequence[int]) -> None:
        with self.transaction() as conn:
            for reconstruction in gone:
                _delete_rows(conn, reconstruction)

    def write(self, task: ReconstructionTask, outcome: list[dict[str, Any]] | str) -> Tally:
        if isinstance(outcome, str):
            return Tally(failures=(Failure(FileSource.WELL_KNOWN_FILE.value,
                                           task.well_known_file_id, str(task.path), outcome),))
        with self.transaction() as conn:
            _delete_rows(conn, task.neuron_reconstruction_id)
            conn.execute(sa.insert(_table), outcome)
        return Tally(done=1)

    def publish(self) -> None:
        from ctmirror.warehouse.views import publish_morphology_comparison_view

        super().publish()
        publish_morphology_comparison_view(self.engine)


def _delete_rows(conn: sa.Connection, neuron_reconstruction_id: int) -> None:
    conn.execute(sa.delete(_table).where(
        _table.c.neuron_reconstruction_id == neuron_reconstruction_id))


__all__ = ["MORPHOLOGY_CODE_VERSION", "MorphologyFeatures", "ReconstructionTask",
           "compute_reconstruction"]
