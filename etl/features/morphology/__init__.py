"""Morphology features of one reconstruction, by published column name.

Importing this package registers, at level ``morphology``, the 22 ``NeuronReconstruction``
columns (:mod:`.neuron`) and the five ``nr__`` values of the cell list (:mod:`.cell_list`), as
:mod:`ctmirror.features.names` lists them (a name left out is an error on import).
:func:`compute_morphology_features` evaluates them over the whole cell (the published
definition) or over one compartment.
"""

from __future__ import annotations

# Importing the feature modules registers their features.
from ctmirror.features.morphology import cell_list, neuron  # noqa: F401
from ctmirror.features.morphology.tree import COMPARTMENT_TYPES, Compartment, NeuronTree, NodeArrays
from ctmirror.features.names import CELL_LIST_COLUMNS, RECONSTRUCTION_COLUMNS
from ctmirror.features.registry import Level, check_complete, get, to_builtin

check_complete(Level.MORPHOLOGY)

__all__ = [
    "CELL_LIST_COLUMNS",
    "COMPARTMENT_TYPES",
    "Compartment",
    "NeuronTree",
    "NodeArrays",
    "RECONSTRUCTION_COLUMNS",
    "compute_morphology_features",
    "morphology_feature_names",
]


def morphology_feature_names(compartment: Compartment | str = Compartment.ALL) -> list[str]:
    """Feature names computed for ``compartment``: the reconstruction columns, then (whole cell
    only, since they are defined on the dendrite) the ``nr__`` values."""
    if Compartment(compartment) is Compartment.ALL:
        return [*RECONSTRUCTION_COLUMNS, *CELL_LIST_COLUMNS]
    return list(RECONSTRUCTION_COLUMNS)


def compute_morphology_features(
    morph: NodeArrays | NeuronTree,
    compartment: Compartment | str = Compartment.ALL,
    features: list[str] | None = None,
) -> dict[str, int | float | None]:
    """Features of ``morph`` (e.g. an ``SwcMorphology``) as built-in numbers, ``None`` if undefined.

    ``compartment`` keeps the soma root plus the nodes of one compartment (see
    :meth:`NeuronTree.restrict`); ``features`` picks names (default: all for that compartment).
    """
    tree = morph if isinstance(morph, NeuronTree) else NeuronTree.from_nodes(morph)
    tree = tree.restrict(Compartment(compartment))
    result: dict[str, int | float | None] = {}
    for name in features if features is not None else morphology_feature_names(compartment):
        spec = get(name)
        result[name] = to_builtin(spec.func(tree), spec.kind)
    return result
