"""The compiled dV/dt primitives give scipy's and numpy's values to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from ctmirror.features.ephys.cell import time_base
from ctmirror.features.ephys.dvdt import (
    ScratchBuffer,
    UniformTimes,
    filtered_dvdt,
    filtered_dvdts,
    has_uniform_dt,
    time_index,
    zero_phase_filter,
)

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


@pytest.mark.parametrize("count", [1, 3, 4, 9])
def test_batched_dvdts_are_the_single_lane_ones(count: int) -> None:
    # Lanes of unequal lengths (a lane switches buffers and directions mid-batch), one trace
    # at another rate (another filter), a short one and one with a
    # zero time step (not filtered) among them.
    traces = []
    for k in range(count):
        rate = 50_000.0 if k == 2 else 200_000.0
        size = 20 if k == 5 else 3_000 + 1_777 * k
        t = np.arange(size) / rate
        if k == 7:
            t[10] = t[9]
        traces.append((t, np.cumsum(RNG.normal(size=size)) - 65.0))
    for filter_hz in (10_000.0, 1_000.0, None):
        batched = filtered_dvdts(traces, filter_hz)
        assert len(batched) == count
        for (t, v), dvdt in zip(traces, batched, strict=True):
            assert np.array_equal(dvdt, filtered_dvdt(t, v, filter_hz))


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


def test_a_reused_buffer_gives_the_fresh_values() -> None:
    # Traces growing and shrinking through one buffer: each result is the fresh one's bits.
    scratch = ScratchBuffer()
    for size in (5_000, 40_000, 3_000, 40_001):
        t = np.arange(size) / 200_000.0
        v = np.cumsum(RNG.normal(size=size)) - 65.0
        assert np.array_equal(filtered_dvdt(t, v, 10_000.0, scratch),
                              filtered_dvdt(t, v, 10_000.0))


@pytest.mark.parametrize("rule", ["first_at_or_after", "nearest"])
def test_time_index_of_a_time_base_read_sample_by_sample_is_the_arrays(rule: str) -> None:
    size, rate, shift = 10_001, 200_000.0, 0.5 - 1.02
    times = UniformTimes(size, rate, shift)
    t = time_base(size, rate, shift)
    assert [times[k] for k in (0, 1, 5_000, -1)] == [t[0], t[1], t[5_000], t[-1]]
    # Sample times themselves, times between samples and past either end.
    for time in [*t[[0, 1, 2, 777, size - 1]], *(t[:-1:997] + 1.3e-6), t[0] - 1.0, t[-1] + 1.0]:
        try:
            expected: int | str = time_index(t, float(time), rule)  # type: ignore[arg-type]
        except ValueError as exc:
            expected = str(exc)
        try:
            got: int | str = time_index(times, float(time), rule)  # type: ignore[arg-type]
        except ValueError as exc:
            got = str(exc)
        assert got == expected
