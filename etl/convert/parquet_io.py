"""Writing one dataset file atomically: rows go to a side file that replaces the target only
once it is complete, so a reader never sees half a file and a converted file is never listed
twice."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: zstd compresses float traces well and decodes fast; byte-stream-split lays the float
#: bytes out by significance first, which is what lets zstd find the redundancy.
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


def write_parquet_atomic(
    path: Path,
    schema: pa.Schema,
    row_groups: Iterable[pa.Table],
    *,
    byte_stream_split: list[str] | None = None,
    compression_levels: dict[str, int] | None = None,
    metadata: dict[str, str] | None = None,
    write_batch_size: int | None = None,
) -> int:
    """Write each table of ``row_groups`` as one row group of ``path``; return the row count.

    The file appears at ``path`` only when every row group was written; on any exception the
    side file is removed and ``path`` is left as it was. Row groups are encoded and compressed
    in a second thread while the caller's iterator makes the next one (Arrow releases the GIL),
    so reading a source and writing its Parquet overlap; at most two row groups are in memory.
    ``compression_levels`` overrides the zstd level of some columns (by column path, such as
    ``response.list.element``). Min/max statistics are written for the flat columns, which is
    what readers use to skip row groups; list columns get none. ``write_batch_size`` is the
    number of values the writer encodes at a time (Arrow's default, 1,024, suits flat columns).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_side_files(path)
    side = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if metadata:
        schema = schema.with_metadata({**(schema.metadata or {}),
                                       **{k.encode(): v.encode() for k, v in metadata.items()}})
    rows = 0
    try:
        with pq.ParquetWriter(
            side, schema, compression=COMPRESSION,
            compression_level=_levels(schema, compression_levels or {}),
            use_byte_stream_split=byte_stream_split or False,
            use_dictionary=[f.name for f in schema if pa.types.is_string(f.type)],
            write_statistics=[f.name for f in schema if not pa.types.is_list(f.type)],
            write_batch_size=write_batch_size,
        ) as writer, ThreadPoolExecutor(1, thread_name_prefix="parquet-writer") as pool:
            pending: Future[None] | None = None
            try:
                for table in row_groups:
                    table = table.cast(schema) if table.schema != schema else table
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write_table, table,
                                          row_group_size=max(table.num_rows, 1))
                    rows += table.num_rows
            finally:
                # The writer must be idle before it is closed, also when the iterator failed.
                if pending is not None:
                    pending.exception()
            if pending is not None:
                pending.result()
        os.replace(side, path)
    except BaseException:
        side.unlink(missing_ok=True)
        raise
    return rows


def _remove_stale_side_files(path: Path) -> None:
    """Remove the side files of ``path`` that a killed process left behind (its pid is gone);
    no reader lists them, but they would stay on disk for good."""
    for side in path.parent.glob(f".{path.name}.tmp-*"):
        pid = side.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            side.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _levels(schema: pa.Schema, overrides: dict[str, int]) -> dict[str, int]:
    """One zstd level per leaf column: the default, except where ``overrides`` says."""
    paths = [f"{f.name}.list.element" if pa.types.is_list(f.type) else f.name for f in schema]
    return {path: overrides.get(path, COMPRESSION_LEVEL) for path in paths}


__all__ = ["COMPRESSION", "COMPRESSION_LEVEL", "write_parquet_atomic"]
