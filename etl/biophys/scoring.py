"""The feature-average error of a biophysical model against its cell's training sweeps.

The published method (``docs/biophysical.md``, after biophys_optimize's
``Utils.calculate_feature_errors``): the targets are the mean and standard deviation over the
fit's training sweeps of each feature (spike features: the sweep's mean over its spikes), the
standard deviation floored per feature; the model's value is the same feature of its response to
the same stimulus; a feature's error is ``|model - target mean| / target sd``, 20 when the model
has no value; the feature average is the mean of the errors. Pure numbers: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: The stage-2 features of the published fits that the project's feature code computes, with
#: the floor of their target standard deviation (biophys_optimize's ``target_features``).
FEATURE_SD_FLOORS: Mapping[str, float] = {
    "avg_rate": 0.5,
    "peak_v": 2.0,
    "fast_trough_v": 2.0,
    "width": 1e-4,
    "adapt": 0.001,
    "latency": 0.005,
    "isi_cv": 0.1,
    "mean_isi": 0.005,
    "first_isi": 0.001,
}
#: The error of a feature the model's response does not have (published: 20).
MISSING_ERROR = 20.0


@dataclass(frozen=True)
class FeatureScore:
    feature: str
    model_value: float | None
    target_mean: float | None
    target_sd: float | None
    #: Training sweeps with a value of this feature.
    target_sweeps: int
    #: ``|model - mean| / sd``; ``MISSING_ERROR`` when the model has no value; None when the
    #: recording has none either (the feature is left out of the average).
    error: float | None


def feature_scores(model: Sequence[Mapping[str, float | None]],
                   recorded: Sequence[Mapping[str, float | None]]) -> list[FeatureScore]:
    """Per feature: the model's mean over its responses, the recorded mean and floored sd over
    the training sweeps, and the error."""
    scores = []
    for name, floor in FEATURE_SD_FLOORS.items():
        targets = _values(recorded, name)
        values = _values(model, name)
        model_value = float(np.mean(values)) if values.size else None
        if not targets.size:
            scores.append(FeatureScore(name, model_value, None, None, 0, None))
            continue
        mean = float(np.mean(targets))
        sd = max(float(np.std(targets)), floor)
        error = MISSING_ERROR if model_value is None else abs(model_value - mean) / sd
        scores.append(FeatureScore(name, model_value, mean, sd, int(targets.size), error))
    return scores


def feature_average(scores: Sequence[FeatureScore]) -> float | None:
    """Mean error over the features the recording has; None when it has none."""
    errors = [s.error for s in scores if s.error is not None]
    return float(np.mean(errors)) if errors else None


def _values(responses: Sequence[Mapping[str, float | None]], name: str) -> np.ndarray:
    found = [r.get(name) for r in responses]
    return np.array([v for v in found if v is not None and np.isfinite(v)], dtype=np.float64)


__all__ = ["FEATURE_SD_FLOORS", "MISSING_ERROR", "FeatureScore", "feature_average",
           "feature_scores"]
