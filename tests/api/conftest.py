"""SQL on the warehouse of the shared synced mirror (tests/conftest.py), apart from the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ctmirror.serve.warehouse_source import open_for_reading
from tests.conftest import duckdb_url as warehouse_url


@pytest.fixture(scope="session")
def warehouse_sql(synced_mirror: Path) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """SQL on the warehouse, apart from the API: what its answers are compared with."""
    engine = open_for_reading(warehouse_url(synced_mirror))

    def run(query: str, **params: Any) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]

    yield run
    engine.dispose()
