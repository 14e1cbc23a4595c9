"""The simulated neuron lands on published cell features and fires realistic spikes."""

from __future__ import annotations

import numpy as np
import pytest

from ctmirror.replica.corpus import neuron_sim
from ctmirror.replica.corpus.neuron_sim import (
    CellParams,
    detect_spike_thresholds,
    simulate,
    tune_cell_params,
)

RATE = 200000.0
DT = 1.0 / RATE

# Published ApiCellTypesSpecimenDetail values (ef__vrest, ef__ri, ef__tau,
# ef__threshold_i_long_square) of three real cells, and whether they are aspiny.
REAL_CELLS = {
    525011903: (-70.56103515625, 159.531131386757, 21.1810256736186, 90.0, False),  # human spiny
    565871768: (-74.9269866943359, 119.977675378323, 11.2910900095904, 270.0, True),  # mouse aspiny
    324257146: (-72.5818023681641, 245.312497019768, 19.4160461077829, 130.0, True),  # mouse aspiny
}


@pytest.fixture(scope="module")
def tuned() -> dict[int, CellParams]:
    return {
        sid: tune_cell_params(vrest_mv=v, ri_mohm=ri, tau_ms=tau, rheobase_pa=rh, fast_spiking=fs)
        for sid, (v, ri, tau, rh, fs) in REAL_CELLS.items()
    }


def _long_square(amplitude_pa: float, *, start_s: float = 0.3, length_s: float = 1.0) -> np.ndarray:
    stim = np.zeros(int((start_s + length_s + 0.2) * RATE))
    stim[int(start_s * RATE) : int((start_s + length_s) * RATE)] = amplitude_pa * 1e-12
    return stim


@pytest.mark.parametrize("specimen_id", sorted(REAL_CELLS))
def test_passive_properties_match_published_values(tuned, specimen_id):
    vrest, ri, tau, rheobase, _ = REAL_CELLS[specimen_id]
    params = tuned[specimen_id]
    v = simulate(params, np.zeros(int(0.3 * RATE)), DT, seed=1) * 1e3
    assert abs(v.mean() - vrest) < 0.5
    ri_meas, tau_meas = neuron_sim.measure_passive(params)
    assert ri_meas == pytest.approx(ri, rel=0.05)
    assert tau_meas == pytest.approx(tau, rel=0.05)
    assert neuron_sim.measure_rheobase(params) == pytest.approx(rheobase, abs=3.0)


@pytest.mark.parametrize("specimen_id", sorted(REAL_CELLS))
def test_first_spiking_long_square_is_near_rheobase(tuned, specimen_id):
    rheobase = REAL_CELLS[specimen_id][3]
    grid = np.arange(-110.0, rheobase + 161.0, 20.0)
    candidates = grid[(grid > rheobase - 60.0) & (grid < rheobase + 60.0)]
    first = next(
        amp
        for k, amp in enumerate(candidates)
        if detect_spike_thresholds(
            simulate(tuned[specimen_id], _long_square(amp), DT, seed=k) * 1e3, RATE
        ).size
    )
    assert abs(first - rheobase) <= 40.0


def _spike_shapes(v_mv: np.ndarray) -> list[dict[str, float]]:
    shapes = []
    for thr in detect_spike_thresholds(v_mv, RATE):
        peak = thr + int(np.argmax(v_mv[thr : thr + int(0.002 * RATE)]))
        trough = peak + int(np.argmin(v_mv[peak : peak + int(0.005 * RATE)]))
        half = (v_mv[peak] + v_mv[thr]) / 2.0
        above = np.flatnonzero(v_mv[thr:trough] >= half)
        shapes.append(
            {
                "threshold": v_mv[thr],
                "peak": v_mv[peak],
                "trough": v_mv[trough],
                "width_ms": above.size / RATE * 1e3,
            }
        )
    return shapes


@pytest.mark.parametrize("specimen_id", sorted(REAL_CELLS))
def test_suprathreshold_spikes_have_realistic_shape(tuned, specimen_id):
    rheobase = REAL_CELLS[specimen_id][3]
    v = simulate(tuned[specimen_id], _long_square(rheobase + 60.0), DT, seed=3) * 1e3
    shapes = _spike_shapes(v)
    assert len(shapes) >= 2
    for s in shapes:
        assert -55.0 <= s["threshold"] <= -35.0
        assert s["peak"] > 0.0
        assert 0.3 <= s["width_ms"] <= 2.0
        assert s["trough"] < s["threshold"] - 5.0


def test_aspiny_spikes_are_narrower_than_spiny(tuned):
    widths = {}
    for sid in (525011903, 565871768):
        rheobase = REAL_CELLS[sid][3]
        v = simulate(tuned[sid], _long_square(rheobase + 40.0), DT, seed=4) * 1e3
        widths[sid] = np.median([s["width_ms"] for s in _spike_shapes(v)])
    assert widths[565871768] < 0.6 < widths[525011903]


@pytest.mark.parametrize("specimen_id", sorted(REAL_CELLS))
def test_no_spikes_well_below_rheobase(tuned, specimen_id):
    rheobase = REAL_CELLS[specimen_id][3]
    v = simulate(tuned[specimen_id], _long_square(rheobase - 60.0), DT, seed=5) * 1e3
    assert detect_spike_thresholds(v, RATE).size == 0
    assert v.max() < -40.0


def test_hyperpolarisation_shows_sag(tuned):
    params = tuned[525011903]
    v = simulate(params, _long_square(-110.0), DT, seed=6) * 1e3
    stim_on, stim_off = int(0.3 * RATE), int(1.3 * RATE)
    v_min = v[stim_on:stim_off].min()
    v_steady = v[stim_off - int(0.1 * RATE) : stim_off].mean()
    assert v_steady - v_min > 1.0


def test_simulation_is_deterministic_per_seed(tuned):
    params = tuned[525011903]
    stim = _long_square(150.0, length_s=0.3)
    a, b = simulate(params, stim, DT, seed=9), simulate(params, stim, DT, seed=9)
    c = simulate(params, stim, DT, seed=10)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_noise_level_is_like_published_sweeps(tuned):
    v = simulate(tuned[525011903], np.zeros(int(0.5 * RATE)), DT, seed=2) * 1e3
    # pre_noise_rms_mv of published Long Squares is 0.02-0.07 mV over 1.5 ms windows.
    windows = v[: v.size // 300 * 300].reshape(-1, 300)
    rms = np.sqrt(np.mean((windows - windows.mean(axis=1, keepdims=True)) ** 2))
    assert 0.02 < rms < 0.1


def test_detector_finds_threshold_before_a_synthetic_spike():
    t = np.arange(int(0.02 * RATE)) / RATE
    v = np.full(t.size, -70.0)
    onset = int(0.01 * RATE)
    rise = np.linspace(-50.0, 30.0, int(0.0004 * RATE))
    v[onset - 200 : onset] = np.linspace(-70.0, -50.0, 200)
    v[onset : onset + rise.size] = rise
    fall = np.linspace(30.0, -75.0, int(0.001 * RATE))
    v[onset + rise.size : onset + rise.size + fall.size] = fall
    v[onset + rise.size + fall.size :] = -75.0
    found = detect_spike_thresholds(v, RATE)
    assert found.size == 1
    assert onset - 220 <= found[0] <= onset + 20


def test_tuning_rejects_impossible_values():
    from ctmirror.errors import ConfigError

    with pytest.raises(ConfigError):
        tune_cell_params(vrest_mv=-70, ri_mohm=-5, tau_ms=20, rheobase_pa=100, fast_spiking=False)
