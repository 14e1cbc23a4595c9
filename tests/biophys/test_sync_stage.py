"""The biophysical-metrics stage inside a sync, on the synthetic replica: rows for every
biophysical model of a cell with a recording, spikes in ``biophysical_spikes``, nothing
recomputed by a second sync, a changed fit recomputing that model only, and broken inputs
recorded as that model's failure.

The synthetic fits are retrained here on the cell's Short Square sweeps and the stage runs only
those with cvode, so a model costs seconds, not the minutes of a full fixed-step run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ctmirror.replica.server import serve_in_thread
from ctmirror.replica.snapshot import Snapshot
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from tests.e2e.warehouse_sql import assert_dataset_tables_match_files
from tests.e2e.warehouse_sql import query_rows as rows
from tests.faults.corpus import edit_records, replace_file

pytest.importorskip("neuron", reason="NEURON is not installed (the ctmirror[neuron] extra)",
                    exc_type=ImportError)

pytestmark = pytest.mark.slow  # nrnivmodl takes 25-45 s per mirror

STAGE = "biophysical-metrics"
PERISOMATIC_TEMPLATE = 329230710


def _config(base_url: str, root: Path, url: str, **features: Any) -> SyncConfig:
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = url
    settings.files.categories = "recordings,models,reconstructions"
    settings.features.ephys = False
    settings.features.morphology = False
    settings.features.glif = False
    settings.features.workers = 2
    settings.features.biophys_solver = "cvode"
    settings.features.biophys_stimuli = "Short Square"
    for name, value in features.items():
        setattr(settings.features, name, value)
    return settings.sync_config()


def _fit_files(snap: Snapshot) -> dict[int, Any]:
    """The stored fit file of every perisomatic model, by model id."""
    models = {m["id"] for m in snap.iter_records("NeuronalModel")
              if m["neuronal_model_template_id"] == PERISOMATIC_TEMPLATE}
    ids = {w["id"]: w["attachable_id"] for w in snap.iter_records("WellKnownFile")
           if w["attachable_id"] in models and w["path"].endswith("_fit.json")}
    return {ids[f.id]: f for f in snap.files() if f.kind == "well_known_file" and f.id in ids}


@pytest.fixture
def short_square_snapshot(synth_snapshot: Path, tmp_path: Path) -> Path:
    """The synthetic snapshot with every perisomatic fit trained on its cell's first two
    Short Square sweeps."""
    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    snap = Snapshot(snapshot)
    cells = {m["id"]: m["specimen_id"] for m in snap.iter_records("NeuronalModel")}
    short = {}
    for sweep in snap.iter_records("EphysSweep"):
        if sweep["stimulus_name"] == "Short Square":
            short.setdefault(sweep["specimen_id"], []).append(int(sweep["sweep_number"]))
    for model_id, stored in _fit_files(snap).items():
        fit = json.loads(snap.resolve(stored).read_bytes())
        fit["fitting"][0]["sweeps"] = sorted(short.get(cells[model_id], []))[:2]
        replace_file(snapshot, ("well_known_file", stored.id), json.dumps(fit).encode())
    return snapshot


def _edit_fit(snapshot: Path, model_id: int, edit: Any, revision: str) -> None:
    """Serve an edited fit, its record changed too (as upstream: a changed record is what
    makes the mirror fetch a file again)."""
    snap = Snapshot(snapshot)
    stored = _fit_files(snap)[model_id]
    replace_file(snapshot, ("well_known_file", stored.id),
                 edit(snap.resolve(stored).read_bytes()))
    edit_records(snapshot, "WellKnownFile", lambda records: [
        {**r, "updated_at": revision} if r["id"] == stored.id else r for r in records])


def _sync(snapshot: Path, root: Path, **features: Any) -> Any:
    """One sync from a replica started for it (a running replica keeps the records it read)."""
    with serve_in_thread(snapshot) as replica:
        return run_sync_locally(_config(replica.base_url, root,
                                        f"duckdb:///{root / 'warehouse.duckdb'}", **features))


def test_every_model_with_a_recording_gets_rows_once(
        short_square_snapshot: Path, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    first = _sync(short_square_snapshot, root)
    assert first.errors == ()
    report = first.stages[STAGE]
    recorded = dict(rows(url, """
        SELECT nm.id, t.name FROM neuronal_models nm
        JOIN neuronal_model_templates t ON t.id = nm.neuronal_model_template_id
        WHERE t.name LIKE 'Biophysical%' AND nm.specimen_id IN (SELECT specimen_id FROM sweeps)
    """))
    perisomatic = {m for m, name in recorded.items() if name.endswith("perisomatic")}
    assert perisomatic and len(recorded) > len(perisomatic)
    metrics = {r[0]: r[1:] for r in rows(url, """
        SELECT neuronal_model_id, feature_average, features_scored, simulated_sweeps,
               model_spikes, problem, solver, training_sweep_numbers
        FROM biophysical_model_metrics""")}
    assert set(metrics) == set(recorded)
    assert report.pending == len(recorded) and report.counts["simulated"] == len(perisomatic)
    for model_id, (average, scored, sweeps, spikes, problem, solver, training) in \
            metrics.items():
        if model_id not in perisomatic:
            assert average is None and sweeps is None and "not run" in problem
            continue
        [(short,)] = rows(url, f"""SELECT count(*) FROM sweeps WHERE specimen_id = (
            SELECT specimen_id FROM neuronal_models WHERE id = {model_id})
            AND stimulus_name LIKE 'Short Square%' AND clamp_mode = 'CurrentClamp'""")
        assert problem is None and solver == "cvode" and sweeps == short >= 4 and scored >= 1
        assert len(json.loads(training) if isinstance(training, str) else training) == 2
        # The average is the mean of the per-feature errors, each |model - mean| / sd.
        features = rows(url, f"""SELECT model_value, recorded_mean, recorded_sd, error
            FROM biophysical_feature_metrics WHERE neuronal_model_id = {model_id}""")
        errors = []
        for value, mean, sd, error in features:
            if error is None:
                continue
            errors.append(error)
            assert error == pytest.approx(20.0 if value is None else abs(value - mean) / sd)
        assert len(errors) == scored and average == pytest.approx(sum(errors) / len(errors))
        [(counted, in_sweeps)] = rows(url, f"""SELECT count(*), sum(model_spike_count)
            FROM biophysical_sweep_metrics WHERE neuronal_model_id = {model_id}""")
        assert counted == sweeps and in_sweeps == spikes
    glob = root / "parquet" / "biophysical_spikes" / "*" / "*.parquet"
    stored = dict(duckdb.sql(f"SELECT neuronal_model_id, count(*) FROM read_parquet('{glob}') "
                             "GROUP BY 1").fetchall()) if list(root.glob(
                                 "parquet/biophysical_spikes/*/*.parquet")) else {}
    assert sum(stored.values()) == report.counts["spikes"] == sum(
        metrics[m][3] for m in perisomatic)
    assert_dataset_tables_match_files(url, root)

    second = _sync(short_square_snapshot, root)
    assert second.errors == ()
    again = second.stages[STAGE]
    assert again.pending == 0 and again.counts["simulated"] == 0

    # A changed fit recomputes that model only.
    changed = min(perisomatic)
    before = dict(rows(url, "SELECT neuronal_model_id, computed_at FROM "
                            "biophysical_model_metrics"))

    def warmer(data: bytes) -> bytes:
        fit = json.loads(data)
        fit["conditions"][0]["celsius"] = 30.0
        return json.dumps(fit).encode()

    _edit_fit(short_square_snapshot, changed, warmer, "2026-12-06T01:00:00Z")
    third = _sync(short_square_snapshot, root)
    assert third.errors == ()
    redone = third.stages[STAGE]
    assert redone.pending == 1 and redone.counts["simulated"] == 1
    after = dict(rows(url, "SELECT neuronal_model_id, computed_at FROM "
                           "biophysical_model_metrics"))
    assert {m for m in after if after[m] != before[m]} == {changed}


def test_broken_fit_and_timeout_are_that_models_failures(
        short_square_snapshot: Path, tmp_path: Path) -> None:
    snap = Snapshot(short_square_snapshot)
    results = {w["attachable_id"] for w in snap.iter_records("WellKnownFile")
               if w["path"].endswith(".nwb")}
    recorded = {s["id"] for s in snap.iter_records("Specimen")
                if s.get("ephys_result_id") in results}
    cells = {m["id"]: m["specimen_id"] for m in snap.iter_records("NeuronalModel")}
    broken = min(m for m in _fit_files(snap) if cells[m] in recorded)
    _edit_fit(short_square_snapshot, broken, lambda data: data.replace(b'"genome"', b'"gnome"'),
              "2026-12-06T01:00:00Z")
    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    first = _sync(short_square_snapshot, root)
    report = first.stages[STAGE]
    [failure] = report.failures
    assert failure.source_id == broken and "not a perisomatic fit" in failure.message
    [(problem, average)] = rows(url, "SELECT problem, feature_average FROM "
                                     f"biophysical_model_metrics WHERE neuronal_model_id "
                                     f"= {broken}")
    assert average is None and "not a perisomatic fit" in problem
    assert (STAGE, "NeuronalModel", broken) in rows(
        url, f"SELECT stage, model, record_id FROM sync_errors "
             f"WHERE sync_id = '{first.sync_id}'")

    # A simulation over its deadline: the child is killed, the model failed, no spikes.
    _edit_fit(short_square_snapshot, broken,
              lambda data: data.replace(b'"gnome"', b'"genome"'), "2026-12-06T02:00:00Z")
    slow = _sync(short_square_snapshot, root, biophys_timeout_s=0.001)
    [late] = slow.stages[STAGE].failures
    assert late.source_id == broken and "took longer than 0.001 s" in late.message
    assert not list(root.glob(f"parquet/biophysical_spikes/*/biophys-{broken}.parquet"))
