"""Data tests at the end of each sync: all pass on a fresh mirror, and a broken warehouse makes
the right one fail, recorded in ``sync_runs`` and shown by ``ctmirror status``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa
from rich.console import Console

from ctmirror.schema.parquet import RECONSTRUCTION_NODES
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from ctmirror.sync_report import print_status
from ctmirror.warehouse.data_tests import (
    DATA_TESTS,
    DataTestContext,
    relation_names,
    run_data_tests,
)
from ctmirror.warehouse.engine import create_warehouse_engine


def _config(base_url: str, root: Path, url: str) -> SyncConfig:
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = url
    settings.files.categories = "reconstructions"
    settings.features.ephys = settings.features.morphology = settings.features.glif = False
    return settings.sync_config()


def _has_cells(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return "cells" in relation_names(conn)


def test_data_tests_pass_then_name_what_was_broken(
    replica: object, warehouse_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "mirror"
    config = _config(replica.base_url, root, warehouse_url)
    first = run_sync_locally(config)
    engine = create_warehouse_engine(warehouse_url, mirror_root=root)

    def _rows(_: str, sql: str) -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]

    try:
        if not _has_cells(engine):
            # The analyst views are built by another part of the sync; without them the test
            # says so, and a stand-in with the key checks the rest.
            assert dict(first.data_tests.failed) == {
                "current_cells_in_cells": ("the view cells does not exist",)}
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE VIEW cells AS SELECT specimen__id AS specimen_id "
                                     "FROM api_cell_types_specimen_details "
                                     "WHERE removed_at IS NULL")
        else:
            assert first.data_tests.failed == {}
        context = DataTestContext(engine, root, first.load.models)
        assert run_data_tests(context).passed == tuple(DATA_TESTS)
        # The crawl kept the API's count of every model it crawled whole.
        assert first.load.models["Donor"].api_total_rows == _rows(
            warehouse_url, "SELECT count(*) FROM donors")[0][0] > 0

        # A donor row deleted behind the sync's back: fewer rows than the API counts.
        with engine.begin() as conn:
            donor = conn.exec_driver_sql("SELECT min(id) FROM donors").scalar_one()
            conn.exec_driver_sql(f"DELETE FROM donors WHERE id = {donor}")
        failed = run_data_tests(context).failed
        total = first.load.models["Donor"].api_total_rows
        assert dict(failed) == {"row_counts_match_the_api": (
            f"donors: {total - 1} current rows, the API counts {total}",)}

        # One node row deleted from a converted SWC file's Parquet file.
        [(file_id, specimen_id, rows)] = _rows(warehouse_url, """
            SELECT source_id, specimen_id, converted_rows FROM mirror_files
            WHERE converted_to = 'reconstruction_nodes' ORDER BY source_id LIMIT 1""")
        path = RECONSTRUCTION_NODES.file_path(root, specimen_id, file_id)
        nodes = pq.read_table(path)
        pq.write_table(nodes.slice(1), path)
        relpath = path.relative_to(root)
        file_failure = (f"reconstruction_nodes: {relpath} has {rows - 1} rows, {rows} were "
                        f"written (well_known_file_id {file_id})")
        failures = run_data_tests(context).failed["converted_files_have_their_rows"]
        if engine.dialect.name == "postgresql":
            assert failures == (file_failure, f"reconstruction_nodes: {rows} rows in the table, "
                                              f"{rows - 1} in {relpath} (well_known_file_id "
                                              f"{file_id})")
        else:
            assert failures == (file_failure,)
            # The same node twice: the Parquet dataset has no constraint to refuse it.
            pq.write_table(nodes.slice(1, 1), path.with_name("swc-copy.parquet"))
            node = nodes.column("node_id")[1].as_py()
            assert run_data_tests(context).failed["keys_unique"] == (
                f"reconstruction_nodes: 2 rows with (well_known_file_id, node_id) = "
                f"({file_id}, {node})",)
            path.with_name("swc-copy.parquet").unlink()

        # The next sync restores the donor but not the file (its bytes did not change): its
        # data tests fail, the run says so, and so does `ctmirror status`.
        engine.dispose()  # DuckDB: the sync opens the file with its own configuration
        second = run_sync_locally(config)
        assert list(second.data_tests.failed) == ["converted_files_have_their_rows"] or (
            not _has_cells(engine))
        [(status, recorded)] = _rows(warehouse_url, f"""
            SELECT status, data_tests FROM sync_runs WHERE sync_id = '{second.sync_id}'""")
        assert status == "completed_with_errors"
        recorded = recorded if isinstance(recorded, dict) else json.loads(recorded)
        assert recorded["failed"]["converted_files_have_their_rows"][0] == file_failure
        assert "row_counts_match_the_api" in recorded["passed"]
        out = io.StringIO()
        print_status(engine, runs=2, console=Console(file=out, width=250))
        text = out.getvalue()
        assert f"{second.sync_id} data test converted_files_have_their_rows failed: " \
               f"{file_failure}" in text
    finally:
        engine.dispose()
