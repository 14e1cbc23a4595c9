"""The conversion stage of a sync: mirrored files into Parquet datasets and parameter tables.

A file is converted when its verified bytes (``sha256``) or the converter version differ from
what its row says was last converted; so a second sync over an unchanged mirror converts
nothing, and a file that failed stays failed (with its reason in ``conversion_error``) until
its bytes or the converter change. Outputs are keyed by the source file: a Parquet file is
replaced atomically, table rows are replaced in the transaction that records the conversion.
When a file's record disappears upstream its outputs are withdrawn with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from ctmirror.errors import CtMirrorError
from ctmirror.schema.base import mapped_table
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.model_parameters import (
    BiophysicalFit,
    BiophysicalFitParameter,
    GlifNeuronConfig,
)
from ctmirror.schema.parquet import (
    CONVERTER_VERSION,
    DATASETS_BY_NAME,
    RECONSTRUCTION_MARKERS,
    RECONSTRUCTION_NODES,
    SWEEPS,
    TABLE_DATASETS,
    ParquetDataset,
)
from ctmirror.stages import DerivedStage, Failure, Plan, Tally, error_message
from ctmirror.warehouse.dataset_rows import replace_dataset_rows
from ctmirror.warehouse.mirror_files import record_conversion

GLIF_TABLE = GlifNeuronConfig.__tablename__
BIOPHYSICAL_TABLE = BiophysicalFit.__tablename__

#: (WellKnownFileType name, attachable type) -> what the file converts into.
_TARGETS: dict[tuple[str, str], str] = {
    ("NWBDownload", "EphysResult"): SWEEPS.name,
    ("3DNeuronReconstruction", "NeuronReconstruction"): RECONSTRUCTION_NODES.name,
    ("3DNeuronMarker", "NeuronReconstruction"): RECONSTRUCTION_MARKERS.name,
    ("NeuronalModelParameters", "NeuronalModel"): "model_parameters",
}

_PENDING = sa.text("""
    SELECT m.source_id, m.specimen_id, m.relpath, m.sha256, m.removed_at, m.converted_to,
           m.converted_sha256, m.converter_version,
           w.attachable_type, w.attachable_id, t.name AS type_name
    FROM mirror_files m
    JOIN well_known_files w ON w.id = m.source_id
    LEFT JOIN well_known_file_types t ON t.id = w.well_known_file_type_id
    WHERE m.source = :source
    ORDER BY m.source_id
""")


@dataclass(frozen=True)
class ConversionTask:
    well_known_file_id: int
    specimen_id: int | None
    path: Path
    root: Path
    sha256: str
    target: str
    attachable_id: int | None


@dataclass(frozen=True)
class _Outcome:
    target: str
    rows: int
    skipped_sweeps: tuple[tuple[int, str], ...] = ()
    table_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def convert_file(task: ConversionTask) -> _Outcome | str:
    """Convert one file, or say why it does not convert."""
    try:
        return _CONVERTERS[task.target](task, task.root)
    except (CtMirrorError, OSError, ValueError) as exc:
        return error_message(task.path.name, exc)


class Convert(DerivedStage[ConversionTask, _Outcome | str, Any]):
    """Convert every mirrored file whose outputs are missing or stale; see the module doc."""

    name = "convert"
    counts = ("rows", "skipped_sweeps")
    compute = staticmethod(convert_file)

    def enabled(self) -> bool:
        return self.config.files.convert

    def plan(self) -> Plan[ConversionTask, Any]:
        tasks: list[ConversionTask] = []
        withdraw: list[Any] = []
        with self.engine.connect() as conn:
            rows = conn.execute(_PENDING, {"source": FileSource.WELL_KNOWN_FILE.value}).all()
        for row in rows:
            target = _TARGETS.get((row.type_name or "", row.attachable_type or ""))
            if target is None:
                continue
            if row.removed_at is not None:
                if row.converted_to is not None:
                    withdraw.append(row)
                continue
            if row.converted_sha256 == row.sha256 and row.converter_version == CONVERTER_VERSION:
                continue
            tasks.append(ConversionTask(
                well_known_file_id=int(row.source_id),
                specimen_id=None if row.specimen_id is None else int(row.specimen_id),
                path=self.config.root / row.relpath,
                root=self.config.root,
                sha256=row.sha256,
                target=target,
                attachable_id=None if row.attachable_id is None else int(row.attachable_id),
            ))
        return Plan(tasks, withdraw)

    def withdraw(self, gone: Sequence[Any]) -> None:
        for row in gone:
            with self.transaction() as conn:
                _remove_outputs(conn, self.config.root, row.converted_to, row.specimen_id,
                                int(row.source_id))
                record_conversion(conn, (FileSource.WELL_KNOWN_FILE.value, int(row.source_id)),
                                  converted_to=None, sha256=None, version=None, rows=None,
                                  error=None)

    def write(self, task: ConversionTask, outcome: _Outcome | str) -> Tally:
        key = (FileSource.WELL_KNOWN_FILE.value, task.well_known_file_id)
        if isinstance(outcome, str):
            with self.transaction() as conn:
                _remove_outputs(conn, self.config.root, task.target, task.specimen_id,
                                task.well_known_file_id)
                record_conversion(conn, key, converted_to=task.target, sha256=task.sha256,
                                  version=CONVERTER_VERSION, rows=None, error=outcome)
            return Tally(failures=(Failure(key[0], key[1], str(task.path), outcome),))
        with self.transaction() as conn:
            _replace_table_rows(conn, task, outcome)
            record_conversion(conn, key, converted_to=outcome.target, sha256=task.sha256,
                              version=CONVERTER_VERSION, rows=outcome.rows,
                              error=_skipped_note(outcome.skipped_sweeps))
        return Tally(done=1, counts={"rows": outcome.rows,
                                     "skipped_sweeps": len(outcome.skipped_sweeps)})


def _partition(task: ConversionTask) -> int:
    if task.specimen_id is None:
        raise ValueError("no specimen links to this file, so it has no partition")
    return task.specimen_id


def _convert_sweeps(task: ConversionTask, root: Path) -> _Outcome:
    from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet

    out = SWEEPS.file_path(root, _partition(task), task.well_known_file_id)
    result = convert_nwb_to_parquet(task.path, out, specimen_id=_partition(task),
                                    well_known_file_id=task.well_known_file_id)
    return _Outcome(SWEEPS.name, result.rows, tuple(result.skipped))


def _reconstruction_converter(dataset: ParquetDataset, kind: Literal["swc", "marker"]
                              ) -> Callable[[ConversionTask, Path], _Outcome]:
    def convert(task: ConversionTask, root: Path) -> _Outcome:
        from ctmirror.convert.reconstruction import convert_reconstruction

        if task.attachable_id is None:
            raise ValueError("the file is not attached to a reconstruction")
        out = dataset.file_path(root, _partition(task), task.well_known_file_id)
        rows = convert_reconstruction(
            kind, task.path, out, specimen_id=_partition(task),
            neuron_reconstruction_id=task.attachable_id,
            well_known_file_id=task.well_known_file_id,
        )
        return _Outcome(dataset.name, rows)

    return convert


def _convert_model_parameters(task: ConversionTask, root: Path) -> _Outcome:
    from ctmirror.convert.model_parameters import read_model_parameters

    if task.attachable_id is None:
        raise ValueError("the file is not attached to a neuronal model")
    parsed = read_model_parameters(task.path, neuronal_model_id=task.attachable_id,
                                   well_known_file_id=task.well_known_file_id,
                                   source_sha256=task.sha256)
    return _Outcome(parsed.target, sum(len(rows) for rows in parsed.tables.values()),
                    table_rows=parsed.tables)


_CONVERTERS: dict[str, Callable[[ConversionTask, Path], _Outcome]] = {
    SWEEPS.name: _convert_sweeps,
    RECONSTRUCTION_NODES.name: _reconstruction_converter(RECONSTRUCTION_NODES, "swc"),
    RECONSTRUCTION_MARKERS.name: _reconstruction_converter(RECONSTRUCTION_MARKERS, "marker"),
    "model_parameters": _convert_model_parameters,
}

_PARAMETER_TABLES = (mapped_table(GlifNeuronConfig), mapped_table(BiophysicalFit),
                     mapped_table(BiophysicalFitParameter))


def _replace_table_rows(conn: sa.Connection, task: ConversionTask, outcome: _Outcome) -> None:
    """The file's rows in the warehouse: parameter rows, or on PostgreSQL its dataset's rows
    (read back from the Parquet file just written)."""
    dataset = DATASETS_BY_NAME.get(outcome.target)
    if dataset in TABLE_DATASETS and task.specimen_id is not None:
        replace_dataset_rows(conn, dataset, {"well_known_file_id": task.well_known_file_id},
                             dataset.file_path(task.root, task.specimen_id,
                                               task.well_known_file_id))
    if not outcome.table_rows:
        return
    _delete_parameter_rows(conn, task.attachable_id)
    for name, rows in outcome.table_rows.items():
        if rows:
            conn.execute(sa.insert(_table(name)), rows)


def _delete_parameter_rows(conn: sa.Connection, neuronal_model_id: int | None) -> None:
    if neuronal_model_id is None:
        return
    for table in _PARAMETER_TABLES:
        conn.execute(sa.delete(table).where(table.c.neuronal_model_id == neuronal_model_id))


def _table(name: str) -> sa.Table:
    for table in _PARAMETER_TABLES:
        if table.name == name:
            return table
    raise KeyError(name)


def _remove_outputs(conn: sa.Connection, root: Path, target: str, specimen_id: int | None,
                    file_id: int) -> None:
    """Take back what an earlier conversion of this file produced."""
    dataset = DATASETS_BY_NAME.get(target)
    if dataset is not None:
        if specimen_id is not None:
            dataset.file_path(root, specimen_id, file_id).unlink(missing_ok=True)
        if dataset in TABLE_DATASETS:
            replace_dataset_rows(conn, dataset, {"well_known_file_id": file_id}, None)
        return
    for table in _PARAMETER_TABLES:
        if "well_known_file_id" in table.c:
            ids = conn.execute(sa.select(table.c.neuronal_model_id)
                               .where(table.c.well_known_file_id == file_id)).scalars().all()
            for model_id in ids:
                _delete_parameter_rows(conn, model_id)


def _skipped_note(skipped: tuple[tuple[int, str], ...]) -> str | None:
    if not skipped:
        return None
    shown = "; ".join(f"sweep {number}: {reason}" for number, reason in skipped[:5])
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return f"{len(skipped)} sweep(s) not converted: {shown}{more}"


__all__ = ["BIOPHYSICAL_TABLE", "GLIF_TABLE", "Convert", "ConversionTask", "convert_file"]
