"""The Allen data model: every mirrored model, its table, key, fields and associations."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger

from ctmirror.schema import BOOKKEEPING_COLUMNS, Base
from ctmirror.schema.allen_model import (
    API_MODELS,
    MODEL_TABLES,
    MODELS,
    allen_model,
    association,
    primary_key,
)

MIRRORED = (
    "ApiCellTypesSpecimenDetail", "Specimen", "Donor", "Structure", "EphysResult", "EphysSweep",
    "EphysFeature", "NeuronReconstruction", "WellKnownFile", "WellKnownFileType", "ImageSeries",
    "ProjectionImage", "SubImage", "NeuronalModelTemplate", "NeuronalModel", "NeuronalModelRun",
)


def test_the_mirrored_models_in_load_order() -> None:
    assert tuple(MODELS) == MIRRORED
    assert tuple(MODEL_TABLES) == MIRRORED
    assert MODEL_TABLES["EphysSweep"].name == "ephys_sweeps"
    assert MODEL_TABLES["SubImage"] is MODELS["SubImage"].table


def test_every_table_with_bookkeeping_columns_is_a_model() -> None:
    mirrored = {t.name for t in Base.metadata.tables.values()
                if set(BOOKKEEPING_COLUMNS) <= set(t.columns.keys())}
    assert mirrored == {t.name for t in MODEL_TABLES.values()}


def test_every_model_is_keyed_by_one_allen_id() -> None:
    keys = {name: model.primary_key for name, model in MODELS.items()}
    assert keys.pop("ApiCellTypesSpecimenDetail") == "specimen__id"
    assert set(keys.values()) == {"id"}
    for model in MODELS.values():
        (column,) = model.table.primary_key.columns
        assert column.name == model.primary_key == model.fields[0]
        assert isinstance(column.type, BigInteger) and column.autoincrement is False


def test_fields_are_the_typed_columns_without_bookkeeping() -> None:
    fields = MODELS["Donor"].fields
    assert fields[:3] == ("id", "name", "external_donor_name") and "sex" in fields
    assert not set(fields) & set(BOOKKEEPING_COLUMNS)
    assert len(MODELS["EphysFeature"].fields) == 56
    assert len(MODELS["ApiCellTypesSpecimenDetail"].fields) == 54


def test_associations_link_fields_of_known_models() -> None:
    count = 0
    for model in MODELS.values():
        for link in model.associations.values():
            assert link.source_key in model.fields, (model.name, link.name)
            assert link.target_key in API_MODELS[link.target].fields, (model.name, link.name)
            count += 1
    assert count == 41
    products = association("Specimen", "products")
    assert (products.target, products.kind, products.many) == (
        "Product", "has_and_belongs_to_many", True)
    assert "Product" not in MODELS and API_MODELS["Product"].fields == ("id", "name")
    # what AllenSDK's list_cells includes: served only, no warehouse table
    served_only = {"CellReporter", "CortexLayer", "SpecimenTag", "CellSomaLocation", "Organism",
                   "TransgenicLine", "Condition"}
    assert served_only < set(API_MODELS) and not served_only & set(MODELS)
    assert {API_MODELS[m].table.name for m in served_only}.isdisjoint(Base.metadata.tables)
    assert {a.target for a in MODELS["Specimen"].associations.values()} >= {
        "CellReporter", "CortexLayer", "SpecimenTag", "CellSomaLocation"}
    assert {a.name: a.kind for a in MODELS["Donor"].associations.values()} == {
        "specimens": "has_many", "organism": "belongs_to",
        "transgenic_lines": "has_and_belongs_to_many", "conditions": "has_and_belongs_to_many"}
    donor = association("Specimen", "donor")
    assert (donor.target, donor.kind, donor.source_key, donor.target_key, donor.many) == (
        "Donor", "belongs_to", "donor_id", "id", False)
    files = association("NeuronalModelRun", "well_known_files")
    assert (files.target, files.kind, files.source_key, files.target_key, files.many) == (
        "WellKnownFile", "polymorphic", "id", "attachable_id", True)
    assert association("EphysResult", "specimen").kind == "has_one"


def test_unknown_names_are_refused() -> None:
    assert primary_key("ApiCellTypesSpecimenDetail") == "specimen__id"
    assert allen_model("Donor").name == "Donor"
    with pytest.raises(KeyError, match="'Neuron' is not a mirrored Allen model"):
        primary_key("Neuron")
    with pytest.raises(KeyError, match="Donor has no association 'structure'; known: specimens"):
        association("Donor", "structure")
