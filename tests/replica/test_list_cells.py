"""AllenSDK's deprecated ``CellTypesApi.list_cells`` query, answered by the replica: the values the
SDK reads from each specimen agree with the cell's ``ApiCellTypesSpecimenDetail`` row."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctmirror.replica.corpus.ids import is_synthetic_id
from ctmirror.replica.server import serve_in_thread
from ctmirror.replica.snapshot import Snapshot
from ctmirror.serve.rma_query import parse_query

# AllenSDK 2.16.2 CellTypesApi.list_cells, criteria and include as sent.
CRITERIA = ("[is_cell_specimen$eq'true'],products[name$in'Mouse Cell Types','Human Cell Types'],"
            "ephys_result[failed$eqfalse]")
INCLUDE = ("structure,cortex_layer,donor(transgenic_lines,organism,conditions),specimen_tags,"
           "cell_soma_locations,ephys_features,data_sets,neuron_reconstructions,cell_reporter")
QUERY = (f"model::Specimen,rma::criteria,{CRITERIA},rma::include,{INCLUDE},"
         "rma::options[num_rows$eq'all']")


def post_process(cell: dict[str, Any]) -> dict[str, Any]:
    """What ``list_cells`` derives from each specimen (the SDK's loop, without the SDK)."""
    out: dict[str, Any] = {}
    for tag in cell["specimen_tags"]:
        tag_name, tag_value = tag["name"].split(" - ")
        out[tag_name.replace(" ", "_")] = tag_value
    out["transgenic_line"] = None
    for line in cell["donor"]["transgenic_lines"]:
        if line["transgenic_line_type_name"] == "driver":
            out["transgenic_line"] = line["name"]
    out["reporter_status"] = cell.get("cell_reporter", {}).get("name", None)
    out["species"] = cell.get("donor", {}).get("organism", {}).get("name", None)
    out["disease_categories"] = []
    for condition in cell.get("donor", {}).get("conditions", []):
        c_type, c_val = condition["name"].split(" - ")
        if c_type == "disease categories":
            out["disease_categories"].append(c_val)
    return out


def check_cells(cells: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    by_id = {r["specimen__id"]: r for r in rows}
    for cell in cells:
        row, got = by_id[cell["id"]], post_process(cell)
        drivers = [n for n in (row["line_name"] or "").split("|") if n]
        human = row["donor__species"].lower() == "homo sapiens"
        assert got["species"] == row["donor__species"]
        assert got["dendrite_type"] == row["tag__dendrite_type"]
        assert got["apical"] == row["tag__apical"]
        assert got["reporter_status"] == row["cell_reporter_status"]
        assert got["disease_categories"] == (
            [row["donor__disease_state"]] if row["donor__disease_state"] else [])
        assert got["transgenic_line"] in (drivers or [None])
        (location,) = cell["cell_soma_locations"]
        assert [location[k] for k in ("x", "y", "z", "normalized_depth")] == [
            row[f"csl__{k}"] for k in ("x", "y", "z", "normalized_depth")]
        assert (cell["cortex_layer"] or {}).get("name") == (
            row["structure__layer"] if human else None)
        assert cell["structure"]["id"] == row["structure__id"]
        assert bool(cell["data_sets"]) == bool(row["nr__reconstruction_type"] or row["si__path"])


def test_list_cells_through_the_engine(synth_snapshot: Path) -> None:
    engine = Snapshot(synth_snapshot).query_engine()
    cells = engine.run(parse_query(QUERY)).rows
    rows = engine.run(parse_query(
        "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eqall]")).rows
    assert len(cells) == len(rows) - 1  # the cell whose EphysResult failed is left out
    check_cells(cells, rows)
    species = {c["donor"]["organism"]["name"] for c in cells}
    assert species == {"Mus musculus", "Homo Sapiens"}
    # mouse donors carry their driver line and the published Ai14 reporter line record
    lines = {(t["name"], t["transgenic_line_type_name"], t["id"])
             for c in cells for t in c["donor"]["transgenic_lines"]}
    assert ("Ai14(RCL-tdT)", "reporter", 177836291) in lines
    assert all(is_synthetic_id(i) for _, kind, i in lines if kind == "driver")
    tags = {t["name"]: t["id"] for c in cells for t in c["specimen_tags"]}
    assert "dendrite type - sparsely spiny" in tags and "apical - NA" in tags
    assert all(is_synthetic_id(i) for i in tags.values())
    reporters = {c["cell_reporter"]["id"]: c["cell_reporter"]["name"] for c in cells}
    assert reporters[491913822] == "positive" and reporters[491913820] is None


@pytest.fixture()
def served(synth_snapshot: Path) -> Iterator[str]:
    with serve_in_thread(synth_snapshot) as replica:
        yield replica.base_url


def test_list_cells_through_the_server(served: str) -> None:
    def get(q: str) -> list[dict[str, Any]]:
        url = f"{served}/api/v2/data/query.json?q={urllib.parse.quote(q, safe=',:[]$')}"
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
        assert body["success"] is True, body
        rows: list[dict[str, Any]] = body["msg"]
        return rows

    cells = get(QUERY)
    check_cells(cells, get("model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eqall]"))
