"""A written cell opens as a published Allen NWB 1 file and says what the simulation did."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ctmirror.replica.corpus.neuron_sim import detect_spike_thresholds
from ctmirror.replica.corpus.nwb import write_cell_nwb
from ctmirror.replica.corpus.protocols import synthetic_sweeps

RATE = 200000.0
CELL = {
    "ef__vrest": -70.56103515625,
    "ef__ri": 159.531131386757,
    "ef__tau": 21.1810256736186,
    "ef__threshold_i_long_square": 90.0,
    "tag__dendrite_type": "spiny",
    "tag__apical": "intact",
    "donor__species": "Homo Sapiens",
    "line_name": None,
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], dict[int, int]]:
    sweeps = synthetic_sweeps(np.random.default_rng(2), rheobase_pa=90.0, fast=True)
    path = tmp_path_factory.mktemp("nwb") / "cell.nwb"
    counts = write_cell_nwb(
        path,
        specimen_id=525011903,
        specimen_name="H16.03.003.01.14.02",
        ephys_result_id=618211597,
        cell=CELL,
        sweeps=sweeps,
        seed=4,
    )
    return path, sweeps, counts


def test_file_has_every_published_path(written):
    path, sweeps, _ = written
    with h5py.File(path, "r") as f:
        for name in (
            "nwb_version",
            "identifier",
            "session_start_time",
            "file_create_date",
            "session_description",
            "general/generated_by",
            "general/aibs_specimen_id",
            "general/aibs_specimen_name",
            "general/aibs_dendrite_type",
            "general/session_id",
            "general/institution",
            "general/species",
            "general/subject",
            "general/intracellular_ephys/Electrode 1/location",
        ):
            assert name in f, name
        assert f["nwb_version"][()].decode().startswith("NWB-1")
        assert f["general/aibs_specimen_id"][()] == 525011903
        assert f["general/session_id"][()] == b"618211597"
        assert [v.decode() for v in f["general/generated_by"][()]] == [
            "pipeline",
            "IVSCC",
            "version",
            "1.0",
        ]
        for s in sweeps:
            n = s["sweep_number"]
            for group in (f"acquisition/timeseries/Sweep_{n}", f"stimulus/presentation/Sweep_{n}"):
                series = f[group]
                for child in (
                    "data",
                    "num_samples",
                    "starting_time",
                    "aibs_stimulus_name",
                    "aibs_stimulus_description",
                    "aibs_stimulus_amplitude_pa",
                ):
                    assert child in series, (group, child)
                data = series["data"]
                assert data.dtype == np.float32
                assert data.compression == "gzip" and data.compression_opts == 4
                assert data.attrs["conversion"] == 1.0
                assert series["starting_time"].attrs["rate"] == RATE
                assert series["num_samples"][()] == data.shape[0]
                assert series["aibs_stimulus_description"][()].decode() == s["stimulus_description"]
            assert f"epochs/Sweep_{n}" in f


def test_units_are_fixed_length_bytes_in_si(written):
    path, sweeps, _ = written
    with h5py.File(path, "r") as f:
        for s in sweeps:
            n = s["sweep_number"]
            response_unit = f[f"acquisition/timeseries/Sweep_{n}/data"].attrs["unit"]
            stimulus_unit = f[f"stimulus/presentation/Sweep_{n}/data"].attrs["unit"]
            assert isinstance(response_unit, bytes) and isinstance(stimulus_unit, bytes)
            if s["stimulus_units"] == "Volts":
                assert (stimulus_unit, response_unit) == (b"Volts", b"Amps")
                current = f[f"acquisition/timeseries/Sweep_{n}/data"][()]
                assert 1e-12 < np.abs(current).max() < 1e-8
            else:
                assert (stimulus_unit, response_unit) == (b"Amps", b"Volts")
                v = f[f"acquisition/timeseries/Sweep_{n}/data"][()]
                if s["stimulus_name"] != "Test":
                    assert -0.1 < np.median(v) < -0.05


def test_epochs_link_to_their_series(written):
    path, sweeps, _ = written
    with h5py.File(path, "r") as f:
        for s in sweeps:
            n = s["sweep_number"]
            names = (
                ["Sweep"]
                if s["stimulus_units"] == "Volts"
                else ["Sweep", "TestPulse", "Experiment"]
            )
            for name in names:
                epoch = f[f"epochs/{name}_{n}"]
                for role, target in (
                    ("stimulus", f"/stimulus/presentation/Sweep_{n}"),
                    ("response", f"/acquisition/timeseries/Sweep_{n}"),
                ):
                    link = epoch[role].get("timeseries", getlink=True)
                    assert isinstance(link, h5py.SoftLink) and link.path == target
                    size = epoch[role]["timeseries/num_samples"][()]
                    start, count = epoch[role]["idx_start"][()], epoch[role]["count"][()]
                    assert 0 <= start and start + count <= size
                    if name == "Sweep":
                        assert (start, count) == (0, size)
            if s["stimulus_units"] != "Volts":
                experiment = f[f"epochs/Experiment_{n}/response/idx_start"][()] / RATE
                assert experiment < s["stimulus_start_time"] - 0.2
                assert f[f"epochs/TestPulse_{n}/stimulus/count"][()] == int(0.1 * RATE)


def test_spike_times_are_the_response_thresholds(written):
    path, sweeps, counts = written
    with h5py.File(path, "r") as f:
        assert f["analysis/spike_times"].attrs["neurodata_type"] == b"Custom"
        for s in sweeps:
            n = s["sweep_number"]
            if s["stimulus_units"] == "Volts":
                assert counts[n] == 0
                continue
            v_mv = f[f"acquisition/timeseries/Sweep_{n}/data"][()].astype(np.float64) * 1e3
            stored = f[f"analysis/spike_times/Sweep_{n}"][()]
            expected = detect_spike_thresholds(v_mv, RATE) / RATE
            np.testing.assert_allclose(stored, expected, atol=1.5 / RATE)
            assert counts[n] == stored.size
            for t in stored:
                k = int(round(t * RATE))
                assert -60.0 < v_mv[k] < -30.0
                assert v_mv[k : k + int(0.002 * RATE)].max() > 0.0


def test_long_squares_fire_from_near_rheobase(written):
    _, sweeps, counts = written
    long_squares = [s for s in sweeps if s["stimulus_name"] == "Long Square"]
    firing = [
        s["stimulus_absolute_amplitude"] for s in long_squares if counts[s["sweep_number"]] > 0
    ]
    silent = [
        s["stimulus_absolute_amplitude"] for s in long_squares if counts[s["sweep_number"]] == 0
    ]
    assert abs(min(firing) - 90.0) <= 40.0
    assert all(amp in silent for amp in (-90.0, -50.0, -10.0, 50.0) if amp in silent + firing)
    assert all(
        counts[s["sweep_number"]] > 0 for s in sweeps if s["stimulus_name"].startswith("Noise 2")
    )


def test_ramp_stops_after_the_cell_fires(written):
    path, sweeps, counts = written
    ramp = next(s for s in sweeps if s["stimulus_name"] == "Ramp")
    n = ramp["sweep_number"]
    with h5py.File(path, "r") as f:
        samples = f[f"acquisition/timeseries/Sweep_{n}/num_samples"][()]
        last_spike = f[f"analysis/spike_times/Sweep_{n}"][()].max()
    nominal = ramp["stimulus_start_time"] + ramp["stimulus_duration"]
    assert counts[n] > 0
    assert samples / RATE < nominal
    assert samples / RATE - last_spike < 0.1 * ramp["stimulus_duration"] + 0.01


def test_fast_file_is_small(written):
    path, _, _ = written
    # Three 22 s noise sweeps make most of it; a full published file is about 100 MB.
    assert path.stat().st_size < 45_000_000


def test_same_seed_writes_the_same_data(written, tmp_path):
    _, sweeps, _ = written
    subset = [s for s in sweeps if s["stimulus_name"] in ("Long Square", "Test")][-3:]
    paths = {}
    for label, seed in (("a", 4), ("b", 4), ("c", 5)):
        paths[label] = tmp_path / f"{label}.nwb"
        write_cell_nwb(
            paths[label],
            specimen_id=525011903,
            specimen_name="H16.03.003.01.14.02",
            ephys_result_id=618211597,
            cell=CELL,
            sweeps=subset,
            seed=seed,
        )
    name = f"acquisition/timeseries/Sweep_{subset[0]['sweep_number']}/data"
    with (
        h5py.File(paths["a"], "r") as a,
        h5py.File(paths["b"], "r") as b,
        h5py.File(paths["c"], "r") as c,
    ):
        assert np.array_equal(a[name][()], b[name][()])
        assert not np.array_equal(a[name][()], c[name][()])


def test_missing_features_fall_back_to_defaults(tmp_path):
    sweeps = [
        s
        for s in synthetic_sweeps(np.random.default_rng(0), rheobase_pa=100.0, fast=True)
        if s["stimulus_name"] == "Long Square"
    ][:2]
    cell = {k: None for k in CELL}
    counts = write_cell_nwb(
        tmp_path / "bare.nwb",
        specimen_id=1,
        specimen_name="bare",
        ephys_result_id=2,
        cell=cell,
        sweeps=sweeps,
        seed=0,
    )
    assert set(counts) == {s["sweep_number"] for s in sweeps}
    with h5py.File(tmp_path / "bare.nwb", "r") as f:
        assert f["general/species"][()] == b"Mus musculus"
