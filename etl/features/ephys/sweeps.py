"""Per-sweep results for the derived tables: every current-clamp sweep's spikes over the whole
sweep (as the published per-sweep spike tables were made) and its spike-train features over the
stimulus window. Times are seconds from the sweep's first sample."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from ctmirror.features.ephys.cell import TEST_PULSE_MAX_S, ProtocolError, SweepSource, time_base
from ctmirror.features.ephys.definitions import Definitions
from ctmirror.features.ephys.spike_train import spike_train_features
from ctmirror.features.ephys.spikes import SpikeTable, detect_spikes, release_buffers
from ctmirror.features.ephys.subthreshold import baseline_voltage

BASELINE_INTERVAL_S = 0.1


@dataclass(frozen=True)
class SweepFeatures:
    """One row of ``ephys_sweep_features`` (without the cell's ids)."""

    sweep_number: int
    stimulus_name: str | None
    stimulus_amplitude_pa: float | None
    window_start_s: float | None = None
    window_end_s: float | None = None
    spike_count: int | None = None
    avg_rate: float | None = None
    latency: float | None = None
    first_isi: float | None = None
    mean_isi: float | None = None
    median_isi: float | None = None
    isi_cv: float | None = None
    adapt: float | None = None
    v_baseline: float | None = None
    problem: str | None = None


def stimulus_window(i: np.ndarray, rate: float) -> tuple[int, int] | None:
    """First and last non-zero stimulus sample after the test pulse (a pulse starting in the
    first 0.4 s, its two edges skipped); None without a stimulus."""
    first, last = _stimulus_window(np.ascontiguousarray(i, dtype=np.float64),
                                   TEST_PULSE_MAX_S * rate)
    return None if first < 0 else (first, last)


@njit(cache=True, nogil=True)
def _stimulus_window(i: np.ndarray, pulse_before: float) -> tuple[int, int]:
    # What flatnonzero(diff(i)) and flatnonzero(i[...]) give, without listing every change of
    # a noise stimulus (millions): the first change, or the third when the first starts a test
    # pulse; then the first and last non-zero samples after it. (-1, -1): none.
    changes = 0
    after = -1
    for k in range(i.size - 1):
        if i[k + 1] - i[k] != 0:
            changes += 1
            if changes == 1 and not k < pulse_before:
                after = k
                break
            if changes == 3:
                after = k
                break
    if after < 0:
        return -1, -1
    first = -1
    for k in range(after + 1, i.size):
        if i[k] != 0:
            first = k
            break
    if first < 0:
        return -1, -1
    last = first
    for k in range(i.size - 1, first - 1, -1):
        if i[k] != 0:
            last = k
            break
    return first, last


def sweep_results(recordings: Sequence[SweepSource], definitions: Definitions
                  ) -> tuple[dict[int, SpikeTable], list[SweepFeatures]]:
    """Spikes and features of every recording, one sweep's samples in memory at a time; a sweep
    that cannot be analysed gets a row with its ``problem`` and no spikes."""
    spikes_by_sweep: dict[int, SpikeTable] = {}
    rows: list[SweepFeatures] = []
    for rec in sorted(recordings, key=lambda r: r.sweep_number):
        try:
            spikes, row = _analyse(rec, definitions)
        except (ProtocolError, ValueError, FloatingPointError) as exc:
            rows.append(SweepFeatures(rec.sweep_number, rec.stimulus_name,
                                      rec.stimulus_amplitude, problem=str(exc)))
            continue
        spikes_by_sweep[rec.sweep_number] = spikes
        rows.append(row)
    release_buffers()
    return spikes_by_sweep, rows


def _analyse(rec: SweepSource, definitions: Definitions) -> tuple[SpikeTable, SweepFeatures]:
    v, i = rec.samples()
    if v.size < 2:
        raise ProtocolError("empty sweep")
    if i.size != v.size:
        raise ProtocolError(f"stimulus has {i.size} samples, response {v.size}")
    if np.isnan(v).any():
        raise ProtocolError(f"{int(np.isnan(v).sum())} NaN samples in the response")
    if not rec.sampling_rate or rec.sampling_rate <= 0:
        raise ProtocolError("no sampling rate")
    t = time_base(v.size, rec.sampling_rate, 0.0)  # np.arange(v.size) / rate, in one array
    spikes = detect_spikes(t, v, i, definitions=definitions)
    window = stimulus_window(i, rec.sampling_rate)
    if window is None:
        return spikes, SweepFeatures(rec.sweep_number, rec.stimulus_name,
                                     rec.stimulus_amplitude, spike_count=len(spikes),
                                     problem="no stimulus after the test pulse")
    start, end = float(t[window[0]]), float(t[window[1]])
    train = spike_train_features(spikes, t, start, end) if end > start else {}
    return spikes, SweepFeatures(
        rec.sweep_number, rec.stimulus_name, rec.stimulus_amplitude, start, end, len(spikes),
        avg_rate=_finite(train.get("avg_rate")),
        latency=_finite(train.get("latency")),
        first_isi=_finite(train.get("first_isi")),
        mean_isi=_finite(train.get("mean_isi")),
        median_isi=_finite(train.get("median_isi")),
        isi_cv=_finite(train.get("isi_cv")),
        adapt=_finite(train.get("adapt")),
        v_baseline=_finite(baseline_voltage(t, v, start, BASELINE_INTERVAL_S,
                                            "first_at_or_after")))


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


__all__ = ["SweepFeatures", "stimulus_window", "sweep_results"]
