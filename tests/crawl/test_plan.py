from __future__ import annotations

from pathlib import Path

import pytest

from ctmirror.crawl.plan import (
    CELLS_MODEL,
    DEFAULT_PLAN,
    KeySource,
    Resource,
    execution_order,
    key_fields,
)
from ctmirror.crawl.records import flat_record, int_values, link_pairs
from ctmirror.crawl.staging import StagingPackage, page_key
from ctmirror.errors import ConfigError, InputError
from ctmirror.schema.allen_model import MIRRORED_LINKS, MODELS


def test_default_plan_covers_every_catalog_model_after_its_sources() -> None:
    steps = execution_order(DEFAULT_PLAN)
    order = [s.model for s in steps]
    assert sorted(order) == sorted(MODELS)
    for position, step in enumerate(steps):
        assert step.depends_on <= set(order[:position]), step.model
    assert order[:3] == ["WellKnownFileType", "NeuronalModelTemplate", CELLS_MODEL]
    assert order[-1] == "WellKnownFile"


def test_plan_links_and_sources_are_fields_of_the_data_model() -> None:
    # a join-table association's target ids are a key field named after it
    included = {(r.model, name) for r in DEFAULT_PLAN for name in r.links}
    assert included == set(MIRRORED_LINKS) == {("NeuronalModelTemplate", "well_known_files")}
    for resource in DEFAULT_PLAN:
        fields = MODELS[resource.model].fields
        assert resource.link is None or resource.link in fields, resource.name
        assert {attr for attr, _ in resource.where} <= set(fields), resource.name
        for source in resource.sources:
            assert (source.field in MODELS[source.model].fields
                    or (source.model, source.field) in included), (resource.name, source)
    files = [r for r in DEFAULT_PLAN if r.model == "WellKnownFile"]
    assert {r.where for r in files} == {
        (("attachable_type", model),) for model, spec in MODELS.items()
        if "well_known_files" in spec.associations and spec.associations[
            "well_known_files"].kind == "polymorphic"} | {
        # files attached to a template itself, and the mechanism files it lists
        (("attachable_type", "NeuronalModelTemplate"),), ()}
    listed = next(r for r in files if not r.where)
    assert (listed.link, listed.sources) == (
        "id", (KeySource("NeuronalModelTemplate", "well_known_files"),))
    with pytest.raises(ConfigError, match="no join-table associations"):
        Resource("Specimen", links=("donor",))
    donors = next(r for r in DEFAULT_PLAN if r.model == "Donor")
    assert (donors.link, donors.sources) == (
        "id", (KeySource(CELLS_MODEL, "donor__id"), KeySource("Specimen", "donor_id")))
    assert next(r for r in DEFAULT_PLAN if r.model == "SubImage").name == "SubImage[data_set_id]"


def test_key_fields_are_what_later_resources_read() -> None:
    fields = key_fields(DEFAULT_PLAN)
    assert fields[CELLS_MODEL] == {"specimen__id", "donor__id", "structure__id",
                                   "structure_parent__id"}
    assert fields["Specimen"] == {"donor_id", "structure_id", "ephys_result_id"}
    assert fields["ImageSeries"] == {"id"}
    assert "EphysSweep" not in fields


def test_batch_criteria_sorts_dedupes_and_splits() -> None:
    files = Resource("WellKnownFile", "attachable_id", (KeySource("NeuronalModel", "id"),),
                     where=(("attachable_type", "NeuronalModel"),))
    assert files.batch_criteria([9, 3, 3, 7, 1], 2) == [
        "[attachable_type$eq'NeuronalModel'][attachable_id$in1,3]",
        "[attachable_type$eq'NeuronalModel'][attachable_id$in7,9]",
    ]
    assert files.batch_criteria([], 2) == []
    assert Resource("Donor").batch_criteria([], 2) == [""]


def test_plan_errors_are_reported() -> None:
    with pytest.raises(ConfigError, match="does not fetch"):
        execution_order([Resource("Donor", "id", (KeySource("Specimen", "donor_id"),))])
    with pytest.raises(ConfigError, match="cycle"):
        execution_order([Resource("Donor", "id", (KeySource("Specimen", "donor_id"),)),
                         Resource("Specimen", "donor_id", (KeySource("Donor", "id"),))])
    with pytest.raises(ConfigError, match="link needs sources"):
        execution_order([Resource("Donor", "id")])


def test_flat_record_drops_associations_only() -> None:
    record = {
        "id": 5, "name": "cell", "donor_id": 2, "data": None, "tags": ["a", "b"],
        "donor": {"id": 2}, "ephys_sweeps": [], "specimen_tags": [{"name": "apical - intact"}],
    }
    assert flat_record("Specimen", record) == {
        "id": 5, "name": "cell", "donor_id": 2, "data": None, "tags": ["a", "b"],
    }


def test_int_values_skip_nulls_and_non_ids() -> None:
    rows = [{"x": 1}, {"x": None}, {"x": True}, {"x": "7"}, {"x": 1}, {}, {"x": 3}]
    assert int_values(rows, "x") == {1, 3}


def test_link_pairs_are_the_listed_ids() -> None:
    records = [
        {"id": 1, "well_known_files": [{"id": 7}, {"id": 5}, {"id": None}]},
        {"id": 2, "well_known_files": []},
        {"id": 3},  # not included: no pairs
        {"id": "x", "well_known_files": [{"id": 9}]},
    ]
    assert link_pairs("NeuronalModelTemplate", records, "well_known_files") == [(1, 5), (1, 7)]


def test_link_pages_round_trip(tmp_path: Path) -> None:
    package = StagingPackage(tmp_path, "sync-1")
    package.write_links("NeuronalModelTemplate", "well_known_files", "k1", [(1, 5), (1, 7)])
    package.write_links("NeuronalModelTemplate", "well_known_files", "k2", [(1, 5), (2, 5)])
    assert package.read_links("NeuronalModelTemplate", "well_known_files", "k1") == [
        (1, 5), (1, 7)]
    assert package.read_links("NeuronalModelTemplate", "well_known_files", "k3") is None
    assert package.links("NeuronalModelTemplate", "well_known_files") == {(1, 5), (1, 7), (2, 5)}
    with pytest.raises(ConfigError):
        package.write_links("NeuronalModelTemplate", "../x", "k1", [])


def test_page_key_is_a_stable_hash_of_the_request_path() -> None:
    path = "/api/v2/data/query.json?q=model::Donor,rma::options%5Bnum_rows$eq2000%5D"
    assert page_key(path) == page_key(path)
    assert len(page_key(path)) == 32
    assert page_key(path) != page_key(path.replace("2000", "2001"))


def test_pages_round_trip_and_damaged_pages_are_refetched(tmp_path: Path) -> None:
    package = StagingPackage(tmp_path, "sync-1")
    rows = [{"id": 2, "name": "Zürich"}, {"id": 1, "name": None}]
    package.write_page("Donor", "k1", rows)
    assert package.read_page("Donor", "k1") == rows
    assert package.read_page("Donor", "missing") is None
    package.page_path("Donor", "k2").write_text('{"id": 3}\n{"id": 4, "na')
    assert package.read_page("Donor", "k2") is None
    package.write_page("Donor", "k3", [{"id": 2, "name": "Zürich"}])
    package.page_path("Donor", "k2").unlink()
    assert [r["id"] for r in package.iter_records("Donor")] == [2, 1, 2]
    assert package.unique_records("Donor") == {2: rows[0], 1: rows[1]}
    assert sorted(p.name for p in (tmp_path / "sync-1" / "Donor").iterdir()) == [
        "k1.jsonl", "k3.jsonl"]


def test_a_foreign_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "manifest.json").write_text('{"sync_id": "b"}')
    with pytest.raises(InputError, match="not the manifest of sync a"):
        StagingPackage(tmp_path, "a").read_manifest()
