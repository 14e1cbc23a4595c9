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
from numba import njit
from numpy.typing import NDArray
from scipy import signal

TimeIndexRule = Literal["first_at_or_after", "nearest"]


def has_uniform_dt(t: NDArray[np.floating]) -> bool:
    """Whether every sample interval equals the first (within ``np.allclose``'s tolerances)."""
    return t.size < 2 or _uniform_dt(np.asarray(t, dtype=np.float64))


@njit(cache=True, nogil=True)
def _uniform_dt(t: NDArray[np.float64]) -> bool:
    # np.allclose(np.diff(t), t[1] - t[0]) in one pass without the diff array.
    first = t[1] - t[0]
    tolerance = 1e-8 + 1e-5 * abs(first)
    for k in range(t.size - 1):
        if not abs((t[k + 1] - t[k]) - first) <= tolerance:
            return False
    return True


@njit(cache=True, nogil=True)
def _derivative(t: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    # 1e-3 * diff(v) / diff(t), same operations in the same order as numpy (same bits), skipping
    # zero time steps, in one pass when there are none.
    return _derivative_into(t, v, np.empty(max(v.size - 1, 0)))


@njit(cache=True, nogil=True)
def _derivative_into(t: NDArray[np.float64], v: NDArray[np.float64],
                     out: NDArray[np.float64]) -> NDArray[np.float64]:
    # ``out`` may be ``v`` itself: sample k is written after v[k] and v[k + 1] were read.
    eps = np.finfo(np.float64).eps
    kept = 0
    for k in range(v.size - 1):
        dt = t[k + 1] - t[k]
        if abs(dt) > eps:
            out[kept] = 1e-3 * (v[k + 1] - v[k]) / dt
            kept += 1
    return out[:kept]


@lru_cache(maxsize=16)
def _bessel(cutoff_fraction: float) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                             NDArray[np.float64]]:
    """The 4-pole low-pass Bessel's b and a, normalised by a[0], and its steady-state initial
    conditions (``lfilter_zi``)."""
    b, a = signal.bessel(4, cutoff_fraction, "low")
    zi = signal.lfilter_zi(b, a)
    return b / a[0], a / a[0], zi


def zero_phase_filter(v: NDArray[np.float64], cutoff_fraction: float) -> NDArray[np.float64]:
    """``scipy.signal.filtfilt(b, a, v)`` of the Bessel low-pass at ``cutoff_fraction`` of the
    Nyquist frequency, the same values to the last bit, without its temporary arrays (padding,
    reversed copies): one compiled pass forwards and one backwards."""
    b, a, zi = _bessel(cutoff_fraction)
    pad = _compiled_padding(v.size, b, a)
    if pad is None:
        # scipy raises its own error for too short a trace
        filtered: NDArray[np.float64] = signal.filtfilt(b, a, v)
        return filtered
    return _filtfilt(np.ascontiguousarray(v, dtype=np.float64), b, a, zi, pad).copy()


def _compiled_padding(size: int, b: NDArray[np.float64], a: NDArray[np.float64]) -> int | None:
    """filtfilt's padding when the compiled 4-pole filter applies to ``size`` samples, else
    None (too short a trace: scipy's error; another order: scipy's filter)."""
    pad = 3 * max(len(a), len(b))
    return pad if size > pad and len(a) == len(b) == 5 else None


@njit(cache=True, nogil=True)
def _filtfilt(x: NDArray[np.float64], b: NDArray[np.float64], a: NDArray[np.float64],
              zi: NDArray[np.float64], pad: int) -> NDArray[np.float64]:
    # scipy's filtfilt: odd extension by ``pad`` samples at each end, lfilter forwards from the
    # steady state of the first extended sample, lfilter backwards from the steady state of the
    # last forward output, the extension cut off (a view into the padded buffer).
    n = x.size
    y = np.empty(n + 2 * pad)
    for k in range(pad):
        y[k] = 2.0 * x[0] - x[pad - k]
        y[n + pad + k] = 2.0 * x[n - 1] - x[n - 2 - k]
    y[pad:pad + n] = x
    _lfilter4(y, b, a, zi * y[0], 1)
    _lfilter4(y, b, a, zi * y[-1], -1)
    return y[pad:pad + n]


@njit(cache=True, nogil=True)
def _filtered_derivative(t: NDArray[np.float64], x: NDArray[np.float64], b: NDArray[np.float64],
                         a: NDArray[np.float64], zi: NDArray[np.float64], pad: int
                         ) -> NDArray[np.float64]:
    # _derivative(t, filtfilt(x)), written over the filtered samples: one buffer in all.
    filtered = _filtfilt(x, b, a, zi, pad)
    return _derivative_into(t, filtered, filtered)


@njit(cache=True, nogil=True)
def _lfilter4(y: NDArray[np.float64], b: NDArray[np.float64], a: NDArray[np.float64],
              z: NDArray[np.float64], step: int) -> None:
    # lfilter of a 4-pole filter in place, forwards (step 1) or backwards (-1): the transposed
    # direct form II, term by term in scipy's order so the rounding is the same, with the four
    # delays in registers.
    b0, b1, b2, b3, b4 = b[0], b[1], b[2], b[3], b[4]
    a1, a2, a3, a4 = a[1], a[2], a[3], a[4]
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    k = 0 if step == 1 else y.size - 1
    for _ in range(y.size):
        xk = y[k]
        yk = z0 + b0 * xk
        z0 = z1 + xk * b1 - yk * a1
        z1 = z2 + xk * b2 - yk * a2
        z2 = z3 + xk * b3 - yk * a3
        z3 = xk * b4 - yk * a4
        y[k] = yk
        k += step


def filtered_dvdt(t: NDArray[np.floating], v: NDArray[np.floating],
                  filter_hz: float | None) -> NDArray[np.float64]:
    """dV/dt in V/s (= mV/ms) of ``v`` (mV) over ``t`` (s): forward differences stored at the
    left sample, length ``len(v) - 1``; samples with a zero time step are dropped.

    Raises ``ValueError`` when ``filter_hz`` is not below the Nyquist frequency.
    """
    times = np.asarray(t, dtype=np.float64)
    volts = np.asarray(v, dtype=np.float64)
    if filter_hz and has_uniform_dt(times):
        rate = 1.0 / (times[1] - times[0])
        fraction = filter_hz / (rate / 2.0)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"cannot low-pass at {filter_hz / 1e3:g} kHz a trace sampled at "
                             f"{rate / 1e3:g} kHz: the cutoff must be below half the rate")
        b, a, zi = _bessel(fraction)
        pad = _compiled_padding(volts.size, b, a)
        if pad is not None:
            return _filtered_derivative(times, np.ascontiguousarray(volts), b, a, zi, pad)
        volts = zero_phase_filter(volts, fraction)
    return _derivative(times, np.ascontiguousarray(volts))


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
