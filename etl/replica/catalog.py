"""The Allen data model as the replica serves it: models, primary keys and associations.

This is the one description of how records link. The corpus writes records whose foreign-key
attributes follow it; the replica's query engine follows it for criteria joins and includes.

Association kinds (Rails ActiveRecord terms, as the RMA backend uses):
- ``belongs_to``: the source record holds ``source_key``; the target's ``target_key`` matches it.
- ``has_many`` / ``has_one``: the target records hold ``target_key`` equal to the source's
  ``source_key`` (usually ``id``).
- ``polymorphic``: a ``has_many`` onto WellKnownFile, matched on ``attachable_id`` = source id
  and ``attachable_type`` = the source model name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AssociationKind = Literal["belongs_to", "has_many", "has_one", "polymorphic"]


@dataclass(frozen=True)
class Association:
    name: str
    target: str
    kind: AssociationKind
    source_key: str
    target_key: str

    @property
    def many(self) -> bool:
        return self.kind in ("has_many", "polymorphic")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    primary_key: str
    associations: dict[str, Association]


def _bt(name: str, target: str, fk: str) -> Association:
    return Association(name, target, "belongs_to", fk, "id")


def _hm(name: str, target: str, fk: str) -> Association:
    return Association(name, target, "has_many", "id", fk)


def _ho(name: str, target: str, fk: str) -> Association:
    return Association(name, target, "has_one", "id", fk)


def _files() -> Association:
    return Association("well_known_files", "WellKnownFile", "polymorphic", "id", "attachable_id")


def _model(name: str, *assocs: Association, primary_key: str = "id") -> ModelSpec:
    return ModelSpec(name, primary_key, {a.name: a for a in assocs})


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        _model(
            "ApiCellTypesSpecimenDetail",
            _bt("specimen", "Specimen", "specimen__id"),
            primary_key="specimen__id",
        ),
        _model(
            "Specimen",
            _bt("donor", "Donor", "donor_id"),
            _bt("structure", "Structure", "structure_id"),
            _bt("ephys_result", "EphysResult", "ephys_result_id"),
            _hm("ephys_sweeps", "EphysSweep", "specimen_id"),
            _hm("ephys_features", "EphysFeature", "specimen_id"),
            _hm("neuron_reconstructions", "NeuronReconstruction", "specimen_id"),
            _hm("neuronal_models", "NeuronalModel", "specimen_id"),
            _hm("data_sets", "ImageSeries", "specimen_id"),
            _hm("projection_images", "ProjectionImage", "specimen_id"),
        ),
        _model("Donor", _hm("specimens", "Specimen", "donor_id")),
        _model("Structure", _bt("parent_structure", "Structure", "parent_structure_id")),
        _model("EphysResult", _ho("specimen", "Specimen", "ephys_result_id"), _files()),
        _model("EphysSweep", _bt("specimen", "Specimen", "specimen_id")),
        _model("EphysFeature", _bt("specimen", "Specimen", "specimen_id")),
        _model("NeuronReconstruction", _bt("specimen", "Specimen", "specimen_id"), _files()),
        _model(
            "WellKnownFile",
            _bt("well_known_file_type", "WellKnownFileType", "well_known_file_type_id"),
        ),
        _model("WellKnownFileType", _hm("well_known_files", "WellKnownFile",
                                        "well_known_file_type_id")),
        _model(
            "ImageSeries",
            _bt("specimen", "Specimen", "specimen_id"),
            _hm("sub_images", "SubImage", "data_set_id"),
        ),
        _model("ProjectionImage", _bt("specimen", "Specimen", "specimen_id")),
        _model("SubImage", _bt("data_set", "ImageSeries", "data_set_id")),
        _model(
            "NeuronalModelTemplate",
            _hm("neuronal_models", "NeuronalModel", "neuronal_model_template_id"),
            _files(),
        ),
        _model(
            "NeuronalModel",
            _bt("specimen", "Specimen", "specimen_id"),
            _bt("neuronal_model_template", "NeuronalModelTemplate", "neuronal_model_template_id"),
            _bt("neuron_reconstruction", "NeuronReconstruction", "neuron_reconstruction_id"),
            _hm("neuronal_model_runs", "NeuronalModelRun", "neuronal_model_id"),
            _files(),
        ),
        _model(
            "NeuronalModelRun",
            _bt("neuronal_model", "NeuronalModel", "neuronal_model_id"),
            _files(),
        ),
    )
}


def primary_key(model: str) -> str:
    return MODELS[model].primary_key if model in MODELS else "id"
