"""The compiled dV/dt primitives give scipy's and numpy's values to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from ctmirror.features.ephys.dvdt import filtered_dvdt, has_uniform_dt, zero_phase_filter

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("size", [16, 17, 1000, 200_001])
@pytest.mark.parametrize("fraction", [0.1, 0.01, 0.005])
def test_zero_phase_filter_is_scipys_filtfilt(size: int, fraction: float) -> None:
    v = np.cumsum(RNG.normal(size=size)) - 70.0
    b, a = signal.bessel(4, fraction, "low")
    assert np.array_equal(zero_phase_filter(v, fraction), signal.filtfilt(b, a, v))


def test_filtered_dvdt_is_the_numpy_expression() -> None:
    t = np.arange(50_000) / 200_000.0
    v = np.cumsum(RNG.normal(size=t.size))
    # The cutoff as a fraction of the Nyquist frequency, computed as the references do.
    b, a = signal.bessel(4, 10_000.0 / (1.0 / (t[1] - t[0]) / 2.0), "low")
    assert np.array_equal(filtered_dvdt(t, v, 10_000.0),
                          1e-3 * np.diff(signal.filtfilt(b, a, v)) / np.diff(t))
    t[100] = t[99]  # a zero step: that difference is dropped and nothing is filtered
    dt = np.diff(t)
    keep = np.fabs(dt) > np.finfo(np.float64).eps
    assert np.array_equal(filtered_dvdt(t, v, 10_000.0), 1e-3 * np.diff(v)[keep] / dt[keep])


@pytest.mark.parametrize("t", [
    np.arange(1000) / 200_000.0,
    np.array([0.0, 1.0, 2.0000001]),
    np.array([0.0, 1.0, 2.1]),
    np.array([0.0, 1.0, np.nan]),
    np.cumsum(np.r_[0.0, np.full(999, 5e-6) + RNG.normal(scale=1e-12, size=999)]),
])
def test_uniform_time_base_is_np_allclose(t: np.ndarray) -> None:
    dt = np.diff(t)
    assert has_uniform_dt(t) == bool(np.allclose(dt, dt[0]))
