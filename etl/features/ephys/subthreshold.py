"""Subthreshold features of one sweep or a set of sweeps (feature_spec 2.3-2.4): baseline,
deflection, membrane time constant, sag and input resistance. t in s, v in mV, i in pA.

Where the two definition sets differ the difference is a parameter: the sample lookup ``rule``
(AllenSDK: first sample at or after a time; ipfx: nearest sample), the sag windows
(``baseline_interval``) and the time constant's quality gates (``quality_gates``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeWarning, curve_fit

from ctmirror.features.ephys.dvdt import TimeIndexRule, time_index

FloatArray = NDArray[np.float64]
#: ipfx's gates on the time constant (``tau_quality_gates``).
TAU_MIN_SNR = 20.0
TAU_MAX_RMSE_MV = 1.0
#: AllenSDK's fit check without the gates: it rejects a fit when the square root of the *mean*
#: residual (not of the mean squared residual) exceeds 1e-4, i.e. when the fit lies above the
#: data by more than 1e-8 mV on average (ipfx issue #50). It almost never rejects; kept exact.
ALLEN2016_TAU_MAX_ROOT_MEAN_RESIDUAL = 1e-4


def average_voltage(t: FloatArray, v: FloatArray, start: float, end: float,
                    rule: TimeIndexRule) -> float:
    """Mean of v over the samples [index(start), index(end))."""
    window = v[time_index(t, start, rule):time_index(t, end, rule)]
    return float(window.mean()) if window.size else float("nan")


def baseline_voltage(t: FloatArray, v: FloatArray, start: float, interval: float,
                     rule: TimeIndexRule) -> float:
    """Mean v over the ``interval`` before ``start``."""
    return average_voltage(t, v, start - interval, start, rule)


def voltage_deflection(t: FloatArray, v: FloatArray, i: FloatArray | None, start: float,
                       end: float, kind: str | None, rule: TimeIndexRule) -> tuple[float, int]:
    """Extreme of v in [start, end): the maximum if the current halfway is >= 0 (or ``kind``
    says "max"), else the minimum. Returns (value, sample)."""
    first, last = time_index(t, start, rule), time_index(t, end, rule)
    if kind is None:
        kind = "min"
        if i is not None and i[time_index(t, (end - start) / 2.0 + start, rule)] >= 0:
            kind = "max"
    window = v[first:last]
    k = first + int(np.argmax(window) if kind == "max" else np.argmin(window))
    return float(v[k]), k


def time_constant(t: FloatArray, v: FloatArray, i: FloatArray | None, start: float,
                  end: float, *, rule: TimeIndexRule, max_fit_end: float | None,
                  quality_gates: bool, frac: float = 0.1, baseline_interval: float = 0.1
                  ) -> float:
    """Membrane time constant (s) of a hyperpolarising response: ``y0 + a exp(-x / tau)``
    fitted (``curve_fit`` from (v[first] - v[last], 50 /s, v[last])) from the first sample
    after ``start`` where v has moved ``frac`` of the way from baseline to its minimum, up to
    that minimum (or ``max_fit_end`` if earlier).

    With ``quality_gates`` (ipfx) NaN when the signal-to-noise ratio |baseline - minimum| /
    std(baseline) is below 20 or the fit's RMSE above 1 mV; without, AllenSDK's check
    (:data:`ALLEN2016_TAU_MAX_ROOT_MEAN_RESIDUAL`). NaN as well where the references raise: no
    sample reaches the ``frac`` level, or the fit window has fewer samples than parameters."""
    v_peak, peak = voltage_deflection(t, v, i, start, end, "min", rule)
    if max_fit_end is not None:
        peak = min(time_index(t, max_fit_end, rule), peak)
        v_peak = float(v[peak])
    v_base = baseline_voltage(t, v, start, baseline_interval, rule)
    first = time_index(t, start, rule)
    if quality_gates:
        noise = float(np.std(v[time_index(t, start - baseline_interval, rule):first]))
        snr = np.inf if noise == 0 else abs(v_base - v_peak) / noise
        if snr < TAU_MIN_SNR:
            return float("nan")
    reached = np.flatnonzero(v[first:] <= frac * (v_peak - v_base) + v_base)
    if reached.size == 0:
        return float("nan")
    fit_first = time_index(t, float(t[first + int(reached[0])]), rule)
    fit_last = time_index(t, float(t[peak]), rule)
    x = t[fit_first:fit_last] - t[fit_first]
    y = v[fit_first:fit_last]
    guess = (v[fit_first] - v[fit_last], 50.0, v[fit_last])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, inv_tau, y0), _ = curve_fit(_exponential, x, y, p0=guess)
    except (RuntimeError, ValueError, TypeError):
        # RuntimeError: no convergence (NaN in both references); ValueError/TypeError: fewer
        # samples than parameters, where the references raise.
        return float("nan")
    residual = _exponential(x, a, inv_tau, y0) - y
    if quality_gates:
        if float(np.sqrt(np.mean(residual ** 2))) > TAU_MAX_RMSE_MV:
            return float("nan")
    else:
        mean_residual = float(np.mean(residual))
        # A negative mean has no square root: the reference's comparison is then False.
        if mean_residual > 0 and np.sqrt(mean_residual) > ALLEN2016_TAU_MAX_ROOT_MEAN_RESIDUAL:
            return float("nan")
    return float(1.0 / inv_tau)


def _exponential(x: FloatArray, a: float, inv_tau: float, y0: float) -> FloatArray:
    return y0 + a * np.exp(-inv_tau * x)


def sag(t: FloatArray, v: FloatArray, i: FloatArray | None, start: float, end: float, *,
        rule: TimeIndexRule, baseline_interval: float, peak_width: float = 0.005
        ) -> tuple[float, float]:
    """Sag of a hyperpolarising response and the sweep's deflection voltage (mV).

    Sag is (peak - steady) / (peak - baseline): the peak averaged over ``peak_width`` around the
    minimum of v in [start, end), the steady state over the last ``baseline_interval`` of the
    window, the baseline over the ``baseline_interval`` before it. The deflection is
    :func:`voltage_deflection` with the current choosing min or max, the level the published
    ``vm_for_sag`` reports and the sag sweep is chosen by (for a depolarising subthreshold sweep
    that is its maximum, while the sag is still measured at its minimum, as in the references).
    """
    _, peak = voltage_deflection(t, v, i, start, end, "min", rule)
    v_peak = average_voltage(t, v, t[peak] - peak_width / 2.0, t[peak] + peak_width / 2.0, rule)
    v_base = baseline_voltage(t, v, start, baseline_interval, rule)
    v_steady = average_voltage(t, v, end - baseline_interval, end, rule)
    deflection, _ = voltage_deflection(t, v, i, start, end, None, rule)
    return float((v_peak - v_steady) / (v_peak - v_base)), deflection


def input_resistance(sweeps: Sequence[tuple[FloatArray, FloatArray, FloatArray]], start: float,
                     end: float, *, rule: TimeIndexRule, baseline_interval: float = 0.1
                     ) -> float:
    """MOhm: slope of the minimum voltage against the current at that sample over
    hyperpolarising sweeps ``(t, v, i)``; one sweep is paired with (0 pA, baseline)."""
    volts, amps = [], []
    for t, v, i in sweeps:
        value, k = voltage_deflection(t, v, i, start, end, "min", rule)
        volts.append(value)
        amps.append(float(i[k]))
    if len(volts) == 1:
        t, v, _ = sweeps[0]
        volts.append(baseline_voltage(t, v, start, baseline_interval, rule))
        amps.append(0.0)
    design = np.vstack([amps, np.ones(len(amps))]).T
    slope, _ = np.linalg.lstsq(design, np.asarray(volts), rcond=None)[0]
    return float(slope * 1e3)


__all__ = ["average_voltage", "baseline_voltage", "input_resistance", "sag", "time_constant",
           "voltage_deflection"]
