"""The synthetic protocol follows the published sweep lists, and its waveforms the records."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ctmirror.replica.corpus.protocols import synthetic_sweeps
from ctmirror.replica.corpus.stimuli import (
    TEST_PULSE_AMPLITUDE_PA,
    TEST_PULSE_START_S,
    noise_peak_per_unit_pa,
    stimulus_waveform,
    sweep_duration_s,
)

RATE = 200000.0
KEYS = {
    "sweep_number",
    "stimulus_name",
    "stimulus_description",
    "stimulus_units",
    "stimulus_absolute_amplitude",
    "stimulus_relative_amplitude",
    "stimulus_start_time",
    "stimulus_duration",
    "stimulus_interval",
}
NAMES = {
    "Test",
    "Short Square",
    "Long Square",
    "Ramp",
    "Noise 1",
    "Noise 2",
    "Square - 2s Suprathreshold",
    "Short Square - Triple",
    "Ramp to Rheobase",
}

# Records of specimen 324257146 as published (model::EphysSweep; the sweep list in the
# OpenSourceBrain/AllenInstituteNeuroML GLIF packages), trimmed to the stimulus fields.
REAL_SWEEPS = [
    {
        "sweep_number": 0,
        "stimulus_name": "Test",
        "stimulus_description": "EXTPSMOKET141203[0]",
        "stimulus_units": "Volts",
        "stimulus_absolute_amplitude": 9.99999977648258,
        "stimulus_relative_amplitude": 1.0,
        "stimulus_start_time": 0.03,
        "stimulus_duration": 0.069995,
        "stimulus_interval": 0.05,
    },
    {
        "sweep_number": 7,
        "stimulus_name": "Short Square",
        "stimulus_description": "C1SSCOARSE150112[0]",
        "stimulus_units": "Amps",
        "stimulus_absolute_amplitude": 100.000001335143,
        "stimulus_relative_amplitude": 1.0,
        "stimulus_start_time": 1.02,
        "stimulus_duration": 0.002995,
        "stimulus_interval": None,
    },
    {
        "sweep_number": 23,
        "stimulus_name": "Long Square",
        "stimulus_description": "C1LSCOARSE150112[2]",
        "stimulus_units": "Amps",
        "stimulus_absolute_amplitude": -69.9999988529321,
        "stimulus_relative_amplitude": 1.0,
        "stimulus_start_time": 1.02,
        "stimulus_duration": 0.999995,
        "stimulus_interval": None,
    },
    {
        "sweep_number": 52,
        "stimulus_name": "Short Square - Triple",
        "stimulus_description": "C2SSTRIPLE141203[0]",
        "stimulus_units": "Amps",
        "stimulus_absolute_amplitude": 329.999999548747,
        "stimulus_relative_amplitude": 3.3,
        "stimulus_start_time": 2.02,
        "stimulus_duration": 0.016995,
        "stimulus_interval": 0.007,
    },
    {
        "sweep_number": 76,
        "stimulus_name": "Short Square - Hold -80mV",
        "stimulus_description": "C2SSHM80CS150112[0]",
        "stimulus_units": "Amps",
        "stimulus_absolute_amplitude": 100.000001335143,
        "stimulus_relative_amplitude": 1.0,
        "stimulus_start_time": 1.02,
        "stimulus_duration": 0.002995,
        "stimulus_interval": None,
    },
    {
        "sweep_number": 98,
        "stimulus_name": "Test",
        "stimulus_description": "EXTPBLWOUT141203[0]",
        "stimulus_units": "Amps",
        "stimulus_absolute_amplitude": 0.0,
        "stimulus_relative_amplitude": 1.0,
        "stimulus_start_time": 0.0,
        "stimulus_duration": 0.0,
        "stimulus_interval": None,
    },
]


@pytest.fixture(scope="module")
def full() -> list[dict]:
    return synthetic_sweeps(np.random.default_rng(11), rheobase_pa=130.0)


@pytest.fixture(scope="module")
def fast() -> list[dict]:
    return synthetic_sweeps(np.random.default_rng(11), rheobase_pa=130.0, fast=True)


def test_records_have_ephys_sweep_fields_in_sweep_order(full, fast):
    for sweeps, names in ((full, NAMES), (fast, NAMES - {"Ramp to Rheobase"})):
        assert all(set(s) == KEYS for s in sweeps)
        numbers = [s["sweep_number"] for s in sweeps]
        assert numbers[0] == 0
        assert numbers == sorted(set(numbers))
        assert {s["stimulus_name"] for s in sweeps} == names
        for s in sweeps:
            assert re.fullmatch(r"[A-Za-z0-9_]+\d{6}\[\d+\]", s["stimulus_description"])
            assert s["stimulus_units"] in ("Amps", "Volts")


def test_long_squares_step_from_minus_110_to_rheobase_plus_160(full):
    coarse = [s for s in full if s["stimulus_description"].startswith("C1LSCOARSE")]
    amps = [s["stimulus_absolute_amplitude"] for s in coarse]
    assert amps == list(np.arange(-110.0, 290.1, 20.0))
    assert all(
        s["stimulus_start_time"] == 1.02 and s["stimulus_duration"] == 0.999995 for s in coarse
    )
    indices = [int(s["stimulus_description"].split("[")[1][:-1]) for s in coarse]
    assert indices == list(range(len(coarse)))


def test_noise_sweeps_repeat_and_scale_with_rheobase(full, fast):
    for sweeps in (full, fast):
        noise2 = [s for s in sweeps if s["stimulus_name"] == "Noise 2"]
        assert len(noise2) >= 2
        for s in noise2:
            assert s["stimulus_relative_amplitude"] == 1.3
            peak = noise_peak_per_unit_pa(
                s["stimulus_description"], s["stimulus_duration"], s["stimulus_interval"]
            )
            assert s["stimulus_absolute_amplitude"] == pytest.approx(1.3 * peak, abs=1e-3)
    # Noise 2 is one fixed realisation: repeats are identical whatever the generator.
    repeats = [s for s in full if s["stimulus_name"] == "Noise 2"][:2]
    a, b = (
        stimulus_waveform(s, sampling_rate=RATE, rng=np.random.default_rng(k))
        for k, s in enumerate(repeats)
    )
    assert np.array_equal(a, b)


def test_noise_has_three_epochs_around_rheobase_multiples(full):
    sweep = next(s for s in full if s["stimulus_name"] == "Noise 1")
    i = stimulus_waveform(sweep, sampling_rate=RATE, rng=np.random.default_rng(0)) * 1e12
    start = sweep["stimulus_start_time"]
    for k, scale in enumerate((0.75, 1.0, 1.5)):
        t0 = start + k * 8.0
        epoch = i[int((t0 + 0.1) * RATE) : int((t0 + 2.9) * RATE)]
        assert epoch.mean() == pytest.approx(130.0 * scale, rel=0.1)
        assert epoch.std() / epoch.mean() == pytest.approx(0.2, rel=0.25)
        gap = i[int((t0 + 3.1) * RATE) : int((t0 + 7.9) * RATE)]
        if k < 2:
            assert np.all(gap == 0.0)


def test_fast_protocol_is_smaller_with_the_published_timings(full, fast):
    assert len(fast) < len(full) / 3
    total = sum(sweep_duration_s(s) for s in fast)
    assert total < sum(sweep_duration_s(s) for s in full) / 2.5

    def timings(sweeps: list[dict]) -> set[tuple]:
        return {
            (s["stimulus_name"], s["stimulus_start_time"], s["stimulus_duration"])
            for s in sweeps
            if s["stimulus_name"] != "Short Square - Triple"
        }

    assert timings(fast) <= timings(full)
    assert ("Long Square", 1.02, 0.999995) in timings(fast)
    assert ("Noise 2", 2.02, 18.999995) in timings(fast)


def test_same_generator_seed_gives_same_protocol():
    a = synthetic_sweeps(np.random.default_rng(5), rheobase_pa=70.0)
    b = synthetic_sweeps(np.random.default_rng(5), rheobase_pa=70.0)
    assert a == b


def test_current_clamp_waveform_has_test_pulse_then_step(full):
    sweep = next(
        s
        for s in full
        if s["stimulus_name"] == "Long Square" and s["stimulus_absolute_amplitude"] == 50.0
    )
    i = stimulus_waveform(sweep, sampling_rate=RATE, rng=np.random.default_rng(0)) * 1e12
    assert abs(i.size - 3.02 * RATE) <= 1
    assert i[int((TEST_PULSE_START_S + 0.005) * RATE)] == pytest.approx(TEST_PULSE_AMPLITUDE_PA)
    assert i[int(0.5 * RATE)] == 0.0
    assert i[int(1.5 * RATE)] == pytest.approx(50.0)
    assert i[int(2.5 * RATE)] == 0.0


def test_ramp_rises_at_25_pa_per_second(full):
    sweep = next(s for s in full if s["stimulus_name"] == "Ramp")
    i = stimulus_waveform(sweep, sampling_rate=RATE, rng=np.random.default_rng(0)) * 1e12
    t1, t2 = 3.0, 7.0
    slope = (i[int(t2 * RATE)] - i[int(t1 * RATE)]) / (t2 - t1)
    assert slope == pytest.approx(25.0, rel=0.01)


@pytest.mark.parametrize("record", REAL_SWEEPS, ids=lambda r: r["stimulus_description"])
def test_real_records_make_waveforms(record):
    w = stimulus_waveform(record, sampling_rate=RATE, rng=np.random.default_rng(0))
    assert w.size == int(round(sweep_duration_s(record) * RATE))
    if record["stimulus_units"] == "Volts":
        # Two 10 mV command pulses at 0.03 s and 0.08 s.
        assert w.max() == pytest.approx(0.01, rel=1e-6)
        assert np.count_nonzero(np.diff(w) > 0) == 2
    elif record["stimulus_duration"]:
        on = w[int(record["stimulus_start_time"] * RATE) + 1] * 1e12
        assert on == pytest.approx(record["stimulus_absolute_amplitude"])


def test_triple_has_three_pulses():
    triple = REAL_SWEEPS[3]
    w = stimulus_waveform(triple, sampling_rate=RATE, rng=np.random.default_rng(0))
    after_test_pulse = w[int(0.1 * RATE) :]
    assert np.count_nonzero(np.diff(after_test_pulse) > 0) == 3
