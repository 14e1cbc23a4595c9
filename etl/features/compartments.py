"""The compartments a morphology feature is computed over: dependency-free, so the command line
can offer them without loading the numeric code."""

from __future__ import annotations

from enum import StrEnum


class Compartment(StrEnum):
    """Which nodes a feature is computed over (the soma root is always kept)."""

    ALL = "all"
    AXON = "axon"
    BASAL_DENDRITE = "basal_dendrite"
    APICAL_DENDRITE = "apical_dendrite"
    DENDRITE = "dendrite"


__all__ = ["Compartment"]
