"""Spike tables as Arrow tables in the layout of the ``ephys_spikes`` dataset."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from ctmirror.features.ephys.spikes import SPIKE_COLUMNS, SpikeTable
from ctmirror.schema.parquet import EPHYS_SPIKES

#: The dataset's columns without the cell's and file's ids: what one recording yields.
SWEEP_SPIKES_SCHEMA = pa.schema([f for f in EPHYS_SPIKES.schema
                                 if f.name not in ("specimen_id", "well_known_file_id",
                                                   "definitions")])


def spikes_table(spikes_by_sweep: Mapping[int, SpikeTable]) -> pa.Table:
    """One row per spike of every sweep, sweeps in number order; -1 indices become null."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in SWEEP_SPIKES_SCHEMA.names}
    for number in sorted(spikes_by_sweep):
        spikes = spikes_by_sweep[number]
        n = len(spikes)
        columns["sweep_number"].append(np.full(n, number, dtype=np.int32))
        columns["spike_number"].append(np.arange(n, dtype=np.int32))
        for name in SPIKE_COLUMNS:
            columns[name].append(np.asarray(spikes[name]))
    arrays = []
    for field in SWEEP_SPIKES_SCHEMA:
        values = np.concatenate(columns[field.name]) if columns[field.name] else \
            np.zeros(0, dtype=field.type.to_pandas_dtype())
        mask = None
        if field.name.endswith("_index"):
            mask = values == -1
        elif field.name == "isi_type":
            mask = values == ""
        elif values.dtype.kind == "f":
            mask = np.isnan(values)
        arrays.append(pa.array(values, type=field.type, mask=mask))
    return pa.Table.from_arrays(arrays, schema=SWEEP_SPIKES_SCHEMA)


def with_ids(table: pa.Table, *, specimen_id: int, well_known_file_id: int,
             definitions: str) -> pa.Table:
    """``table`` with the dataset's id columns in front, in the dataset's schema."""
    n = table.num_rows
    ids = {"specimen_id": pa.array(np.full(n, specimen_id, dtype=np.int64)),
           "well_known_file_id": pa.array(np.full(n, well_known_file_id, dtype=np.int64)),
           "definitions": pa.array([definitions] * n, pa.string())}
    return pa.Table.from_arrays([ids[f.name] if f.name in ids else table[f.name]
                                 for f in EPHYS_SPIKES.schema], schema=EPHYS_SPIKES.schema)


__all__ = ["SWEEP_SPIKES_SCHEMA", "spikes_table", "with_ids"]
