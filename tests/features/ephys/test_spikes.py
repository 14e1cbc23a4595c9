"""Spike detection and per-spike features against ipfx 2.1.2 (``ipfx`` definitions) and
AllenSDK 2.16.2's extractor (``allen2016``), and the edge cases by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctmirror.features.ephys import (
    ALLEN2016,
    IPFX,
    SPIKE_COLUMNS,
    detect_spikes,
    filtered_dvdt,
    spike_train_features,
    time_index,
)
from ctmirror.features.ephys import spikes as spikes_module
from ctmirror.features.ephys.spike_train import SPIKE_TRAIN_FEATURES

from .reference import cases

POINTS = ("threshold", "peak", "trough", "fast_trough")


def _spike_agrees(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], k: int) -> bool:
    """Times within one sample and voltages within 0.5 mV at threshold, peak, trough and fast
    trough; the same upstroke/downstroke ratio, ADP, slow trough, width and clipping."""
    for point in POINTS:
        want = expected[f"{point}_index"][k]
        if np.isnan(want):
            if got[f"{point}_index"][k] != -1:
                return False
        elif (abs(got[f"{point}_index"][k] - want) > 1
              or abs(got[f"{point}_v"][k] - expected[f"{point}_v"][k]) > 0.5):
            return False
    for column in ("upstroke_downstroke_ratio", "width"):
        if not np.isclose(got[column][k], expected[column][k], rtol=1e-9, atol=0,
                          equal_nan=True):
            return False
    for column in ("adp_index", "slow_trough_index"):
        want = expected[column][k]
        if (got[column][k] != -1) if np.isnan(want) else (got[column][k] != want):
            return False
    return bool(got["clipped"][k] == expected["clipped"][k])


REFERENCES = pytest.mark.parametrize(
    ("reference", "definitions", "n_spikes"),
    [("ipfx", IPFX, 2507), ("allensdk", ALLEN2016, 2507)], ids=["ipfx-2.1.2", "allensdk-2.16.2"])


@REFERENCES
def test_spikes_agree_with_the_reference(synth_snapshot: Path, reference: str,
                                         definitions: object, n_spikes: int) -> None:
    total = agreeing = 0
    counted_cases = 0
    for case in cases(synth_snapshot, reference):
        got = detect_spikes(case.t, case.v, case.i, start=case.start, end=case.end,
                            definitions=definitions)
        n = len(case.expected["threshold_index"])
        counted_cases += 1
        total += max(n, len(got))
        if len(got) != n:
            continue
        columns = {name: got[name] for name in SPIKE_COLUMNS}
        agreeing += sum(_spike_agrees(columns, case.expected, k) for k in range(n))
    print(f"{agreeing} of {total} spikes agree with {reference} over {counted_cases} traces")
    assert counted_cases == 116 and total == n_spikes
    assert agreeing / total >= 0.99


@REFERENCES
def test_spike_train_features_agree_with_the_reference(
    synth_snapshot: Path, reference: str, definitions: object, n_spikes: int
) -> None:
    compared = 0
    for case in cases(synth_snapshot, reference):
        spikes = detect_spikes(case.t, case.v, case.i, start=case.start, end=case.end,
                               definitions=definitions)
        start = case.t[0] if case.start is None else case.start
        end = case.t[-1] if case.end is None else case.end
        features = spike_train_features(spikes, case.t, start, end)
        got = np.array([features[name] for name in SPIKE_TRAIN_FEATURES])
        np.testing.assert_allclose(got, case.train, rtol=1e-9, atol=0, err_msg=case.key)
        compared += 1
    assert compared == 116


def test_real_traces_give_the_same_spikes_under_both_definition_sets() -> None:
    for case in cases(None):
        if case.start is not None:
            continue
        ipfx = detect_spikes(case.t, case.v, definitions=IPFX)
        allen = detect_spikes(case.t, case.v, definitions=ALLEN2016)
        assert len(ipfx) == len(case.expected["threshold_index"]) > 0
        np.testing.assert_array_equal(allen["threshold_index"], ipfx["threshold_index"])
        np.testing.assert_array_equal(allen["peak_index"], ipfx["peak_index"])


def _square_spikes(n_spikes: int, *, clip_last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A resting trace with Gaussian-shaped action potentials every 20 ms from 50 ms on."""
    rate = 200_000.0
    t = np.arange(int(0.3 * rate)) / rate
    v = np.full(t.size, -70.0)
    for k in range(n_spikes):
        centre = 0.05 + 0.02 * k
        v += 100.0 * np.exp(-0.5 * ((t - centre) / 0.0003) ** 2)
    if clip_last:
        last_peak = 0.05 + 0.02 * (n_spikes - 1)
        t, v = t[t <= last_peak + 0.0002], v[t <= last_peak + 0.0002]
    return t, v


def test_no_spikes_gives_an_empty_table_and_zero_rate() -> None:
    t, v = _square_spikes(0)
    spikes = detect_spikes(t, v, definitions=IPFX)
    assert len(spikes) == 0 and set(spikes) == set(SPIKE_COLUMNS)
    features = spike_train_features(spikes, t, 0.0, t[-1])
    assert features["avg_rate"] == 0.0 and np.isnan(features["latency"])


def test_constructed_train_threshold_peak_and_rate() -> None:
    t, v = _square_spikes(5)
    spikes = detect_spikes(t, v, definitions=IPFX)
    assert len(spikes) == 5
    np.testing.assert_allclose(spikes["peak_t"], 0.05 + 0.02 * np.arange(5), atol=5e-6)
    np.testing.assert_allclose(spikes["peak_v"], 30.0, atol=0.01)
    assert np.all(spikes["threshold_v"] < -60.0) and not spikes["clipped"].any()
    # The last spike never reports an ADP or a slow trough.
    assert spikes["adp_index"][-1] == -1 and spikes["slow_trough_index"][-1] == -1
    features = spike_train_features(spikes, t, 0.0, 0.3)
    assert features["avg_rate"] == pytest.approx(5 / 0.3)
    assert features["mean_isi"] == pytest.approx(0.02, abs=1e-5)
    assert features["adapt"] == pytest.approx(0.0, abs=1e-3)


def test_a_spike_cut_off_by_the_end_of_the_trace_is_clipped() -> None:
    t, v = _square_spikes(3, clip_last=True)
    spikes = detect_spikes(t, v, definitions=IPFX)
    assert len(spikes) == 3
    assert spikes["clipped"].tolist() == [False, False, True]
    assert spikes["trough_index"][-1] == -1 and np.isnan(spikes["width"][-1])
    assert np.isnan(spikes["upstroke_downstroke_ratio"][-1])
    assert spikes["trough_index"][0] > spikes["peak_index"][0]


def test_time_index_rules_differ_between_definition_sets() -> None:
    t = np.arange(10) * 0.1
    assert time_index(t, 0.26, ALLEN2016.time_index) == 3  # first sample at or after
    assert time_index(t, 0.26, IPFX.time_index) == 3
    assert time_index(t, 0.24, ALLEN2016.time_index) == 3
    assert time_index(t, 0.24, IPFX.time_index) == 2  # nearest
    assert time_index(t, -1.0, ALLEN2016.time_index) == 0
    for rule in (ALLEN2016.time_index, IPFX.time_index):
        with pytest.raises(ValueError, match="after the sweep|outside the sweep"):
            time_index(t, 5.0, rule)


def test_dvdt_refuses_a_cutoff_above_nyquist_and_skips_filtering_a_ragged_time_base() -> None:
    t = np.arange(100) / 20_000.0
    v = np.sin(t * 300)
    with pytest.raises(ValueError, match="below half the rate"):
        filtered_dvdt(t, v, 10_000.0)
    ragged = t.copy()
    ragged[50:] += 1e-5
    np.testing.assert_allclose(filtered_dvdt(ragged, v, 1_000.0),
                               1e-3 * np.diff(v) / np.diff(ragged))


def test_candidate_crossings_are_the_numpy_definition() -> None:
    """The compiled candidate pass against the published definition written in numpy: upward
    crossings of the cutoff, each after the first kept only when dV/dt went below zero since
    the previous crossing (NaN is neither above the cutoff nor negative)."""

    def by_numpy(dvdt: np.ndarray, cutoff: float) -> np.ndarray:
        above = dvdt >= cutoff
        crossings = np.flatnonzero(~above[:-1] & above[1:])
        negatives = np.concatenate(([0], np.cumsum(dvdt < 0)))
        went_negative = negatives[crossings[1:]] - negatives[crossings[:-1]] > 0
        return np.concatenate((crossings[:1], crossings[1:][went_negative]))

    rng = np.random.default_rng(11)
    levels = np.array([-1.0, 0.0, 5.0, 20.0, 25.0, np.nan])
    for trial in range(2000):
        size = int(rng.integers(0, 80))
        dvdt = rng.choice(levels, size) if trial % 2 else rng.normal(0.0, 20.0, size)
        assert np.array_equal(spikes_module._putative_spikes(dvdt, 20.0), by_numpy(dvdt, 20.0))
