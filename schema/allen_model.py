"""The Allen data model the mirror follows: every mirrored model, its fields, key and associations.

Each entry of :data:`MODELS` is one Allen model under its RMA ``model::`` name: the warehouse
table whose typed columns are the model's fields (:attr:`AllenModel.fields`), the primary key
(one of those columns) and the associations the RMA API follows between models. This is the one
description of the model: the crawl plans its queries and keys its staged records by it, the
loader writes each model into its table, the replica's query engine follows its associations,
and a replica snapshot sorts each model's records by its primary key.

Association kinds (Rails ActiveRecord terms, as the RMA backend uses):

- ``belongs_to``: the source record holds ``source_key``; the target's ``target_key`` matches it.
- ``has_many`` / ``has_one``: the target records hold ``target_key`` equal to the source's
  ``source_key`` (usually ``id``).
- ``polymorphic``: a ``has_many`` onto WellKnownFile, matched on ``attachable_id`` = source id
  and ``attachable_type`` = the source model name.
- ``has_and_belongs_to_many``: a list of target records linked through a join table that no
  model exposes; ``source_key`` and ``target_key`` are the two sides' ids. The replica keeps the
  pairs beside the records (``ctmirror.replica.snapshot``). The mirror holds the pairs of the
  associations with a ``link_table`` (:data:`MIRRORED_LINKS`): the crawl reads them from the
  source model's records with the association included, and serve answers with them.

:data:`REFERENCE_MODELS` are models of the Allen API that the mirror does not hold (no warehouse
table, never crawled) but that queries the mirror's users send name: AllenSDK's deprecated
``CellTypesApi.list_cells`` joins ``products[name$in'Mouse Cell Types','Human Cell Types']`` and
includes ``cortex_layer``, ``cell_reporter``, ``specimen_tags``, ``cell_soma_locations`` and the
donor's ``organism``, ``transgenic_lines`` and ``conditions``. The mirror needs none of them: the
cell list (``ApiCellTypesSpecimenDetail``) carries the same values as its own columns. The
replica serves :data:`API_MODELS`, both sets together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import BigInteger, Column, Float, MetaData, String, Table

from ctmirror.schema.base import BOOKKEEPING_COLUMNS, Base, mapped_table
from ctmirror.schema.ephys import EphysFeature, EphysResult, EphysSweep
from ctmirror.schema.files import WellKnownFile, WellKnownFileType
from ctmirror.schema.images import ImageSeries, ProjectionImage, SubImage
from ctmirror.schema.morphology import NeuronReconstruction
from ctmirror.schema.neuronal_models import (
    NeuronalModel,
    NeuronalModelRun,
    NeuronalModelTemplate,
    NeuronalModelTemplateWellKnownFile,
)
from ctmirror.schema.specimens import ApiCellTypesSpecimenDetail, Donor, Specimen, Structure

AssociationKind = Literal[
    "belongs_to", "has_many", "has_one", "polymorphic", "has_and_belongs_to_many"
]


@dataclass(frozen=True)
class LinkTable:
    """The warehouse table holding the pairs of a join-table association: ``source`` is the
    column of the source record's id, ``target`` the column of the target record's id."""

    table: Table
    source: str
    target: str


@dataclass(frozen=True)
class Association:
    """A named link from one model's records to another's (see the module doc for the kinds)."""

    name: str
    target: str
    kind: AssociationKind
    source_key: str
    target_key: str
    #: Where the mirror keeps the pairs of a join-table association; None if it keeps none.
    link_table: LinkTable | None = None

    @property
    def many(self) -> bool:
        """Whether a source record links to a list of target records."""
        return self.kind in ("has_many", "polymorphic", "has_and_belongs_to_many")


@dataclass(frozen=True)
class AllenModel:
    """One mirrored Allen model: its name, warehouse table and associations."""

    name: str
    table: Table
    associations: Mapping[str, Association]

    @property
    def primary_key(self) -> str:
        """The field whose Allen id keys the model's records."""
        (column,) = self.table.primary_key.columns
        return column.name

    @property
    def fields(self) -> tuple[str, ...]:
        """The model's typed attributes (its table's columns without bookkeeping), key first."""
        return tuple(c.name for c in self.table.columns if c.name not in BOOKKEEPING_COLUMNS)


def _bt(name: str, target: str, fk: str) -> Association:
    return Association(name, target, "belongs_to", fk, "id")


def _hm(name: str, target: str, fk: str) -> Association:
    return Association(name, target, "has_many", "id", fk)


def _ho(name: str, target: str, fk: str) -> Association:
    return Association(name, target, "has_one", "id", fk)


def _files() -> Association:
    return Association("well_known_files", "WellKnownFile", "polymorphic", "id", "attachable_id")


def _habtm(name: str, target: str, link_table: LinkTable | None = None) -> Association:
    return Association(name, target, "has_and_belongs_to_many", "id", "id", link_table)


def _model(mapped: type[Base], *associations: Association) -> AllenModel:
    return AllenModel(mapped.__name__, mapped_table(mapped), {a.name: a for a in associations})


# Tables of the models the mirror does not hold: descriptions of their fields, kept out of the
# warehouse metadata (no migration creates them).
_REFERENCE_METADATA = MetaData()



def _named_table(name: str, *columns: Column[Any]) -> Table:
    """A reference table: an Allen id and a name, then ``columns``."""
    return Table(
        name,
        _REFERENCE_METADATA,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("name", String),
        *columns,
    )


#: The Allen ``Product`` a record belongs to ("Mouse Cell Types", "Human Cell Types", ...).
PRODUCT_TABLE = _named_table("products")

#: The other reference models, by RMA name (see the module doc).
_REFERENCE_TABLES: dict[str, Table] = {
    "Product": PRODUCT_TABLE,
    # ``Specimen.cell_reporter``: the name is the cell reporter status ("positive", ...).
    "CellReporter": _named_table("cell_reporters"),
    # ``Specimen.cortex_layer``: the cortical layer a (human) cell was recorded in.
    "CortexLayer": _named_table("cortex_layers"),
    # ``Specimen.specimen_tags``: "dendrite type - spiny", "apical - intact", ...
    "SpecimenTag": _named_table("specimen_tags"),
    # ``Specimen.cell_soma_locations``: the soma position in the slice and its cortical depth.
    "CellSomaLocation": Table(
        "cell_soma_locations",
        _REFERENCE_METADATA,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("specimen_id", BigInteger),
        Column("x", Float),
        Column("y", Float),
        Column("z", Float),
        Column("normalized_depth", Float),
    ),
    # ``Donor.organism``: "Mus musculus", "Homo Sapiens".
    "Organism": _named_table("organisms"),
    # ``Donor.transgenic_lines``: driver and reporter lines of a mouse.
    "TransgenicLine": _named_table(
        "transgenic_lines",
        Column("transgenic_line_type_name", String),
        Column("transgenic_line_type_code", String),
        Column("transgenic_line_source_name", String),
        Column("description", String),
        Column("originating_lab", String),
        Column("stock_number", String),
        Column("sub_image_annotation_id", BigInteger),
        Column("url_prefix", String),
        Column("url_suffix", String),
    ),
    # ``Donor.conditions``: "disease categories - epilepsy", ...
    "Condition": _named_table("conditions"),
}


#: Every mirrored Allen model by its RMA name, in the order the warehouse loads them.
MODELS: dict[str, AllenModel] = {
    m.name: m
    for m in (
        _model(
            ApiCellTypesSpecimenDetail,
            _bt("specimen", "Specimen", "specimen__id"),
        ),
        _model(
            Specimen,
            _bt("donor", "Donor", "donor_id"),
            _bt("structure", "Structure", "structure_id"),
            _bt("ephys_result", "EphysResult", "ephys_result_id"),
            _hm("ephys_sweeps", "EphysSweep", "specimen_id"),
            _hm("ephys_features", "EphysFeature", "specimen_id"),
            _hm("neuron_reconstructions", "NeuronReconstruction", "specimen_id"),
            _hm("neuronal_models", "NeuronalModel", "specimen_id"),
            _hm("data_sets", "ImageSeries", "specimen_id"),
            _hm("projection_images", "ProjectionImage", "specimen_id"),
            _habtm("products", "Product"),
            _bt("cell_reporter", "CellReporter", "cell_reporter_id"),
            _bt("cortex_layer", "CortexLayer", "cortex_layer_id"),
            _habtm("specimen_tags", "SpecimenTag"),
            _hm("cell_soma_locations", "CellSomaLocation", "specimen_id"),
        ),
        _model(
            Donor,
            _hm("specimens", "Specimen", "donor_id"),
            _bt("organism", "Organism", "organism_id"),
            _habtm("transgenic_lines", "TransgenicLine"),
            _habtm("conditions", "Condition"),
        ),
        _model(Structure, _bt("parent_structure", "Structure", "parent_structure_id")),
        _model(EphysResult, _ho("specimen", "Specimen", "ephys_result_id"), _files()),
        _model(EphysSweep, _bt("specimen", "Specimen", "specimen_id")),
        _model(EphysFeature, _bt("specimen", "Specimen", "specimen_id")),
        _model(NeuronReconstruction, _bt("specimen", "Specimen", "specimen_id"), _files()),
        _model(
            WellKnownFile,
            _bt("well_known_file_type", "WellKnownFileType", "well_known_file_type_id"),
        ),
        _model(
            WellKnownFileType,
            _hm("well_known_files", "WellKnownFile", "well_known_file_type_id"),
        ),
        _model(
            ImageSeries,
            _bt("specimen", "Specimen", "specimen_id"),
            _hm("sub_images", "SubImage", "data_set_id"),
        ),
        _model(ProjectionImage, _bt("specimen", "Specimen", "specimen_id")),
        _model(SubImage, _bt("data_set", "ImageSeries", "data_set_id")),
        _model(
            NeuronalModelTemplate,
            _hm("neuronal_models", "NeuronalModel", "neuronal_model_template_id"),
            # The NEURON mechanism files of the biophysical templates: published as
            # WellKnownFiles attached to a Product, listed under the template.
            _habtm("well_known_files", "WellKnownFile", LinkTable(
                mapped_table(NeuronalModelTemplateWellKnownFile),
                "neuronal_model_template_id", "well_known_file_id")),
        ),
        _model(
            NeuronalModel,
            _bt("specimen", "Specimen", "specimen_id"),
            _bt("neuronal_model_template", "NeuronalModelTemplate", "neuronal_model_template_id"),
            _bt("neuron_reconstruction", "NeuronReconstruction", "neuron_reconstruction_id"),
            _hm("neuronal_model_runs", "NeuronalModelRun", "neuronal_model_id"),
            _files(),
        ),
        _model(
            NeuronalModelRun,
            _bt("neuronal_model", "NeuronalModel", "neuronal_model_id"),
            _files(),
        ),
    )
}

#: Every mirrored model's warehouse table, in the order of :data:`MODELS`.
MODEL_TABLES: dict[str, Table] = {name: model.table for name, model in MODELS.items()}

#: The join-table associations whose pairs the mirror holds, by (model, association name).
MIRRORED_LINKS: dict[tuple[str, str], Association] = {
    (model.name, assoc.name): assoc
    for model in MODELS.values()
    for assoc in model.associations.values()
    if assoc.link_table is not None
}

#: Models of the Allen API the mirror does not hold (see the module doc).
REFERENCE_MODELS: dict[str, AllenModel] = {
    name: AllenModel(name, table, {}) for name, table in _REFERENCE_TABLES.items()
}

#: Every model the replica serves: the mirrored ones and the reference ones.
API_MODELS: dict[str, AllenModel] = {**MODELS, **REFERENCE_MODELS}


def allen_model(name: str) -> AllenModel:
    """The mirrored model called ``name``; ``KeyError`` naming the known models if none is."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a mirrored Allen model; known: "
                       f"{', '.join(MODELS)}") from None


def primary_key(model: str) -> str:
    """The primary key field of ``model`` (mirrored or reference)."""
    reference = REFERENCE_MODELS.get(model)
    return reference.primary_key if reference is not None else allen_model(model).primary_key


def association(model: str, name: str) -> Association:
    """Association ``name`` of ``model``; ``KeyError`` naming the model's associations if none."""
    associations = allen_model(model).associations
    try:
        return associations[name]
    except KeyError:
        raise KeyError(f"{model} has no association {name!r}; known: "
                       f"{', '.join(associations) or 'none'}") from None


__all__ = [
    "API_MODELS",
    "MIRRORED_LINKS",
    "MODELS",
    "MODEL_TABLES",
    "PRODUCT_TABLE",
    "REFERENCE_MODELS",
    "AllenModel",
    "Association",
    "AssociationKind",
    "LinkTable",
    "allen_model",
    "association",
    "primary_key",
]
