"""Stimulus waveforms of Allen Cell Types sweeps, built from their EphysSweep records.

Every current-clamp sweep starts with a short hyperpolarising test pulse, as in the published
recordings, then holds zero current until ``stimulus_start_time``. After the stimulus ends the
recording goes on for as long as the stimulus onset follows the test pulse onset (at most 1 s, at
least 0.1 s), so a 1 s Long Square at 1.02 s makes a 3.02 s sweep.

``stimulus_units`` says the clamp mode: "Amps"/"pA" sweeps are current clamp (waveform in A,
``stimulus_absolute_amplitude`` in pA); "Volts"/"mV" sweeps are the voltage-clamp Test sweeps
(waveform in V, amplitude in mV). Names the module does not know become a square step of the
record's amplitude and duration, so any real sweep list can be replayed.

Noise stimuli follow the Allen protocol: three epochs of pink (1/f, 1-100 Hz) noise with a
coefficient of variation of 0.2 around 0.75, 1.0 and 1.5 times a base current, one every
``stimulus_interval`` seconds (3 s epochs 8 s apart in the published 19 s stimulus), zero
current between them. The base current is ``stimulus_relative_amplitude``
x 100 pA, scaled so the largest current is ``stimulus_absolute_amplitude`` (the published
peak), and each seed ("C1NSSEED_1", "C1NSSEED_2") is one fixed noise realisation shared by
every cell, so repeats of Noise 2 are identical stimuli.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "NOISE_EPOCH_SCALES",
    "TEST_PULSE_AMPLITUDE_PA",
    "TEST_PULSE_DURATION_S",
    "TEST_PULSE_START_S",
    "is_voltage_clamp",
    "noise_peak_per_unit_pa",
    "ramp_to_rheobase_peak_per_unit_pa",
    "stimulus_waveform",
    "sweep_duration_s",
]

TEST_PULSE_START_S = 0.02
TEST_PULSE_DURATION_S = 0.01
TEST_PULSE_AMPLITUDE_PA = -20.0
NOISE_EPOCH_SCALES = (0.75, 1.0, 1.5)
NOISE_CV = 0.2
NOISE_BAND_HZ = (1.0, 100.0)
# Relative amplitude 1.0 means a base current of 100 pA (the published relative amplitudes of
# noise sweeps are the cell's rheobase / 100 pA).
RELATIVE_UNIT_PA = 100.0
# Pink noise is drawn on this grid and interpolated: it has no power above 100 Hz.
_NOISE_GRID_HZ = 2000.0
_MAX_POST_STIMULUS_S = 1.0
_MIN_POST_STIMULUS_S = 0.1
_PULSE_WIDTHS_S = {"Short Square - Triple": 0.003, "Square - 0.5ms Subthreshold": 0.0005}
_RAMP_TO_RHEOBASE_SEED = 3


def is_voltage_clamp(sweep: Mapping[str, Any]) -> bool:
    """True for sweeps whose stimulus is a command voltage."""
    return str(sweep.get("stimulus_units") or "").lower() in ("volts", "mv")


def _float(sweep: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = sweep.get(key)
    return default if value is None else float(value)


def sweep_duration_s(sweep: Mapping[str, Any]) -> float:
    """Length of the recorded sweep: stimulus end plus a post-stimulus baseline."""
    start = _float(sweep, "stimulus_start_time")
    end = start + _float(sweep, "stimulus_duration")
    baseline = start - TEST_PULSE_START_S
    return end + float(np.clip(baseline, _MIN_POST_STIMULUS_S, _MAX_POST_STIMULUS_S))


def _noise_seed(sweep: Mapping[str, Any]) -> int:
    """The noise realisation: the digit after NSSEED_ in the description, else the name's."""
    text = f"{sweep.get('stimulus_description') or ''} {sweep.get('stimulus_name') or ''}"
    found = re.search(r"SEED_(\d+)", text) or re.search(r"Noise (\d+)", text)
    return int(found.group(1)) if found else 1


@lru_cache(maxsize=32)
def _pink_noise(seed: int, n_grid: int) -> NDArray[np.float64]:
    """Unit-variance band-limited 1/f noise on the coarse grid (fixed for a seed)."""
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n_grid, d=1.0 / _NOISE_GRID_HZ)
    band = (freqs >= NOISE_BAND_HZ[0]) & (freqs <= NOISE_BAND_HZ[1])
    spectrum = np.zeros(freqs.size, dtype=np.complex128)
    k = int(band.sum())
    spectrum[band] = (rng.standard_normal(k) + 1j * rng.standard_normal(k)) / np.sqrt(freqs[band])
    noise = np.fft.irfft(spectrum, n=n_grid)
    std = noise.std()
    return noise / std if std > 0 else noise


def _noise_epochs(
    seed: int, duration_s: float, period_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Times (s from stimulus start) and unit-base current of the three-epoch noise on the grid.

    Epochs start every ``period_s``: the last ends with the stimulus, so an epoch lasts
    duration - 2 periods.
    """
    epochs = len(NOISE_EPOCH_SCALES)
    epoch_s = duration_s - (epochs - 1) * period_s
    if not 0.0 < epoch_s <= period_s:
        # No period that fits: back-to-back epochs.
        epoch_s = duration_s / epochs
        period_s = epoch_s
    gap_s = period_s - epoch_s
    n_epoch = max(int(round(epoch_s * _NOISE_GRID_HZ)), 2)
    noise = _pink_noise(seed, n_epoch * len(NOISE_EPOCH_SCALES))
    times: list[NDArray[np.float64]] = []
    values: list[NDArray[np.float64]] = []
    for j, scale in enumerate(NOISE_EPOCH_SCALES):
        t0 = j * (epoch_s + gap_s)
        times.append(t0 + np.arange(n_epoch) / _NOISE_GRID_HZ)
        values.append(scale * (1.0 + NOISE_CV * noise[j * n_epoch : (j + 1) * n_epoch]))
    return np.concatenate(times), np.concatenate(values)


def noise_peak_per_unit_pa(stimulus_description: str, duration_s: float, period_s: float) -> float:
    """Largest current (pA) of a noise stimulus of relative amplitude 1.0.

    The published ``stimulus_absolute_amplitude`` of a noise sweep is this peak times the
    relative amplitude.
    """
    seed = _noise_seed({"stimulus_description": stimulus_description})
    _, values = _noise_epochs(seed, duration_s, period_s)
    return float(values.max()) * RELATIVE_UNIT_PA


def ramp_to_rheobase_peak_per_unit_pa(duration_s: float) -> float:
    """Largest current (pA) of a Ramp to Rheobase stimulus of relative amplitude 1.0."""
    _, values = _ramp_to_rheobase(duration_s)
    return float(values.max()) * RELATIVE_UNIT_PA


def _ramp_to_rheobase(duration_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A slow ramp from 0 to twice the base current with the same pink noise on top."""
    n_grid = max(int(round(duration_s * _NOISE_GRID_HZ)), 2)
    t = np.arange(n_grid) / _NOISE_GRID_HZ
    ramp = 2.0 * t / max(duration_s, 1e-9)
    return t, ramp * (1.0 + NOISE_CV * _pink_noise(_RAMP_TO_RHEOBASE_SEED, n_grid))


def _scaled_to_peak(
    unit: NDArray[np.float64], amplitude_pa: float, relative: float
) -> NDArray[np.float64]:
    """A unit-base noisy stimulus in pA, its largest value the record's absolute amplitude.

    The published absolute amplitude of a noise stimulus is its peak; a real record's peak
    belongs to the real noise realisation, so this one is scaled to it (within a few percent of
    relative x 100 pA). Without an amplitude, the relative one sets the base current.
    """
    peak = float(unit.max()) if unit.size else 0.0
    if amplitude_pa > 0.0 and peak > 0.0:
        return unit * (amplitude_pa / peak)
    return relative * RELATIVE_UNIT_PA * unit


def _pulse_train(
    out: NDArray[np.float64],
    i0: int,
    i1: int,
    rate: float,
    width_s: float,
    period_s: float,
    amp: float,
) -> None:
    """Pulses of width_s every period_s from i0, none past i1."""
    width = max(int(round(width_s * rate)), 1)
    period = max(int(round(period_s * rate)), width)
    for start in range(i0, i1, period):
        out[start : min(start + width, i1)] = amp


def stimulus_waveform(
    sweep: Mapping[str, Any], *, sampling_rate: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """The sweep's stimulus, one sample per 1/sampling_rate s: A (current clamp) or V (voltage).

    ``rng`` is drawn from only for what differs between presentations; the published noise
    stimuli are fixed realisations and do not use it.
    """
    del rng  # every published waveform is determined by its record
    rate = float(sampling_rate)
    n = int(round(sweep_duration_s(sweep) * rate))
    out = np.zeros(n, dtype=np.float64)
    start_s = _float(sweep, "stimulus_start_time")
    duration_s = _float(sweep, "stimulus_duration")
    i0 = min(int(round(start_s * rate)), n)
    i1 = min(int(round((start_s + duration_s) * rate)) + 1, n)
    name = str(sweep.get("stimulus_name") or "")
    amplitude = _float(sweep, "stimulus_absolute_amplitude")
    relative = _float(sweep, "stimulus_relative_amplitude", 1.0)
    interval = sweep.get("stimulus_interval")

    if is_voltage_clamp(sweep):
        # Test sweeps: command steps of `amplitude` mV, repeated every interval.
        # 0.03 s + 0.07 s at 0.05 s intervals: two 20 ms pulses.
        period = float(interval) if interval else duration_s + 1.0
        width = duration_s - period if duration_s > period else duration_s
        _pulse_train(out, i0, i1, rate, width, period, amplitude)
        return out * 1e-3

    if name != "Test":
        tp0 = int(round(TEST_PULSE_START_S * rate))
        tp1 = int(round((TEST_PULSE_START_S + TEST_PULSE_DURATION_S) * rate))
        out[tp0 : min(tp1, n)] = TEST_PULSE_AMPLITUDE_PA

    if i1 <= i0:
        return out * 1e-12
    t = np.arange(i1 - i0) / rate
    if name.startswith("Noise"):
        grid_t, grid_v = _noise_epochs(_noise_seed(sweep), duration_s, float(interval or 0.0))
        noise = np.interp(t, grid_t, grid_v)
        # Between epochs the current is zero, not an interpolation across the gap.
        step = 1.0 / _NOISE_GRID_HZ
        gaps = np.diff(grid_t) > 1.5 * step
        for g in np.flatnonzero(gaps):
            noise[(t > grid_t[g] + step) & (t < grid_t[g + 1])] = 0.0
        noise[t > grid_t[-1] + step] = 0.0
        out[i0:i1] = _scaled_to_peak(noise, amplitude, relative)
    elif name == "Ramp to Rheobase":
        grid_t, grid_v = _ramp_to_rheobase(duration_s)
        out[i0:i1] = _scaled_to_peak(np.interp(t, grid_t, grid_v), amplitude, relative)
    elif name.startswith("Ramp"):
        # Rises from zero at the amplitude / duration slope (25 pA/s in the published protocol).
        out[i0:i1] = amplitude * t / max(duration_s, 1.0 / rate)
    elif name in _PULSE_WIDTHS_S and interval:
        _pulse_train(out, i0, i1, rate, _PULSE_WIDTHS_S[name], float(interval), amplitude)
    else:
        out[i0:i1] = amplitude
    return out * 1e-12
