"""The simulator against stored AllenSDK 2.16.2 ``GlifNeuron.run`` outputs on every real config."""

from __future__ import annotations

import numpy as np
import pytest

from ctmirror.glif import simulate
from tests.glif import reference

RUNS = reference.runs()
VOLTAGE_ATOL = 1e-9  # V
TIME_ATOL = 1e-12  # s


def _first_divergence(ours: np.ndarray, theirs: np.ndarray) -> int:
    """Index of the first spike that differs (len of the shorter train if one is a prefix)."""
    shared = min(ours.size, theirs.size)
    differs = np.flatnonzero(ours[:shared] != theirs[:shared])
    return int(differs[0]) if differs.size else shared


def test_reference_covers_all_levels_and_quirks():
    levels = {run.config.level for run in RUNS}
    variants = {run.variant for run in RUNS}
    assert levels == {1, 2, 3, 4, 5}
    assert {"cut0", "bad_reset", "cut_past_end"} <= variants
    assert sum(run.arrays["spike_time_steps"].size for run in RUNS) > 2000


def test_spike_steps_identical_for_at_least_999_per_mille():
    total = matched = 0
    for run in RUNS:
        theirs = run.arrays["spike_time_steps"]
        ours = simulate(run.config, run.stimulus, reference.meta()["dt"]).spike_time_steps
        total += max(ours.size, theirs.size)
        matched += _first_divergence(ours, theirs)
    assert matched / total >= 0.999


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r.key}-{r.config_path.split('/')[0]}-"
                                                     f"{r.stimulus_kind}-{r.variant or 'real'}")
def test_trace_matches_reference_up_to_first_divergence(run: reference.ReferenceRun):
    result = simulate(run.config, run.stimulus, reference.meta()["dt"])
    theirs = run.arrays["spike_time_steps"]
    agree = _first_divergence(result.spike_time_steps, theirs)
    # compare samples before the first spike that differs (all of them when none differs)
    if agree < theirs.size:
        horizon = int(min(theirs[agree], result.spike_time_steps[agree]
                          if agree < result.spike_time_steps.size else theirs[agree]))
    else:
        horizon = run.stimulus.size
    idx = run.arrays["sample_index"]
    keep = idx < horizon
    np.testing.assert_allclose(result.voltage[idx[keep]], run.arrays["voltage"][keep],
                               rtol=0, atol=VOLTAGE_ATOL, equal_nan=True)
    np.testing.assert_allclose(result.threshold[idx[keep]], run.arrays["threshold"][keep],
                               rtol=0, atol=VOLTAGE_ATOL, equal_nan=True)
    for name, atol in (("interpolated_spike_times", TIME_ATOL),
                       ("interpolated_spike_voltage", VOLTAGE_ATOL),
                       ("interpolated_spike_threshold", VOLTAGE_ATOL)):
        np.testing.assert_allclose(getattr(result, name)[:agree], run.arrays[name][:agree],
                                   rtol=0, atol=atol)
    np.testing.assert_array_equal(result.grid_spike_times[:agree],
                                  theirs[:agree] * reference.meta()["dt"])


def test_bad_reset_stops_the_run_like_the_reference():
    run = next(r for r in RUNS if r.variant == "bad_reset")
    result = simulate(run.config, run.stimulus, reference.meta()["dt"])
    np.testing.assert_array_equal(result.spike_time_steps, run.arrays["spike_time_steps"])
    assert result.spike_time_steps.size == 1
    step = result.bad_reset_step
    assert step == result.spike_time_steps[0]
    cut = run.config.spike_cut_length
    assert np.isnan(result.voltage[step: step + cut]).all()
    # the reset sample plus five more hold the reset state (V above threshold), then NaN
    held_v = result.voltage[step + cut: step + cut + 6]
    held_th = result.threshold[step + cut: step + cut + 6]
    assert np.all(held_v == held_v[0]) and np.all(held_th == held_th[0])
    assert held_v[0] > held_th[0]
    assert np.isnan(result.voltage[step + cut + 6:]).all()


def test_cut_past_end_leaves_trailing_nans():
    run = next(r for r in RUNS if r.variant == "cut_past_end")
    result = simulate(run.config, run.stimulus, reference.meta()["dt"])
    assert result.spike_time_steps.size == 1
    last = int(result.spike_time_steps[-1])
    assert last + run.config.spike_cut_length >= run.stimulus.size
    assert np.isnan(result.voltage[last:]).all()
    assert not np.isnan(result.voltage[:last]).any()
