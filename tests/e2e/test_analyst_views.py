"""The analyst views after a sync: ``cells`` equal on DuckDB and PostgreSQL for the same corpus,
and a PostgreSQL reader that queries ``cells`` through a re-sync sees the state before or after
it, never an error or half of it. Records only (``files=False``): the file and feature stages
are tested on their own."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ctmirror.sync import run_sync_locally
from tests.conftest import _postgres_database

from .test_sync import _config
from .warehouse_sql import query_rows

_CELLS = "SELECT * FROM cells ORDER BY specimen_id"


@pytest.fixture
def postgres_warehouse(postgres_url: str) -> Iterator[str]:
    yield from _postgres_database(postgres_url)


@pytest.mark.postgres
def test_cells_are_equal_on_duckdb_and_postgres(replica: object, tmp_path: Path,
                                                postgres_warehouse: str) -> None:
    duckdb_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    for url in (duckdb_url, postgres_warehouse):
        run_sync_locally(_config(replica.base_url, tmp_path / "mirror", url, files=False))
    on_duckdb, on_postgres = query_rows(duckdb_url, _CELLS), query_rows(postgres_warehouse,
                                                                        _CELLS)
    current = query_rows(duckdb_url, "SELECT count(*) FROM api_cell_types_specimen_details "
                                     "WHERE removed_at IS NULL")[0][0]
    assert len(on_duckdb) == current == 12
    assert {row[0] for row in on_duckdb} == {row[0] for row in on_postgres}
    assert [tuple(r) for r in on_duckdb] == [tuple(r) for r in on_postgres]


def _change_cells(snapshot: Path) -> None:
    """One cell's layer changes, one cell disappears."""
    cells_file = snapshot / "records" / "ApiCellTypesSpecimenDetail.jsonl"
    cells = [json.loads(line) for line in cells_file.read_text().splitlines()]
    cells[0]["structure__layer"] = "6b" if cells[0]["structure__layer"] != "6b" else "2/3"
    cells_file.write_text("".join(json.dumps(c) + "\n" for c in cells[:1] + cells[2:]))


@pytest.mark.postgres
def test_a_postgres_reader_sees_cells_before_or_after_a_sync(
    synth_snapshot: Path, tmp_path: Path, postgres_warehouse: str
) -> None:
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.warehouse.engine import create_warehouse_engine

    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    query = "SELECT specimen_id, layer FROM cells ORDER BY specimen_id"
    with serve_in_thread(snapshot) as replica:
        config = _config(replica.base_url, tmp_path / "mirror", postgres_warehouse, files=False)
        run_sync_locally(config)
        before = query_rows(postgres_warehouse, query)
        answers: list[list[tuple[object, ...]]] = []
        errors: list[BaseException] = []
        done = threading.Event()
        reader = create_warehouse_engine(postgres_warehouse, read_only=True)

        def read() -> None:
            while not done.is_set():
                try:
                    with reader.connect() as conn:
                        answers.append([tuple(r) for r in conn.execute(sa.text(query))])
                except Exception as exc:  # every error is a failure of the test
                    errors.append(exc)

        thread = threading.Thread(target=read)
        thread.start()
        try:
            _change_cells(snapshot)
            replica.reload()
            run_sync_locally(config)
        finally:
            done.set()
            thread.join()
            reader.dispose()
    after = query_rows(postgres_warehouse, query)
    assert errors == []
    assert before != after and len(after) == len(before) - 1
    assert len(answers) > 10
    assert {"before" if a == [tuple(r) for r in before] else
            "after" if a == [tuple(r) for r in after] else "neither" for a in answers
            } <= {"before", "after"}
