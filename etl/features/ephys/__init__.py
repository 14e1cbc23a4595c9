"""Electrophysiology features recomputed from sweeps: pure functions over arrays (t in s,
v in mV, i in pA), with the published definitions (``allen2016``) or ipfx's (``ipfx``)."""

from ctmirror.features.ephys.definitions import (
    ALLEN2016,
    DEFINITIONS,
    IPFX,
    Definitions,
    SpikeDetection,
    TroughDetails,
    definitions,
)
from ctmirror.features.ephys.dvdt import filtered_dvdt, has_uniform_dt, time_index
from ctmirror.features.ephys.spike_train import (
    SPIKE_TRAIN_FEATURES,
    adaptation_index,
    adjusted_short_square_detection,
    spike_train_features,
)
from ctmirror.features.ephys.spikes import SPIKE_COLUMNS, SpikeTable, detect_spikes

__all__ = [
    "ALLEN2016",
    "DEFINITIONS",
    "IPFX",
    "SPIKE_COLUMNS",
    "SPIKE_TRAIN_FEATURES",
    "Definitions",
    "SpikeDetection",
    "SpikeTable",
    "TroughDetails",
    "adaptation_index",
    "adjusted_short_square_detection",
    "definitions",
    "detect_spikes",
    "filtered_dvdt",
    "has_uniform_dt",
    "spike_train_features",
    "time_index",
]
