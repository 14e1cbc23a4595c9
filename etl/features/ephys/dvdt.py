"""dV/dt of a voltage trace and sample lookup by time: the two primitives every ephys feature
uses (feature_spec 1.1-1.2).

The filter is the one the published features used: a 4-pole low-pass Bessel applied forwards
and backwards (``scipy.signal.filtfilt`` with its default padding), so the derivative has no
phase lag. It is skipped when the time base is not uniform, as in the reference code.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
from numba import njit
from numba.typed import List
from numpy.typing import NDArray
from scipy import signal

TimeIndexRule = Literal["first_at_or_after", "nearest"]
#: Traces filtered side by side (the columns of ``_filtered_derivatives``): enough
#: independent filter chains to fill the vector registers, few enough to hold a few sweeps.
LANES = 8
_BLOCK = 512  # rows of the column array worked on at a time (32 KB of 8 columns)


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
    y = _padded(x, pad)
    _lfilter4(y, b, a, zi * y[0], 1)
    _lfilter4(y, b, a, zi * y[-1], -1)
    return y[pad:pad + x.size]


@njit(cache=True, nogil=True)
def _padded(x: NDArray[np.float64], pad: int) -> NDArray[np.float64]:
    # filtfilt's odd extension of ``x`` by ``pad`` samples at each end.
    n = x.size
    y = np.empty(n + 2 * pad)
    for k in range(pad):
        y[k] = 2.0 * x[0] - x[pad - k]
        y[n + pad + k] = 2.0 * x[n - 1] - x[n - 2 - k]
    y[pad:pad + n] = x
    return y


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


@njit(cache=True, nogil=True)
def _filtered_derivatives(times: List[NDArray[np.float64]], traces: List[NDArray[np.float64]],
                          b: NDArray[np.float64], a: NDArray[np.float64],
                          zi: NDArray[np.float64], pad: int, scratch: NDArray[np.float64]
                          ) -> List[NDArray[np.float64]]:
    # _filtered_derivative of each trace (no zero time steps: the caller checks), the traces
    # side by side as the columns of one array so that the filter runs them together
    # (_lfilter4_rows). Column l holds trace l with filtfilt's odd extension in its first
    # sizes[l] rows. The work goes a block of rows at a time so that a block is copied,
    # filtered and differentiated while it is in the cache. Forwards, every column starts at
    # row 0 (what a shorter column filters after its end, its last sample repeated, is never
    # read). Backwards, a column's pass starts at its own last row, from the steady state of
    # its last forward output, so the blocks are also cut where a column ends.
    lanes = len(traces)
    sizes = np.empty(lanes, dtype=np.int64)
    for lane in range(lanes):
        sizes[lane] = traces[lane].size + 2 * pad
    rows = sizes.max()
    # The column array is the caller's scratch, kept from one group of traces to the next: a
    # fresh one would cost its page faults every time.
    y = scratch[:rows * lanes].reshape((rows, lanes))
    state = np.empty((4, lanes))
    for start in range(0, rows, _BLOCK):
        stop = min(start + _BLOCK, rows)
        for lane in range(lanes):
            x = traces[lane]
            n = x.size
            for row in range(start, stop):
                if row < pad:
                    y[row, lane] = 2.0 * x[0] - x[pad - row]
                elif row < pad + n:
                    y[row, lane] = x[row - pad]
                elif row < n + 2 * pad:
                    y[row, lane] = 2.0 * x[n - 1] - x[n - 2 - (row - n - pad)]
                else:
                    # Not zeros: a filter fed zeros decays into subnormal numbers, whose
                    # arithmetic is many times slower, and may stay there (rounding cycles).
                    y[row, lane] = x[n - 1]
        if start == 0:
            for lane in range(lanes):
                for j in range(4):
                    state[j, lane] = zi[j] * y[0, lane]
        _lfilter4_rows(y, b, a, state, start, stop - start, 1)
    outs = List()
    for lane in range(lanes):
        outs.append(np.empty(traces[lane].size - 1))
    high = rows
    while high > 0:
        for lane in range(lanes):
            if sizes[lane] == high:
                for j in range(4):
                    state[j, lane] = zi[j] * y[high - 1, lane]
        low = (high - 1) // _BLOCK * _BLOCK
        for lane in range(lanes):
            if low < sizes[lane] < high:
                low = sizes[lane]
        _lfilter4_rows(y, b, a, state, high - 1, high - low, -1)
        # Rows from ``low`` on are final: the derivative samples that read them.
        for lane in range(lanes):
            t = times[lane]
            out = outs[lane]
            for k in range(max(low - pad, 0), min(high - pad, out.size)):
                out[k] = 1e-3 * (y[pad + k + 1, lane] - y[pad + k, lane]) / (t[k + 1] - t[k])
        high = low
    return outs


@njit(cache=True, nogil=True)
def _lfilter4_rows(y: NDArray[np.float64], b: NDArray[np.float64], a: NDArray[np.float64],
                   state: NDArray[np.float64], first: int, count: int, step: int) -> None:
    # _lfilter4 of every column of ``y`` at once, over ``count`` rows from ``first`` (step 1
    # forwards, -1 backwards), each column with its four delays in a column of ``state``. One
    # pass is a chain of dependent multiply-adds (each sample waits for the previous one); the
    # columns are independent chains whose samples sit side by side, so the inner loop runs
    # them in vector registers. Each column does _lfilter4's operations in its order: the same
    # bits.
    b0, b1, b2, b3, b4 = b[0], b[1], b[2], b[3], b[4]
    a1, a2, a3, a4 = a[1], a[2], a[3], a[4]
    z0, z1, z2, z3 = state[0], state[1], state[2], state[3]
    row = first
    for _ in range(count):
        values = y[row]
        for lane in range(values.size):
            x = values[lane]
            out = z0[lane] + b0 * x
            z0[lane] = z1[lane] + x * b1 - out * a1
            z1[lane] = z2[lane] + x * b2 - out * a2
            z2[lane] = z3[lane] + x * b3 - out * a3
            z3[lane] = x * b4 - out * a4
            values[lane] = out
        row += step


def filtered_dvdt(t: NDArray[np.floating], v: NDArray[np.floating],
                  filter_hz: float | None) -> NDArray[np.float64]:
    """dV/dt in V/s (= mV/ms) of ``v`` (mV) over ``t`` (s): forward differences stored at the
    left sample, length ``len(v) - 1``; samples with a zero time step are dropped.

    Raises ``ValueError`` when ``filter_hz`` is not below the Nyquist frequency.
    """
    times = np.asarray(t, dtype=np.float64)
    volts = np.asarray(v, dtype=np.float64)
    fraction = _filter_fraction(times, filter_hz)
    if fraction is not None:
        b, a, zi = _bessel(fraction)
        pad = _compiled_padding(volts.size, b, a)
        if pad is not None:
            return _filtered_derivative(times, np.ascontiguousarray(volts), b, a, zi, pad)
        volts = zero_phase_filter(volts, fraction)
    return _derivative(times, np.ascontiguousarray(volts))


def filtered_dvdts(traces: Sequence[tuple[NDArray[np.floating], NDArray[np.floating]]],
                   filter_hz: float | None) -> list[NDArray[np.float64]]:
    """``[filtered_dvdt(t, v, filter_hz) for t, v in traces]``, the same values to the last
    bit, with the filter passes of all the traces run side by side (``_filtfilt_lanes``): the
    throughput of the processor instead of the latency of one pass."""
    out: list[NDArray[np.float64] | None] = [None] * len(traces)
    batched: dict[float, list[int]] = {}
    for k, (t, v) in enumerate(traces):
        fraction = _filter_fraction(np.asarray(t, dtype=np.float64), filter_hz)
        # A uniform time base with steps above 1e-7 s has no zero steps to drop.
        if (fraction is not None and _compiled_padding(np.size(v), *_bessel(fraction)[:2])
                and t[1] - t[0] > 1e-7):
            batched.setdefault(fraction, []).append(k)
        else:
            out[k] = filtered_dvdt(t, v, filter_hz)
    for fraction, members in batched.items():
        b, a, zi = _bessel(fraction)
        pad = 3 * len(a)
        # Traces of about the same length side by side: a shorter one's lane idles to the end.
        members.sort(key=lambda k: np.size(traces[k][1]))
        groups = [members[k:k + LANES] for k in range(0, len(members), LANES)]
        scratch = np.empty(max(len(g) * max(np.size(traces[k][1]) + 2 * pad for k in g)
                               for g in groups))
        for lanes in groups:
            derivatives = _filtered_derivatives(
                List([np.ascontiguousarray(traces[k][0], dtype=np.float64) for k in lanes]),
                List([np.ascontiguousarray(traces[k][1], dtype=np.float64) for k in lanes]),
                b, a, zi, pad, scratch)
            for k, derivative in zip(lanes, derivatives, strict=True):
                out[k] = derivative
    return [d for d in out if d is not None]


def _filter_fraction(times: NDArray[np.float64], filter_hz: float | None) -> float | None:
    """The low-pass cutoff as a fraction of the Nyquist frequency; None without a filter or
    without a uniform time base (the reference code skips the filter there)."""
    if not filter_hz or not has_uniform_dt(times):
        return None
    rate = float(1.0 / (times[1] - times[0]))
    fraction = filter_hz / (rate / 2.0)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"cannot low-pass at {filter_hz / 1e3:g} kHz a trace sampled at "
                         f"{rate / 1e3:g} kHz: the cutoff must be below half the rate")
    return fraction


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


__all__ = ["TimeIndexRule", "filtered_dvdt", "filtered_dvdts", "has_uniform_dt", "time_index"]
