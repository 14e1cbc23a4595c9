"""Explained variance ratio of a model's spike train, as published for the Allen GLIF models.

The published ``NeuronalModelRun.explained_variance_ratio`` (Teeter et al. 2018) compares spike
trains smoothed with a Gaussian (sigma 10 ms) on the "Noise 2" sweeps:

- each train is a 0/1 vector of the sweep's length N with a 1 at every spike sample;
- the kernel is a Gaussian window of ``int(10 * sigma / dt)`` samples with standard deviation
  ``sigma / dt`` samples, normalised to sum 1 (19999 samples at 200 kHz);
- ``EV(x, y) = (var x + var y - var(x - y)) / (var x + var y)`` with population variances, and 1
  when ``var(x - y)`` is 0;
- the data's reliability ``EV_data`` is the mean over repeats of ``EV(c_i, PSTH)``, with every data
  train convolved in 'full' mode (length N + M - 1) and the PSTH their mean (train i included);
- the model's ``EV_model`` is the mean over repeats of ``EV(d_i, m)``, data and model trains
  convolved in 'same' mode (length N, centred as scipy does);
- the ratio is ``EV_model / EV_data``.

Each train is convolved once ('same' is the centred slice of 'full'): by summing kernel copies
at the spikes when the train is sparse, else by a real FFT, whichever is cheaper. Variances of
each smoothed train are computed once and reused across the pairwise terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ctmirror.errors import InputError

PUBLISHED_SIGMA_S = 0.01
_KERNEL_WIDTH_IN_SIGMAS = 10
_MIN_SHORTENED_KERNEL_AREA = 0.95


@dataclass(frozen=True)
class ExplainedVarianceRatio:
    """``ev_model / ev_data`` with its two terms."""

    ev_data: float
    ev_model: float
    ratio: float


def spike_times_to_indices(spike_times_s: ArrayLike, dt: float) -> NDArray[np.int64]:
    """Sample indices of spike times, truncated as the published code does (``int(t / dt)``)."""
    return (np.asarray(spike_times_s, dtype=np.float64) / dt).astype(np.int64)


def gaussian_kernel(sigma_s: float, dt: float) -> NDArray[np.float64]:
    """The published smoothing window: ``int(10 * sigma / dt)`` samples, summing to 1."""
    std = sigma_s / dt
    length = int(std * _KERNEL_WIDTH_IN_SIGMAS)
    if length <= 1:
        return np.ones(length)
    n = np.arange(0, length) - (length - 1.0) / 2.0
    window: NDArray[np.float64] = np.exp(-(n**2) / (2 * std * std))
    return window / float(window.sum())


def fit_kernel_to_length(kernel: NDArray[np.float64], n_samples: int) -> NDArray[np.float64]:
    """Shorten a kernel longer than the trains as the published code does: keep the centre
    ``2 * (n // 2)`` samples and spread the lost area evenly, if at least 95 % of it remains."""
    if kernel.size <= n_samples:
        return kernel
    half_train, half_kernel = n_samples // 2, kernel.size // 2
    shortened = kernel[half_kernel - half_train: half_kernel + half_train]
    area = float(np.sum(shortened))
    if area <= _MIN_SHORTENED_KERNEL_AREA:
        raise InputError(
            f"a {n_samples}-sample sweep keeps only {area:.0%} of the smoothing kernel; "
            "use a longer sweep or a smaller sigma"
        )
    return shortened + (1.0 - area) / shortened.size


def explained_variance(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """``(var x + var y - var(x - y)) / (var x + var y)``; 1 when x - y is constant."""
    return _explained_variance(x, y, float(np.var(x)), float(np.var(y)))


def explained_variance_ratio(
    data_spike_steps: Sequence[ArrayLike],
    model_spike_steps: ArrayLike,
    n_samples: int,
    dt: float,
    sigma_s: float = PUBLISHED_SIGMA_S,
) -> ExplainedVarianceRatio:
    """EVR of one deterministic model run against repeated recordings of the same stimulus.

    ``data_spike_steps``: one array of spike sample indices per repeat (see
    :func:`spike_times_to_indices`); ``model_spike_steps``: the model's ``spike_time_steps``;
    ``n_samples``: the sweep length (all repeats share it).
    """
    if len(data_spike_steps) == 0:
        raise InputError("explained variance needs at least one data repeat")
    if n_samples < 1 or not dt > 0:
        raise InputError(f"need n_samples >= 1 and dt > 0, got {n_samples} and {dt}")
    kernel = fit_kernel_to_length(gaussian_kernel(sigma_s, dt), n_samples)
    convolve = _FullConvolver(kernel, n_samples)
    full = [convolve(_spike_steps(steps, n_samples)) for steps in data_spike_steps]
    psth = np.mean(np.stack(full), axis=0)
    var_psth = float(np.var(psth))
    ev_data = float(np.mean([_explained_variance(c, psth, float(np.var(c)), var_psth)
                             for c in full]))

    start = (kernel.size - 1) // 2  # scipy's 'same': the centred N samples of 'full'
    same = [c[start: start + n_samples] for c in full]
    model = convolve(_spike_steps(model_spike_steps, n_samples))[start: start + n_samples]
    var_model = float(np.var(model))
    ev_model = float(np.mean([_explained_variance(d, model, float(np.var(d)), var_model)
                              for d in same]))
    return ExplainedVarianceRatio(ev_data=ev_data, ev_model=ev_model, ratio=ev_model / ev_data)


def _explained_variance(x: NDArray[np.float64], y: NDArray[np.float64], var_x: float,
                        var_y: float) -> float:
    var_diff = float(np.var(x - y))
    if var_diff == 0.0:
        return 1.0
    return (var_x + var_y - var_diff) / (var_x + var_y)


def _spike_steps(spike_steps: ArrayLike, n_samples: int) -> NDArray[np.int64]:
    """Distinct spike indices: the published 0/1 train counts a repeated index once."""
    steps = np.unique(np.asarray(spike_steps, dtype=np.int64).reshape(-1))
    if steps.size and (steps[0] < 0 or steps[-1] >= n_samples):
        bad = int(steps[0] if steps[0] < 0 else steps[-1])
        raise InputError(f"spike index {bad} is outside the {n_samples}-sample sweep; "
                         "check dt and the sweep length")
    return steps


class _FullConvolver:
    """'full' convolution of a 0/1 spike train with one fixed kernel.

    A sparse train is a sum of kernel copies placed at its spikes; a dense one goes through a
    real FFT of a 5-smooth length. Whichever costs less is used (both give the same values to
    rounding, ~1e-16).
    """

    # one kernel-copy add costs about a third of one FFT butterfly per sample and log2 level
    _COPY_COST_RELATIVE_TO_FFT = 3.0

    def __init__(self, kernel: NDArray[np.float64], n_samples: int) -> None:
        self.kernel = kernel
        self.n_samples = n_samples
        self.out_length = n_samples + kernel.size - 1
        self.fft_length = _next_5_smooth(self.out_length)
        self._kernel_spectrum: NDArray[np.complex128] | None = None

    def __call__(self, spike_steps: NDArray[np.int64]) -> NDArray[np.float64]:
        fft_cost = self.fft_length * np.log2(max(self.fft_length, 2))
        if spike_steps.size * self.kernel.size < self._COPY_COST_RELATIVE_TO_FFT * fft_cost:
            out = np.zeros(self.out_length)
            for step in spike_steps:
                out[step: step + self.kernel.size] += self.kernel
            return out
        if self._kernel_spectrum is None:
            self._kernel_spectrum = np.fft.rfft(self.kernel, self.fft_length)
        train = np.zeros(self.n_samples)
        train[spike_steps] = 1.0
        spectrum = np.fft.rfft(train, self.fft_length)
        spectrum *= self._kernel_spectrum
        return np.fft.irfft(spectrum, self.fft_length)[: self.out_length]


def _next_5_smooth(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: lengths the FFT handles fastest."""
    best = 1 << max(n - 1, 0).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


__all__ = [
    "PUBLISHED_SIGMA_S",
    "ExplainedVarianceRatio",
    "explained_variance",
    "explained_variance_ratio",
    "fit_kernel_to_length",
    "gaussian_kernel",
    "spike_times_to_indices",
]
