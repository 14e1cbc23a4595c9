"""Specimen.products and the templates' NEURON mechanism files, as the real API serves them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ctmirror.replica.corpus.ids import is_synthetic_id, named_id
from ctmirror.replica.snapshot import Snapshot
from ctmirror.serve.engine import QueryEngine
from ctmirror.serve.rma_query import parse_query

# AllenSDK 2.16.2 CellTypesApi.list_cells, criteria as sent.
LIST_CELLS_CRITERIA = ("[is_cell_specimen$eq'true'],products[name$in'Mouse Cell Types',"
                       "'Human Cell Types'],ephys_result[failed$eqfalse]")
# BiophysicalApi.build_rma, the template part.
TEMPLATE_FILES = "neuronal_model_template(well_known_files(well_known_file_type))"
PERISOMATIC, ALL_ACTIVE = 329230710, 491455321
# Published WellKnownFile records of the mechanism files (all perisomatic model packages).
PUBLISHED_SK = {
    "id": 395337293,
    "attachable_id": 305094322,
    "attachable_type": "Product",
    "download_link": "/api/v2/well_known_file_download/395337293",
    "path": "/external/mousecelltypes/prod210/project_in vitro Single Cell Characterization_T301/"
            "SK.mod",
    "well_known_file_type_id": 292178729,
}
SK_SHA256 = "079f1e3cac7444696d480b8e02853b215cd93e0c7b9986dbb54925fc49eddbeb"


@pytest.fixture(scope="module")
def engine(synth_snapshot: Path) -> QueryEngine:
    return Snapshot(synth_snapshot).query_engine()


def _run(engine: QueryEngine, q: str) -> list[dict]:
    return engine.run(parse_query(q)).rows


def test_products_are_the_cell_types_products(engine: QueryEngine) -> None:
    rows = _run(engine, "model::Product,rma::options[num_rows$eqall]")
    ids = {r["name"]: r["id"] for r in rows}
    # the names are published, the ids are not: synthetic, the same in every corpus
    assert ids["Mouse Cell Types"] == named_id("Product", "Mouse Cell Types")
    assert ids["Human Cell Types"] == named_id("Product", "Human Cell Types")
    assert all(is_synthetic_id(ids[n]) for n in ("Mouse Cell Types", "Human Cell Types"))
    assert ids[None] == 305094322  # the owner of the mechanism files, as published


def test_list_cells_criteria_join_products(engine: QueryEngine) -> None:
    cells = _run(engine, "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eqall]")
    ok = _run(engine, f"model::Specimen,rma::criteria,{LIST_CELLS_CRITERIA},rma::include,"
                      "products,donor,rma::options[num_rows$eq'all']")
    # every cell but the one whose EphysResult failed
    assert len(ok) == len(cells) - 1
    for specimen in ok:
        (product,) = specimen["products"]
        human = next(c for c in cells if c["specimen__id"] == specimen["id"])[
            "donor__species"].lower() == "homo sapiens"
        assert product["name"] == ("Human Cell Types" if human else "Mouse Cell Types")
    mouse = named_id("Product", "Mouse Cell Types")
    mouse_only = _run(engine, f"model::Specimen,rma::criteria,products[id$eq{mouse}],"
                              "rma::options[num_rows$eqall]")
    assert 0 < len(mouse_only) < len(cells)
    assert not _run(engine, "model::Specimen,rma::criteria,products[name$eq'Mouse Brain']")


def test_templates_list_the_published_mechanism_files(
    engine: QueryEngine, synth_snapshot: Path
) -> None:
    rows = _run(engine, "model::NeuronalModelTemplate,rma::include,"
                        "well_known_files(well_known_file_type),rma::options[num_rows$eqall]")
    files = {r["id"]: r["well_known_files"] for r in rows}
    assert len(files) == 7
    for template in (PERISOMATIC, ALL_ACTIVE):
        names = sorted(Path(f["path"]).name for f in files[template])
        assert len(names) == 16 and "Im_v2.mod" in names and "NaTa.mod" in names
        assert {f["well_known_file_type"]["name"] for f in files[template]} == {
            "BiophysicalModelDescription"}
    assert all(not f for t, f in files.items() if t not in (PERISOMATIC, ALL_ACTIVE))
    sk = next(f for f in files[PERISOMATIC] if f["id"] == PUBLISHED_SK["id"])
    assert {k: sk[k] for k in PUBLISHED_SK} == PUBLISHED_SK
    stored = {f.id: f for f in Snapshot(synth_snapshot).files()}[395337293]
    assert stored.sha256 == SK_SHA256
    data = (synth_snapshot / stored.relpath).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SK_SHA256


def test_biophysical_query_nests_the_mechanism_files(engine: QueryEngine) -> None:
    (model, *_) = _run(engine, "model::NeuronalModel,rma::criteria,"
                               f"[neuronal_model_template_id$eq{PERISOMATIC}]")
    (row,) = _run(engine, f"model::NeuronalModel,rma::criteria,[id$eq{model['id']}],"
                          f"{TEMPLATE_FILES},rma::include,{TEMPLATE_FILES}")
    template = row["neuronal_model_template"]
    assert template["name"] == "Biophysical - perisomatic"
    assert len(template["well_known_files"]) == 16
