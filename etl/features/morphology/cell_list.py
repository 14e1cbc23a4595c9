"""The five ``nr__`` values of the cell list (``ApiCellTypesSpecimenDetail``).

They are not copies of the reconstruction columns of the same name: measured against the
published cell list, they follow the later neuron_morphology definitions over the **dendrite**
(basal and apical nodes, the soma node stripped), where the soma-to-stem segments are not
sections and trifurcations count as two bifurcations. Distances are still measured from the soma
node. ``docs/morphology.md`` gives the agreement figures.
"""

from __future__ import annotations

import numpy as np

from ctmirror.features.morphology.tree import NeuronTree
from ctmirror.features.registry import Level, feature


def _branch_nodes(tree: NeuronTree) -> np.ndarray:
    """Dendrite nodes other than the soma with two or more children."""
    is_branch = tree.n_children >= 2
    is_branch[tree.root] = False
    return np.flatnonzero(is_branch)


@feature("nr__max_euclidean_distance", Level.MORPHOLOGY)
def max_euclidean_distance(tree: NeuronTree) -> float:
    """Largest straight-line distance from the soma node to a dendrite node."""
    dendrite = tree.dendrite
    delta = np.delete(dendrite.xyz, dendrite.root, axis=0) - dendrite.xyz[dendrite.root]
    return float(np.sqrt((delta * delta).sum(axis=1)).max()) if delta.size else float("nan")


@feature("nr__number_stems", Level.MORPHOLOGY, kind=int)
def number_stems(tree: NeuronTree) -> int:
    """Dendrite nodes whose parent is the soma node."""
    return int(tree.dendrite.n_children[tree.dendrite.root])


@feature("nr__number_bifurcations", Level.MORPHOLOGY, kind=int)
def number_bifurcations(tree: NeuronTree) -> int:
    """Dendrite branch points, a node with k children counting as k - 1 bifurcations."""
    dendrite = tree.dendrite
    return int((dendrite.n_children[_branch_nodes(dendrite)] - 1).sum())


@feature("nr__average_contraction", Level.MORPHOLOGY)
def average_contraction(tree: NeuronTree) -> float:
    """Summed chord over summed path length of the dendrite sections that start at a branch
    point (the stems' first sections, from the soma, are left out)."""
    dendrite = tree.dendrite
    inner = dendrite.segment_start != dendrite.root
    path = dendrite.segment_path_length[inner].sum()
    return float(dendrite.segment_chord[inner].sum() / path) if path > 0 else float("nan")


@feature("nr__average_parent_daughter_ratio", Level.MORPHOLOGY)
def average_parent_daughter_ratio(tree: NeuronTree) -> float:
    """Mean over dendrite branch points of (mean radius of the children) / (own radius)."""
    dendrite = tree.dendrite
    nodes = _branch_nodes(dendrite)
    nodes = nodes[dendrite.radius[nodes] > 0]
    if nodes.size == 0:
        return float("nan")
    children = np.flatnonzero(dendrite.has_parent)
    radius_sum = np.bincount(
        dendrite.parent[children], weights=dendrite.radius[children], minlength=dendrite.n_nodes
    )
    child_mean = radius_sum[nodes] / dendrite.n_children[nodes]
    return float((child_mean / dendrite.radius[nodes]).mean())
