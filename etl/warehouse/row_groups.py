"""One sweep's row of a Parquet dataset written one sweep per row group (``sweeps``,
``glif_voltages``), found by the row groups' statistics (I/O edge, read-only).

A file's footer (its row groups' statistics) is parsed once and kept while the file is
unchanged (same inode, size and modification time: a converter replaces a file by rename), so
a warm read costs the one row group's columns that are asked for and nothing else.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

#: Footers kept: a cell's recording has one file, so this covers many cells' pages at once.
_FOOTERS_KEPT = 512
_footers: OrderedDict[tuple[str, int, int, int], pq.FileMetaData] = OrderedDict()
_lock = threading.Lock()


def _footer(path: Path) -> pq.FileMetaData:
    stat = os.stat(path)
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _lock:
        found = _footers.get(key)
        if found is not None:
            _footers.move_to_end(key)
            return found
    meta = pq.read_metadata(path)
    with _lock:
        _footers[key] = meta
        while len(_footers) > _FOOTERS_KEPT:
            _footers.popitem(last=False)
    return meta


def sweep_row(paths: Sequence[Path], sweep_number: int, columns: Sequence[str]
              ) -> pa.Table | None:
    """The ``columns`` (and ``sweep_number``) of the one row of ``sweep_number`` in the first
    of ``paths`` that holds it; None when none does. Only row groups whose statistics admit
    the number are read, so no other sweep's samples are."""
    for path in paths:
        meta = _footer(path)
        column = meta.schema.to_arrow_schema().get_field_index("sweep_number")
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(column).statistics
            if stats is not None and stats.has_min_max and not (
                    stats.min <= sweep_number <= stats.max):
                continue
            parquet = pq.ParquetFile(path, metadata=meta)
            try:
                table = parquet.read_row_group(group, columns=["sweep_number", *columns],
                                               use_threads=True)
            finally:
                parquet.close()
            numbers = table.column("sweep_number").to_pylist()
            if sweep_number in numbers:
                return table.slice(numbers.index(sweep_number), 1)
    return None


def samples(table: pa.Table, column: str) -> npt.NDArray[np.float32]:
    """The one row's list column as a float32 array (a view of the Arrow buffer when it can)."""
    values = table.column(column).combine_chunks()
    return np.asarray(values.values.to_numpy(zero_copy_only=False), dtype=np.float32)


def scalar(table: pa.Table, column: str, default: Any) -> Any:
    """The one row's value of ``column``, ``default`` when it is null."""
    value = table.column(column)[0].as_py()
    return default if value is None else value


__all__ = ["samples", "scalar", "sweep_row"]
