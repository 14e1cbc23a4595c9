"""Writing one dataset file atomically: rows go to a side file that replaces the target only
once it is complete, so a reader never sees half a file and a converted file is never listed
twice."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: zstd compresses float traces well and decodes fast; byte-stream-split lays the float
#: bytes out by significance first, which is what lets zstd find the redundancy.
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3
#: Row groups ``write_parquet_atomic`` lets wait for its writer thread (measured on the largest
#: corpus recordings: two cut a conversion's wall time by about 10% against one).
QUEUED_ROW_GROUPS = 2


class AtomicParquetFile:
    """One dataset file written row group by row group, that appears at ``path`` only once
    ``commit()`` is called: until then the rows go to a side file, which ``abort()`` (or an
    exception in a ``with`` block) removes, leaving ``path`` as it was. Holds no rows itself,
    so a file of many large row groups is written in the memory of one.

    ``compression_levels`` overrides the zstd level of some columns (by column path, such as
    ``response.list.element``). Min/max statistics are written for the flat columns, which is
    what readers use to skip row groups; list columns get none. ``write_batch_size`` is the
    number of values the writer encodes at a time (Arrow's default, 1,024, suits flat columns).
    """

    def __init__(self, path: Path, schema: pa.Schema, *,
                 byte_stream_split: list[str] | None = None,
                 compression_levels: dict[str, int] | None = None,
                 metadata: dict[str, str] | None = None,
                 write_batch_size: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_side_files(self.path)
        self._side = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        if metadata:
            schema = schema.with_metadata({
                **(schema.metadata or {}),
                **{k.encode(): v.encode() for k, v in metadata.items()}})
        self.schema = schema
        #: Rows written so far.
        self.rows = 0
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self._side, schema, compression=COMPRESSION,
            compression_level=_levels(schema, compression_levels or {}),
            use_byte_stream_split=byte_stream_split or False,
            use_dictionary=[f.name for f in schema if pa.types.is_string(f.type)],
            write_statistics=[f.name for f in schema if not pa.types.is_list(f.type)],
            write_batch_size=write_batch_size,
        )

    def write(self, table: pa.Table) -> None:
        """Write ``table`` as one row group."""
        if self._writer is None:
            raise ValueError(f"{self.path.name} is already committed or aborted")
        table = table.cast(self.schema) if table.schema != self.schema else table
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.rows += table.num_rows

    def commit(self) -> int:
        """Complete the file and put it at ``path``; return its row count."""
        if self._writer is None:
            raise ValueError(f"{self.path.name} is already committed or aborted")
        writer, self._writer = self._writer, None
        try:
            writer.close()
            os.replace(self._side, self.path)
        except BaseException:
            self._side.unlink(missing_ok=True)
            raise
        return self.rows

    def abort(self) -> None:
        """Drop what was written; ``path`` stays as it was (a no-op once committed)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            finally:
                self._side.unlink(missing_ok=True)

    def __enter__(self) -> AtomicParquetFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


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
    """Write each table of ``row_groups`` as one row group of ``path`` (an
    ``AtomicParquetFile``, whose options these are); return the row count.

    The file appears at ``path`` only when every row group was written; on any exception the
    side file is removed and ``path`` is left as it was. Row groups are encoded and compressed
    in a second thread while the caller's iterator makes the next ones (Arrow releases the
    GIL), so reading a source and writing its Parquet overlap. Up to ``QUEUED_ROW_GROUPS``
    wait for the writer, so row groups whose reading and writing cost differently (sweeps
    do) even out instead of each stalling the other thread in turn; at most
    ``QUEUED_ROW_GROUPS + 1`` row groups are in memory.
    """
    with AtomicParquetFile(path, schema, byte_stream_split=byte_stream_split,
                           compression_levels=compression_levels, metadata=metadata,
                           write_batch_size=write_batch_size) as out, \
            ThreadPoolExecutor(1, thread_name_prefix="parquet-writer") as pool:
        pending: deque[Future[None]] = deque()
        try:
            for table in row_groups:
                while len(pending) >= QUEUED_ROW_GROUPS:
                    pending.popleft().result()
                pending.append(pool.submit(out.write, table))
            while pending:
                pending.popleft().result()
        except BaseException:
            # Nothing more is written once a row group or the source failed; the write in
            # progress is waited for, so the writer is idle before the file is closed.
            pool.shutdown(cancel_futures=True)
            raise
    return out.rows


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


__all__ = ["COMPRESSION", "COMPRESSION_LEVEL", "AtomicParquetFile", "write_parquet_atomic"]
