"""Morphology features recomputed inside the sync: per reconstruction and compartment, beside the
published values, only for reconstructions that changed, with failures recorded and removed
reconstructions withdrawn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctmirror import sync_morphology
from ctmirror.features.morphology import Compartment, compute_morphology_features
from ctmirror.readers.swc import read_swc
from ctmirror.replica.server import serve_in_thread
from ctmirror.schema.morphology_recomputed import CELL_LIST_FEATURES, RECONSTRUCTION_FEATURES
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally

from .warehouse_sql import assert_dataset_tables_match_files
from .warehouse_sql import query_rows as _rows

FEATURES = (*RECONSTRUCTION_FEATURES, *CELL_LIST_FEATURES)


def _config(base_url: str, root: Path, url: str) -> SyncConfig:
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = url
    settings.files.categories = "reconstructions"
    return settings.sync_config()


def _converted_swc(url: str) -> list[tuple[int, int, str]]:
    """(well_known_file_id, neuron_reconstruction_id, relpath) of every converted SWC file."""
    return [(int(f), int(r), str(p)) for f, r, p in _rows(url, """
        SELECT m.source_id, w.attachable_id, m.relpath FROM mirror_files m
        JOIN well_known_files w ON w.id = m.source_id
        WHERE m.converted_to = 'reconstruction_nodes' AND m.converted_rows IS NOT NULL
          AND m.removed_at IS NULL ORDER BY 1""")]


def test_sync_recomputes_morphology_features_once_and_withdraws_removed(
    synth_snapshot: Path, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    root = tmp_path / "mirror"
    with serve_in_thread(snapshot) as replica:
        config = _config(replica.base_url, root, warehouse_url)
        first = run_sync_locally(config)
        assert first.errors == ()
        swc = _converted_swc(warehouse_url)
        assert len(swc) >= 4
        tables = assert_dataset_tables_match_files(warehouse_url, root)
        assert not tables or tables["reconstruction_nodes"] > 10 * len(swc)
        report = first.stages["morphology-features"]
        assert report.pending == report.done == len(swc)

        # One row per converted reconstruction and compartment, from the file's current bytes.
        assert _rows(warehouse_url, """
            SELECT count(*), count(DISTINCT neuron_reconstruction_id), count(DISTINCT compartment)
            FROM morphology_features_recomputed r
            JOIN mirror_files m ON m.source_id = r.well_known_file_id
             AND m.sha256 = r.source_sha256""") == [(len(swc) * 5, len(swc), 5)]
        file_id, reconstruction_id, relpath = swc[0]
        morphology = read_swc(root / relpath)
        names = ", ".join(FEATURES)
        stored = {row[0]: dict(zip(FEATURES, row[2:], strict=True)) for row in _rows(
            warehouse_url, f"""SELECT compartment, code_version, {names}
                               FROM morphology_features_recomputed
                               WHERE neuron_reconstruction_id = {reconstruction_id}""")}
        assert set(stored) == {c.value for c in Compartment}
        for compartment in Compartment:
            expected = compute_morphology_features(morphology, compartment)
            got = stored[compartment.value]
            for name in FEATURES:
                if expected.get(name) is None:
                    assert got[name] is None, (compartment, name)
                else:
                    assert got[name] == pytest.approx(expected[name], rel=1e-12), name
        assert stored["all"]["number_nodes"] == morphology.n_nodes > 10
        assert stored["axon"]["nr__number_stems"] is None  # nr__ values: whole cell only

        # The view pairs recomputed with published values (reconstruction records, cell list).
        assert _rows(warehouse_url, """
            SELECT count(*), count(published), count(recomputed)
            FROM morphology_features_comparison
            WHERE feature IN ('number_nodes', 'nr__number_stems')""") == [(2 * len(swc),) * 3]
        [(published, recomputed, difference)] = _rows(warehouse_url, f"""
            SELECT published, recomputed, difference FROM morphology_features_comparison
            WHERE neuron_reconstruction_id = {reconstruction_id} AND feature = 'total_length'""")
        assert recomputed == pytest.approx(stored["all"]["total_length"], rel=1e-12)
        assert published == pytest.approx(recomputed, rel=1e-6)
        assert difference == pytest.approx(recomputed - published)

        second = run_sync_locally(config)
        report = second.stages["morphology-features"]
        assert report.pending == report.done == 0
        assert second.errors == ()

        # A file that no longer reads is recorded with its reason; the others are computed.
        broken = root / relpath
        broken.write_bytes(b"x" * broken.stat().st_size)  # same size: the mirror keeps it
        monkeypatch.setattr(sync_morphology, "MORPHOLOGY_CODE_VERSION", 2)
        third = run_sync_locally(config)
        report = third.stages["morphology-features"]
        assert (report.pending, report.done, len(report.failures)) == (
            len(swc), len(swc) - 1, 1)
        [(model, record_id, stage, message)] = _rows(warehouse_url, f"""
            SELECT model, record_id, stage, message FROM sync_errors
            WHERE sync_id = '{third.sync_id}'""")
        assert (model, record_id, stage) == ("WellKnownFile", file_id, "morphology-features")
        assert broken.name in message and "line 1" in message, message
        assert _rows(warehouse_url, """
            SELECT code_version, count(DISTINCT neuron_reconstruction_id)
            FROM morphology_features_recomputed GROUP BY 1 ORDER BY 1""") == [
            (1, 1), (2, len(swc) - 1)]

        # The broken file's record disappears upstream: its rows are withdrawn.
        records = snapshot / "records" / "WellKnownFile.jsonl"
        kept = [line for line in records.read_text().splitlines()
                if json.loads(line)["id"] != file_id]
        records.write_text("\n".join(kept) + "\n")
        replica.reload()
        fourth = run_sync_locally(config)
    assert fourth.stages["morphology-features"].withdrawn == 1
    assert fourth.stages["morphology-features"].pending == 0 and fourth.errors == ()
    assert _rows(warehouse_url, """
        SELECT count(DISTINCT neuron_reconstruction_id), min(code_version)
        FROM morphology_features_recomputed""") == [(len(swc) - 1, 2)]
    assert _rows(warehouse_url, f"""
        SELECT count(*) FROM morphology_features_comparison
        WHERE neuron_reconstruction_id = {reconstruction_id}""") == [(0,)]
    # The withdrawn file's nodes left the table with its Parquet file.
    after = assert_dataset_tables_match_files(warehouse_url, root)
    assert not after or after["reconstruction_nodes"] == tables["reconstruction_nodes"] - (
        morphology.n_nodes)
