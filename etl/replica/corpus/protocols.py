"""The Allen Cell Types stimulus protocol as EphysSweep records for one synthetic cell.

The order and codes follow the published sweep lists: voltage-clamp Test sweeps (seal and
break-in), Ramps (25 pA/s), Short Squares (3 ms, a coarse 100 pA search then repeats near the
threshold), Long Squares (1 s, from -110 pA in 20 pA steps to rheobase + 160 pA, then fine steps at
rheobase), Noise 1 and Noise 2 (three pink-noise epochs at 0.75, 1.0 and 1.5 x rheobase),
Square - 2s Suprathreshold, Short Square - Triple, Ramp to Rheobase, and the closing Test sweeps.
As in the published lists some sweep numbers are missing: sweeps that failed quality control.

Onsets and lengths are the published ones (the API's records, which time stimuli from the start
of the sweep): Long and Short Squares at 1.02 s, 1 s long squares, Ramps at 1.0225 s, Noise and
Ramp to Rheobase at 2.02 s, triples at 2.02 s. ``fast=True`` keeps these timings with few sweeps
of each stimulus type (and no Ramp to Rheobase), for tests and the demo: its long squares still
give every long-square feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ctmirror.replica.corpus.stimuli import (
    noise_peak_per_unit_pa,
    ramp_to_rheobase_peak_per_unit_pa,
)

__all__ = ["synthetic_sweeps"]

_SAMPLE_S = 1.0 / 200000.0
_LONG_SQUARE_STEP_PA = 20.0
_LONG_SQUARE_FIRST_PA = -110.0
_RAMP_SLOPE_PA_PER_S = 25.0
# Published cells need about five times (10-90 %: 1.8 to 12) their long-square rheobase to fire
# on a 3 ms pulse; the coarse search climbs to eight times.
_SHORT_SQUARE_OVER_RHEOBASE = 5.0
_SHORT_SQUARE_COARSE_OVER_RHEOBASE = 8.0
_SKIP_PROBABILITY = 0.06


@dataclass(frozen=True)
class _Timing:
    """Stimulus onsets and lengths (s) of one protocol variant."""

    step_start: float
    triple_start: float
    late_start: float
    ramp_start: float
    long_square: float
    square_2s: float
    ramp: float
    noise_epoch: float
    noise_gap: float
    ramp_to_rheobase: float


_FULL = _Timing(
    step_start=1.02,
    triple_start=2.02,
    late_start=2.02,
    ramp_start=1.0225,
    long_square=1.0,
    square_2s=2.0,
    ramp=32.0,
    noise_epoch=3.0,
    noise_gap=5.0,
    ramp_to_rheobase=32.0,
)


def _round10(value: float) -> float:
    return float(max(10.0, round(value / 10.0) * 10.0))


def _sweep(
    name: str,
    description: str,
    amplitude: float,
    relative: float,
    start: float,
    duration: float,
    interval: float | None,
    units: str = "Amps",
) -> dict[str, Any]:
    # Published durations are one sample short of the nominal length (0.999995 s for 1 s).
    return {
        "stimulus_name": name,
        "stimulus_description": description,
        "stimulus_units": units,
        "stimulus_absolute_amplitude": float(amplitude),
        "stimulus_relative_amplitude": float(relative),
        "stimulus_start_time": float(start),
        "stimulus_duration": round(duration - _SAMPLE_S, 6) if duration > 0 else 0.0,
        "stimulus_interval": interval,
    }


def _test_sweep(code: str) -> dict[str, Any]:
    if code == "BLWOUT":
        return _sweep("Test", "EXTPBLWOUT141203[0]", 0.0, 1.0, 0.0, 0.0, None)
    return _sweep("Test", f"EXTP{code}141203[0]", 10.0, 1.0, 0.03, 0.07, 0.05, units="Volts")


def _long_squares(rheobase_pa: float, timing: _Timing, fast: bool) -> list[dict[str, Any]]:
    top = rheobase_pa + 160.0
    grid = np.arange(_LONG_SQUARE_FIRST_PA, top + 1e-6, _LONG_SQUARE_STEP_PA)
    if fast:
        keep = np.isin(grid, (-90.0, -50.0, -10.0)) | (
            (grid >= rheobase_pa - 20.0) & (grid <= rheobase_pa + 60.0)
        )
    else:
        keep = np.ones(grid.size, dtype=bool)
    sweeps = [
        _sweep(
            "Long Square",
            f"C1LSCOARSE150216[{k}]",
            amp,
            1.0,
            timing.step_start,
            timing.long_square,
            None,
        )
        for k, amp in enumerate(grid)
        if keep[k]
    ]
    # Fine steps repeat the grid amplitudes at and just below rheobase.
    at_rheobase = float(grid[np.argmin(np.abs(grid - rheobase_pa))])
    fine = [at_rheobase] if fast else [at_rheobase - _LONG_SQUARE_STEP_PA, at_rheobase]
    sweeps += [
        _sweep(
            "Long Square",
            "C1LSFINEST150112[0]",
            amp,
            round(amp / 100.0, 2),
            timing.step_start,
            timing.long_square,
            None,
        )
        for amp in fine
    ]
    return sweeps


def _short_squares(
    rheobase_pa: float, threshold_pa: float, timing: _Timing, fast: bool
) -> list[dict[str, Any]]:
    top = int(np.ceil(_SHORT_SQUARE_COARSE_OVER_RHEOBASE * rheobase_pa / 100.0))
    coarse_steps = [int(round(threshold_pa / 100.0)), top] if fast else list(range(1, top + 1))
    offsets = (0.0, 40.0) if fast else (-40.0, -20.0, 0.0, 0.0, 0.0, 20.0, 40.0, 60.0)
    return [
        _sweep(
            "Short Square",
            f"C1SSCOARSE150112[{k - 1}]",
            100.0 * k,
            1.0,
            timing.step_start,
            0.003,
            None,
        )
        for k in dict.fromkeys(max(k, 1) for k in coarse_steps)
    ] + [
        _sweep(
            "Short Square",
            "C1SSFINEST150112[0]",
            threshold_pa + d,
            round((threshold_pa + d) / 100.0, 2),
            timing.step_start,
            0.003,
            None,
        )
        for d in offsets
    ]


def _noise(rheobase_pa: float, timing: _Timing, fast: bool) -> list[dict[str, Any]]:
    relative = max(round(rheobase_pa / 100.0, 1), 0.1)
    duration = 3 * timing.noise_epoch + 2 * timing.noise_gap
    order = (1, 2, 2) if fast else (1, 2, 1, 2)
    sweeps = []
    for seed in order:
        description = f"C1NSSEED_{seed}150216[0]"
        # The published interval is the period of the epochs (3 s epochs every 8 s).
        period = timing.noise_epoch + timing.noise_gap
        peak = noise_peak_per_unit_pa(description, duration, period)
        sweeps.append(
            _sweep(
                f"Noise {seed}",
                description,
                round(relative * peak, 3),
                relative,
                timing.late_start,
                duration,
                period,
            )
        )
    return sweeps


def _ramp_to_rheobase(rheobase_pa: float, timing: _Timing) -> dict[str, Any]:
    relative = max(round(rheobase_pa / 100.0, 1), 0.1)
    peak = ramp_to_rheobase_peak_per_unit_pa(timing.ramp_to_rheobase)
    return _sweep(
        "Ramp to Rheobase",
        "C2NSRMPRH2150216[0]",
        round(relative * peak, 3),
        relative,
        timing.late_start,
        timing.ramp_to_rheobase,
        None,
    )


def _triples(threshold_pa: float, timing: _Timing, fast: bool) -> list[dict[str, Any]]:
    # Three 3 ms pulses; variant k spaces them 7 + 4k ms apart (published C2SSTRIPLE codes).
    variants = range(1) if fast else range(8)
    sweeps = []
    for k in variants:
        interval = round(0.007 + 0.004 * k, 3)
        sweeps.append(
            _sweep(
                "Short Square - Triple",
                f"C2SSTRIPLE141203[{k}]",
                threshold_pa,
                round(threshold_pa / 100.0, 2),
                timing.triple_start,
                2 * interval + 0.003,
                interval,
            )
        )
    return sweeps


def synthetic_sweeps(
    rng: np.random.Generator, *, rheobase_pa: float, fast: bool = False
) -> list[dict[str, Any]]:
    """EphysSweep records (without ids) of one cell recorded with the Allen protocol."""
    timing = _FULL
    rheobase_pa = float(rheobase_pa)
    short_square_pa = _round10(_SHORT_SQUARE_OVER_RHEOBASE * rheobase_pa)
    # The ramp is recorded as its final current.
    ramp_peak = _RAMP_SLOPE_PA_PER_S * _FULL.ramp
    supra = [1.6] if fast else [1.2, 1.2, 1.6, 1.6, 2.0, 2.0]

    protocol: list[dict[str, Any]] = []
    protocol += [
        _test_sweep(code)
        for code in (("BREAKN",) if fast else ("SMOKET", "INBATH", "CllATT", "BREAKN"))
    ]
    protocol += [
        _sweep("Ramp", "C1RP25PR1S141203[0]", ramp_peak, 1.0, timing.ramp_start, timing.ramp, None)
        for _ in range(1 if fast else 3)
    ]
    protocol += _short_squares(rheobase_pa, short_square_pa, timing, fast)
    protocol += _long_squares(rheobase_pa, timing, fast)
    protocol += _noise(rheobase_pa, timing, fast)
    protocol += [
        _sweep(
            "Square - 2s Suprathreshold",
            "C2SQRHELNG150216[0]",
            _round10(f * rheobase_pa),
            round(_round10(f * rheobase_pa) / 100.0, 2),
            timing.step_start,
            timing.square_2s,
            None,
        )
        for f in supra
    ]
    protocol += _triples(short_square_pa + 40.0, timing, fast)
    if not fast:
        # 34 s of recording that no feature reads: the short protocol leaves it out.
        protocol += [_ramp_to_rheobase(rheobase_pa, timing)]
    protocol += [
        _test_sweep(code) for code in (("EXPEND",) if fast else ("EXPEND", "GGAEND", "BLWOUT"))
    ]

    sweeps = []
    number = 0
    for record in protocol:
        # Failed sweeps leave gaps in the numbering (never before the first sweep).
        while number > 0 and rng.random() < _SKIP_PROBABILITY:
            number += 1
        sweeps.append({"sweep_number": number, **record})
        number += 1
    return sweeps
