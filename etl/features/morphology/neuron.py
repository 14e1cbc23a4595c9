"""The published ``NeuronReconstruction`` feature columns, one small function each.

Each function reproduces the definition of Vaa3D's ``global_neuron_feature`` (the code behind
the public table) over a :class:`~ctmirror.features.morphology.tree.NeuronTree`: whole-SWC, unscaled
micrometres, the soma root node included. Which nodes each one counts is part of its docstring
because the published numbers depend on it; ``docs/morphology.md`` records how well they agree.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ctmirror.features.morphology.hausdorff import hausdorff_dimension as _hausdorff
from ctmirror.features.morphology.tree import NeuronTree
from ctmirror.features.registry import Level, feature

MORPHOLOGY = Level.MORPHOLOGY

def _mean(values: NDArray[np.float64]) -> float:
    return float(values.mean()) if values.size else float("nan")


def _angle_deg(
    origin: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Angle at ``origin`` between the directions to ``a`` and ``b`` (rows), NaN if degenerate.

    Vaa3D holds coordinates as C ``float`` and forms the differences, dot product and squared
    lengths in single precision; only the square roots and the division are double. That matters
    for children exactly opposite each other: the single-precision cosine falls just below -1,
    the angle is NaN, and the mean counts it as 0 (published values do), so the arithmetic is
    reproduced rather than clipped.
    """
    u = a.astype(np.float32) - origin.astype(np.float32)
    v = b.astype(np.float32) - origin.astype(np.float32)
    dot = u[:, 0] * v[:, 0] + u[:, 1] * v[:, 1] + u[:, 2] * v[:, 2]
    uu = u[:, 0] * u[:, 0] + u[:, 1] * u[:, 1] + u[:, 2] * u[:, 2]
    vv = v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2]
    norm = np.sqrt(uu.astype(np.float64)) * np.sqrt(vv.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        degrees: NDArray[np.float64] = np.degrees(np.arccos(dot.astype(np.float64) / norm))
    return degrees


def _bifurcation_angle_mean(tree: NeuronTree, angles: NDArray[np.float64]) -> float:
    """Vaa3D's mean: degenerate (NaN) angles add 0 but still count in the denominator, which is
    every node with two or more children (disconnected fragments included)."""
    n_bifurcations = int((tree.n_children >= 2).sum())
    if n_bifurcations == 0:
        return float("nan")
    return float(np.nansum(angles) / n_bifurcations)


@feature("number_nodes", MORPHOLOGY, kind=int)
def number_nodes(tree: NeuronTree) -> int:
    """Number of SWC rows, soma and disconnected fragments included."""
    return tree.n_nodes


@feature("soma_surface", MORPHOLOGY)
def soma_surface(tree: NeuronTree) -> float:
    """Surface of a sphere with the root node's radius: 4 pi r^2."""
    return float(4.0 * np.pi * tree.radius[tree.root] ** 2)


@feature("number_stems", MORPHOLOGY, kind=int)
def number_stems(tree: NeuronTree) -> int:
    """Children of the root node."""
    return int(tree.n_children[tree.root])


@feature("number_bifurcations", MORPHOLOGY, kind=int)
def number_bifurcations(tree: NeuronTree) -> int:
    """Nodes with two or more children: the soma counts when it has two or more stems."""
    return int((tree.n_children >= 2).sum())


@feature("number_branches", MORPHOLOGY, kind=int)
def number_branches(tree: NeuronTree) -> int:
    """Segments of the tree connected to the root."""
    return int(tree.segment_end.size)


@feature("number_tips", MORPHOLOGY, kind=int)
def number_tips(tree: NeuronTree) -> int:
    """Nodes without children, disconnected fragments included."""
    return int((tree.n_children == 0).sum())


def _extent(values: NDArray[np.float64]) -> float:
    return float(values.max() - values.min())


@feature("overall_width", MORPHOLOGY)
def overall_width(tree: NeuronTree) -> float:
    """Extent of all nodes along x."""
    return _extent(tree.xyz[:, 0])


@feature("overall_height", MORPHOLOGY)
def overall_height(tree: NeuronTree) -> float:
    """Extent of all nodes along y."""
    return _extent(tree.xyz[:, 1])


@feature("overall_depth", MORPHOLOGY)
def overall_depth(tree: NeuronTree) -> float:
    """Extent of all nodes along z."""
    return _extent(tree.xyz[:, 2])


@feature("average_diameter", MORPHOLOGY)
def average_diameter(tree: NeuronTree) -> float:
    """Sum of 2r over nodes with a parent, divided by the number of all nodes."""
    return float((2.0 * tree.radius[tree.has_parent]).sum() / tree.n_nodes)


@feature("total_length", MORPHOLOGY)
def total_length(tree: NeuronTree) -> float:
    """Sum of node-to-parent distances (the soma-centre links included)."""
    return float(tree.link_length.sum())


@feature("total_surface", MORPHOLOGY)
def total_surface(tree: NeuronTree) -> float:
    """Sum of cylinder sides 2 pi r l, r being the child node's radius."""
    return float((2.0 * np.pi * tree.radius * tree.link_length).sum())


@feature("total_volume", MORPHOLOGY)
def total_volume(tree: NeuronTree) -> float:
    """Sum of cylinders pi r^2 l, r being the child node's radius."""
    return float((np.pi * tree.radius**2 * tree.link_length).sum())


@feature("max_euclidean_distance", MORPHOLOGY)
def max_euclidean_distance(tree: NeuronTree) -> float:
    """Largest straight-line distance from the root to a node with a parent."""
    delta = tree.xyz[tree.has_parent] - tree.xyz[tree.root]
    if delta.size == 0:
        return 0.0
    return float(np.sqrt((delta * delta).sum(axis=1)).max())


@feature("max_path_distance", MORPHOLOGY)
def max_path_distance(tree: NeuronTree) -> float:
    """Largest path length from the root along the tree."""
    return float(np.nanmax(tree.path_distance))


@feature("max_branch_order", MORPHOLOGY)
def max_branch_order(tree: NeuronTree) -> float:
    """Largest number of segments between the root and a node (stems are order 1)."""
    return float(tree.segment_order.max()) if tree.segment_order.size else 0.0


@feature("average_contraction", MORPHOLOGY)
def average_contraction(tree: NeuronTree) -> float:
    """Mean over segments of chord / path length (segments of zero length left out)."""
    path = tree.segment_path_length
    positive = path > 0
    return _mean(tree.segment_chord[positive] / path[positive])


@feature("average_fragmentation", MORPHOLOGY)
def average_fragmentation(tree: NeuronTree) -> float:
    """Mean over segments of the number of single-child nodes inside the segment."""
    return _mean(tree.segment_inner_nodes)


@feature("average_parent_daughter_ratio", MORPHOLOGY)
def average_parent_daughter_ratio(tree: NeuronTree) -> float:
    """Mean over segments of r(head) / r(start), segments whose start has radius 0 left out."""
    start_radius = tree.radius[tree.segment_start]
    positive = start_radius > 0
    return _mean(tree.radius[tree.segment_head][positive] / start_radius[positive])


@feature("average_bifurcation_angle_local", MORPHOLOGY)
def average_bifurcation_angle_local(tree: NeuronTree) -> float:
    """Mean angle (degrees) at each branch node between its first two children (file order)."""
    children = tree.first_two_children
    angles = _angle_deg(
        tree.xyz[tree.branch_nodes], tree.xyz[children[:, 0]], tree.xyz[children[:, 1]]
    )
    return _bifurcation_angle_mean(tree, angles)


@feature("average_bifurcation_angle_remote", MORPHOLOGY)
def average_bifurcation_angle_remote(tree: NeuronTree) -> float:
    """As the local angle, towards the ends of the segments the first two children start."""
    ends = tree.head_end[tree.first_two_children]
    angles = _angle_deg(tree.xyz[tree.branch_nodes], tree.xyz[ends[:, 0]], tree.xyz[ends[:, 1]])
    return _bifurcation_angle_mean(tree, angles)


@feature("hausdorff_dimension", MORPHOLOGY)
def hausdorff_dimension(tree: NeuronTree) -> float:
    """Box-counting dimension of the links on Vaa3D's integer lattice."""
    return _hausdorff(tree.xyz, tree.parent)
