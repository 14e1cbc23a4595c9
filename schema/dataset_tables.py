"""The Parquet datasets without sample arrays as PostgreSQL tables, derived from their Arrow
schemas (``ctmirror.schema.parquet``), so a column is defined once.

PostgreSQL cannot read Parquet, so on a PostgreSQL warehouse the sync also loads the rows of
``TABLE_DATASETS`` into tables of the same names and columns as DuckDB's views over the files.
DuckDB keeps the views (a table would only copy the files), so these tables are on their own
``MetaData``, created by migrations on PostgreSQL only. A dataset's ``row_key`` is its primary
key; one without a key gets an index on ``well_known_file_id``, which is what one file's rows
are replaced by.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from ctmirror.schema.base import NAMING_CONVENTION
from ctmirror.schema.parquet import TABLE_DATASETS, ParquetDataset

#: The PostgreSQL-only tables (not on ``ctmirror.schema.metadata``, which both backends share).
postgres_only_metadata = MetaData(naming_convention=NAMING_CONVENTION)

_SQL_TYPES: dict[pa.DataType, type[TypeEngine[Any]]] = {
    pa.int16(): SmallInteger,
    pa.int32(): Integer,
    pa.int64(): BigInteger,
    pa.float32(): REAL,
    pa.float64(): Double,
    pa.string(): Text,
    pa.bool_(): Boolean,
}


def _column(field: pa.Field) -> Column[Any]:
    if field.type not in _SQL_TYPES:
        raise TypeError(f"{field.name}: {field.type} has no table column type")
    doc = (field.metadata or {}).get(b"doc", b"").decode() or None
    return Column(field.name, _SQL_TYPES[field.type](), nullable=field.nullable,
                  autoincrement=False, comment=doc)


def dataset_table(dataset: ParquetDataset) -> Table:
    """The table holding ``dataset``'s rows on PostgreSQL."""
    if dataset.row_key:
        key: PrimaryKeyConstraint | Index = PrimaryKeyConstraint(*dataset.row_key)
    else:
        key = Index(None, "well_known_file_id")
    return Table(dataset.name, postgres_only_metadata,
                 *(_column(field) for field in dataset.schema), key,
                 comment=dataset.description or None)


DATASET_TABLES: dict[str, Table] = {d.name: dataset_table(d) for d in TABLE_DATASETS}

__all__ = ["DATASET_TABLES", "dataset_table", "postgres_only_metadata"]
