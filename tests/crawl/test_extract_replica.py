"""The extract stage against the replica server on loopback, serving the synthetic snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctmirror.crawl import StagingPackage, extract
from ctmirror.replica.snapshot import Snapshot
from ctmirror.rma.client import RmaClient
from ctmirror.schema.allen_model import MIRRORED_LINKS, REFERENCE_MODELS, primary_key

pytest.importorskip("ctmirror.replica.server")
pytest.importorskip("ctmirror.replica.corpus.synth")


def snapshot_records(root: Path) -> dict[str, dict[object, dict[str, Any]]]:
    """The snapshot's records the mirror holds: not the reference models (``Product``), nor the
    files attached to them but those a join table the mirror keeps lists (the templates'
    mechanism files)."""
    snapshot = Snapshot(root)
    return {
        model: {r[primary_key(model)]: r for r in snapshot.mirrored_records(model)}
        for model in snapshot.models()
        if model not in REFERENCE_MODELS
    }


def test_crawl_stages_every_record_of_the_snapshot_then_resumes_for_free(
    replica: Any, synth_snapshot: Path, tmp_path: Path
) -> None:
    expected = snapshot_records(synth_snapshot)
    # Small pages and batches so that paging and $in batching both happen on 12 cells.
    with RmaClient(replica.base_url, concurrency=2) as client:
        first = extract(client, tmp_path, sync_id="replica-1", page_size=7, in_batch=5)
    assert first.errors == ()
    assert first.complete
    package = StagingPackage(tmp_path, "replica-1")
    for model, records in expected.items():
        assert package.unique_records(model) == records, model
        assert first.models[model].rows == len(records), model
    assert any(m.pages_fetched > 1 for m in first.models.values())
    links = Snapshot(synth_snapshot).links()
    for model, name in MIRRORED_LINKS:
        assert package.links(model, name) == set(links[(model, name)])
    # 16 mechanism files, listed by both biophysical templates
    assert len(links[("NeuronalModelTemplate", "well_known_files")]) == 32

    with RmaClient(replica.base_url) as client:
        second = extract(client, tmp_path, sync_id="replica-1", page_size=7, in_batch=5)
    assert second.requests == 0
    assert second.pages_reused == first.pages_fetched


def test_limited_crawl_keeps_the_first_cells(
    replica: Any, synth_snapshot: Path, tmp_path: Path
) -> None:
    cells = sorted(snapshot_records(synth_snapshot)["ApiCellTypesSpecimenDetail"])[:3]
    with RmaClient(replica.base_url) as client:
        report = extract(client, tmp_path, sync_id="replica-limit", limit=3)
    package = StagingPackage(tmp_path, "replica-limit")
    assert sorted(package.unique_records("ApiCellTypesSpecimenDetail")) == cells
    assert sorted(package.unique_records("Specimen")) == cells
    assert {r["specimen_id"] for r in package.unique_records("EphysSweep").values()} <= set(cells)
    assert not report.models["Specimen"].full_scope
    assert report.models["WellKnownFileType"].full_scope
