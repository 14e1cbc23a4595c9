"""The DuckDB warehouse as readers see it: the published copy written at the end of each
successful sync answers every view after the mirror folder moved, while a sync holds the
working file, and only ever with the state before or after a sync."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.replica.server import serve_in_thread
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from ctmirror.warehouse.published import PUBLISHED_FOLDER, published_path
from tests.faults.corpus import edit_records, pick

from .warehouse_sql import query_rows

#: What the reader of the reader-during-sync test asks: tables and a Parquet view together.
READER_QUERY = """
    SELECT (SELECT count(*) FROM well_known_files WHERE removed_at IS NULL),
           (SELECT count(*) FROM sweeps),
           (SELECT count(DISTINCT s.specimen_id) FROM sweeps s
            JOIN api_cell_types_specimen_details c ON c.specimen__id = s.specimen_id
            WHERE c.removed_at IS NULL),
           (SELECT count(*) FROM cells WHERE has_nwb)"""


def _config(base_url: str, root: Path) -> SyncConfig:
    """Recordings and reconstructions, converted, no feature recomputed: Parquet views over
    files (``sweeps``, ``reconstruction_nodes``) and over zero-row placeholders (the spikes)."""
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.files.categories = "recordings,reconstructions"
    settings.features.ephys = settings.features.morphology = settings.features.glif = False
    return settings.sync_config()


def _views(database: Path) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return [name for (name,) in conn.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]


def _counts_by_cli(root: Path, views: list[str]) -> dict[str, int]:
    """``count(*)`` of every view through ``ctmirror sql`` (the project's read path)."""
    counts = {}
    for view in views:
        result = CliRunner().invoke(app, ["sql", "--root", str(root), "--format", "jsonl",
                                          f'SELECT count(*) AS n FROM "{view}"'])
        assert result.exit_code == 0, (view, result.output)
        counts[view] = json.loads(result.stdout)["n"]
    return counts


def _counts_by_duckdb(database: Path, views: list[str], search_path: Path | None
                      ) -> dict[str, int]:
    """``count(*)`` of every view as a plain DuckDB client gets it."""
    with duckdb.connect(str(database), read_only=True) as conn:
        if search_path is not None:
            conn.execute(f"SET file_search_path = '{search_path}'")
        return {view: conn.execute(f'SELECT count(*) FROM "{view}"').fetchone()[0]
                for view in views}


@pytest.fixture(scope="module")
def synced_root(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("published") / "mirror"
    with serve_in_thread(synth_snapshot) as replica:
        result = run_sync_locally(_config(replica.base_url, root))
    assert result.errors == () and result.published is not None
    return root


def test_every_view_answers_after_the_mirror_moves(
    synced_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "mirror"
    shutil.copytree(synced_root, root)
    copy = published_path(root / "warehouse.duckdb")
    views = _views(copy)
    assert {"sweeps", "reconstruction_nodes", "ephys_spikes", "glif_spikes"} <= set(views)
    before = _counts_by_cli(root, views)
    assert before["sweeps"] > 0 and before["reconstruction_nodes"] > 0
    assert before["ephys_spikes"] == before["glif_spikes"] == 0

    moved = tmp_path / "elsewhere" / "moved-mirror"
    moved.parent.mkdir()
    root.rename(moved)
    copy = published_path(moved / "warehouse.duckdb")
    monkeypatch.chdir(tmp_path)
    assert _counts_by_cli(moved, views) == before
    assert _counts_by_duckdb(copy, views, search_path=moved) == before
    # the working file too, as every connection ctmirror opens
    assert {view: query_rows(f"duckdb:///{moved / 'warehouse.duckdb'}",
                             f'SELECT count(*) FROM "{view}"')[0][0] for view in views} == before
    # a plain client started in the mirror folder needs nothing else
    monkeypatch.chdir(moved)
    assert _counts_by_duckdb(copy, views, search_path=None) == before


def test_readers_go_on_while_a_sync_holds_the_working_file(synced_root: Path) -> None:
    """``ctmirror sql`` reads the published copy; ``ctmirror status`` reads the working file
    and, while another process holds it, the published copy, saying so."""
    working = synced_root / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(working)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(app, ["sql", "--root", str(synced_root), "--format", "jsonl",
                                          "SELECT count(*) AS n FROM sweeps"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["n"] > 0
        result = CliRunner().invoke(app, ["status", "--root", str(synced_root)])
        assert result.exit_code == 0, result.output
        assert "showing the published copy" in result.stderr
        assert "succeeded" in result.stdout
    finally:
        holder.kill()
        holder.wait()


#: A reader as a BI tool is one: its own process, a new read-only connection per query, the
#: mirror root as its search path; one JSON line per answer or error, until told to stop.
_READER = """
import json, sys, time, duckdb
copy, root, stop, query = sys.argv[1:5]
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    last = __import__("os").path.exists(stop)
    try:
        with duckdb.connect(copy, read_only=True, config={"file_search_path": root}) as conn:
            print(json.dumps({"answer": list(conn.execute(query).fetchone())}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
    if last:
        break
"""


def test_a_reader_sees_the_state_before_or_after_a_sync(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    root = tmp_path / "mirror"
    copy = published_path(root / "warehouse.duckdb")
    with serve_in_thread(snapshot) as replica:
        run_sync_locally(_config(replica.base_url, root))
        before = tuple(query_rows(f"duckdb:///{copy}", READER_QUERY, mirror_root=root)[0])

        # Upstream, one recording disappears: its sweeps are withdrawn by the next sync.
        gone = pick(snapshot, ".nwb").id
        edit_records(snapshot, "WellKnownFile", lambda rs: [r for r in rs if r["id"] != gone])
        replica.reload()
        stop = tmp_path / "stop"
        reader = subprocess.Popen([sys.executable, "-c", _READER, str(copy), str(root),
                                   str(stop), READER_QUERY], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            second = run_sync_locally(_config(replica.base_url, root))
        finally:
            stop.touch()
            out, _ = reader.communicate(timeout=60)
    after = tuple(query_rows(f"duckdb:///{copy}", READER_QUERY, mirror_root=root)[0])
    assert second.stages["convert"].withdrawn == 1
    assert after[0] == before[0] - 1 and after[1] < before[1]

    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["error"] for line in lines if "error" in line] == []
    answers = [tuple(line["answer"]) for line in lines]
    assert len(answers) > 5 and answers[-1] == after
    assert set(answers) <= {before, after}, set(answers) - {before, after}
    # the previous publication's files stay for readers that still hold the previous copy
    assert len(list((root / PUBLISHED_FOLDER).iterdir())) == 2


def test_a_sync_that_changes_nothing_keeps_views_tests_and_copy(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    """A re-sync that provably changed nothing runs its data tests but rebuilds no view and
    publishes nothing; the first sync that changes something publishes again."""
    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    root = tmp_path / "mirror"
    copy = published_path(root / "warehouse.duckdb")
    with serve_in_thread(snapshot) as replica:
        config = _config(replica.base_url, root)
        first = run_sync_locally(config)
        published = copy.stat().st_ino
        second = run_sync_locally(config)
        third = run_sync_locally(config)
        assert first.published is not None
        assert (second.published, third.published) == (None, None)
        assert copy.stat().st_ino == published
        assert second.data_tests == third.data_tests == first.data_tests
        assert first.data_tests.passed and not first.data_tests.failed
        runs = query_rows(f"duckdb:///{root / 'warehouse.duckdb'}",
                          "SELECT sync_id, status, data_tests FROM sync_runs "
                          "ORDER BY started_at")
        carried = [json.loads(tests).get("unchanged_since") if isinstance(tests, str)
                   else tests.get("unchanged_since") for _, _, tests in runs]
        assert carried == [None, first.sync_id, first.sync_id]
        assert [status for _, status, _ in runs] == ["succeeded"] * 3

        gone = pick(snapshot, ".nwb").id
        edit_records(snapshot, "WellKnownFile", lambda rs: [r for r in rs if r["id"] != gone])
        replica.reload()
        fourth = run_sync_locally(config)
    assert fourth.published is not None and copy.stat().st_ino != published
    assert query_rows(f"duckdb:///{copy}", "SELECT max(sync_id) FILTER (WHERE finished_at "
                      "IS NOT NULL) FROM sync_runs", mirror_root=root)[0][0] == fourth.sync_id
