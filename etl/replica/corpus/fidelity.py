"""Does a recording follow its EphysSweep records? Stimulus timing, amplitude and spike count.

A current-clamp sweep follows its record when, after the test pulse, its stimulus is first
non-zero at ``stimulus_start_time`` (a ramp's first sample is zero, so one sample later is
allowed), last non-zero at ``stimulus_start_time + stimulus_duration`` (a ramp stopped after the
cell fired may end earlier, as published ramps do), reaches ``stimulus_absolute_amplitude``
(the final current of a ramp, read from its slope) and the file lists ``num_spikes`` spike
times (null means none). Test sweeps are left out: they have no stimulus protocol to follow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ctmirror.replica.corpus.stimuli import (
    TEST_PULSE_DURATION_S,
    TEST_PULSE_START_S,
    is_voltage_clamp,
)

__all__ = ["SweepFidelity", "check_sweep", "followed_sweeps", "summarize"]

# Stored stimuli are float32: amplitudes agree to its precision, not exactly.
_AMPLITUDE_REL = 1e-4
_AMPLITUDE_ABS_PA = 1e-3


@dataclass(frozen=True)
class SweepFidelity:
    sweep_number: int
    stimulus_name: str
    onset_ok: bool
    end_ok: bool
    amplitude_ok: bool
    file_spikes: int
    record_spikes: int

    @property
    def timing_ok(self) -> bool:
        return self.onset_ok and self.end_ok and self.amplitude_ok

    @property
    def spikes_ok(self) -> bool:
        return self.file_spikes == self.record_spikes


def followed_sweeps(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records a recording is checked against: current-clamp sweeps other than Test."""
    return [r for r in records if not is_voltage_clamp(r) and r.get("stimulus_name") != "Test"]


def _close(value: float, expected: float) -> bool:
    return math.isclose(value, expected, rel_tol=_AMPLITUDE_REL, abs_tol=_AMPLITUDE_ABS_PA)


def check_sweep(
    record: Mapping[str, Any],
    stimulus_a: NDArray[np.floating],
    spike_times_s: NDArray[np.floating],
    sampling_rate: float,
) -> SweepFidelity:
    """How one recorded sweep compares with its record."""
    name = str(record.get("stimulus_name") or "")
    start = float(record.get("stimulus_start_time") or 0.0)
    duration = float(record.get("stimulus_duration") or 0.0)
    amplitude = float(record.get("stimulus_absolute_amplitude") or 0.0)
    pa = np.asarray(stimulus_a, dtype=np.float64) * 1e12
    skip = int(math.ceil((TEST_PULSE_START_S + TEST_PULSE_DURATION_S) * sampling_rate)) + 1
    on = np.flatnonzero(pa[skip:]) + skip
    first = int(round(start * sampling_rate))
    last = int(round((start + duration) * sampling_rate))
    is_ramp = name == "Ramp"
    if not on.size:
        silent = amplitude == 0.0
        onset_ok = end_ok = amplitude_ok = silent
    else:
        onset_ok = int(on[0]) in ((first, first + 1) if is_ramp else (first,))
        stopped_early = is_ramp and int(on[-1]) == pa.size - 1 and pa.size - 1 < last
        end_ok = abs(int(on[-1]) - last) <= 1 or stopped_early
        if is_ramp:
            # The current at the last sample, on the line from zero at onset to the amplitude.
            expected = amplitude * (int(on[-1]) - first) / (duration * sampling_rate)
            amplitude_ok = _close(float(pa[on[-1]]), expected)
        else:
            peak = float(pa[on].max() if amplitude >= 0 else pa[on].min())
            amplitude_ok = _close(peak, amplitude)
    return SweepFidelity(
        sweep_number=int(record["sweep_number"]),
        stimulus_name=name,
        onset_ok=onset_ok,
        end_ok=end_ok,
        amplitude_ok=amplitude_ok,
        file_spikes=int(np.asarray(spike_times_s).size),
        record_spikes=int(record.get("num_spikes") or 0),
    )


def summarize(checks: Iterable[SweepFidelity]) -> dict[str, int]:
    """Counts of sweeps, of sweeps whose timing follows the record, and of equal spike counts."""
    checks = list(checks)
    return {
        "sweeps": len(checks),
        "timing_ok": sum(c.timing_ok for c in checks),
        "spikes_ok": sum(c.spikes_ok for c in checks),
    }
