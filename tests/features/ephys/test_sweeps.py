"""The per-sweep table's stimulus window against its definition written in numpy."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from ctmirror.features.ephys.cell import TEST_PULSE_MAX_S
from ctmirror.features.ephys.spike_train import SPIKE_TRAIN_FEATURES
from ctmirror.features.ephys.sweeps import SweepFeatures, stimulus_window


def _by_numpy(i: np.ndarray, rate: float) -> tuple[int, int] | None:
    changes = np.flatnonzero(np.diff(i))
    if changes.size and changes[0] < TEST_PULSE_MAX_S * rate:
        changes = changes[2:]  # the test pulse's two edges
    if changes.size == 0:
        return None
    active = np.flatnonzero(i[changes[0] + 1:]) + changes[0] + 1
    return (int(active[0]), int(active[-1])) if active.size else None


def test_stimulus_window_is_the_numpy_definition() -> None:
    rng = np.random.default_rng(5)
    for trial in range(3000):
        if trial % 2:
            i = rng.choice([0.0, 0.0, 0.0, 1.0, -2.0, np.nan], int(rng.integers(0, 40)))
        else:  # steps: a pulse, a gap, a stimulus
            i = np.repeat(rng.choice([0.0, 5.0, -3.0], 5), rng.integers(0, 6, 5)).astype(float)
        rate = float(rng.choice([1.0, 10.0, 50.0]))
        assert stimulus_window(i, rate) == _by_numpy(i, rate)


def test_a_noise_stimulus_after_a_test_pulse() -> None:
    rate = 1000.0
    i = np.zeros(3000)
    i[20:30] = -10.0  # test pulse in the first 0.4 s
    i[1000:2000] = np.random.default_rng(0).normal(0.0, 50.0, 1000)  # changes every sample
    assert stimulus_window(i, rate) == (1000, 1999)


def test_every_spike_train_feature_has_a_sweep_column() -> None:
    # The sweep rows name the spike-train features one by one: a feature added to the list
    # must get its column.
    assert set(SPIKE_TRAIN_FEATURES) <= {f.name for f in fields(SweepFeatures)}
