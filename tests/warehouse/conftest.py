"""Fixtures for warehouse tests: a migrated warehouse on each backend, and a real API record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.warehouse.staging import Record, split_nested

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[sa.Engine]:
    """An engine on a fresh warehouse migrated to head."""
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.migrate import upgrade_engine

    engine = create_warehouse_engine(warehouse_url)
    upgrade_engine(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def real_records() -> dict[str, list[Record]]:
    """Flat records of every model inside one real NeuronalModel API response."""
    response = json.loads((DATA / "neuronal_model_472451419_response.json").read_text())
    return split_nested("NeuronalModel", response["msg"][0])
