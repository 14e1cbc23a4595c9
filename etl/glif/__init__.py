"""GLIF neuron models 1-5: parameters and an exact, compiled re-implementation of AllenSDK's run."""

from __future__ import annotations

from ctmirror.glif.config import (
    AscDynamics,
    AscReset,
    GlifCoeffs,
    GlifConfig,
    ThresholdDynamics,
    ThresholdReset,
    VoltageDynamics,
    VoltageReset,
)
from ctmirror.glif.simulate import GlifResult, simulate

__all__ = [
    "AscDynamics",
    "AscReset",
    "GlifCoeffs",
    "GlifConfig",
    "GlifResult",
    "ThresholdDynamics",
    "ThresholdReset",
    "VoltageDynamics",
    "VoltageReset",
    "simulate",
]
