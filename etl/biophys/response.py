"""Spikes and spike-train features of a simulated response, with the project's feature code
(``ctmirror.features.ephys``, the published definitions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ctmirror.features.ephys import ALLEN2016, SpikeTable, detect_spikes, spike_train_features
from ctmirror.features.ephys.sweeps import stimulus_window

#: Per-spike columns averaged over the response's spikes.
SPIKE_MEANS = ("peak_v", "fast_trough_v", "threshold_v", "width", "upstroke", "downstroke")


@dataclass(frozen=True)
class Response:
    spikes: SpikeTable
    window: tuple[float, float] | None  # s: the stimulus the features are measured over
    features: dict[str, float | None]

    @property
    def spike_times(self) -> NDArray[np.float64]:
        """Threshold times in s (the published spike times)."""
        return np.asarray(self.spikes["threshold_t"], dtype=np.float64)


def analyse(v: NDArray[np.float64], stimulus_a: NDArray[np.float64], dt: float) -> Response:
    """Spikes over the whole trace; features over the stimulus: after a test pulse as in a
    recorded sweep, else from the first to the last non-zero sample."""
    t = np.arange(v.size) * dt
    i_pa = np.asarray(stimulus_a, dtype=np.float64) * 1e12
    spikes = detect_spikes(t, v, i_pa, definitions=ALLEN2016)
    found = stimulus_window(i_pa, 1.0 / dt)
    if found is None:
        nonzero = np.flatnonzero(i_pa)
        found = (int(nonzero[0]), int(nonzero[-1])) if nonzero.size else None
    features: dict[str, float | None] = {"spike_count": float(len(spikes))}
    window = None
    if found is not None and found[1] > found[0]:
        window = (float(t[found[0]]), float(t[found[1]]))
        for name, value in spike_train_features(spikes, t, *window).items():
            features[name] = _finite(value)
    for name in SPIKE_MEANS:
        values = np.asarray(spikes[name], dtype=np.float64)
        features[name] = _finite(float(np.nanmean(values))) \
            if np.isfinite(values).any() else None
    return Response(spikes, window, features)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


__all__ = ["SPIKE_MEANS", "Response", "analyse"]
