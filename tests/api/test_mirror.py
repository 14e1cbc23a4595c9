"""Every call of the Python API against a mirror synced from the synthetic corpus, compared
with SQL on the warehouse and with the mirrored NWB and SWC files themselves."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import ctmirror
from ctmirror.api import Mirror
from ctmirror.errors import ConfigError, InputError, UserSqlError

Sql = Callable[..., list[dict[str, Any]]]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mirror(synced_mirror: Path) -> Iterator[Mirror]:
    with ctmirror.open(synced_mirror) as opened:
        yield opened


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


def _assert_rows(table: Any, rows: list[dict[str, Any]]) -> None:
    got = table.to_pylist()
    assert len(got) == len(rows)
    assert table.column_names == list(rows[0]) if rows else True
    for mine, theirs in zip(got, rows, strict=True):
        differing = [k for k in theirs if not _same(mine[k], theirs[k])]
        assert not differing, {k: (mine[k], theirs[k]) for k in differing}


def _nwb_cells(sql: Sql) -> list[tuple[int, Path]]:
    return [(r["specimen_id"], r["relpath"]) for r in sql(
        "SELECT specimen_id, relpath FROM mirror_files WHERE kind = 'nwb' "
        "AND removed_at IS NULL ORDER BY specimen_id")]


def test_import_is_light_and_open_is_lazy() -> None:
    code = ("import sys, ctmirror; heavy = [m for m in ('pyarrow', 'sqlalchemy', 'duckdb', "
            "'numpy', 'ctmirror.api') if m in sys.modules]; assert not heavy, heavy; "
            "print(ctmirror.open.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ctmirror.api.mirror"
    with pytest.raises(AttributeError):
        _ = ctmirror.nothing_like_this  # type: ignore[attr-defined]


def test_open_refuses_a_folder_that_is_no_mirror(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a synced mirror"):
        ctmirror.open(tmp_path)


def test_cells_are_the_cells_view(mirror: Mirror, warehouse_sql: Sql) -> None:
    every = mirror.cells()
    _assert_rows(every, warehouse_sql("SELECT * FROM cells ORDER BY specimen_id"))
    assert every.num_rows >= 10
    mouse = mirror.cells(species="Mus musculus", has_nwb=True)
    assert mouse.to_pylist() == [r for r in every.to_pylist()
                                 if r["species"] == "Mus musculus" and r["has_nwb"]]
    some = every.column("specimen_id").to_pylist()[:3]
    assert mirror.cells(specimen_id=some).column("specimen_id").to_pylist() == some
    assert mirror.cells(specimen_id=[]).num_rows == 0
    nulls = mirror.cells(neuron_reconstruction_id=None)
    assert nulls.num_rows == sum(r["neuron_reconstruction_id"] is None
                                 for r in every.to_pylist())
    assert len(mirror.cells().to_pandas()) == every.num_rows
    with pytest.raises(InputError, match="cells has no column colour"):
        mirror.cells(colour="red")


def test_sweeps_spikes_features_and_models_are_the_views(mirror: Mirror, warehouse_sql: Sql
                                                          ) -> None:
    (cell, _), *_ = _nwb_cells(warehouse_sql)
    _assert_rows(mirror.sweeps(cell), warehouse_sql(
        "SELECT * FROM sweep_summary WHERE specimen_id = :s ORDER BY sweep_number", s=cell))
    spikes = warehouse_sql("SELECT * FROM ephys_spikes WHERE specimen_id = :s AND "
                           "definitions = 'allen2016' ORDER BY sweep_number, spike_number",
                           s=cell)
    assert spikes, "the recording has spikes"
    _assert_rows(mirror.spikes(cell), spikes)
    one = spikes[0]["sweep_number"]
    _assert_rows(mirror.spikes(cell, one), [r for r in spikes if r["sweep_number"] == one])
    features = warehouse_sql("SELECT * FROM ephys_features_comparison WHERE specimen_id = :s "
                             "ORDER BY definitions, feature", s=cell)
    assert features
    _assert_rows(mirror.features(cell), features)
    reconstructed = warehouse_sql("SELECT specimen_id FROM cells WHERE "
                                  "neuron_reconstruction_id IS NOT NULL ORDER BY specimen_id")
    shape = reconstructed[0]["specimen_id"]
    morphology = warehouse_sql(
        "SELECT * FROM morphology_features_comparison WHERE specimen_id = :s "
        "ORDER BY neuron_reconstruction_id, feature", s=shape)
    assert morphology
    _assert_rows(mirror.features(shape, kind="morphology"), morphology)
    with pytest.raises(InputError, match="features kind"):
        mirror.features(cell, kind="colour")
    models = warehouse_sql("SELECT * FROM glif_models WHERE specimen_id = :s "
                           "ORDER BY level, neuronal_model_id", s=cell)
    assert models
    _assert_rows(mirror.glif_models(cell), models)


def test_sweep_has_the_nwb_files_samples(mirror: Mirror, synced_mirror: Path,
                                         warehouse_sql: Sql) -> None:
    checked = 0
    for cell, relpath in _nwb_cells(warehouse_sql):
        with h5py.File(synced_mirror / relpath, "r") as nwb:
            for name in sorted(nwb["acquisition/timeseries"])[:4]:
                number = int(name.split("_")[1])
                sweep = mirror.sweep(cell, number)
                for kind, array, unit in (
                        ("acquisition/timeseries", sweep.response, sweep.response_unit),
                        ("stimulus/presentation", sweep.stimulus, sweep.stimulus_unit)):
                    data = nwb[f"{kind}/{name}/data"]
                    expected = data[()].astype(np.float64) * float(data.attrs["conversion"])
                    np.testing.assert_array_equal(array, expected)
                    assert unit == data.attrs["unit"].decode() if isinstance(
                        data.attrs["unit"], bytes) else data.attrs["unit"]
                assert sweep.sampling_rate_hz == pytest.approx(float(
                    nwb[f"acquisition/timeseries/{name}/starting_time"].attrs["rate"]))
                assert sweep.time_s.size == sweep.response.size
                assert sweep.time_s[1] == pytest.approx(1 / sweep.sampling_rate_hz)
                epoch = f"epochs/Experiment_{number}/response/idx_start"
                if epoch in nwb:
                    start = int(nwb[epoch][()])
                    count = int(nwb[f"epochs/Experiment_{number}/response/count"][()])
                    assert sweep.index_range == (start, start + count - 1)
                spikes = f"analysis/spike_times/{name}"
                if spikes in nwb:
                    assert sweep.spike_times_s is not None
                    np.testing.assert_array_equal(sweep.spike_times_s, nwb[spikes][()])
                checked += 1
    assert checked >= 6
    with pytest.raises(InputError, match="no converted sweep 99999"):
        mirror.sweep(cell, 99999)


def test_reconstruction_is_the_swc_file(mirror: Mirror, synced_mirror: Path,
                                        warehouse_sql: Sql) -> None:
    cell = warehouse_sql("SELECT c.specimen_id, c.neuron_reconstruction_id, m.relpath "
                         "FROM cells c JOIN well_known_files w ON "
                         "w.attachable_id = c.neuron_reconstruction_id JOIN mirror_files m ON "
                         "m.source_id = w.id AND m.kind = 'swc' ORDER BY c.specimen_id")[0]
    shape = mirror.reconstruction(cell["specimen_id"])
    assert shape.neuron_reconstruction_id == cell["neuron_reconstruction_id"]
    text = (synced_mirror / cell["relpath"]).read_text()
    rows = [line.split() for line in text.splitlines()
            if line.strip() and not line.startswith("#")]
    assert shape.nodes.num_rows == len(rows)
    nodes = shape.nodes.to_pylist()
    for node, row in zip(nodes, rows, strict=True):
        assert node["node_id"] == int(row[0]) and node["type"] == int(row[1])
        assert [node["x"], node["y"], node["z"], node["radius"]] == [float(v) for v in row[2:6]]
        assert node["parent_id"] == int(row[6])
    again = [line.split() for line in shape.to_swc().splitlines()[1:]]
    assert [[float(v) for v in r] for r in again] == [[float(v) for v in r] for r in rows]
    nameless = warehouse_sql("SELECT specimen_id FROM cells WHERE neuron_reconstruction_id "
                             "IS NULL ORDER BY specimen_id")[0]["specimen_id"]
    with pytest.raises(InputError, match="has no reconstruction"):
        mirror.reconstruction(nameless)


def test_reconstruction_converts_to_neurom_when_installed(mirror: Mirror, warehouse_sql: Sql
                                                          ) -> None:
    neurom = pytest.importorskip("neurom")
    cell = warehouse_sql("SELECT specimen_id FROM cells WHERE neuron_reconstruction_id IS NOT "
                         "NULL ORDER BY specimen_id")[0]["specimen_id"]
    shape = mirror.reconstruction(cell)
    morphology = shape.to_neurom()
    nodes = shape.nodes.to_pandas()
    assert neurom.features.get("total_length", morphology) > 0
    soma = nodes[nodes["type"] == 1][["x", "y", "z"]].mean().to_numpy()
    assert np.asarray(morphology.soma.center) == pytest.approx(soma, abs=5)
    # MorphIO comes with NeuroM: the same points, the soma apart
    points = np.unique(np.asarray(shape.to_morphio().points, dtype=np.float32), axis=0)
    expected = np.unique(nodes[nodes["type"] != 1][["x", "y", "z"]].to_numpy(np.float32), axis=0)
    np.testing.assert_array_equal(points, expected)  # MorphIO keeps float32


def test_reconstruction_converts_to_navis_when_installed(mirror: Mirror, warehouse_sql: Sql
                                                         ) -> None:
    pytest.importorskip("navis")
    cell = warehouse_sql("SELECT specimen_id FROM cells WHERE neuron_reconstruction_id IS NOT "
                         "NULL ORDER BY specimen_id")[0]["specimen_id"]
    shape = mirror.reconstruction(cell)
    assert shape.to_navis().n_nodes == shape.nodes.num_rows


def test_simulate_glif_is_the_syncs_simulation(mirror: Mirror, warehouse_sql: Sql) -> None:
    model = warehouse_sql("SELECT g.neuronal_model_id, g.specimen_id, c.el_reference "
                          "FROM glif_models g JOIN glif_neuron_configs c "
                          "ON c.neuronal_model_id = g.neuronal_model_id "
                          "ORDER BY g.level DESC, g.neuronal_model_id")[0]
    simulated = warehouse_sql("SELECT DISTINCT sweep_number FROM glif_voltages WHERE "
                              "neuronal_model_id = :m ORDER BY sweep_number",
                              m=model["neuronal_model_id"])
    number = simulated[-1]["sweep_number"]
    run = mirror.simulate_glif(model["neuronal_model_id"], number)
    steps = [r["spike_time_step"] for r in warehouse_sql(
        "SELECT spike_time_step FROM glif_spikes WHERE neuronal_model_id = :m AND "
        "sweep_number = :n ORDER BY spike_number", m=model["neuronal_model_id"], n=number)]
    assert run.result.spike_time_steps.tolist() == steps
    stored = warehouse_sql("SELECT voltage FROM glif_voltages WHERE neuronal_model_id = :m "
                           "AND sweep_number = :n", m=model["neuronal_model_id"],
                           n=number)[0]["voltage"]
    np.testing.assert_allclose(run.voltage_v - model["el_reference"],
                               np.asarray(stored, dtype=np.float64), rtol=0, atol=1e-6)
    assert run.specimen_id == model["specimen_id"]
    with pytest.raises(InputError, match="no converted config"):
        mirror.simulate_glif(1, number)


def test_sql_runs_in_the_sandbox(mirror: Mirror, warehouse_sql: Sql) -> None:
    query = "SELECT specimen_id, species FROM cells ORDER BY specimen_id"
    assert mirror.sql(query).to_pylist() == warehouse_sql(query)
    assert mirror.sql("SELECT 1 AS one WHERE false").column_names == ["one"]
    with pytest.raises(UserSqlError, match="only queries"):
        mirror.sql("DELETE FROM cells")
    # a later query in the same process (DuckDB keeps one locked database) stays sandboxed
    with pytest.raises(UserSqlError, match="Permission Error"):
        mirror.sql("SELECT * FROM read_csv('/etc/passwd')")
    assert mirror.cells().num_rows == len(warehouse_sql("SELECT specimen_id FROM cells"))
