"""A dataset file written row group by row group appears whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ctmirror.convert.parquet_io import (
    QUEUED_ROW_GROUPS,
    AtomicParquetFile,
    write_parquet_atomic,
)

_SCHEMA = pa.schema([("sweep_number", pa.int32()), ("samples", pa.list_(pa.float32()))])


def _rows(number: int, samples: list[float]) -> pa.Table:
    return pa.table({"sweep_number": [number], "samples": [samples]}, schema=_SCHEMA)


def test_committed_file_has_one_row_group_per_write(tmp_path: Path) -> None:
    path = tmp_path / "a" / "voltages.parquet"
    out = AtomicParquetFile(path, _SCHEMA)
    out.write(_rows(1, [0.5, 1.5]))
    out.write(_rows(2, [-2.0]))
    assert not path.exists()
    assert out.commit() == 2
    parquet = pq.ParquetFile(path)
    assert parquet.num_row_groups == 2
    assert parquet.read().to_pylist() == [{"sweep_number": 1, "samples": [0.5, 1.5]},
                                          {"sweep_number": 2, "samples": [-2.0]}]
    assert [p.name for p in path.parent.iterdir()] == ["voltages.parquet"]


def test_abort_and_failure_leave_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "voltages.parquet"
    with AtomicParquetFile(path, _SCHEMA) as out:
        out.write(_rows(1, [1.0]))
    aborted = AtomicParquetFile(path, _SCHEMA)
    aborted.write(_rows(7, [7.0]))
    aborted.abort()
    aborted.abort()  # a second abort does nothing
    with pytest.raises(RuntimeError), AtomicParquetFile(path, _SCHEMA) as failed:
        failed.write(_rows(8, [8.0]))
        raise RuntimeError("the run stopped")
    assert pq.read_table(path).to_pylist() == [{"sweep_number": 1, "samples": [1.0]}]
    assert [p.name for p in tmp_path.iterdir()] == ["voltages.parquet"]
    with pytest.raises(ValueError, match="already committed or aborted"):
        aborted.write(_rows(9, [9.0]))


def test_written_ahead_row_groups_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "sweeps.parquet"
    tables = [_rows(n, [float(n)] * (1 + n % 3)) for n in range(4 * QUEUED_ROW_GROUPS + 1)]
    assert write_parquet_atomic(path, _SCHEMA, iter(tables)) == len(tables)
    parquet = pq.ParquetFile(path)
    assert parquet.num_row_groups == len(tables)
    assert parquet.read().to_pylist() == pa.concat_tables(tables).to_pylist()


def test_a_failed_row_group_or_source_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "sweeps.parquet"
    write_parquet_atomic(path, _SCHEMA, [_rows(1, [1.0])])
    # The third row group cannot take the schema: the writer thread fails on it while the
    # rows after it may already be queued.
    bad = pa.table({"sweep_number": ["not a number"], "samples": [[3.0]]})
    tables = [_rows(2, [2.0]), _rows(3, [3.0]), bad] + [_rows(n, [0.0]) for n in range(4, 9)]
    with pytest.raises(pa.ArrowInvalid):
        write_parquet_atomic(path, _SCHEMA, iter(tables))

    def failing_source() -> Iterator[pa.Table]:
        yield _rows(2, [2.0])
        raise OSError("the NWB file went away")

    with pytest.raises(OSError, match="went away"):
        write_parquet_atomic(path, _SCHEMA, failing_source())
    assert pq.read_table(path).to_pylist() == [{"sweep_number": 1, "samples": [1.0]}]
    assert [p.name for p in tmp_path.iterdir()] == ["sweeps.parquet"]
