"""The analyst layer on a migrated warehouse: every object described, ``cells`` one row per
current cell with normalised values, the same on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from ctmirror.schema import ApiCellTypesSpecimenDetail
from ctmirror.schema.analyst import ANALYST_VIEWS_BY_NAME
from ctmirror.schema.base import mapped_table
from ctmirror.schema.ephys_recomputed import RECOMPUTED_FEATURES
from ctmirror.schema.morphology_recomputed import RECONSTRUCTION_FEATURES
from ctmirror.warehouse.analyst import publish_analyst_layer
from ctmirror.warehouse.descriptions import missing_descriptions

_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _cell(specimen_id: int, species: str, sex: str, layer: str, *, removed: bool = False
          ) -> dict[str, object]:
    return {"specimen__id": specimen_id, "donor__species": species, "donor__sex": sex,
            "structure__layer": layer, "tag__dendrite_type": "Spiny ", "raw": {},
            "content_hash": "h", "first_seen": _NOW, "last_seen": _NOW,
            "removed_at": _NOW if removed else None, "first_sync_id": "s",
            "last_sync_id": "s"}


def test_a_migrated_warehouse_describes_every_table_view_and_column(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        missing = missing_descriptions(conn)
    assert missing == [], f"(table, column) without a description: {missing}"


def test_cells_has_one_normalised_row_per_current_cell(engine: sa.Engine) -> None:
    cells = mapped_table(ApiCellTypesSpecimenDetail)
    with engine.begin() as conn:
        conn.execute(sa.insert(cells), [
            _cell(1, "Mus musculus", "", "2/3"), _cell(2, "Homo Sapiens", "Female", "Layer 6A"),
            _cell(3, "Homo Sapiens", "M", "5", removed=True)])
    publish_analyst_layer(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT specimen_id, species, sex, layer, dendrite_type, has_nwb, "
            "glif_model_count, best_evr_level_1 FROM cells ORDER BY specimen_id")).all()
        columns = list(conn.execute(sa.text("SELECT * FROM cells")).keys())
        assert missing_descriptions(conn) == []
    assert [tuple(r) for r in rows] == [(1, "mouse", None, "2/3", "spiny", False, 0, None),
                                        (2, "human", "female", "6a", "spiny", False, 0, None)]
    assert columns == [c.name for c in ANALYST_VIEWS_BY_NAME["cells"].columns]
    for name in (*RECOMPUTED_FEATURES, *RECONSTRUCTION_FEATURES):
        assert name in columns and f"{name}_recomputed" in columns


def test_describe_lists_objects_and_one_tables_columns(engine: sa.Engine,
                                                       warehouse_url: str) -> None:
    from typer.testing import CliRunner

    from ctmirror.cli import app

    engine.dispose()
    runner = CliRunner()
    listed = runner.invoke(app, ["describe", "--db", warehouse_url, "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert "cells," in listed.output and "one row per current cell" in listed.output
    one = runner.invoke(app, ["describe", "cells", "--db", warehouse_url, "--format", "csv"])
    assert one.exit_code == 0, one.output
    assert "vrest_recomputed," in one.output and "(mV)" in one.output
    unknown = runner.invoke(app, ["describe", "no_such_table", "--db", warehouse_url])
    assert unknown.exit_code != 0 and "no table or view 'no_such_table'" in str(
        unknown.exception)
