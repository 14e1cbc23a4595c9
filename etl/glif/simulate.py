"""Simulate a GLIF neuron (levels 1-5) exactly as AllenSDK 2.16.2 ``GlifNeuron.run`` does.

Every quirk of the reference is kept, because the published spike times and explained variance
ratios were made with it:

- per step n (input I = stimulus[n]): after-spike currents decay, voltage takes one forward-Euler
  step using the currents *before* the decay, the threshold components advance (the voltage
  component with the exact solution for constant input over the step, from V at n-1);
- the spike test is strict (``V > threshold``);
- the interpolated spike time is ``n*dt + dt*(th0-V0)/((V1-V0)-(th1-th0))``, one step later than
  the crossing it describes;
- on a spike, samples n .. n+cut-1 are NaN, sample n+cut holds the reset state and integration
  resumes at n+cut+1 (the stimulus during the cut is skipped); ``cut`` is ``spike_cut_length``
  samples whatever ``dt`` is;
- a reset that leaves V above threshold ("bad reset") writes five samples of the reset state and
  stops the run: the rest of the trace is NaN and no later spike is reported.

Floating-point expressions are evaluated in the reference's order, and the constant exponentials
are computed with numpy as the reference computes them, so results agree to the last bit or so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from ctmirror.glif.config import (
    AscDynamics,
    AscReset,
    GlifConfig,
    ThresholdDynamics,
    ThresholdReset,
    VoltageReset,
)

_THRESHOLD_INF, _THRESHOLD_SPIKE, _THRESHOLD_EXACT = 0, 1, 2
_BAD_RESET_FILL = 5  # samples of reset state the reference writes before stopping


@dataclass(frozen=True)
class GlifResult:
    """One simulated sweep. Arrays of samples are NaN inside spike cuts and after a bad reset."""

    voltage: NDArray[np.float64]
    threshold: NDArray[np.float64]
    ascurrents: NDArray[np.float64]  # (n_samples, n_asc)
    spike_time_steps: NDArray[np.int64]
    grid_spike_times: NDArray[np.float64]
    interpolated_spike_times: NDArray[np.float64]
    interpolated_spike_voltage: NDArray[np.float64]
    interpolated_spike_threshold: NDArray[np.float64]
    dt: float
    bad_reset_step: int | None  # the spike step whose reset stopped the run, if any


@dataclass(frozen=True)
class _StepConstants:
    """Every per-step constant, computed with numpy the way the reference computes it."""

    c_eff: float
    g_eff: float
    th_inf_eff: float
    asc_step_decay: NDArray[np.float64]
    asc_amp_eff: NDArray[np.float64]
    asc_r: NDArray[np.float64]
    asc_cut_decay: NDArray[np.float64]
    th_spike_step_decay: float
    th_spike_cut_decay: float
    vc_exp_g: float
    vc_inv_exp_b: float
    vc_phi: float
    vc_a_over_b: float


def _step_constants(config: GlifConfig, dt: float) -> _StepConstants:
    cut = config.spike_cut_length
    g_eff = (1.0 / config.R_input) * config.coeffs.G
    c_eff = config.C * config.coeffs.C
    k = 1.0 / np.asarray(config.asc_tau_array, dtype=np.float64)
    if config.asc_reset is AscReset.SUM:
        r = np.asarray(config.asc_reset_r, dtype=np.float64)
    else:
        r = np.zeros(config.n_asc)
    if cut > 0:
        # the reference decays the spike component through the cut sample by sample and keeps
        # the last value: exp(-b * (cut * dt)), computed over the whole arange as it does
        cut_decay = float(np.exp(-config.th_reset_b_spike * (np.arange(1, cut + 1) * dt))[-1])
    else:
        cut_decay = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        a_v = np.float64(config.a_voltage) * config.coeffs.a
        b_v = np.float64(config.b_voltage) * config.coeffs.b
        phi = a_v / (b_v - np.float64(g_eff) / c_eff)
        a_over_b = a_v / b_v
        inv_exp_b = 1 / np.exp(b_v * dt)
    return _StepConstants(
        c_eff=c_eff,
        g_eff=g_eff,
        th_inf_eff=config.th_inf * config.coeffs.th_inf,
        asc_step_decay=np.exp(-k * dt),
        asc_amp_eff=np.asarray(config.asc_amp_array, dtype=np.float64)
        * np.asarray(config.asc_amp_coeffs(), dtype=np.float64),
        asc_r=r,
        asc_cut_decay=np.exp(-(k * dt * cut)),
        th_spike_step_decay=float(np.exp(-config.th_dyn_b_spike * dt)),
        th_spike_cut_decay=cut_decay,
        vc_exp_g=float(np.exp(-g_eff * dt / c_eff)),
        vc_inv_exp_b=float(inv_exp_b),
        vc_phi=float(phi),
        vc_a_over_b=float(a_over_b),
    )


def simulate(config: GlifConfig, stimulus_a: NDArray[np.floating], dt: float) -> GlifResult:
    """Run ``config`` on a stimulus (A, one value per sample) sampled every ``dt`` seconds."""
    stimulus = np.ascontiguousarray(stimulus_a, dtype=np.float64)
    if stimulus.ndim != 1:
        raise ValueError(f"stimulus must be one-dimensional, got shape {stimulus.shape}")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    k = _step_constants(config, dt)
    threshold_mode = {
        ThresholdDynamics.INF: _THRESHOLD_INF,
        ThresholdDynamics.SPIKE_COMPONENT: _THRESHOLD_SPIKE,
        ThresholdDynamics.THREE_COMPONENTS_EXACT: _THRESHOLD_EXACT,
    }[config.threshold_dynamics]
    voltage, threshold, asc, steps, spike_values, bad_reset_step = _run(
        stimulus,
        float(dt),
        float(config.El),
        k.c_eff,
        k.g_eff,
        k.th_inf_eff,
        float(config.init_voltage),
        float(config.init_threshold),
        np.asarray(config.init_AScurrents, dtype=np.float64),
        config.asc_dynamics is AscDynamics.EXP,
        k.asc_step_decay,
        threshold_mode,
        k.th_spike_step_decay,
        k.vc_exp_g,
        k.vc_inv_exp_b,
        k.vc_phi,
        k.vc_a_over_b,
        config.asc_reset is AscReset.SUM,
        k.asc_amp_eff,
        k.asc_r,
        k.asc_cut_decay,
        config.voltage_reset is VoltageReset.V_BEFORE,
        float(config.v_reset_a),
        float(config.v_reset_b),
        config.threshold_reset is ThresholdReset.THREE_COMPONENTS,
        float(config.th_reset_a_spike),
        k.th_spike_cut_decay,
        int(config.spike_cut_length),
    )
    return GlifResult(
        voltage=voltage,
        threshold=threshold,
        ascurrents=asc,
        spike_time_steps=steps,
        grid_spike_times=steps.astype(np.float64) * dt,
        interpolated_spike_times=spike_values[:, 0].copy(),
        interpolated_spike_voltage=spike_values[:, 1].copy(),
        interpolated_spike_threshold=spike_values[:, 2].copy(),
        dt=float(dt),
        bad_reset_step=None if bad_reset_step < 0 else int(bad_reset_step),
    )


@numba.njit(cache=True, error_model="numpy")
def _run(  # noqa: PLR0913 - a flat argument list keeps the compiled kernel free of Python objects
    stim: NDArray[np.float64],
    dt: float,
    el: float,
    c_eff: float,
    g_eff: float,
    th_inf_eff: float,
    init_v: float,
    init_th: float,
    init_asc: NDArray[np.float64],
    asc_exp: bool,
    asc_step_decay: NDArray[np.float64],
    threshold_mode: int,
    th_spike_step_decay: float,
    vc_exp_g: float,
    vc_inv_exp_b: float,
    vc_phi: float,
    vc_a_over_b: float,
    asc_reset_sum: bool,
    asc_amp_eff: NDArray[np.float64],
    asc_r: NDArray[np.float64],
    asc_cut_decay: NDArray[np.float64],
    v_reset_before: bool,
    v_reset_a: float,
    v_reset_b: float,
    th_reset_components: bool,
    th_reset_a_spike: float,
    th_spike_cut_decay: float,
    cut: int,
) -> tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
    NDArray[np.int64], NDArray[np.float64], int,
]:
    n = stim.shape[0]
    n_asc = init_asc.shape[0]
    voltage = np.full(n, np.nan)
    threshold = np.full(n, np.nan)
    asc_out = np.full((n, n_asc), np.nan)
    capacity = 64
    steps = np.empty(capacity, np.int64)
    values = np.empty((capacity, 3))  # interpolated time, voltage, threshold
    n_spikes = 0
    bad_reset_step = -1

    v0 = init_v
    th0 = init_th
    asc0 = init_asc.copy()
    asc1 = np.empty(n_asc)
    th_spike = 0.0  # threshold components, relative to th_inf; both start at 0
    th_voltage = 0.0

    t = 0
    while t < n:
        inj = stim[t]
        asc_sum = 0.0
        for j in range(n_asc):
            asc_sum += asc0[j]
            asc1[j] = asc0[j] * asc_step_decay[j] if asc_exp else 0.0
        v1 = v0 + (inj + asc_sum - g_eff * (v0 - el)) * dt / c_eff
        if threshold_mode == _THRESHOLD_INF:
            th1 = th_inf_eff
        elif threshold_mode == _THRESHOLD_SPIKE:
            th_spike = th_spike * th_spike_step_decay
            th_voltage = 0.0
            th1 = th_spike + th_inf_eff
        else:
            current = inj + asc_sum
            beta = (current + g_eff * el) / g_eff
            phi_v = vc_phi * (v0 - beta)
            th_voltage = (
                phi_v * vc_exp_g
                + vc_inv_exp_b * (th_voltage - phi_v - vc_a_over_b * (beta - el))
                + vc_a_over_b * (beta - el)
            )
            th_spike = th_spike * th_spike_step_decay
            th1 = th_voltage + th_spike + th_inf_eff

        if not v1 > th1:
            voltage[t] = v1
            threshold[t] = th1
            for j in range(n_asc):
                asc_out[t, j] = asc1[j]
                asc0[j] = asc1[j]
            v0 = v1
            th0 = th1
            t += 1
            continue

        if n_spikes == capacity:
            capacity *= 2
            grown_steps = np.empty(capacity, np.int64)
            grown_steps[:n_spikes] = steps
            steps = grown_steps
            grown_values = np.empty((capacity, 3))
            grown_values[:n_spikes] = values
            values = grown_values
        interpolated = t * dt + dt * (th0 - v0) / ((v1 - v0) - (th1 - th0))
        offset = interpolated - (t - 1) * dt
        steps[n_spikes] = t
        values[n_spikes, 0] = interpolated
        values[n_spikes, 1] = v0 + (v1 - v0) * offset / dt
        values[n_spikes, 2] = th0 + (th1 - th0) * offset / dt
        n_spikes += 1

        for j in range(n_asc):
            if asc_reset_sum:
                asc0[j] = asc_amp_eff[j] + asc1[j] * asc_r[j] * asc_cut_decay[j]
            else:
                asc0[j] = 0.0
        v0 = v_reset_a * v1 + v_reset_b if v_reset_before else 0.0
        if th_reset_components:
            th_spike = th_spike * th_spike_cut_decay + th_reset_a_spike
            th0 = th_spike + th_voltage + th_inf_eff
        else:
            th0 = th_inf_eff
        bad_reset = v0 > th0

        spike_step = t
        if cut > 0:
            if t + cut < n:  # samples t .. t+cut-1 stay NaN; t+cut holds the reset state
                voltage[t + cut] = v0
                threshold[t + cut] = th0
                for j in range(n_asc):
                    asc_out[t + cut, j] = asc0[j]
            t += cut + 1
        else:
            voltage[t] = v0
            threshold[t] = th0
            for j in range(n_asc):
                asc_out[t, j] = asc0[j]
            t += 1
        if bad_reset:
            for i in range(t, min(t + _BAD_RESET_FILL, n)):
                voltage[i] = v0
                threshold[i] = th0
                for j in range(n_asc):
                    asc_out[i, j] = asc0[j]
            bad_reset_step = spike_step
            break

    return voltage, threshold, asc_out, steps[:n_spikes].copy(), values[:n_spikes].copy(), \
        bad_reset_step
