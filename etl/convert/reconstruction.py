"""SWC reconstructions and their marker files into the ``reconstruction_nodes`` and
``reconstruction_markers`` datasets, one Parquet file per source file.

Nodes pass the same checks as the feature code's reader (one tree, no cycle, every parent
present), so a reconstruction in the dataset is one that the features can use. Values are kept
as in the file: node ids and parents are not renumbered, and marker coordinates keep the voxel
offset that AllenSDK subtracts when it reads them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Literal

import pyarrow as pa

from ctmirror.convert.parquet_io import write_parquet_atomic
from ctmirror.errors import SwcError
from ctmirror.readers.swc import read_swc
from ctmirror.schema.parquet import RECONSTRUCTION_MARKERS, RECONSTRUCTION_NODES

MARKER_FIELDS = ("x", "y", "z", "radius", "shape", "name", "comment",
                 "color_r", "color_g", "color_b")


def swc_table(path: Path, *, specimen_id: int, neuron_reconstruction_id: int,
              well_known_file_id: int) -> pa.Table:
    """The nodes of one SWC file, checked, as a ``reconstruction_nodes`` table."""
    morphology = read_swc(path)
    n = morphology.n_nodes
    return pa.table({
        "specimen_id": pa.array([specimen_id] * n, pa.int64()),
        "neuron_reconstruction_id": pa.array([neuron_reconstruction_id] * n, pa.int64()),
        "well_known_file_id": pa.array([well_known_file_id] * n, pa.int64()),
        "node_id": morphology.id,
        "type": morphology.type.astype("int16"),
        "x": morphology.x,
        "y": morphology.y,
        "z": morphology.z,
        "radius": morphology.radius,
        "parent_id": morphology.parent,
    }, schema=RECONSTRUCTION_NODES.schema)


def marker_table(path: Path, *, specimen_id: int, neuron_reconstruction_id: int,
                 well_known_file_id: int) -> pa.Table:
    """The points of one Vaa3D marker file, as in the file, as a ``reconstruction_markers``
    table. Rows are ``x,y,z,radius,shape,name,comment,color_r,color_g,color_b``; ``#`` lines
    are comments, trailing fields may be missing."""
    path = Path(path)
    columns: dict[str, list[object]] = {name: [] for name in MARKER_FIELDS}
    text = path.read_bytes().decode("utf-8", errors="replace")
    for line_no, fields in _marker_rows(text):
        if len(fields) < 6:
            raise SwcError(f"{path.name} line {line_no}: {len(fields)} fields, expected at "
                           "least 6 (x,y,z,radius,shape,name,...)")
        fields = (fields + [""] * len(MARKER_FIELDS))[:len(MARKER_FIELDS)]
        try:
            values = [_float(v, required=i < 3) for i, v in enumerate(fields[:4])]
            codes = [_int(fields[4]), _int(fields[5], required=True)]
            colors = [_int(v) for v in fields[7:]]
        except ValueError as exc:
            raise SwcError(f"{path.name} line {line_no}: {exc}") from None
        for name, value in zip(MARKER_FIELDS, [*values, *codes, fields[6] or None, *colors],
                               strict=True):
            columns[name].append(value)
    n = len(columns["x"])
    ids = {"specimen_id": specimen_id, "neuron_reconstruction_id": neuron_reconstruction_id,
           "well_known_file_id": well_known_file_id}
    return pa.table({**{k: [v] * n for k, v in ids.items()}, **columns},
                    schema=RECONSTRUCTION_MARKERS.schema)


def convert_reconstruction(kind: Literal["swc", "marker"], path: Path, out: Path, *,
                           specimen_id: int, neuron_reconstruction_id: int,
                           well_known_file_id: int) -> int:
    """Write one SWC or marker file as its Parquet file; return the number of rows."""
    build, dataset = {"swc": (swc_table, RECONSTRUCTION_NODES),
                      "marker": (marker_table, RECONSTRUCTION_MARKERS)}[kind]
    table = build(path, specimen_id=specimen_id,
                  neuron_reconstruction_id=neuron_reconstruction_id,
                  well_known_file_id=well_known_file_id)
    return write_parquet_atomic(out, dataset.schema, [table])


def _marker_rows(text: str) -> list[tuple[int, list[str]]]:
    rows = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        [fields] = list(csv.reader(io.StringIO(line), skipinitialspace=True))
        rows.append((line_no, [f.strip() for f in fields]))
    return rows


def _float(value: str, *, required: bool = False) -> float | None:
    if value == "":
        if required:
            raise ValueError("x, y and z must be numbers, got an empty field")
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


def _int(value: str, *, required: bool = False) -> int | None:
    number = _float(value, required=required)
    if number is None:
        return None
    if number != int(number):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


__all__ = ["convert_reconstruction", "marker_table", "swc_table"]
