"""The declarative base every warehouse table shares, and the columns every mirrored row carries.

Allen integer ids are natural primary keys (no autoincrement: PostgreSQL would emit SERIAL,
which DuckDB rejects). DuckDB tables get no foreign keys and no secondary indexes, because most
ALTERs fail on a table that has them; PostgreSQL-only indexes use ``.ddl_if``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Double, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Every index and constraint gets a predictable name, so a migration can drop it by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A whole JSON document: DuckDB's JSON type, JSONB on PostgreSQL.
RawJSON = JSON().with_variant(JSONB(), "postgresql")

#: A JSON document kept as the text it was written with (DuckDB's JSON, PostgreSQL's json):
#: an API record's keys stay in the order the API sent them, which jsonb would not keep.
TextJSON = JSON()

#: A stable, timezone-aware timestamp on both backends.
Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: BigInteger(),
        float: Double(),
        str: Text(),
        bool: Boolean(),
        datetime: Timestamp,
        dict[str, Any]: RawJSON,
        list[float]: RawJSON,
        list[int]: RawJSON,
        list[dict[str, Any]]: RawJSON,
    }


def allen_id() -> Mapped[int]:
    """An Allen integer id used as the natural primary key."""
    return mapped_column(BigInteger, primary_key=True, autoincrement=False)


class MirroredRecord:
    """Bookkeeping on every mirrored row (mixed into each Allen model's table).

    ``raw`` keeps the record exactly as the API returned it (minus nested associations), so a
    field Allen adds later is never lost even before it gets a typed column. Rows that
    disappear upstream get ``removed_at`` and stay; they are never deleted.
    """

    raw: Mapped[dict[str, Any]] = mapped_column(
        TextJSON, sort_order=100,
        comment="the record exactly as the API returned it, without nested associations (JSON, "
                "keys in the API's order)")
    content_hash: Mapped[str] = mapped_column(
        sort_order=101, comment="sha256 of the record's canonical JSON (hex): a change means "
                                "the record changed upstream")
    first_seen: Mapped[datetime] = mapped_column(
        sort_order=102, comment="when a sync first mirrored the record (UTC timestamp)")
    last_seen: Mapped[datetime] = mapped_column(
        sort_order=103, comment="when a sync last found the record upstream (UTC timestamp)")
    removed_at: Mapped[datetime | None] = mapped_column(
        sort_order=104, comment="when the record disappeared upstream (UTC timestamp); empty "
                                "for a current record")
    first_sync_id: Mapped[str] = mapped_column(
        sort_order=105, comment="the sync that first mirrored the record (sync_runs.sync_id)")
    last_sync_id: Mapped[str] = mapped_column(
        sort_order=106, comment="the sync that last changed or confirmed the record "
                                "(sync_runs.sync_id)")


#: Column names of ``MirroredRecord``: bookkeeping, not Allen attributes.
BOOKKEEPING_COLUMNS = (
    "raw", "content_hash", "first_seen", "last_seen", "removed_at", "first_sync_id",
    "last_sync_id",
)

def mapped_table(mapped: type[DeclarativeBase]) -> Table:
    """``mapped.__table__`` as a ``Table``: SQLAlchemy types it as any ``FromClause``, while every
    class in ``ctmirror.schema`` maps exactly one table."""
    table = mapped.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{mapped.__name__} is not mapped to a single table")
    return table


def describe(mapped: type[DeclarativeBase] | Table, columns: Mapping[str, str],
             description: str | None = None) -> None:
    """Give ``mapped``'s table and every column a description (SQLAlchemy ``comment``, written
    to the warehouse with ``COMMENT ON``): ``description``, else the class docstring's first
    paragraph; a column already commented where it is declared may be left out. Raises
    ``ValueError`` naming the columns left without one or not in the table."""
    table = mapped if isinstance(mapped, Table) else mapped_table(mapped)
    unknown = sorted(set(columns) - set(table.c.keys()))
    missing = sorted(c.name for c in table.columns if c.name not in columns and not c.comment)
    if unknown or missing:
        raise ValueError(f"{table.name}: described but not columns: {unknown}; "
                         f"columns without a description: {missing}")
    if description is None:
        doc = "" if isinstance(mapped, Table) else inspect.cleandoc(mapped.__doc__ or "")
        description = " ".join(doc.split("\n\n")[0].split()).replace("``", "")
    if not description:
        raise ValueError(f"{table.name}: no description")
    table.comment = description
    for name, text in columns.items():
        table.c[name].comment = text


__all__ = [
    "BOOKKEEPING_COLUMNS",
    "Base",
    "MirroredRecord",
    "NAMING_CONVENTION",
    "RawJSON",
    "TextJSON",
    "Timestamp",
    "allen_id",
    "describe",
    "mapped_table",
]
