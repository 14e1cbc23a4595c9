"""dV/dt of a voltage trace and sample lookup by time: the two primitives every ephys feature
uses (feature_spec 1.1-1.2).

The filter is the one the published features used: a 4-pole low-pass Bessel applied forwards
and backwards (``scipy.signal.filtfilt`` with its default padding), so the derivative has no
phase lag. It is skipped when the time base is not uniform, as in the reference code.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy import signal

TimeIndexRule = Literal["first_at_or_after", "nearest"]
#: Traces filtered side by side by ``filtered_dvdts`` (``_fused_filtered_derivative_pair``).
LANES = 2


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


#: The 4-pole filter's b0..b4 and a1..a4 (a0 = 1), as one value for the compiled steps.
Coefficients = tuple[float, float, float, float, float, float, float, float, float]
_EPS = float(np.finfo(np.float64).eps)

# The fused kernels below compute _filtered_derivative in two passes over memory instead of
# four: the odd extension is made as the forward pass reads it, and the derivative is taken as
# the backward pass produces each final sample (sample k + 1 is final just before sample k
# is) and stored over sample k + 1 (held in a register by then). The backward pass stops at
# the trace's first sample: the extension before it is never read. The operations and their
# order are those of the separate steps, so the bits are the same. The time steps are checked
# in the backward pass: one not within _uniform_dt's tolerance of the first, or not above eps
# (where the separate steps would not filter, or would drop the sample), gives an empty array
# and the caller takes the separate steps. The state is kept in scalars and the backward
# steps are written out in the loops: numba compiles a helper returning them into a loop
# several times slower.


@njit(cache=True, nogil=True, inline="always")
def _tdf2(x: float, z0: float, z1: float, z2: float, z3: float, c: Coefficients
          ) -> tuple[float, float, float, float, float]:
    # One sample of _lfilter4: the output and the new delays, term by term in scipy's order.
    out = z0 + c[0] * x
    return (out, z1 + x * c[1] - out * c[5], z2 + x * c[2] - out * c[6],
            z3 + x * c[3] - out * c[7], x * c[4] - out * c[8])


@njit(cache=True, nogil=True, inline="always")
def _extended(x: NDArray[np.float64], pad: int, k: int) -> float:
    # Sample k of filtfilt's odd extension of ``x`` by ``pad`` samples at each end (_padded).
    n = x.size
    if k < pad:
        return float(2.0 * x[0] - x[pad - k])
    if k < pad + n:
        return float(x[k - pad])
    return float(2.0 * x[n - 1] - x[n - 2 - (k - n - pad)])


@njit(cache=True, nogil=True)
def _forward_run(x: NDArray[np.float64], y: NDArray[np.float64], pad: int, start: int,
                 z: NDArray[np.float64], c: Coefficients) -> None:
    # The forward pass from extended sample ``start`` to the end, from and into state ``z``.
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for k in range(start, y.size):
        y[k], z0, z1, z2, z3 = _tdf2(_extended(x, pad, k), z0, z1, z2, z3, c)
    z[0], z[1], z[2], z[3] = z0, z1, z2, z3


@njit(cache=True, nogil=True)
def _backward_run(t: NDArray[np.float64], y: NDArray[np.float64], pad: int, start: int,
                  z: NDArray[np.float64], later: float, c: Coefficients, stop: int) -> bool:
    # The backward pass with the derivative from extended sample ``start`` down to ``stop``
    # (exclusive; ``pad - 1``: to the trace's first sample), from and into state ``z``;
    # ``later`` is the filtered sample after ``start``. False for a time base the separate
    # steps treat otherwise.
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    step = t[1] - t[0]
    tolerance = 1e-8 + 1e-5 * abs(step)
    last = t.size - 1
    uniform = True
    for j in range(start, stop, -1):
        out, z0, z1, z2, z3 = _tdf2(y[j], z0, z1, z2, z3, c)
        k = j - pad
        if k < last:
            dt = t[k + 1] - t[k]
            if abs(dt - step) <= tolerance and abs(dt) > _EPS:
                y[j + 1] = 1e-3 * (later - out) / dt
            else:
                uniform = False
        later = out
    z[0], z[1], z[2], z[3] = z0, z1, z2, z3
    return uniform


@njit(cache=True, nogil=True)
def _fused_filtered_derivative(t: NDArray[np.float64], x: NDArray[np.float64],
                               c: Coefficients, zi: NDArray[np.float64], pad: int,
                               y: NDArray[np.float64]) -> NDArray[np.float64]:
    # ``y``: x.size + 2 * pad samples to work in; the result is a view of it.
    z = zi * _extended(x, pad, 0)
    _forward_run(x, y, pad, 0, z, c)
    uniform = _backward_run(t, y, pad, y.size - 1, zi * y[y.size - 1], 0.0, c, pad - 1)
    return y[pad + 1:pad + x.size] if uniform else y[:0]


# error_model="numpy": a zero time step divides to inf (that lane is then not used) instead
# of raising.
@njit(cache=True, nogil=True, error_model="numpy")
def _fused_filtered_derivative_pair(t1: NDArray[np.float64], x1: NDArray[np.float64],
                                    t2: NDArray[np.float64], x2: NDArray[np.float64],
                                    c: Coefficients, zi: NDArray[np.float64], pad: int,
                                    y1: NDArray[np.float64], y2: NDArray[np.float64]
                                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    # _fused_filtered_derivative of two traces, their passes run side by side in one loop
    # while both have samples left: a pass is a chain of dependent multiply-adds (every sample
    # waits for the previous one), and two independent chains keep the floating-point units
    # busy about twice as much. Each trace goes through the single-trace steps in their
    # order: the same bits. ``y1``, ``y2``: x.size + 2 * pad samples each to work in. In the
    # loop of both lanes a time step is checked without a branch (both derivatives are
    # written; a lane with a step outside the tolerance is not used).
    both = min(y1.size, y2.size)
    first1, first2 = _extended(x1, pad, 0), _extended(x2, pad, 0)
    p0, p1, p2, p3 = zi[0] * first1, zi[1] * first1, zi[2] * first1, zi[3] * first1
    q0, q1, q2, q3 = zi[0] * first2, zi[1] * first2, zi[2] * first2, zi[3] * first2
    for k in range(both):
        y1[k], p0, p1, p2, p3 = _tdf2(_extended(x1, pad, k), p0, p1, p2, p3, c)
        y2[k], q0, q1, q2, q3 = _tdf2(_extended(x2, pad, k), q0, q1, q2, q3, c)
    _forward_run(x1, y1, pad, both, np.array([p0, p1, p2, p3]), c)
    _forward_run(x2, y2, pad, both, np.array([q0, q1, q2, q3]), c)
    # Backwards each trace starts at its own end: lane 1 at extended sample j1 = j2 + shift.
    shift = y1.size - y2.size
    end1, end2 = y1[y1.size - 1], y2[y2.size - 1]
    p0, p1, p2, p3 = zi[0] * end1, zi[1] * end1, zi[2] * end1, zi[3] * end1
    q0, q1, q2, q3 = zi[0] * end2, zi[1] * end2, zi[2] * end2, zi[3] * end2
    later1 = later2 = 0.0
    step1, step2 = t1[1] - t1[0], t2[1] - t2[0]
    tolerance1, tolerance2 = 1e-8 + 1e-5 * abs(step1), 1e-8 + 1e-5 * abs(step2)
    low2 = max(pad, pad - shift)  # the last j2 at which both lanes still run
    last2 = t2.size - 1
    outside1 = outside2 = 0
    for j2 in range(y2.size - 1, low2 - 1, -1):
        j1 = j2 + shift
        out1, p0, p1, p2, p3 = _tdf2(y1[j1], p0, p1, p2, p3, c)
        out2, q0, q1, q2, q3 = _tdf2(y2[j2], q0, q1, q2, q3, c)
        k1, k2 = j1 - pad, j2 - pad
        if k2 < last2:  # the same samples as k1 < t1.size - 1: the lanes end together
            dt1 = t1[k1 + 1] - t1[k1]
            dt2 = t2[k2 + 1] - t2[k2]
            outside1 += (abs(dt1 - step1) > tolerance1) | (abs(dt1) <= _EPS)
            outside2 += (abs(dt2 - step2) > tolerance2) | (abs(dt2) <= _EPS)
            y1[j1 + 1] = 1e-3 * (later1 - out1) / dt1
            y2[j2 + 1] = 1e-3 * (later2 - out2) / dt2
        later1, later2 = out1, out2
    uniform1, uniform2 = outside1 == 0, outside2 == 0
    if shift > 0:
        uniform1 = _backward_run(t1, y1, pad, low2 + shift - 1, np.array([p0, p1, p2, p3]),
                                 later1, c, pad - 1) and uniform1
    elif shift < 0:
        uniform2 = _backward_run(t2, y2, pad, low2 - 1, np.array([q0, q1, q2, q3]),
                                 later2, c, pad - 1) and uniform2
    return (y1[pad + 1:pad + x1.size] if uniform1 else y1[:0],
            y2[pad + 1:pad + x2.size] if uniform2 else y2[:0])


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


class ScratchBuffer:
    """Memory lent to ``filtered_dvdt`` trace after trace: it grows to the largest trace and is
    then reused. Fresh memory costs a page fault per 4 KB page at first touch (microseconds
    each, and glibc hands large freed blocks back to the system), about as much as the filter
    itself over a cell's sweeps. A result written into it is valid until its next use."""

    def __init__(self) -> None:
        self._array: NDArray[np.float64] = np.empty(0)

    def take(self, size: int) -> NDArray[np.float64]:
        """``size`` samples of the buffer (their values are left over from earlier use)."""
        if self._array.size < size:
            self._array = np.empty(0)  # the smaller one goes first: never both at once
            self._array = np.empty(size)
        return self._array[:size]


def filtered_dvdt(t: NDArray[np.floating], v: NDArray[np.floating],
                  filter_hz: float | None, scratch: ScratchBuffer | None = None
                  ) -> NDArray[np.float64]:
    """dV/dt in V/s (= mV/ms) of ``v`` (mV) over ``t`` (s): forward differences stored at the
    left sample, length ``len(v) - 1``; samples with a zero time step are dropped. With
    ``scratch`` the result may be a view of it (valid until its next use).

    Raises ``ValueError`` when ``filter_hz`` is not below the Nyquist frequency.
    """
    times = np.asarray(t, dtype=np.float64)
    volts = np.asarray(v, dtype=np.float64)
    fused = _fused(times, volts, filter_hz)
    if fused is not None:
        size = volts.size + 2 * fused[2]
        work = np.empty(size) if scratch is None else scratch.take(size)
        derivative = _fused_filtered_derivative(times, np.ascontiguousarray(volts), *fused,
                                                work)
        if derivative.size == volts.size - 1:
            return derivative
    fraction = _filter_fraction(times, filter_hz)
    if fraction is not None:
        b, a, zi = _bessel(fraction)
        pad = _compiled_padding(volts.size, b, a)
        if pad is not None:
            return _filtered_derivative(times, np.ascontiguousarray(volts), b, a, zi, pad)
        volts = zero_phase_filter(volts, fraction)
    return _derivative(times, np.ascontiguousarray(volts))


def _fused(times: NDArray[np.float64], volts: NDArray[np.float64], filter_hz: float | None
           ) -> tuple[Coefficients, NDArray[np.float64], int] | None:
    """The filter's coefficients, steady state and padding when ``filtered_dvdt`` can take the
    fused path (a filter below the Nyquist frequency of the first time step, a trace long
    enough for the compiled filter); the time base's uniformity is checked as it runs. None
    otherwise (also for a cutoff at or above the Nyquist frequency, whose error needs the
    uniformity checked first)."""
    if not filter_hz or times.size < 2 or times.size != volts.size \
            or not times[1] - times[0] > 0:
        return None
    fraction = filter_hz / (float(1.0 / (times[1] - times[0])) / 2.0)
    if not 0.0 <= fraction < 1.0:
        return None
    b, a, zi = _bessel(fraction)
    pad = _compiled_padding(volts.size, b, a)
    if pad is None:
        return None
    coefficients = (b[0], b[1], b[2], b[3], b[4], a[1], a[2], a[3], a[4])
    return tuple(float(value) for value in coefficients), zi, pad  # type: ignore[return-value]


def filtered_dvdts(traces: Sequence[tuple[NDArray[np.floating], NDArray[np.floating]]],
                   filter_hz: float | None,
                   scratch: Sequence[ScratchBuffer] | None = None) -> list[NDArray[np.float64]]:
    """``[filtered_dvdt(t, v, filter_hz) for t, v in traces]``, the same values to the last
    bit, with the traces filtered two at a time side by side (traces of about the same length
    together): the throughput of the processor instead of the latency of one filter pass.
    With ``scratch`` (one buffer per trace) the results may be views of the buffers."""
    out: list[NDArray[np.float64] | None] = [None] * len(traces)
    arrays = [(np.asarray(t, dtype=np.float64), np.ascontiguousarray(v, dtype=np.float64))
              for t, v in traces]

    def work(k: int, size: int) -> NDArray[np.float64]:
        return np.empty(size) if scratch is None else scratch[k].take(size)

    by_filter: dict[tuple[Coefficients, int], list[int]] = {}
    steady: dict[tuple[Coefficients, int], NDArray[np.float64]] = {}
    for k, (t, v) in enumerate(arrays):
        fused = _fused(t, v, filter_hz)
        if fused is not None:
            coefficients, zi, pad = fused
            by_filter.setdefault((coefficients, pad), []).append(k)
            steady[coefficients, pad] = zi
    for (coefficients, pad), members in by_filter.items():
        members.sort(key=lambda k: arrays[k][1].size)
        for first, second in zip(members[0::2], members[1::2], strict=False):
            out[first], out[second] = _fused_filtered_derivative_pair(
                *arrays[first], *arrays[second], coefficients, steady[coefficients, pad], pad,
                work(first, arrays[first][1].size + 2 * pad),
                work(second, arrays[second][1].size + 2 * pad))
    for k, (t, v) in enumerate(arrays):
        derivative = out[k]
        if derivative is None or derivative.size != v.size - 1:
            out[k] = filtered_dvdt(t, v, filter_hz, None if scratch is None else scratch[k])
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


@dataclass(frozen=True)
class UniformTimes:
    """The time base ``k / rate - shift`` for k = 0 .. size - 1, sample by sample with the bits
    of the array (``cell.time_base``), for ``time_index`` without making that array."""

    size: int
    rate: float
    shift: float

    def __getitem__(self, k: int) -> float:
        return (k + self.size if k < 0 else k) / self.rate - self.shift


def _first_at_or_after(t: NDArray[np.floating] | UniformTimes, time: float) -> int:
    # np.searchsorted(t, time, side="left"): the first sample at or after ``time``.
    if isinstance(t, UniformTimes):
        return bisect_left(range(t.size), time, key=t.__getitem__)
    return int(np.searchsorted(t, time, side="left"))


def time_index(t: NDArray[np.floating] | UniformTimes, time: float, rule: TimeIndexRule
               ) -> int:
    """The sample of ``t`` for ``time``: the first at or after it (AllenSDK: a time before the
    trace gives sample 0) or the nearest (ipfx). A time that no sample reaches (after the trace;
    for ipfx also before it) is a ``ValueError``, so an analysis fails where the reference's
    fails."""
    if rule == "nearest":
        if not t[0] <= time <= t[-1]:
            raise ValueError(f"time {time:g} s is outside the sweep ({t[0]:g} to {t[-1]:g} s)")
        # argmin(|t - time|) over an increasing t, without the O(n) scan: the nearest sample
        # is one of the two around the insertion point; a tie goes to the earlier, as argmin's.
        right = _first_at_or_after(t, time)
        if right == 0:
            return 0
        left = right - 1
        if right == t.size or abs(t[left] - time) <= abs(t[right] - time):
            return left
        return right
    after = _first_at_or_after(t, time)
    if after >= t.size:
        raise ValueError(f"time {time:g} s is after the sweep's end ({t[-1]:g} s)")
    return after


__all__ = ["ScratchBuffer", "TimeIndexRule", "UniformTimes", "filtered_dvdt", "filtered_dvdts",
           "has_uniform_dt", "time_index"]
