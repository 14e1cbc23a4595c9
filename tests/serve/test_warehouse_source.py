"""A synced warehouse as serve's record source: records, join-table pairs, and an older schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from ctmirror.schema import NeuronalModelTemplate, NeuronalModelTemplateWellKnownFile, WellKnownFile
from ctmirror.serve.rma_query import parse_query
from ctmirror.serve.warehouse_source import WarehouseSource
from ctmirror.warehouse import migrate
from ctmirror.warehouse.engine import create_warehouse_engine

TEMPLATE_FILES = ("model::NeuronalModelTemplate,rma::criteria,well_known_files,rma::include,"
                  "well_known_files,rma::options[num_rows$eqall]")


def _fill(url: str, *, pairs: bool) -> None:
    now, sync = datetime(2026, 1, 1, tzinfo=UTC), "s1"
    book = {"first_seen": now, "last_seen": now, "first_sync_id": sync, "last_sync_id": sync}
    engine = create_warehouse_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(NeuronalModelTemplate.__table__), [{
                "id": 1, "name": "perisomatic", "raw": {"name": "perisomatic", "id": 1},
                "content_hash": "a", **book}])
            conn.execute(sa.insert(WellKnownFile.__table__), [{
                "id": 10, "attachable_type": "Product",
                "raw": {"path": "/x/SK.mod", "id": 10, "attachable_type": "Product"},
                "content_hash": "b", **book}])
            if pairs:
                conn.execute(sa.insert(NeuronalModelTemplateWellKnownFile.__table__), [
                    {"neuronal_model_template_id": 1, "well_known_file_id": 10, **book}])
    finally:
        engine.dispose()


def test_the_templates_list_their_files_in_the_apis_key_order(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    migrate.upgrade(url)
    _fill(url, pairs=True)
    engine = WarehouseSource(url, tmp_path).load().engine
    (template,) = engine.run(parse_query(TEMPLATE_FILES)).rows
    assert list(template) == ["name", "id", "well_known_files"]
    (listed,) = template["well_known_files"]
    assert list(listed) == ["path", "id", "attachable_type"]


def test_a_warehouse_from_before_the_join_table_serves_without_pairs(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    migrate.upgrade(url, "b3d7f1a9c2e4")
    _fill(url, pairs=False)
    engine = WarehouseSource(url, tmp_path).load().engine
    assert engine.run(parse_query(TEMPLATE_FILES)).rows == []
    assert engine.record("WellKnownFile", 10) is not None
