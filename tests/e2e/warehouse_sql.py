"""Read a warehouse by SQL in the end-to-end tests."""

from __future__ import annotations

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
