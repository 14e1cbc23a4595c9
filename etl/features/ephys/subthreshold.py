"""Subthreshold features of one sweep or a set of sweeps (feature_spec 2.3-2.4): baseline,
deflection, membrane time constant, sag and input resistance. t in s, v in mV, i in pA."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeWarning, curve_fit

from etl.features.ephys.dvdt import TimeIndexRule, time_index

FloatArray = NDArray[np.float64]
TAU_MIN_SNR = 20.0
TAU_MAX_RMSE_MV = 1.0


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
    """Membrane time constant (s): an exponential fitted from where v has moved ``frac`` of the
    way to its minimum until that minimum (capped at ``max_fit_end``). With ``quality_gates``
    (ipfx) NaN when the signal-to-noise ratio is below 20 or the fit's RMSE above 1 mV."""
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
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, inv_tau, y0), _ = curve_fit(_exponential, x, y, p0=guess)
    except (RuntimeError, ValueError, TypeError):
        return float("nan")
    if quality_gates:
        rmse = float(np.sqrt(np.mean((_exponential(x, a, inv_tau, y0) - y) ** 2)))
        if rmse > TAU_MAX_RMSE_MV:
            return float("nan")
    return float(1.0 / inv_tau)


def _exponential(x: FloatArray, a: float, inv_tau: float, y0: float) -> FloatArray:
    return y0 + a * np.exp(-inv_tau * x)


def sag(t: FloatArray, v: FloatArray, i: FloatArray | None, start: float, end: float, *,
        rule: TimeIndexRule, baseline_interval: float, peak_width: float = 0.005) -> float:
    """(peak - steady) / (peak - baseline) of a hyperpolarising response; peak averaged over
    ``peak_width`` around the minimum, steady state over the last ``baseline_interval``."""
    _, peak = voltage_deflection(t, v, i, start, end, "min", rule)
    v_peak = average_voltage(t, v, t[peak] - peak_width / 2.0, t[peak] + peak_width / 2.0, rule)
    v_base = baseline_voltage(t, v, start, baseline_interval, rule)
    v_steady = average_voltage(t, v, end - baseline_interval, end, rule)
    return float((v_peak - v_steady) / (v_peak - v_base))


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
