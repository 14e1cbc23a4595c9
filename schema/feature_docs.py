"""What every published feature column means, with its unit: the one mapping of feature name to
description.

The warehouse columns that hold a feature (``ephys_features``, ``ephys_features_recomputed``,
``neuron_reconstructions``, ``morphology_features_recomputed``, the cell list's ``ef__`` and
``nr__`` values) and the analyst views that show one (``cells``, ``reconstruction_summary``)
take their descriptions from here. Meanings and units follow the published tables (AllenSDK's
2016 feature extractor and Vaa3D's ``global_neuron_feature``; ``docs/ephys.md``,
``docs/morphology.md``): times of the first spike are seconds from the start of the sweep,
voltages mV, currents pA.
"""

from __future__ import annotations

from ctmirror.features.names import (
    CELL_LIST_COLUMNS,
    EPHYS_CELL_FEATURES,
    RECONSTRUCTION_COLUMNS,
)

_CELL_LEVEL = {
    "vrest": "resting membrane potential: mean baseline before the stimulus of the long "
             "squares (mV)",
    "ri": "input resistance: slope of the voltage-current fit of the subthreshold long "
          "squares (MΩ)",
    "tau": "membrane time constant: exponential fit to the onset of the subthreshold long "
           "squares (ms)",
    "sag": "sag ratio of the hyperpolarising long square nearest -100 mV (dimensionless)",
    "vm_for_sag": "membrane potential the sag was measured at (mV)",
    "f_i_curve_slope": "slope of firing rate against stimulus amplitude over the spiking long "
                       "squares (Hz/pA)",
    "adaptation": "spike-frequency adaptation index of the hero long square (dimensionless)",
    "latency": "time from stimulus onset to the first spike of the hero long square (s)",
    "avg_isi": "mean interspike interval of the hero long square (ms)",
}

_POINTS = {
    "threshold_i": ("stimulus current at the threshold", "pA"),
    "threshold_t": ("time of the threshold", "s from sweep start"),
    "threshold_v": ("membrane potential at the threshold", "mV"),
    "peak_t": ("time of the peak", "s from sweep start"),
    "peak_v": ("membrane potential at the peak", "mV"),
    "trough_t": ("time of the trough", "s from sweep start"),
    "trough_v": ("membrane potential at the trough", "mV"),
    "fast_trough_t": ("time of the fast trough", "s from sweep start"),
    "fast_trough_v": ("membrane potential at the fast trough", "mV"),
    "slow_trough_t": ("time of the slow trough", "s from sweep start"),
    "slow_trough_v": ("membrane potential at the slow trough", "mV"),
    "upstroke_downstroke_ratio": ("upstroke / downstroke ratio", "dimensionless"),
}

_PROTOCOLS = {
    "long_square": "of the rheobase long square",
    "short_square": "averaged over the spiking short squares at their most common amplitude",
    "ramp": "averaged over the spiking ramps",
}

_FLAGS = {
    "has_burst": "the hero sweep starts with a burst (true/false; empty in the 2016+ "
                 "definitions)",
    "has_pause": "the hero sweep has a pause (true/false; empty in the 2016+ definitions)",
    "has_delay": "the first spike of the hero sweep is delayed (true/false; empty in the 2016+ "
                 "definitions)",
}

_MORPHOLOGY = {
    "average_bifurcation_angle_local": "mean angle between the first two children at each "
                                       "branch point (degrees)",
    "average_bifurcation_angle_remote": "mean angle between the end points of the first two "
                                        "segments at each branch point (degrees)",
    "average_contraction": "mean ratio of straight-line to path length of the segments "
                           "(dimensionless)",
    "average_diameter": "mean node diameter (µm)",
    "average_fragmentation": "mean number of nodes inside a segment (count)",
    "average_parent_daughter_ratio": "mean ratio of a segment's first radius to its parent's "
                                     "(dimensionless)",
    "hausdorff_dimension": "box-counting (Hausdorff) dimension of the tree (dimensionless)",
    "max_branch_order": "largest number of segments from the soma to a node (count)",
    "max_euclidean_distance": "largest straight-line distance from the soma to a node (µm)",
    "max_path_distance": "largest path distance from the soma to a node (µm)",
    "number_bifurcations": "branch points, the soma included when it has two or more stems "
                           "(count)",
    "number_branches": "segments between branch points and tips (count)",
    "number_nodes": "nodes of the SWC file (count)",
    "number_stems": "segments leaving the soma (count)",
    "number_tips": "nodes without children (count)",
    "overall_depth": "extent along z (µm)",
    "overall_height": "extent along y (µm)",
    "overall_width": "extent along x (µm)",
    "soma_surface": "soma surface, 4πr² (µm²)",
    "total_length": "summed length of every link between a node and its parent (µm)",
    "total_surface": "summed surface of every link (µm²)",
    "total_volume": "summed volume of every link (µm³)",
}

def _first_spike(name: str) -> str:
    for point, (what, unit) in _POINTS.items():
        for protocol, where in _PROTOCOLS.items():
            if name == f"{point}_{protocol}":
                return f"{what} of the first spike {where} ({unit})"
    raise KeyError(name)


def _cell_list(name: str) -> str:
    return f"the cell list's value, dendrites only: {_MORPHOLOGY[name.removeprefix('nr__')]}"


#: Every feature column by name: what it is, with its unit in brackets.
FEATURE_DESCRIPTIONS: dict[str, str] = {
    **{name: _CELL_LEVEL.get(name) or _first_spike(name) for name in EPHYS_CELL_FEATURES},
    **_FLAGS,
    **{name: _MORPHOLOGY[name] for name in RECONSTRUCTION_COLUMNS},
    **{name: _cell_list(name) for name in CELL_LIST_COLUMNS},
}

__all__ = ["FEATURE_DESCRIPTIONS"]
