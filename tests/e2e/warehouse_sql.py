"""Read a warehouse by SQL in the end-to-end tests."""

from __future__ import annotations

import sqlalchemy as sa


def query_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    """All rows of ``sql`` on the warehouse at ``url``, as tuples."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()
