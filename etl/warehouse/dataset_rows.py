"""The rows of one item of a dataset in its PostgreSQL table (``ctmirror.schema.dataset_tables``).

A derived stage writes an item's Parquet file and then, in the transaction that records the
item, replaces the item's rows in the table: delete the rows that match the item's ids, then
``COPY`` the new ones in. The rows travel as CSV written by Arrow's C++ writer, so no Python
object is made per row. On DuckDB the views read the files, and these calls do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa

from ctmirror.schema.dataset_tables import DATASET_TABLES
from ctmirror.schema.parquet import ParquetDataset

#: Bytes of CSV per ``COPY`` write: a bounded buffer whatever the item's size.
_COPY_BATCH_ROWS = 65_536


def has_dataset_tables(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def replace_dataset_rows(conn: sa.Connection, dataset: ParquetDataset,
                         item: Mapping[str, int | str], rows: pa.Table | Path | None) -> int:
    """Make ``rows`` (a table, or a Parquet file to read) the rows of ``dataset`` whose columns
    equal ``item``; with None, remove them. Returns the rows written (0 on DuckDB)."""
    if not has_dataset_tables(conn):
        return 0
    table = DATASET_TABLES[dataset.name]
    conn.execute(sa.delete(table).where(*(table.c[name] == value
                                          for name, value in item.items())))
    if rows is None:
        return 0
    data = pq.read_table(rows, schema=dataset.schema) if isinstance(rows, Path) else rows
    if data.num_rows:
        _copy(conn, table, data.select(dataset.schema.names))
    return int(data.num_rows)


def _copy(conn: sa.Connection, table: sa.Table, data: pa.Table) -> None:
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in data.column_names)
    driver = conn.connection.driver_connection
    assert driver is not None, "the DBAPI connection is open while the connection is"
    # Arrow quotes every string and leaves a null empty and unquoted, which is exactly how
    # PostgreSQL's CSV format tells NULL from an empty string.
    options = pacsv.WriteOptions(include_header=False, batch_size=_COPY_BATCH_ROWS)
    with driver.cursor() as cursor, cursor.copy(
        f"COPY {quote(table.name)} ({columns}) FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        for batch in data.to_batches(_COPY_BATCH_ROWS):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(pa.Table.from_batches([batch]), sink, options)
            copy.write(sink.getvalue().to_pybytes())


__all__ = ["has_dataset_tables", "replace_dataset_rows"]
