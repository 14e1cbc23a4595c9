"""dV/dt of a voltage trace and sample lookup by time: the two primitives every ephys feature
uses (feature_spec 1.1-1.2).

The filter is the one the published features used: a 4-pole low-pass Bessel applied forwards
and backwards (``scipy.signal.filtfilt`` with its default padding), so the derivative has no
phase lag. It is skipped when the time base is not uniform, as in the reference code.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import signal

TimeIndexRule = Literal["first_at_or_after", "nearest"]


def has_uniform_dt(t: NDArray[np.floating]) -> bool:
    """Whether every sample interval equals the first (within ``np.allclose``)."""
    if t.size < 2:
        return True
    dt = np.diff(t)
    return bool(np.allclose(dt, dt[0]))


@lru_cache(maxsize=16)
def _bessel(cutoff_fraction: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return signal.bessel(4, cutoff_fraction, "low")


def filtered_dvdt(t: NDArray[np.floating], v: NDArray[np.floating],
                  filter_hz: float | None) -> NDArray[np.float64]:
    """dV/dt in V/s (= mV/ms) of ``v`` (mV) over ``t`` (s): forward differences stored at the
    left sample, length ``len(v) - 1``; samples with a zero time step are dropped.

    Raises ``ValueError`` when ``filter_hz`` is not below the Nyquist frequency.
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if filter_hz and has_uniform_dt(t):
        rate = 1.0 / (t[1] - t[0])
        fraction = filter_hz / (rate / 2.0)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"cannot low-pass at {filter_hz / 1e3:g} kHz a trace sampled at "
                             f"{rate / 1e3:g} kHz: the cutoff must be below half the rate")
        b, a = _bessel(fraction)
        v = signal.filtfilt(b, a, v)
    dv = np.diff(v)
    dt = np.diff(t)
    keep = np.fabs(dt) > np.finfo(np.float64).eps
    if keep.all():
        return 1e-3 * dv / dt
    return 1e-3 * dv[keep] / dt[keep]


def time_index(t: NDArray[np.floating], time: float, rule: TimeIndexRule) -> int:
    """The sample of ``t`` for ``time``: the first at or after it (AllenSDK: a time before the
    trace gives sample 0) or the nearest (ipfx). A time that no sample reaches (after the trace;
    for ipfx also before it) is a ``ValueError``, so an analysis fails where the reference's
    fails."""
    if rule == "nearest":
        if not t[0] <= time <= t[-1]:
            raise ValueError(f"time {time:g} s is outside the sweep ({t[0]:g} to {t[-1]:g} s)")
        # argmin(|t - time|) over an increasing t, without the O(n) scan: the nearest sample
        # is one of the two around the insertion point; a tie goes to the earlier, as argmin's.
        right = int(np.searchsorted(t, time, side="left"))
        if right == 0:
            return 0
        left = right - 1
        if right == t.size or abs(t[left] - time) <= abs(t[right] - time):
            return left
        return right
    after = int(np.searchsorted(t, time, side="left"))
    if after >= t.size:
        raise ValueError(f"time {time:g} s is after the sweep's end ({t[-1]:g} s)")
    return after


__all__ = ["TimeIndexRule", "filtered_dvdt", "has_uniform_dt", "time_index"]
