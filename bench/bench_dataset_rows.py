"""Rows per second of loading dataset rows into their PostgreSQL tables (``COPY`` of Arrow CSV)
against a plain ``executemany`` INSERT of the same rows, on synthetic rows of each table
dataset.

    .venv/bin/python bench/bench_dataset_rows.py postgresql+psycopg://USER@HOST/DB [--rows N]

The database is migrated to the head; the tables are emptied before and after.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from ctmirror.schema.dataset_tables import DATASET_TABLES
from ctmirror.schema.parquet import TABLE_DATASETS, ParquetDataset
from ctmirror.warehouse.dataset_rows import replace_dataset_rows
from ctmirror.warehouse.engine import create_warehouse_engine
from ctmirror.warehouse.migrate import upgrade_engine


def synthetic(dataset: ParquetDataset, rows: int, item: int) -> pa.Table:
    """``rows`` rows of one item (``item`` in every id column), unique in the row key."""
    rng = np.random.default_rng(0)
    columns = {}
    for field in dataset.schema:
        if field.name in dataset.row_key[-2:] or field.name == "node_id":
            values: object = np.arange(rows) if field.name != "sweep_number" else np.zeros(rows)
        elif field.name.endswith("_id"):
            values = np.full(rows, item)
        elif pa.types.is_floating(field.type):
            values = rng.normal(size=rows)
        elif pa.types.is_integer(field.type):
            values = rng.integers(0, 100, rows)
        elif pa.types.is_boolean(field.type):
            values = rng.random(rows) < 0.5
        else:
            values = np.array(["ipfx"] * rows, dtype=object)
        columns[field.name] = pa.array(values).cast(field.type)
    return pa.table(columns, schema=dataset.schema)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    engine = create_warehouse_engine(args.url)
    upgrade_engine(engine)
    for dataset in TABLE_DATASETS:
        table, data = DATASET_TABLES[dataset.name], synthetic(dataset, args.rows, 1)
        item = {"well_known_file_id": 1} if "well_known_file_id" in data.column_names \
            else {"neuronal_model_id": 1}
        with engine.begin() as conn:
            conn.execute(sa.delete(table))
            started = time.perf_counter()
            replace_dataset_rows(conn, dataset, item, data)
            copy_s = time.perf_counter() - started
            conn.execute(sa.delete(table))
            sample = data.slice(0, min(args.rows, 50_000)).to_pylist()
            started = time.perf_counter()
            conn.execute(sa.insert(table), sample)
            insert_s = time.perf_counter() - started
            conn.execute(sa.delete(table))
        print(f"{dataset.name:24} COPY {args.rows / copy_s:>12,.0f} rows/s   "
              f"executemany INSERT {len(sample) / insert_s:>10,.0f} rows/s   "
              f"ratio {args.rows / copy_s / (len(sample) / insert_s):.1f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
