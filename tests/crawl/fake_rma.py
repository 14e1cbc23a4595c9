"""A tiny in-memory RMA server for crawl tests, on httpx.MockTransport.

It understands only what the crawler sends (flat criteria with $eq/$in, num_rows, start_row,
order by the primary key; or one join-table association included, unpaged) and fails loudly on
anything else, so a crawler that starts sending other queries breaks these tests rather than
passing them by accident.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from ctmirror.schema.allen_model import association, primary_key

Record = dict[str, Any]

_QUERY = re.compile(
    r"model::(?P<model>\w+)(?:,rma::criteria,(?P<criteria>.*?))?,rma::options"
    r"\[num_rows\$eq(?P<num_rows>\d+)\]\[start_row\$eq(?P<start_row>\d+)\]"
    r"\[order\$eq'(?P<order>\w+)'\]\[count\$eqfalse\]$"
)
_INCLUDING = re.compile(
    r"model::(?P<model>\w+)(?:,rma::criteria,(?P<criteria>.*?))?,rma::include,(?P<include>\w+),"
    r"rma::options\[num_rows\$eq'all'\]\[order\$eq'(?P<order>\w+)'\]\[count\$eqfalse\]$"
)
_FILTER = re.compile(r"\[(\w+)\$(eq|in)([^\]]*)\]")

#: The corpus's join-table pairs: two templates list the mechanism files 20 and 21.
CORPUS_LINKS = {("NeuronalModelTemplate", "well_known_files"): [(900, 20), (900, 21), (901, 21)]}


def _value(text: str) -> object:
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return int(text)


class FakeRma:
    def __init__(self, records: dict[str, list[Record]], *,
                 nested: dict[str, Callable[[Record], dict[str, Any]]] | None = None,
                 links: dict[tuple[str, str], list[tuple[int, int]]] | None = None) -> None:
        self.records = records
        self.nested = nested or {}
        self.links = CORPUS_LINKS if links is None else links
        self.queries: list[tuple[str, str]] = []  # (model, criteria)
        # A request whose decoded query contains one of these substrings gets HTTP 503.
        self.failing: set[str] = set()
        # ... or an empty page, with the true total_rows, as a flaky server might send.
        self.empty: set[str] = set()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/data/query.json"
        q = urllib.parse.unquote(request.url.query.decode()).removeprefix("q=")
        if any(marker in q for marker in self.failing):
            return httpx.Response(503, text="busy")
        match = _QUERY.fullmatch(q) or _INCLUDING.fullmatch(q)
        assert match, f"unexpected query {q}"
        model = match["model"]
        key = primary_key(model)
        assert match["order"] == key
        criteria = match["criteria"] or ""
        self.queries.append((model, criteria))
        rows = self.records.get(model, [])
        for attr, op, raw in _FILTER.findall(criteria):
            wanted = {_value(v) for v in raw.split(",")} if op == "in" else {_value(raw)}
            rows = [r for r in rows if r.get(attr) in wanted]
        assert "".join(m.group(0) for m in _FILTER.finditer(criteria)) == criteria
        rows = sorted(rows, key=lambda r: r[key])
        if "include" in match.groupdict():
            page = [self._including(model, match["include"], r) for r in rows]
            # As the real API does, total_rows counts the joined rows.
            total = sum(max(1, len(r[match["include"]])) for r in page)
            start = 0
        else:
            start, size = int(match["start_row"]), int(match["num_rows"])
            page = [{**r, **self.nested[model](r)} if model in self.nested else dict(r)
                    for r in rows[start:start + size]]
            # Flat queries join nothing, so total_rows counts the matches.
            total = len(rows)
        if any(marker in q for marker in self.empty):
            page = []
        body = {"success": True, "id": 0, "start_row": start, "num_rows": len(page),
                "total_rows": total, "msg": page}
        return httpx.Response(200, content=json.dumps(body),
                              headers={"content-type": "application/json"})


    def _including(self, model: str, name: str, record: Record) -> Record:
        target = association(model, name).target
        listed = {t for s, t in self.links.get((model, name), []) if s == record["id"]}
        return {**record, name: [dict(r) for r in self.records.get(target, [])
                                 if r["id"] in listed]}


def corpus(cells: int = 5) -> dict[str, list[Record]]:
    """A consistent little corpus, plus decoys the crawl must not fetch."""
    r: dict[str, list[Record]] = {m: [] for m in (
        "WellKnownFileType", "NeuronalModelTemplate", "ApiCellTypesSpecimenDetail", "Specimen",
        "Donor", "Structure", "EphysResult", "EphysSweep", "EphysFeature", "NeuronReconstruction",
        "NeuronalModel", "NeuronalModelRun", "ImageSeries", "ProjectionImage", "SubImage",
        "WellKnownFile")}
    r["WellKnownFileType"] = [{"id": 1, "name": "NWBDownload"},
                              {"id": 2, "name": "3DNeuronReconstruction"},
                              {"id": 3, "name": "NeuronalModelParameters"}]
    r["NeuronalModelTemplate"] = [{"id": 900 + t, "name": f"template {t}"} for t in range(3)]
    r["Structure"] = [{"id": 10, "acronym": "VISp", "parent_structure_id": 1},
                      {"id": 11, "acronym": "VISp5", "parent_structure_id": 10},
                      {"id": 12, "acronym": "VISp4", "parent_structure_id": 10},
                      {"id": 99, "acronym": "decoy", "parent_structure_id": 1}]
    wkf_id = 5000

    def attach(kind: str, owner: int, type_id: int) -> None:
        nonlocal wkf_id
        wkf_id += 1
        r["WellKnownFile"].append({"id": wkf_id, "attachable_type": kind, "attachable_id": owner,
                                   "well_known_file_type_id": type_id,
                                   "path": f"/x/{wkf_id}.bin",
                                   "download_link": f"/api/v2/well_known_file_download/{wkf_id}"})

    for t in r["NeuronalModelTemplate"]:
        attach("NeuronalModelTemplate", t["id"], 3)
    # Mechanism files: attached to a Product, reached only through the templates' lists.
    r["WellKnownFile"] += [{"id": i, "attachable_type": "Product", "attachable_id": 305,
                            "well_known_file_type_id": 3, "path": f"/m/{i}.mod",
                            "download_link": f"/api/v2/well_known_file_download/{i}"}
                           for i in (20, 21)]
    for c in range(cells):
        sid, did, erid = 100 + c, 200 + c % 3, 300 + c
        structure = 11 + c % 2
        r["ApiCellTypesSpecimenDetail"].append({
            "specimen__id": sid, "specimen__name": f"cell {c}", "donor__id": did,
            "structure__id": structure, "structure_parent__id": 10, "ef__vrest": -70.0 - c,
        })
        r["Specimen"].append({"id": sid, "name": f"cell {c}", "donor_id": did,
                              "structure_id": structure, "ephys_result_id": erid})
        if did not in {d["id"] for d in r["Donor"]}:
            r["Donor"].append({"id": did, "name": f"donor {did}"})
        r["EphysResult"].append({"id": erid, "failed": False})
        attach("EphysResult", erid, 1)
        r["EphysFeature"].append({"id": 400 + c, "specimen_id": sid, "vrest": -70.0 - c})
        for s in range(3):
            r["EphysSweep"].append({"id": 1000 + 10 * c + s, "specimen_id": sid, "sweep_number": s})
        if c % 2 == 0:
            r["NeuronReconstruction"].append({"id": 600 + c, "specimen_id": sid})
            attach("NeuronReconstruction", 600 + c, 2)
            r["ImageSeries"].append({"id": 700 + c, "specimen_id": sid})
            r["SubImage"].extend({"id": 7000 + 10 * c + k, "data_set_id": 700 + c,
                                  "section_number": k} for k in range(4))
            r["ProjectionImage"].append({"id": 7500 + c, "specimen_id": sid, "data_set_id": None})
        model_id = 800 + c
        r["NeuronalModel"].append({"id": model_id, "specimen_id": sid,
                                   "neuronal_model_template_id": 900 + c % 3})
        attach("NeuronalModel", model_id, 3)
        r["NeuronalModelRun"].append({"id": 8500 + c, "neuronal_model_id": model_id})
        attach("NeuronalModelRun", 8500 + c, 1)
    # Decoys: a specimen that is no cell, its sweep, and a file of another attachable kind.
    r["Specimen"].append({"id": 5, "name": "slab", "donor_id": 299, "structure_id": 99,
                          "ephys_result_id": None})
    r["EphysSweep"].append({"id": 1, "specimen_id": 5, "sweep_number": 0})
    r["Donor"].append({"id": 299, "name": "decoy donor"})
    r["WellKnownFile"].append({"id": 1, "attachable_type": "Product", "attachable_id": 100,
                               "well_known_file_type_id": 1, "path": "/p", "download_link": "/d"})
    return r


DECOY_IDS = {"Specimen": {5}, "EphysSweep": {1}, "Donor": {299}, "Structure": {99},
             "WellKnownFile": {1}}


def expected_records(records: dict[str, list[Record]]) -> dict[str, dict[object, Record]]:
    """What a full crawl must stage: everything but the decoys, keyed by primary key."""
    out = {}
    for model, rows in records.items():
        key = primary_key(model)
        out[model] = {r[key]: r for r in rows if r[key] not in DECOY_IDS.get(model, set())}
    return out
