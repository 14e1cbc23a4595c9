"""Model quality metrics: pure functions over spike trains."""

from __future__ import annotations

from ctmirror.metrics.evr import (
    PUBLISHED_SIGMA_S,
    ExplainedVarianceRatio,
    explained_variance,
    explained_variance_ratio,
    gaussian_kernel,
    spike_times_to_indices,
)

__all__ = [
    "PUBLISHED_SIGMA_S",
    "ExplainedVarianceRatio",
    "explained_variance",
    "explained_variance_ratio",
    "gaussian_kernel",
    "spike_times_to_indices",
]
