"""What the GLIF stage feeds the simulator and the metric: stimuli read from a ``sweeps`` file,
and the Noise 2 repeats a ratio is computed on (or why there are too few)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ctmirror.readers.ephys import StimulusSweep, stimulus_sweeps_from_parquet
from ctmirror.schema.parquet import SWEEPS
from ctmirror.sync_glif import noise2_repeats


def _sweep(number: int, name: str | None = "Noise 2", rate: float = 2e5,
           spikes: list[float] | None = None) -> StimulusSweep:
    return StimulusSweep(number, name, rate, 1.0, None if spikes is None else np.asarray(spikes),
                         Path("unread.parquet"), 0, 0)


def test_stimuli_are_read_in_amps_with_published_spike_times(tmp_path: Path) -> None:
    rows = [
        {"sweep_number": 3, "clamp_mode": "CurrentClamp", "stimulus_name": "Noise 2",
         "sampling_rate_hz": 2e5, "stimulus_unit": "pA", "stimulus_conversion": 0.5,
         "spike_times_s": [0.25, 0.5], "stimulus": [0.0, 100.0, -40.0]},
        {"sweep_number": 4, "clamp_mode": "VoltageClamp", "stimulus_name": "Test",
         "sampling_rate_hz": 2e5, "stimulus_unit": "Volts", "stimulus": [0.01]},
        {"sweep_number": 5, "clamp_mode": "CurrentClamp", "stimulus_name": "Ramp",
         "sampling_rate_hz": 2e5, "stimulus_unit": "Amps", "stimulus": None},
        {"sweep_number": 6, "clamp_mode": "CurrentClamp", "stimulus_name": "Ramp",
         "sampling_rate_hz": 2e5, "stimulus_unit": "Volts", "stimulus": [1.0]},
        {"sweep_number": 7, "clamp_mode": "CurrentClamp", "stimulus_name": "Long Square",
         "sampling_rate_hz": 5e4, "stimulus_unit": "Amps", "stimulus": [2e-10]},
    ]
    table = pa.Table.from_pylist(
        [{"specimen_id": 1, "well_known_file_id": 2, "num_samples": 1, **row} for row in rows],
        schema=SWEEPS.schema)
    path = tmp_path / "nwb-2.parquet"
    pq.write_table(table, path, row_group_size=1)

    sweeps, problems = stimulus_sweeps_from_parquet(path)

    assert [s.sweep_number for s in sweeps] == [3, 7]
    noise, square = sweeps
    np.testing.assert_array_equal(noise.stimulus(), np.array([0.0, 100.0, -40.0], np.float32))
    np.testing.assert_array_equal(noise.stimulus_a(), [0.0, 50e-12, -20e-12])
    assert (noise.row_group, noise.row, square.row_group) == (0, 0, 4)
    np.testing.assert_array_equal(noise.spike_times_s, [0.25, 0.5])
    assert noise.stimulus_a().dtype == np.float64 and noise.sampling_rate == 2e5
    assert square.spike_times_s is None and square.stimulus_a()[0] == np.float32(2e-10)
    assert problems == {5: "no stimulus series", 6: "stimulus unit 'Volts' is not a current"}


def test_repeats_are_the_noise2_sweeps_like_the_first_one() -> None:
    sweeps = [_sweep(9, spikes=[0.1]), _sweep(4, spikes=[]), _sweep(2, "Noise 1", spikes=[]),
              _sweep(12, spikes=[0.2]), _sweep(15, rate=1e5, spikes=[0.2]),
              _sweep(3, spikes=None)]
    lengths = {9: 100, 4: 100, 12: 90, 15: 100, 3: 80}
    repeats = noise2_repeats(sweeps, lengths)
    assert repeats.problem is None
    # Sweep 3 has no published spikes; the first with spikes (4) sets length and rate.
    assert [s.sweep_number for s in repeats.sweeps] == [4, 9]
    assert repeats.samples == 100


def test_too_few_repeats_say_why() -> None:
    none = noise2_repeats([_sweep(1, "Noise 1", spikes=[])], {1: 100})
    assert none.sweeps == () and "no Noise 2 sweep" in (none.problem or "")
    one = noise2_repeats([_sweep(1, spikes=[]), _sweep(2, spikes=None)], {1: 100, 2: 100})
    assert [s.sweep_number for s in one.sweeps] == [1]
    assert one.problem is not None and one.problem.startswith("1 usable Noise 2 sweep(s) of 2")
    assert "needs at least 2" in one.problem
