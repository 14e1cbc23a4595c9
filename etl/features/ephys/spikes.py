"""Action potentials of one sweep and their features (feature_spec 1.3-1.6).

``detect_spikes`` takes a voltage trace (mV), its time base (s) and optionally the stimulus (pA)
and returns a :class:`SpikeTable`: one entry per spike, with the sample, time, voltage and current
of its threshold, peak, trough, fast trough, ADP and slow trough, the steepest rise and fall of
dV/dt, the width at half height and whether the recording clipped it. The steps follow the
published definitions exactly, quirks included (a candidate spike is kept only if dV/dt went
negative since the previous candidate; the threshold is where dV/dt falls to a fraction of the
mean upstroke; an ADP and slow trough are never reported for the last spike of a train), so the
numbers can be compared with the published ones. Which definition set applies
(``allen2016`` or ``ipfx``) is a parameter; see ``definitions.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ctmirror.features.ephys.definitions import ALLEN2016, Definitions, SpikeDetection
from ctmirror.features.ephys.dvdt import (
    ScratchBuffer,
    TimeIndexRule,
    filtered_dvdt,
    filtered_dvdts,
    time_index,
)

#: Points of a spike reported with their sample, time, voltage and current.
POINTS = ("threshold", "peak", "trough", "fast_trough", "slow_trough", "adp")
#: Every column of a spike table, in the order of the ``ephys_spikes`` dataset.
SPIKE_COLUMNS: tuple[str, ...] = (
    *(f"{point}_{part}" for point in POINTS for part in ("index", "t", "v", "i")),
    "upstroke_index", "upstroke", "upstroke_t", "upstroke_v",
    "downstroke_index", "downstroke", "downstroke_t", "downstroke_v",
    "upstroke_downstroke_ratio", "width", "isi_type", "clipped",
)
NO_INDEX = -1

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]


@dataclass(frozen=True)
class SpikeTable:
    """Columns of equal length, one entry per spike. Indices are ``-1`` and values NaN where a
    point does not exist (a clipped spike has no trough); ``isi_type`` is ``""`` there."""

    columns: dict[str, NDArray[np.generic]]

    def __len__(self) -> int:
        return int(self.columns["threshold_index"].size)

    def __getitem__(self, name: str) -> NDArray[np.generic]:
        return self.columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    @classmethod
    def empty(cls) -> SpikeTable:
        return cls({name: _empty_column(name) for name in SPIKE_COLUMNS})


def _empty_column(name: str) -> NDArray[np.generic]:
    if name.endswith("_index"):
        return np.zeros(0, np.int64)
    if name == "isi_type":
        return np.zeros(0, dtype="<U6")
    if name == "clipped":
        return np.zeros(0, dtype=bool)
    return np.zeros(0, np.float64)


def detect_spikes(
    t: NDArray[np.floating],
    v: NDArray[np.floating],
    i: NDArray[np.floating] | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    definitions: Definitions = ALLEN2016,
    detection: SpikeDetection | None = None,
    dvdt: NDArray[np.float64] | None = None,
    window_dvdt: NDArray[np.float64] | None = None,
) -> SpikeTable:
    """Detect the spikes of ``v`` between ``start`` and ``end`` (s; default the whole trace)
    and measure them. ``detection`` replaces ``definitions.spikes`` (short squares use
    adjusted parameters, see ``spike_train.adjusted_short_square_detection``); ``dvdt`` is
    ``filtered_dvdt(t, v, filter_hz)`` and ``window_dvdt`` the window's, when the caller has
    computed them already (``spike_dvdts``)."""
    times = np.asarray(t, dtype=np.float64)
    volts = np.asarray(v, dtype=np.float64)
    params = detection or definitions.spikes
    rule = definitions.time_index
    start_index, end_index = _window(times, start, end, rule)
    start_s = float(times[0]) if start is None else float(start)

    if dvdt is None:
        dvdt, window_dvdt = spike_dvdts([(times, volts, start, end)], definitions,
                                        detection)[0]
    elif window_dvdt is None:
        window_dvdt = _window_dvdt(times, volts, dvdt, start_index, end_index, definitions,
                                   params)
    candidates = _putative_spikes(window_dvdt, params.dv_cutoff) + start_index
    peaks = _peaks(volts, candidates, end_index)
    candidates, peaks = _filter_putative(volts, dvdt, candidates, peaks, params)
    if candidates.size == 0:
        return SpikeTable.empty()

    upstrokes = _upstrokes(dvdt, candidates, peaks)
    thresholds = _refine_thresholds(dvdt, upstrokes, params.thresh_frac)
    thresholds, peaks, upstrokes = _check_thresholds_and_peaks(
        times, volts, dvdt, thresholds, peaks, upstrokes, start_s, params, rule)
    if thresholds.size == 0:
        return SpikeTable.empty()
    clipped = _clipped(volts, thresholds, peaks, end_index, params.clip_tolerance)

    upstrokes = _upstrokes(dvdt, thresholds, peaks)
    troughs = _troughs(volts, thresholds, peaks, clipped, end_index)
    downstrokes = _downstrokes(dvdt, peaks, troughs, clipped)
    isi_types, fast_troughs, adps, slow_troughs, clipped = _trough_details(
        times, volts, dvdt, thresholds, peaks, clipped, end_index, definitions)
    widths = _widths(times, volts, thresholds, peaks, fast_troughs, clipped)

    columns: dict[str, NDArray[np.generic]] = {}
    current = None if i is None else np.asarray(i, dtype=np.float64)
    for name, indexes in (("threshold", thresholds), ("peak", peaks), ("trough", troughs),
                          ("fast_trough", fast_troughs), ("slow_trough", slow_troughs),
                          ("adp", adps)):
        columns.update(_point(name, indexes, times, volts, current))
    strokes: dict[str, FloatArray] = {}
    for name, indexes in (("upstroke", upstrokes), ("downstroke", downstrokes)):
        point = _point(name, indexes, times, volts, None)
        strokes[name] = _take(dvdt, indexes)
        columns[f"{name}_index"] = point[f"{name}_index"]
        columns[name] = strokes[name]
        columns[f"{name}_t"] = point[f"{name}_t"]
        columns[f"{name}_v"] = point[f"{name}_v"]
    columns["upstroke_downstroke_ratio"] = strokes["upstroke"] / -strokes["downstroke"]
    columns["width"] = widths
    columns["isi_type"] = isi_types
    columns["clipped"] = clipped
    return SpikeTable({name: columns[name] for name in SPIKE_COLUMNS})


def _window(times: FloatArray, start: float | None, end: float | None, rule: TimeIndexRule
            ) -> tuple[int, int]:
    """The samples of ``start`` and ``end`` (s; default the trace's first and last)."""
    start_s = float(times[0]) if start is None else float(start)
    end_s = float(times[-1]) if end is None else float(end)
    return time_index(times, start_s, rule), time_index(times, end_s, rule)


def _window_dvdt(times: FloatArray, volts: FloatArray, dvdt: FloatArray, start_index: int,
                 end_index: int, definitions: Definitions, params: SpikeDetection
                 ) -> FloatArray:
    """The window's filtered dV/dt given the whole trace's (see ``spike_dvdts``)."""
    if definitions.window_dvdt == "slice_whole_trace":
        return dvdt[start_index:end_index]
    if not _window_filtered_alone(times, start_index, end_index, definitions):
        return dvdt  # the window is the whole trace: re-filtering it gives the same
    return filtered_dvdt(times[start_index:end_index + 1], volts[start_index:end_index + 1],
                         params.filter_hz, _scratch("window_dvdt"))


def spike_dvdts(sweeps: Sequence[tuple[FloatArray, FloatArray, float | None, float | None]],
                definitions: Definitions = ALLEN2016, detection: SpikeDetection | None = None
                ) -> list[tuple[FloatArray, FloatArray]]:
    """The filtered dV/dt of each (t, v, start, end) and of its window, as ``detect_spikes``
    reads them: the window's is a slice of the whole trace's (allen2016), the same array
    (the window is the whole trace) or the window filtered on its own (ipfx). The filter
    passes of all the sweeps are run two at a time side by side (``filtered_dvdts``), in
    this thread's buffers: the arrays are valid until its next call here."""
    params = detection or definitions.spikes
    traces: list[tuple[FloatArray, FloatArray]] = []
    windows: list[tuple[int, int]] = []
    for t, v, start, end in sweeps:
        traces.append((t, v))
        start_index, end_index = _window(t, start, end, definitions.time_index)
        windows.append((start_index, end_index))
        if _window_filtered_alone(t, start_index, end_index, definitions):
            traces.append((t[start_index:end_index + 1], v[start_index:end_index + 1]))
    # The filtered traces are only read by the caller's detection, so they are made in this
    # thread's buffers.
    filtered = iter(filtered_dvdts(traces, params.filter_hz,
                                   [_scratch(f"dvdt_{k}") for k in range(len(traces))]))
    found = []
    for (t, v, _, _), (start_index, end_index) in zip(sweeps, windows, strict=True):
        dvdt = next(filtered)
        if _window_filtered_alone(t, start_index, end_index, definitions):
            found.append((dvdt, next(filtered)))
        else:
            found.append((dvdt, _window_dvdt(t, v, dvdt, start_index, end_index, definitions,
                                             params)))
    return found


def _window_filtered_alone(times: FloatArray, start_index: int, end_index: int,
                           definitions: Definitions) -> bool:
    """Whether the window's dV/dt is filtered on its own (ipfx, a window inside the trace)."""
    return (definitions.window_dvdt != "slice_whole_trace"
            and not (start_index == 0 and end_index == times.size - 1))


_THREAD_BUFFERS = threading.local()


def _scratch(use: str) -> ScratchBuffer:
    """This thread's buffer for one use (a sweep's filtered dV/dt, its window's, its 1 kHz
    one): a cell's sweeps reuse it instead of faulting in fresh memory for each."""
    buffer: ScratchBuffer | None = getattr(_THREAD_BUFFERS, use, None)
    if buffer is None:
        buffer = ScratchBuffer()
        setattr(_THREAD_BUFFERS, use, buffer)
    return buffer


def release_buffers() -> None:
    """Drop the calling thread's buffers, for a caller done with a group of sweeps: otherwise
    they stay at the largest sweep's size while the next group is measured (a worker's peak
    memory)."""
    _THREAD_BUFFERS.__dict__.clear()


# -- detection ------------------------------------------------------------------------------


def _putative_spikes(dvdt: FloatArray, cutoff: float) -> IndexArray:
    """Samples where dV/dt crosses ``cutoff`` upwards (the last one below it); a candidate after
    the first is kept only if dV/dt went negative since the previous raw crossing."""
    return _putative_pass(np.ascontiguousarray(dvdt, dtype=np.float64), float(cutoff))


@njit(cache=True, nogil=True)
def _putative_pass(dvdt: FloatArray, cutoff: float) -> IndexArray:
    # One pass for what numpy needs four temporaries for: crossings k (dvdt[k] < cutoff <=
    # dvdt[k + 1]), each after the first kept when some dvdt[j] < 0 for j in [previous, k).
    found = np.empty(max(dvdt.size - 1, 0), dtype=np.int64)
    kept = 0
    previous = -1
    negative_since = False
    for k in range(dvdt.size - 1):
        if not dvdt[k] >= cutoff and dvdt[k + 1] >= cutoff:
            if previous < 0 or negative_since:
                found[kept] = k
                kept += 1
            previous = k
            negative_since = False
        if dvdt[k] < 0:
            negative_since = True
    return found[:kept].copy()


def _peaks(v: FloatArray, candidates: IndexArray, end_index: int) -> IndexArray:
    bounds = np.append(candidates, end_index)
    return np.array([start + int(np.argmax(v[start:stop]))
                     for start, stop in zip(bounds[:-1], bounds[1:], strict=True)],
                    dtype=np.int64)


def _filter_putative(v: FloatArray, dvdt: FloatArray, candidates: IndexArray,
                     peaks: IndexArray, params: SpikeDetection
                     ) -> tuple[IndexArray, IndexArray]:
    if candidates.size == 0:
        return candidates, peaks
    # Two candidates with no fall of dV/dt below zero between a peak and the next candidate
    # are one spike: drop that peak and that candidate.
    separated = np.array([_first(dvdt, int(peak), int(nxt), 0.0, BELOW) != NO_INDEX
                          for peak, nxt in zip(peaks[:-1], candidates[1:], strict=True)],
                         dtype=bool)
    peaks = peaks[np.append(separated, True)]
    candidates = candidates[np.insert(separated, 0, True)]
    keep = v[peaks] >= params.min_peak
    candidates, peaks = candidates[keep], peaks[keep]
    keep = v[peaks] - v[candidates] >= params.min_height
    return candidates[keep], peaks[keep]


def _upstrokes(dvdt: FloatArray, thresholds: IndexArray, peaks: IndexArray) -> IndexArray:
    return np.array([thr + int(np.argmax(dvdt[thr:peak]))
                     for thr, peak in zip(thresholds, peaks, strict=True)], dtype=np.int64)


def _refine_thresholds(dvdt: FloatArray, upstrokes: IndexArray, thresh_frac: float
                       ) -> IndexArray:
    """Scan back from each upstroke (towards the previous one) for the first sample whose dV/dt
    is at most ``thresh_frac`` of the mean upstroke; none: the previous upstroke (or 0)."""
    target = thresh_frac * float(dvdt[upstrokes].mean())
    previous = np.insert(upstrokes[:-1], 0, 0)
    thresholds = np.empty_like(upstrokes)
    for k, (upstroke, stop) in enumerate(zip(upstrokes, previous, strict=True)):
        thresholds[k] = _scan_back(dvdt, int(upstroke), int(stop), target, fallback=int(stop))
    return thresholds


def _scan_back(dvdt: FloatArray, start: int, stop: int, target: float, fallback: int) -> int:
    """First index scanning ``dvdt[start], dvdt[start-1], ...`` down to (not including) ``stop``
    with a value <= ``target``; ``fallback`` if none."""
    found = _last(dvdt, max(stop + 1, 0), start + 1, float(target), AT_MOST)
    return found if found != NO_INDEX else fallback


def _check_thresholds_and_peaks(
    t: FloatArray, v: FloatArray, dvdt: FloatArray, thresholds: IndexArray, peaks: IndexArray,
    upstrokes: IndexArray, start_s: float, params: SpikeDetection, rule: TimeIndexRule,
) -> tuple[IndexArray, IndexArray, IndexArray]:
    if params.reject_at_stim_start_interval > 0:
        keep = t[thresholds] > start_s + params.reject_at_stim_start_interval
        thresholds, peaks, upstrokes = thresholds[keep], peaks[keep], upstrokes[keep]
    # A threshold at or right after the previous peak: the two are one spike.
    overlaps = np.flatnonzero(thresholds[1:] <= peaks[:-1] + 1)
    if overlaps.size:
        thresholds = np.delete(thresholds, overlaps + 1)
        peaks = np.delete(peaks, overlaps)
        upstrokes = np.delete(upstrokes, overlaps)
    thresholds, peaks = thresholds.copy(), peaks.copy()
    too_long = np.flatnonzero(t[peaks] - t[thresholds] >= params.max_interval)
    if too_long.size == 0:
        return thresholds, peaks, upstrokes
    target = params.thresh_frac * float(dvdt[upstrokes].mean())
    drop = []
    for k in too_long:
        # The threshold may be wrong: look again within max_interval before the peak.
        earliest = time_index(t, t[peaks[k]] - params.max_interval, rule)
        found = _scan_back(dvdt, int(upstrokes[k]), earliest, target, fallback=NO_INDEX)
        if found != NO_INDEX:
            thresholds[k] = found
            continue
        # Or the peak: the highest sample within twice max_interval after the threshold.
        limit = time_index(t, t[thresholds[k]] + 2 * params.max_interval, rule)
        new_peak = int(thresholds[k] + np.argmax(v[thresholds[k]:limit]))
        last = k == thresholds.size - 1
        if (t[new_peak] - t[thresholds[k]] < params.max_interval
                and (last or t[new_peak] < t[thresholds[k + 1]])):
            peaks[k] = new_peak
        else:
            drop.append(k)
    if drop:
        thresholds = np.delete(thresholds, drop)
        peaks = np.delete(peaks, drop)
        upstrokes = np.delete(upstrokes, drop)
    return thresholds, peaks, upstrokes


def _clipped(v: FloatArray, thresholds: IndexArray, peaks: IndexArray, end_index: int,
             tolerance: float) -> NDArray[np.bool_]:
    """Only the last spike can be clipped: V never comes back to its threshold (+ tolerance)
    before the end of the window."""
    clipped = np.zeros(thresholds.size, dtype=bool)
    if thresholds.size:
        tail = v[peaks[-1]:end_index + 1]
        clipped[-1] = not bool(np.any(tail <= v[thresholds[-1]] + tolerance))
    return clipped


# -- troughs, strokes, widths ---------------------------------------------------------------


def _troughs(v: FloatArray, thresholds: IndexArray, peaks: IndexArray,
             clipped: NDArray[np.bool_], end_index: int) -> IndexArray:
    troughs = np.full(thresholds.size, NO_INDEX, dtype=np.int64)
    for k in range(thresholds.size - 1):
        troughs[k] = peaks[k] + int(np.argmin(v[peaks[k]:thresholds[k + 1]]))
    if not clipped[-1]:
        troughs[-1] = peaks[-1] + int(np.argmin(v[peaks[-1]:end_index]))
    return troughs


def _downstrokes(dvdt: FloatArray, peaks: IndexArray, troughs: IndexArray,
                 clipped: NDArray[np.bool_]) -> IndexArray:
    downstrokes = np.full(peaks.size, NO_INDEX, dtype=np.int64)
    for k in np.flatnonzero(~clipped):
        downstrokes[k] = peaks[k] + int(np.argmin(dvdt[peaks[k]:troughs[k]]))
    return downstrokes


def _trough_details(
    t: FloatArray, v: FloatArray, dvdt: FloatArray, thresholds: IndexArray, peaks: IndexArray,
    clipped: NDArray[np.bool_], end_index: int, definitions: Definitions,
) -> tuple[NDArray[np.str_], IndexArray, IndexArray, IndexArray, NDArray[np.bool_]]:
    """Fast trough, ADP, slow trough and ISI type of each spike (feature_spec 1.5). A spike
    whose repolarisation never slows to ``term_frac`` of its fastest becomes clipped."""
    p = definitions.troughs
    n = thresholds.size
    isi_types = np.full(n, "", dtype="<U6")
    fast = np.full(n, NO_INDEX, dtype=np.int64)
    adp = np.full(n, NO_INDEX, dtype=np.int64)
    slow = np.full(n, NO_INDEX, dtype=np.int64)
    clipped = clipped.copy()
    valid = np.flatnonzero(~clipped)
    heavy = filtered_dvdt(t, v, p.heavy_filter_hz, _scratch("heavy_dvdt"))
    nexts = np.append(thresholds[valid][1:], end_index)[:valid.size]
    for k, nxt in zip(valid, nexts, strict=True):
        peak = int(peaks[k])
        nxt = int(nxt)
        downstroke = peak + int(np.argmin(dvdt[peak:nxt]))
        target = p.term_frac * dvdt[downstroke]
        terminated = _first(dvdt, downstroke, nxt, float(target), AT_LEAST)
        if terminated == NO_INDEX:
            clipped[k] = True
            continue
        isi_type = "direct"
        slow_index = NO_INDEX
        adp_index = NO_INDEX
        cross = _first(heavy, terminated, nxt, p.adp_thresh, AT_LEAST)
        if cross != NO_INDEX:
            if t[cross] - t[terminated] < p.flat_interval:
                candidate = _first(heavy, cross, nxt, 0.0, AT_MOST)
                if candidate != NO_INDEX:
                    lowest = candidate + int(np.argmin(v[candidate:nxt]))
                    if (v[candidate] - v[lowest] >= p.tol
                            and v[candidate] - v[terminated] <= p.adp_max_delta_v
                            and t[candidate] - t[terminated] <= p.adp_max_delta_t):
                        adp_index, slow_index, isi_type = candidate, lowest, "detour"
        if adp_index == NO_INDEX:
            lowest = terminated + int(np.argmin(v[terminated:nxt]))
            if v[terminated] - v[lowest] >= p.tol:
                slow_index, isi_type = lowest, "detour"
        isi_types[k] = isi_type
        fast[k] = terminated
        adp[k] = adp_index
        slow[k] = slow_index
    # Never reported for the last spike of a train: unreliable and extreme when wrong.
    adp[-1] = NO_INDEX
    slow[-1] = NO_INDEX
    return isi_types, fast, adp, slow, clipped


def _widths(t: FloatArray, v: FloatArray, thresholds: IndexArray, peaks: IndexArray,
            fast_troughs: IndexArray, clipped: NDArray[np.bool_]) -> FloatArray:
    """Full width at half height between peak and fast trough (or between threshold and peak
    when the trough lies below the threshold by more than the spike's height)."""
    widths = np.full(thresholds.size, np.nan)
    for k in np.flatnonzero((fast_troughs != NO_INDEX) & ~clipped):
        peak, thr, trough = int(peaks[k]), int(thresholds[k]), int(fast_troughs[k])
        level = (v[peak] - v[trough]) / 2.0 + v[trough]
        if level < v[thr]:
            level = (v[peak] - v[thr]) / 2.0 + v[thr]
        before = _last(v, thr + 1, peak + 1, float(level), AT_MOST)
        after = _first(v, peak, trough, float(level), AT_MOST)
        if before != NO_INDEX and after != NO_INDEX:
            widths[k] = t[after] - t[before]
    return widths


# -- searches -------------------------------------------------------------------------------

AT_LEAST, AT_MOST, BELOW = 0, 1, 2


@njit(cache=True, nogil=True)
def _meets(value: float, level: float, test: int) -> bool:
    if test == AT_LEAST:
        return value >= level
    if test == AT_MOST:
        return value <= level
    return value < level


@njit(cache=True, nogil=True)
def _first(values: FloatArray, start: int, stop: int, level: float, test: int) -> int:
    """The first index in ``[start, stop)`` whose value meets ``test`` against ``level``
    (NaN meets none), or ``NO_INDEX``: what ``start + flatnonzero(values[start:stop] >= level)
    [0]`` gives, stopping at the hit instead of comparing the whole range (the range can run
    to the next spike seconds later)."""
    for k in range(max(start, 0), min(stop, values.size)):
        if _meets(values[k], level, test):
            return k
    return NO_INDEX


@njit(cache=True, nogil=True)
def _last(values: FloatArray, start: int, stop: int, level: float, test: int) -> int:
    """The last index in ``[start, stop)`` whose value meets ``test``, or ``NO_INDEX``."""
    for k in range(min(stop, values.size) - 1, max(start, 0) - 1, -1):
        if _meets(values[k], level, test):
            return k
    return NO_INDEX


# -- output ---------------------------------------------------------------------------------


def _take(values: FloatArray, indexes: IndexArray) -> FloatArray:
    out = np.full(indexes.size, np.nan)
    ok = indexes != NO_INDEX
    out[ok] = values[indexes[ok]]
    return out


def _point(name: str, indexes: IndexArray, t: FloatArray, v: FloatArray,
           i: FloatArray | None) -> dict[str, NDArray[np.generic]]:
    return {
        f"{name}_index": indexes.astype(np.int64),
        f"{name}_t": _take(t, indexes),
        f"{name}_v": _take(v, indexes),
        f"{name}_i": _take(i, indexes) if i is not None else np.full(indexes.size, np.nan),
    }


__all__ = ["NO_INDEX", "POINTS", "SPIKE_COLUMNS", "SpikeTable", "detect_spikes",
           "release_buffers", "spike_dvdts"]
