"""Features of a sweep's spike train (feature_spec 1.7) and the adjusted detection parameters of
short squares (feature_spec 1.8). Times in seconds, rates in Hz."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ctmirror.features.ephys.definitions import Definitions, SpikeDetection
from ctmirror.features.ephys.dvdt import UniformTimes, filtered_dvdt, time_index
from ctmirror.features.ephys.spikes import (
    SpikeTable,
    _filter_putative,
    _peaks,
    _putative_spikes,
    _upstrokes,
)

SHORT_SQUARE_MIN_THRESH_FRAC = 0.1
SPIKE_TRAIN_FEATURES = ("avg_rate", "latency", "first_isi", "mean_isi", "median_isi", "isi_cv",
                        "adapt")


def spike_train_features(spikes: SpikeTable, t: NDArray[np.floating], start: float,
                         end: float, *, exclude_clipped: bool = False) -> dict[str, float]:
    """Rate, latency and inter-spike interval statistics from the spikes' threshold samples.

    ``avg_rate`` counts thresholds within [start, end]; the others are NaN without spikes (and
    the ISI ones without two). ``adapt`` is the mean of (ISI[k+1] - ISI[k]) / (ISI[k+1] + ISI[k]).
    """
    t = np.asarray(t, dtype=np.float64)
    thresholds = np.asarray(spikes["threshold_index"], dtype=np.int64)
    if exclude_clipped:
        thresholds = thresholds[~np.asarray(spikes["clipped"], dtype=bool)]
    if thresholds.size == 0:
        return {"avg_rate": 0.0, **{name: float("nan") for name in SPIKE_TRAIN_FEATURES[1:]}}
    times = t[thresholds]
    isis = np.diff(times)
    inside = np.count_nonzero((times >= start) & (times <= end))
    return {
        "avg_rate": inside / (end - start),
        "latency": float(times[0] - start),
        "first_isi": float(isis[0]) if isis.size else float("nan"),
        "mean_isi": float(isis.mean()) if isis.size else float("nan"),
        "median_isi": float(np.median(isis)) if isis.size else float("nan"),
        "isi_cv": float(isis.std() / isis.mean()) if isis.size else float("nan"),
        "adapt": adaptation_index(isis),
    }


def adaptation_index(isis: NDArray[np.floating]) -> float:
    """Mean normalised difference of consecutive ISIs; NaN with fewer than two ISIs, 0 when
    every pair sums to zero."""
    isis = np.asarray(isis, dtype=np.float64)
    if isis.size <= 1:
        return float("nan")
    sums = isis[1:] + isis[:-1]
    if np.allclose(sums, 0.0):
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = (isis[1:] - isis[:-1]) / sums
    ratios[(isis[1:] == 0) & (isis[:-1] == 0)] = 0.0
    if np.all(np.isnan(ratios)):
        return float("nan")
    return float(np.nanmean(ratios))


def adjusted_short_square_detection(
    sweeps: Sequence[tuple[NDArray[np.floating], NDArray[np.floating]]],
    onset: float,
    definitions: Definitions,
    *,
    window: float = 0.001,
    dvdts: Sequence[NDArray[np.float64]] | None = None,
) -> SpikeDetection:
    """Detection parameters for short-square sweeps, from the rise of dV/dt in the ``window``
    after the stimulus ``onset`` across all of them (``sweeps``: (t, v) pairs; ``dvdts``: their
    ``filtered_dvdt`` if the caller has it already). The steps below let a caller hold one
    sweep at a time instead."""
    params = definitions.spikes
    if dvdts is None:
        dvdts = [filtered_dvdt(np.asarray(t, dtype=np.float64), np.asarray(v, dtype=np.float64),
                               params.filter_hz) for t, v in sweeps]
    first, last = short_square_window(sweeps[0][0], onset, definitions, window)
    dv_cutoff, min_thresh = short_square_cutoffs(
        [short_square_rise(dvdt, first, last) for dvdt in dvdts])
    upstroke_values: list[float] = []
    for (t, v), dvdt in zip(sweeps, dvdts, strict=True):
        upstroke_values.extend(short_square_upstrokes(t, v, dvdt, params, dv_cutoff))
    return replace(params, dv_cutoff=dv_cutoff,
                   thresh_frac=short_square_thresh_frac(min_thresh, upstroke_values))


def short_square_window(t0: NDArray[np.floating] | UniformTimes, onset: float,
                        definitions: Definitions, window: float) -> tuple[int, int]:
    """The estimate window's samples, from the first sweep's time base (they apply to all)."""
    return (time_index(t0, onset, definitions.time_index),
            time_index(t0, onset + window, definitions.time_index))


def short_square_rise(dvdt: NDArray[np.float64], first: int, last: int) -> tuple[float, float]:
    """A sweep's peak dV/dt in the estimate window and its dV/dt at the window's end."""
    return float(dvdt[first:last].max()), float(dvdt[last])


def short_square_cutoffs(rises: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The adjusted dV/dt cutoff and the minimum threshold, from every sweep's rise."""
    dv_cutoff = 1.1 * float(np.median([peak for peak, _ in rises]))
    min_thresh = 1.2 * float(np.median([end for _, end in rises]))
    return dv_cutoff, min_thresh


def short_square_upstrokes(t: NDArray[np.floating], v: NDArray[np.floating],
                           dvdt: NDArray[np.float64], params: SpikeDetection,
                           dv_cutoff: float) -> list[float]:
    """The upstroke dV/dt of a sweep's putative spikes under the adjusted cutoff."""
    times = np.asarray(t, dtype=np.float64)
    volts = np.asarray(v, dtype=np.float64)
    candidates = _putative_spikes(dvdt, dv_cutoff)
    peaks = _peaks(volts, candidates, times.size - 1)
    candidates, peaks = _filter_putative(volts, dvdt, candidates, peaks,
                                         replace(params, dv_cutoff=dv_cutoff))
    if not candidates.size:
        return []
    return list(dvdt[_upstrokes(dvdt, candidates, peaks)])


def short_square_thresh_frac(min_thresh: float, upstroke_values: Sequence[float]) -> float:
    """The adjusted threshold fraction: never below 0.1; with no spike at all the ratio is
    undefined and the floor applies."""
    ratio = min_thresh / float(np.mean(upstroke_values)) if upstroke_values else float("nan")
    return ratio if ratio > SHORT_SQUARE_MIN_THRESH_FRAC else SHORT_SQUARE_MIN_THRESH_FRAC


__all__ = ["SPIKE_TRAIN_FEATURES", "adaptation_index", "adjusted_short_square_detection",
           "short_square_cutoffs", "short_square_rise", "short_square_thresh_frac",
           "short_square_upstrokes", "short_square_window",
           "spike_train_features"]
