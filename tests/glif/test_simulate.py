"""Simulator semantics checked from first principles on small synthetic drives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ctmirror.glif import simulate
from ctmirror.readers.glif_config import parse_glif_config
from tests.glif.reference import raw_config

GLIF1 = "486557295/neuron_config.json"
GLIF5 = "522987536/neuron_config.json"


def test_glif1_first_spike_matches_closed_form():
    config = parse_glif_config(raw_config(GLIF1))
    dt = 5e-6
    g, c = 1.0 / config.R_input * config.coeffs.G, config.C * config.coeffs.C
    theta = config.th_inf * config.coeffs.th_inf
    current = 2.0 * g * theta
    # forward Euler from V=0 under constant I: V_n = (I/g) (1 - (1 - dt g / c)^n)
    n = np.arange(1, 200_001)
    v = current / g * (1 - (1 - dt * g / c) ** n)
    expected_first = int(np.flatnonzero(v > theta)[0])  # V_n is sample n-1 (0-based)
    result = simulate(config, np.full(200_000, current), dt)
    assert result.spike_time_steps[0] == expected_first
    np.testing.assert_allclose(result.voltage[:expected_first], v[:expected_first], rtol=1e-9,
                               atol=1e-12)
    # interpolated time is one step late: it still truncates to the spike step
    first_interp = result.interpolated_spike_times[0]
    assert int(first_interp / dt) == expected_first
    assert expected_first * dt < first_interp < (expected_first + 1) * dt


def test_spike_cut_stays_in_samples_whatever_dt():
    config = parse_glif_config(raw_config(GLIF1))
    cut = config.spike_cut_length
    g = 1.0 / config.R_input * config.coeffs.G
    current = 3.0 * g * config.th_inf * config.coeffs.th_inf
    for dt in (5e-6, 5e-5):
        result = simulate(config, np.full(20_000, current), dt)
        first = int(result.spike_time_steps[0])
        assert np.isnan(result.voltage[first: first + cut]).all()
        assert result.voltage[first + cut] == 0.0  # GLIF1 resets to zero
        assert not np.isnan(result.voltage[first + cut + 1])


def test_no_cut_writes_reset_at_spike_sample():
    config = dataclasses.replace(parse_glif_config(raw_config(GLIF1)), spike_cut_length=0)
    g = 1.0 / config.R_input * config.coeffs.G
    result = simulate(config, np.full(50_000, 3.0 * g * config.th_inf * config.coeffs.th_inf),
                      5e-6)
    assert not np.isnan(result.voltage).any()
    assert (result.voltage[result.spike_time_steps] == 0.0).all()


def test_glif5_threshold_rises_with_voltage_and_spikes_raise_it():
    config = parse_glif_config(raw_config(GLIF5))
    g = 1.0 / config.R_input * config.coeffs.G
    theta = config.th_inf * config.coeffs.th_inf
    sub = simulate(config, np.full(100_000, 0.8 * g * theta), 5e-6)
    assert sub.spike_time_steps.size == 0
    assert sub.threshold[-1] > theta  # voltage component adapts upwards under depolarisation
    spiking = simulate(config, np.full(100_000, 4.0 * g * theta), 5e-6)
    first = int(spiking.spike_time_steps[0])
    after_cut = first + config.spike_cut_length
    before = spiking.threshold[first - 1]
    assert spiking.threshold[after_cut] - before == pytest.approx(config.th_reset_a_spike,
                                                                  rel=0.2)


def test_input_validation():
    config = parse_glif_config(raw_config(GLIF1))
    with pytest.raises(ValueError, match="one-dimensional"):
        simulate(config, np.zeros((2, 3)), 5e-6)
    with pytest.raises(ValueError, match="dt must be positive"):
        simulate(config, np.zeros(3), 0.0)


def test_four_million_steps_run_and_spike():
    config = parse_glif_config(raw_config(GLIF5))
    g = 1.0 / config.R_input * config.coeffs.G
    rng = np.random.default_rng(0)
    stim = 2.0 * g * config.th_inf * (1 + 0.5 * np.repeat(rng.standard_normal(200_000), 20))
    result = simulate(config, stim, 5e-6)
    assert result.voltage.size == 4_000_000
    assert result.spike_time_steps.size > 50
    assert np.all(np.diff(result.spike_time_steps) > config.spike_cut_length)
