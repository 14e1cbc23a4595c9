"""A mirror synced from the synthetic corpus with every derived stage (GLIF voltages too),
shared by the API, export and notebook tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ctmirror.serve.warehouse_source import open_for_reading
from ctmirror.settings import Settings
from ctmirror.sync import run_sync_locally


def warehouse_url(root: Path) -> str:
    return f"duckdb:///{root / 'warehouse.duckdb'}"


@pytest.fixture(scope="session")
def synced_mirror(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctmirror.replica.server import serve_in_thread

    root = tmp_path_factory.mktemp("api") / "mirror"
    settings = Settings()
    settings.root = root
    settings.warehouse.url = warehouse_url(root)
    settings.features.glif_voltages = True
    with serve_in_thread(synth_snapshot) as replica:
        settings.api.base_url = replica.base_url
        result = run_sync_locally(settings.sync_config())
    assert not result.errors
    return root


@pytest.fixture(scope="session")
def warehouse_sql(synced_mirror: Path) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """SQL on the warehouse, apart from the API: what its answers are compared with."""
    engine = open_for_reading(warehouse_url(synced_mirror))

    def run(query: str, **params: Any) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]

    yield run
    engine.dispose()
