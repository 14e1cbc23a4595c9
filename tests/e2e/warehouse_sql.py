"""Read a warehouse by SQL in the end-to-end tests."""

from __future__ import annotations

import math
from pathlib import Path

import sqlalchemy as sa

from ctmirror.warehouse.engine import create_warehouse_engine


def query_rows(url: str, sql: str, *, mirror_root: Path | None = None
               ) -> list[tuple[object, ...]]:
    """All rows of ``sql`` on the warehouse at ``url``, as tuples, opened as ctmirror opens it
    (the Parquet views resolve against ``mirror_root``, by default the DuckDB file's folder)."""
    engine = create_warehouse_engine(url, mirror_root=mirror_root)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def assert_dataset_tables_match_files(url: str, root: Path) -> dict[str, int]:
    """On PostgreSQL, every dataset table holds exactly the rows of its Parquet files (same
    values, NULLs and NaNs included); return the rows per table. On DuckDB the views are the
    files, so there is nothing to compare and nothing is returned."""
    import pyarrow.parquet as pq

    from ctmirror.schema.parquet import TABLE_DATASETS

    if not url.startswith("postgresql"):
        return {}
    counts = {}
    for dataset in TABLE_DATASETS:
        files = sorted(dataset.directory(root).glob(f"{dataset.partition_column}=*/*.parquet"))
        names = dataset.schema.names
        expected = sorted((tuple(row[n] for n in names)
                           for path in files
                           for row in pq.read_table(path, schema=dataset.schema).to_pylist()),
                          key=repr)
        got = sorted(query_rows(url, f"SELECT {', '.join(names)} FROM {dataset.name}"), key=repr)
        assert len(got) == len(expected), dataset.name
        assert [_same_nan(r) for r in got] == [_same_nan(r) for r in expected], dataset.name
        counts[dataset.name] = len(got)
    return counts


def _same_nan(row: tuple[object, ...]) -> tuple[object, ...]:
    """NaN compares unequal to itself; a marker makes two NaNs in the same place equal."""
    return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)
