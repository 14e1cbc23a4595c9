"""Recordings follow their EphysSweep records: stimulus timing and amplitude, spike counts."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ctmirror.replica.corpus.fidelity import check_sweep, followed_sweeps
from ctmirror.replica.corpus.fill import current_api_sweeps
from ctmirror.replica.corpus.nwb import read_recorded_sweeps, write_cell_nwb
from ctmirror.replica.snapshot import Snapshot


def _sweep(number: int, name: str, start: float, duration: float, amplitude: float, **more):
    return {
        "sweep_number": number,
        "stimulus_name": name,
        "stimulus_units": "Amps",
        "stimulus_start_time": start,
        "stimulus_duration": duration,
        "stimulus_absolute_amplitude": amplitude,
        "stimulus_relative_amplitude": 1.0,
        "stimulus_interval": None,
        "stimulus_description": "",
        "num_spikes": None,
        **more,
    }


# Published records of specimen 324257146 as the API serves them (willr292/Neuro-Project
# cell_types/specimen_324257146/ephys_sweeps.json), with its cell row's features.
PUBLISHED = [
    _sweep(4, "Ramp", 1.0225, 31.997495, 800.000010681146, num_spikes=17),
    _sweep(11, "Short Square", 1.02, 0.002995, 350.000001203554, num_spikes=1),
    _sweep(15, "Short Square", 1.02, 0.002995, 319.999998721343),
    _sweep(24, "Long Square", 1.02, 0.999995, -50.0000006675716),
    _sweep(33, "Long Square", 1.02, 0.999995, 129.99999687846, num_spikes=36),
    _sweep(
        52,
        "Short Square - Triple",
        2.02,
        0.016995,
        329.999999548747,
        stimulus_interval=0.007,
        num_spikes=3,
    ),
    _sweep(98, "Test", 0.0, 0.0, 0.0),
]
CELL = {
    "ef__vrest": -72.5818023681641,
    "ef__ri": 245.312497019768,
    "ef__tau": 19.4160461077829,
    "ef__threshold_i_long_square": 130.0,
    "tag__dendrite_type": "aspiny",
}


def _write(path: Path, sweeps: list[dict], *, follow: bool) -> dict[int, int]:
    return write_cell_nwb(
        path,
        specimen_id=324257146,
        specimen_name="Sst-IRES-Cre;Ai14-173191.06.01.01",
        ephys_result_id=324257144,
        cell=CELL,
        sweeps=sweeps,
        seed=0,
        follow_spike_counts=follow,
    )


@pytest.fixture(scope="module")
def published_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fidelity") / "published.nwb"
    _write(path, PUBLISHED, follow=True)
    return path


def test_published_records_are_followed_sweep_by_sweep(published_file: Path) -> None:
    recorded = read_recorded_sweeps(published_file)
    assert set(recorded) == {s["sweep_number"] for s in PUBLISHED}
    checks = [
        check_sweep(r, recorded[r["sweep_number"]][0], recorded[r["sweep_number"]][2], 200000.0)
        for r in followed_sweeps(PUBLISHED)
    ]
    assert [c.sweep_number for c in checks] == [4, 11, 15, 24, 33, 52]
    assert [c.sweep_number for c in checks if not c.timing_ok] == []
    assert [(c.file_spikes, c.record_spikes) for c in checks] == [
        (17, 17),
        (1, 1),
        (0, 0),
        (0, 0),
        (36, 36),
        (3, 3),
    ]


def test_long_square_starts_where_allensdk_looks(published_file: Path) -> None:
    # AllenSDK's extract_cell_features reads long squares in a fixed 1.02-2.02 s window.
    stimulus, response, spikes, rate = read_recorded_sweeps(published_file)[33]
    onset = int(np.flatnonzero(stimulus[int(0.1 * rate) :])[0]) + int(0.1 * rate)
    assert onset == int(round(1.02 * rate))
    assert spikes.min() > 1.02 and spikes.max() < 2.02
    assert response.size == stimulus.size


def test_a_ramp_ends_after_its_last_published_spike(published_file: Path) -> None:
    stimulus, _, spikes, rate = read_recorded_sweeps(published_file)[4]
    assert stimulus.size / rate < 1.0225 + 31.997495
    assert spikes.size == 17
    assert stimulus.size / rate > spikes.max()


def test_following_is_deterministic(published_file: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.nwb"
    _write(again, PUBLISHED[1:5], follow=True)
    with h5py.File(published_file, "r") as a, h5py.File(again, "r") as b:
        for number in (11, 33):
            name = f"acquisition/timeseries/Sweep_{number}/data"
            assert np.array_equal(a[name][()], b[name][()])


def test_a_free_response_does_not_follow_the_counts(tmp_path: Path) -> None:
    # Without following, the cell fires what the stimulus makes it fire: the per-sweep gain
    # is what brings the long square at rheobase to its 36 published spikes.
    counts = _write(tmp_path / "free.nwb", [PUBLISHED[4]], follow=False)
    assert counts[33] != 36


# The same sweeps in the 2015 model-package export (ModelDB 184171, neuronal_model_472304539/
# ephys_sweeps.json) and, for the noise sweep, specimen 320654829's (ModelDB 184165).
OLD_EXPORT = [
    {
        **_sweep(33, "Long Square", 0.92, 0.999995, 129.99999687846, num_spikes=36),
        "stimulus_units": "pA",
        "stimulus_interval": 0.0,
    },
    {
        **_sweep(15, "Short Square", 0.92, 0.002995, 319.999998721343, num_spikes=0),
        "stimulus_units": "pA",
        "stimulus_interval": 0.0,
    },
    {
        **_sweep(52, "Short Square - Triple", 1.92, 0.016995, 329.999999548747, num_spikes=3),
        "stimulus_units": "pA",
        "stimulus_interval": 0.004,
    },
    {
        **_sweep(64, "Noise 1", 1.92, 18.999995, 602.625005452495, num_spikes=85),
        "stimulus_units": "pA",
        "stimulus_interval": 5.0,
    },
    {
        **_sweep(0, "Test", 0.03, 0.069995, 9.99999977648258, num_spikes=0),
        "stimulus_units": "mV",
        "stimulus_interval": 0.05,
    },
]


def test_an_older_export_is_served_as_the_api_serves_its_sweeps() -> None:
    served = {s["sweep_number"]: s for s in current_api_sweeps(OLD_EXPORT)}
    current = {s["sweep_number"]: s for s in PUBLISHED}
    keys = ("stimulus_units", "stimulus_start_time", "stimulus_interval", "num_spikes")
    for number in (33, 15, 52):
        assert {k: served[number][k] for k in keys} == {k: current[number][k] for k in keys}
    assert (served[64]["stimulus_start_time"], served[64]["stimulus_interval"]) == (2.02, 8.0)
    assert served[0]["stimulus_units"] == "Volts"
    assert served[0]["stimulus_start_time"] == 0.03
    # Everything else stays as published.
    assert served[64]["stimulus_absolute_amplitude"] == 602.625005452495


def test_records_in_the_api_form_are_kept_as_published() -> None:
    assert current_api_sweeps(PUBLISHED) == PUBLISHED


def test_synthetic_cells_records_follow_their_recordings(synth_snapshot: Path) -> None:
    snapshot = Snapshot(synth_snapshot)
    files = sorted(synth_snapshot.rglob("*_ephys.nwb"))
    assert files
    by_specimen: dict[int, list[dict]] = {}
    for r in snapshot.iter_records("EphysSweep"):
        by_specimen.setdefault(int(r["specimen_id"]), []).append(r)
    for path in files:
        with h5py.File(path, "r") as f:
            sid = int(f["general/aibs_specimen_id"][()])
        recorded = read_recorded_sweeps(path)
        records = followed_sweeps(by_specimen[sid])
        checks = [
            check_sweep(r, recorded[r["sweep_number"]][0], recorded[r["sweep_number"]][2], 2e5)
            for r in records
        ]
        assert [c.sweep_number for c in checks if not c.timing_ok] == []
        assert [c.sweep_number for c in checks if not c.spikes_ok] == []
        long_squares = [r for r in records if r["stimulus_name"] == "Long Square"]
        assert {r["stimulus_start_time"] for r in long_squares} == {1.02}
        assert any(r["num_spikes"] for r in long_squares)
