"""The ``Table`` behind a mapped class, typed as one."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


def mapped_table(mapped: type[DeclarativeBase]) -> sa.Table:
    """``mapped.__table__`` as a ``Table``: SQLAlchemy types it as any ``FromClause``, while every
    class in ``ctmirror.schema`` maps exactly one table."""
    table = mapped.__table__
    if not isinstance(table, sa.Table):
        raise TypeError(f"{mapped.__name__} is not mapped to a single table")
    return table


__all__ = ["mapped_table"]
