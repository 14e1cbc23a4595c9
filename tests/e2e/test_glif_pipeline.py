"""GLIF models scored inside the sync: every model simulated on its cell's recording, its
explained variance ratio beside the published one, only for new or changed inputs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import h5py
import numpy as np
import pytest

from ctmirror.glif import simulate
from ctmirror.metrics import explained_variance_ratio, spike_times_to_indices
from ctmirror.readers.glif_config import read_glif_config
from ctmirror.replica.server import serve_in_thread
from ctmirror.replica.snapshot import Snapshot
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from tests.faults.corpus import replace_file

from .warehouse_sql import assert_dataset_tables_match_files
from .warehouse_sql import query_rows as _rows


def _config(base_url: str, root: Path, url: str, *, voltages: bool = False) -> SyncConfig:
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = url
    settings.files.categories = "recordings,models"
    settings.features.ephys = False
    settings.features.glif_voltages = voltages
    settings.features.workers = 2
    return settings.sync_config()


def _noise2_counts(root: Path) -> dict[int, int]:
    """Noise 2 current-clamp sweeps per cell, read from the Parquet files by DuckDB alone."""
    glob = root / "parquet" / "sweeps" / "*" / "*.parquet"
    return dict(duckdb.sql(f"""
        SELECT specimen_id, count(*) FROM read_parquet('{glob}')
        WHERE stimulus_name = 'Noise 2' AND clamp_mode = 'CurrentClamp' GROUP BY 1""").fetchall())


def _direct_evr(config_path: Path, nwb_path: Path) -> tuple[float, int, np.ndarray]:
    """The ratio, the first Noise 2 sweep and the model's spike steps on it, from the files
    themselves (h5py, the config reader, ``ctmirror.glif`` and ``ctmirror.metrics``)."""
    with h5py.File(nwb_path, "r") as nwb:
        repeats = []
        for name, series in nwb["acquisition/timeseries"].items():
            if series["aibs_stimulus_name"][()] != b"Noise 2":
                continue
            data = nwb[f"stimulus/presentation/{name}/data"]
            stimulus = data[()].astype(np.float64) * float(data.attrs["conversion"])
            rate = float(series["starting_time"].attrs["rate"])
            repeats.append((int(name.split("_")[1]), stimulus, 1.0 / rate,
                            nwb[f"analysis/spike_times/{name}"][()]))
    repeats.sort(key=lambda r: r[0])
    first, stimulus, dt, _ = repeats[0]
    steps = simulate(read_glif_config(config_path), stimulus, dt).spike_time_steps
    data = [spike_times_to_indices(times, dt) for _, _, _, times in repeats]
    return explained_variance_ratio(data, steps, stimulus.size, dt).ratio, first, steps


def test_sync_scores_every_glif_model_once(
    replica: object, warehouse_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "mirror"
    first = run_sync_locally(_config(replica.base_url, root, warehouse_url))
    assert first.errors == ()

    glif_models = dict(_rows(warehouse_url, """
        SELECT m.id, m.specimen_id FROM neuronal_models m
        JOIN glif_neuron_configs g ON g.neuronal_model_id = m.id"""))
    noise2 = _noise2_counts(root)
    scorable = {m for m, cell in glif_models.items() if noise2.get(cell, 0) >= 2}
    assert len(scorable) >= 2 and len(glif_models) > len(scorable)
    rows = {r[0]: r[1:] for r in _rows(warehouse_url, """
        SELECT neuronal_model_id, explained_variance_ratio, problem, noise2_sweeps,
               model_spikes, code_version FROM model_metrics""")}
    assert set(rows) == set(glif_models)
    assert {m for m, r in rows.items() if r[0] is not None} == scorable
    assert all(r[1] is None for m, r in rows.items() if m in scorable)
    assert all(r[1] for m, r in rows.items() if m not in scorable)
    report = first.stages["glif-metrics"]
    assert report.pending == len(glif_models)
    assert report.done == report.counts["simulated"] == len(scorable)

    # The published value is the model run's, side by side with the recomputed one.
    [(paired, equal)] = _rows(warehouse_url, """
        SELECT count(*), count(*) FILTER (WHERE r.explained_variance_ratio
                                          = m.published_explained_variance_ratio)
        FROM model_metrics m JOIN neuronal_model_runs r ON r.id = m.neuronal_model_run_id""")
    assert paired == equal == len(glif_models)

    # The stored ratio is what the simulator and the metric give on the files themselves.
    files = _rows(warehouse_url, f"""
        SELECT mm.neuronal_model_id, c.relpath, n.relpath
        FROM model_metrics mm
        JOIN mirror_files c ON c.source = 'well_known_file'
                           AND c.source_id = mm.config_well_known_file_id
                           AND c.sha256 = mm.config_sha256
        JOIN mirror_files n ON n.source = 'well_known_file'
                           AND n.source_id = mm.recording_well_known_file_id
                           AND n.sha256 = mm.recording_sha256
        WHERE mm.neuronal_model_id IN ({", ".join(map(str, scorable))})""")
    assert len(files) == len(scorable)
    spikes_by_model = {}
    for model_id, config_path, nwb_path in files:
        expected, first_sweep, steps = _direct_evr(root / config_path, root / nwb_path)
        ratio, _, sweeps, model_spikes, version = rows[model_id]
        assert ratio == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert (sweeps, version) == (2, 1)
        spikes_by_model[model_id] = (model_spikes, first_sweep, steps)
    assert any(r > 0.1 for r, *_ in rows.values() if r is not None)

    # Model spikes are in glif_spikes, the first Noise 2 sweep's equal to the direct run's.
    spike_glob = root / "parquet" / "glif_spikes" / "*" / "*.parquet"
    counts = dict(duckdb.sql(f"SELECT neuronal_model_id, count(*) FROM read_parquet("
                             f"'{spike_glob}') GROUP BY 1").fetchall())
    for model_id, (model_spikes, first_sweep, steps) in spikes_by_model.items():
        assert counts.get(model_id, 0) == model_spikes
        stored = duckdb.sql(f"""SELECT spike_time_step FROM read_parquet('{spike_glob}')
            WHERE neuronal_model_id = {model_id} AND sweep_number = {first_sweep}
            ORDER BY spike_number""").fetchnumpy()["spike_time_step"]
        assert np.array_equal(stored, steps)
    assert sum(counts.values()) == report.counts["spikes"] > 0
    tables = assert_dataset_tables_match_files(warehouse_url, root)
    assert not tables or tables["glif_spikes"] == report.counts["spikes"]

    second = run_sync_locally(_config(replica.base_url, root, warehouse_url))
    assert second.errors == ()
    again = second.stages["glif-metrics"]
    assert again.pending == 0 and again.counts["simulated"] == 0


@pytest.fixture
def broken_config_snapshot(synth_snapshot: Path, tmp_path: Path
                           ) -> Iterator[tuple[Path, int, int]]:
    """The synthetic snapshot with one GLIF model's neuron_config.json valid JSON that does
    not convert (a model of a cell with a recording); yields it, the model and the file id."""
    snapshot = tmp_path / "broken-config-snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    snap = Snapshot(snapshot)
    recorded = {w["attachable_id"] for w in snap.iter_records("WellKnownFile")
                if w["path"].endswith(".nwb")}
    nwb_cells = {s["id"] for s in snap.iter_records("Specimen")
                 if s.get("ephys_result_id") in recorded}
    models = {m["id"]: m for m in snap.iter_records("NeuronalModel")}
    model_id, file_id = min(
        (w["attachable_id"], w["id"]) for w in snap.iter_records("WellKnownFile")
        if w["path"].endswith("_neuron_config.json")
        and models[w["attachable_id"]]["specimen_id"] in nwb_cells)
    stored = next(f for f in snap.files() if (f.kind, f.id) == ("well_known_file", file_id))
    config = json.loads(snap.resolve(stored).read_bytes())
    config["C"] = "one nanofarad"
    replace_file(snapshot, ("well_known_file", file_id), json.dumps(config).encode())
    yield snapshot, model_id, file_id


def test_broken_config_is_a_failure_and_other_models_are_scored_with_voltages(
    broken_config_snapshot: tuple[Path, int, int], tmp_path: Path
) -> None:
    snapshot, broken, file_id = broken_config_snapshot
    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    with serve_in_thread(snapshot) as replica:
        first = run_sync_locally(_config(replica.base_url, root, url, voltages=True))
        second = run_sync_locally(_config(replica.base_url, root, url, voltages=True))

    report = first.stages["glif-metrics"]
    [failure] = report.failures
    assert (failure.source, failure.source_id) == ("model_package", broken)
    assert "did not convert" in failure.message and "C must be a number" in failure.message
    errors = _rows(url, f"SELECT stage, model, record_id FROM sync_errors "
                        f"WHERE sync_id = '{first.sync_id}' ORDER BY stage")
    assert errors == [("convert", "WellKnownFile", file_id),
                      ("glif-metrics", "NeuronalModel", broken)]
    [(ratio, problem, level)] = _rows(url, "SELECT explained_variance_ratio, problem, level "
                                           f"FROM model_metrics WHERE neuronal_model_id = {broken}")
    assert ratio is None and level is None and "did not convert" in problem
    # Every other model of a cell with two Noise 2 sweeps is scored.
    [(scored, cells)] = _rows(url, """
        SELECT count(*), count(DISTINCT m.specimen_id) FROM model_metrics m
        JOIN (SELECT specimen_id FROM sweeps WHERE stimulus_name = 'Noise 2'
              GROUP BY 1 HAVING count(*) >= 2) n USING (specimen_id)
        WHERE m.explained_variance_ratio IS NOT NULL""")
    assert scored == report.done == report.counts["simulated"] > 0 and cells >= 2
    [(missing,)] = _rows(url, f"""
        SELECT count(*) FROM model_metrics m
        JOIN (SELECT specimen_id FROM sweeps WHERE stimulus_name = 'Noise 2'
              GROUP BY 1 HAVING count(*) >= 2) n USING (specimen_id)
        WHERE m.explained_variance_ratio IS NULL AND m.neuronal_model_id <> {broken}""")
    assert missing == 0

    # Voltages on request: one row per simulated sweep, as long as its stimulus.
    [(models, rows, length_ok)] = _rows(url, """
        SELECT count(DISTINCT v.neuronal_model_id), count(*),
               bool_and(len(v.voltage) = s.num_samples)
        FROM glif_voltages v
        JOIN sweeps s ON s.specimen_id = v.specimen_id AND s.sweep_number = v.sweep_number""")
    [(sweeps,)] = _rows(url, "SELECT sum(simulated_sweeps) FROM model_metrics "
                             "WHERE voltages_written")
    assert models == scored and rows == sweeps and length_ok
    [(spikes, inside)] = _rows(url, """
        SELECT count(*), count(*) FILTER (WHERE g.spike_time_step < s.num_samples
                                          AND abs(g.spike_time_s * s.sampling_rate_hz
                                                  - g.spike_time_step) < 1.0)
        FROM glif_spikes g
        JOIN sweeps s ON s.specimen_id = g.specimen_id AND s.sweep_number = g.sweep_number""")
    assert spikes == inside == report.counts["spikes"] > 0
    assert _rows(url, "SELECT bool_and(voltages_written) FROM model_metrics "
                      "WHERE explained_variance_ratio IS NOT NULL") == [(True,)]

    # The failure is reported once: nothing changed, so nothing is tried again.
    assert second.errors == () and second.stages["glif-metrics"].pending == 0
