"""The published Allen column names the recomputed features fill: the one list of them.

The feature registry (:mod:`ctmirror.features.registry`) accepts a feature only under a name
listed here for its level, and refuses to leave one of them unregistered; the warehouse tables
of recomputed features (``ctmirror.schema.ephys_recomputed``,
``ctmirror.schema.morphology_recomputed``) take their columns, in this order, from here.
Standard library only: the schema reads it without loading any numeric code.
"""

from __future__ import annotations

#: The published ``NeuronReconstruction`` feature columns, in the table's order.
RECONSTRUCTION_COLUMNS: tuple[str, ...] = (
    "average_bifurcation_angle_local",
    "average_bifurcation_angle_remote",
    "average_contraction",
    "average_diameter",
    "average_fragmentation",
    "average_parent_daughter_ratio",
    "hausdorff_dimension",
    "max_branch_order",
    "max_euclidean_distance",
    "max_path_distance",
    "number_bifurcations",
    "number_branches",
    "number_nodes",
    "number_stems",
    "number_tips",
    "overall_depth",
    "overall_height",
    "overall_width",
    "soma_surface",
    "total_length",
    "total_surface",
    "total_volume",
)
#: The cell list's (``ApiCellTypesSpecimenDetail``) reconstruction values.
CELL_LIST_COLUMNS: tuple[str, ...] = (
    "nr__max_euclidean_distance",
    "nr__number_stems",
    "nr__number_bifurcations",
    "nr__average_contraction",
    "nr__average_parent_daughter_ratio",
)

#: The current-clamp protocols the cell-level ephys features come from.
EPHYS_PROTOCOLS: tuple[str, ...] = ("long_square", "short_square", "ramp")
#: What the ``EphysFeature`` columns give of a protocol's first spike (``<name>_<protocol>``).
FIRST_SPIKE_FEATURES: tuple[str, ...] = (
    "threshold_i", "threshold_t", "threshold_v", "peak_t", "peak_v", "trough_t", "trough_v",
    "fast_trough_t", "fast_trough_v", "slow_trough_t", "slow_trough_v",
    "upstroke_downstroke_ratio",
)
#: The published ``EphysFeature`` columns recomputed from a cell's sweeps, in table order.
EPHYS_CELL_FEATURES: tuple[str, ...] = (
    "vrest", "ri", "tau", "sag", "vm_for_sag", "f_i_curve_slope", "adaptation", "latency",
    "avg_isi",
    *(f"{name}_{protocol}" for protocol in EPHYS_PROTOCOLS for name in FIRST_SPIKE_FEATURES),
)
#: Published ``EphysFeature`` flags the 2016+ definitions leave empty (NULL, as published).
EPHYS_CELL_FLAGS: tuple[str, ...] = ("has_burst", "has_pause", "has_delay")

#: The names a feature may be registered under, by registry level (``Level`` value).
DECLARED: dict[str, tuple[str, ...]] = {
    "morphology": (*RECONSTRUCTION_COLUMNS, *CELL_LIST_COLUMNS),
    "cell": (*EPHYS_CELL_FEATURES, *EPHYS_CELL_FLAGS),
}

__all__ = [
    "CELL_LIST_COLUMNS",
    "DECLARED",
    "EPHYS_CELL_FEATURES",
    "EPHYS_CELL_FLAGS",
    "EPHYS_PROTOCOLS",
    "FIRST_SPIKE_FEATURES",
    "RECONSTRUCTION_COLUMNS",
]
