"""Morphology features recomputed from the mirrored SWC reconstructions, beside the published ones.

``morphology_features_recomputed`` has one row per reconstruction and compartment (``all``,
``axon``, ``basal_dendrite``, ``apical_dendrite``, ``dendrite``), with the published
``NeuronReconstruction`` column names (:data:`RECONSTRUCTION_FEATURES`, same types), so a
comparison is a join on ``neuron_reconstruction_id`` and a column name. The five ``nr__`` values
of the cell list (:data:`CELL_LIST_FEATURES`) are defined on the dendrite of the whole cell: they
are filled on the ``all`` row and NULL on the compartment rows. Each row says which SWC bytes
(``source_sha256``) and code version made it; a reconstruction is recomputed when either changes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Double, FromClause, Table, Text

from ctmirror.features.names import CELL_LIST_COLUMNS, RECONSTRUCTION_COLUMNS
from ctmirror.schema.base import Base, Timestamp, describe
from ctmirror.schema.ephys_recomputed import PROVENANCE
from ctmirror.schema.feature_docs import FEATURE_DESCRIPTIONS
from ctmirror.schema.morphology import NeuronReconstruction
from ctmirror.schema.specimens import ApiCellTypesSpecimenDetail

#: Published ``NeuronReconstruction`` feature columns, in table order.
RECONSTRUCTION_FEATURES: tuple[str, ...] = RECONSTRUCTION_COLUMNS
#: The cell list's (``ApiCellTypesSpecimenDetail``) reconstruction values.
CELL_LIST_FEATURES: tuple[str, ...] = CELL_LIST_COLUMNS


def _like_published(table: FromClause, name: str) -> Column[object]:
    """A column named and typed as the published one (counts integer, the rest double)."""
    integer = table.c[name].type.python_type is int
    return Column(name, BigInteger if integer else Double)


morphology_features_recomputed = Table(
    "morphology_features_recomputed",
    Base.metadata,
    Column("neuron_reconstruction_id", BigInteger, primary_key=True, autoincrement=False),
    #: ``ctmirror.features.morphology.Compartment``: which nodes (besides the soma) were kept.
    Column("compartment", Text, primary_key=True),
    Column("specimen_id", BigInteger, nullable=False),
    Column("well_known_file_id", BigInteger, nullable=False),
    Column("source_sha256", Text, nullable=False),
    Column("code_version", BigInteger, nullable=False),
    Column("computed_at", Timestamp, nullable=False),
    *(_like_published(NeuronReconstruction.__table__, name) for name in RECONSTRUCTION_FEATURES),
    *(_like_published(ApiCellTypesSpecimenDetail.__table__, name)
      for name in CELL_LIST_FEATURES),
)

describe(morphology_features_recomputed, {
    "neuron_reconstruction_id": "the reconstruction (NeuronReconstruction.id)",
    "compartment": "nodes kept besides the soma: all, axon, basal_dendrite, apical_dendrite "
                   "or dendrite",
    "specimen_id": "the cell (Specimen.id)",
    **PROVENANCE,
    "computed_at": "when the row was computed (UTC timestamp)",
    **{name: FEATURE_DESCRIPTIONS[name]
       for name in (*RECONSTRUCTION_FEATURES, *CELL_LIST_FEATURES)},
}, "Morphology features recomputed from the mirrored SWC files, one row per reconstruction "
   "and compartment, under the published NeuronReconstruction column names")


__all__ = ["CELL_LIST_FEATURES", "RECONSTRUCTION_FEATURES", "morphology_features_recomputed"]
