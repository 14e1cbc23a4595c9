"""The feature-average error and the stage's skip without NEURON (no NEURON needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ctmirror.biophys import INSTALL_HINT
from ctmirror.biophys.scoring import FEATURE_SD_FLOORS, feature_average, feature_scores
from ctmirror.settings import Settings
from ctmirror.sync import STEPS
from ctmirror.warehouse import migrate


def test_errors_are_distance_in_floored_sds_and_missing_is_20() -> None:
    recorded = [{"avg_rate": 10.0, "peak_v": 30.0, "width": 0.0010, "latency": None},
                {"avg_rate": 14.0, "peak_v": 31.0, "width": 0.0012, "latency": None}]
    model = [{"avg_rate": 16.0, "peak_v": 36.0, "width": None, "latency": 0.02}]
    scores = {s.feature: s for s in feature_scores(model, recorded)}
    assert set(scores) == set(FEATURE_SD_FLOORS)
    # sd over the sweeps (2.0 Hz) is above the 0.5 floor: (16 - 12) / 2
    assert scores["avg_rate"].target_sd == 2.0 and scores["avg_rate"].error == 2.0
    # sd 0.5 mV is floored to 2 mV: |36 - 30.5| / 2
    assert scores["peak_v"].target_sd == 2.0 and scores["peak_v"].error == 2.75
    assert scores["width"].error == 20.0 and scores["width"].target_sweeps == 2
    # no recorded value: left out of the average, whatever the model has
    assert scores["latency"].error is None and scores["latency"].model_value == 0.02
    assert feature_average(list(scores.values())) == pytest.approx((2.0 + 2.75 + 20.0) / 3)
    assert feature_average(feature_scores(model, [{}])) is None


def test_stage_without_neuron_is_skipped_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "neuron" else real(name, *a))
    settings = Settings()
    settings.root = tmp_path
    settings.warehouse.url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    config = settings.sync_config()
    migrate.upgrade(config.warehouse_url)
    [step] = [s for s in STEPS if s.name == "biophysical-metrics"]
    report = step.run(config, "s", False)
    assert report.summary() == f"skipped: {INSTALL_HINT}"
    settings.features.biophys = False
    assert step.run(settings.sync_config(), "s", False).summary() == \
        "skipped: off (features.biophys)"
