"""The real corpus: published records kept as published, every gap filled consistently."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from ctmirror.replica.corpus.build import build_corpus
from ctmirror.replica.corpus.fill import nwb_cell_order
from ctmirror.replica.corpus.ids import SYNTHETIC_ID_BASE
from ctmirror.replica.corpus.realdata import load_realdata
from ctmirror.replica.snapshot import Snapshot

from .snapshot_checks import dangling_foreign_keys, file_problems, records_by_key

MINI = Path(__file__).parents[2] / "data" / "realdata_mini"


@pytest.fixture(scope="module")
def mini_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini") / "snapshot"
    build_corpus(MINI, out, nwb_cells=0, seed=0)
    return out


def test_cell_rows_are_typed_and_unquoted(mini_snapshot: Path) -> None:
    cells = records_by_key(mini_snapshot)["ApiCellTypesSpecimenDetail"]
    assert len(cells) == 11
    cell = cells[469803127]
    assert cell["structure__name"] == "posteromedial visual area, layer 5"
    assert cell["structure__id"] == 565 and cell["erwkf__id"] == 491201641
    assert cell["m__glif"] == 5 and cell["si__width"] == 5749
    assert cell["ef__threshold_i_long_square"] == 50.0
    assert cell["nr__reconstruction_type"] is None and cell["donor__disease_state"] is None
    assert cells[525011903]["donor__years_of_seizure_history"] == 9.0


def test_links_resolve_and_files_match(mini_snapshot: Path) -> None:
    assert dangling_foreign_keys(mini_snapshot) == []
    assert file_problems(mini_snapshot) == []


def test_published_records_and_files_are_kept(mini_snapshot: Path) -> None:
    records = records_by_key(mini_snapshot)
    feature = next(f for f in records["EphysFeature"].values() if f["specimen_id"] == 467703703)
    assert feature["id"] < SYNTHETIC_ID_BASE and isinstance(feature["has_burst"], bool)
    # The GLIF model of 485574832 keeps its id, file id and config.
    model = records["NeuronalModel"][486052403]
    assert model["neuronal_model_template_id"] == 471355161
    snapshot = Snapshot(mini_snapshot)
    stored = {f.id: f for f in snapshot.files() if f.kind == "well_known_file"}
    config = json.loads(snapshot.resolve(stored[566461182]).read_bytes())
    assert config["R_input"] == pytest.approx(112690835.56188996)
    # The real sweep list of 324257146 is served as published.
    sweeps = [s for s in records["EphysSweep"].values() if s["specimen_id"] == 324257146]
    assert sweeps and all(s["id"] < SYNTHETIC_ID_BASE for s in sweeps)
    # The real SWC of 327644217 is the published file, byte for byte.
    cell = records["ApiCellTypesSpecimenDetail"][327644217]
    real_swc = (MINI / "swc" / "cajal" / "327644217.swc").read_bytes()
    assert snapshot.resolve(stored[cell["nrwkf__id"]]).read_bytes() == real_swc


def test_documented_queries_find_their_records(mini_snapshot: Path) -> None:
    records = records_by_key(mini_snapshot)
    assert 320654829 in records["Specimen"]
    assert any(f["specimen_id"] == 467703703 for f in records["EphysFeature"].values())
    projections = [p for p in records["ProjectionImage"].values() if p["specimen_id"] == 313862022]
    assert 1 <= len(projections) <= 4
    series = {s["id"] for s in records["ImageSeries"].values() if s["specimen_id"] == 313862022}
    assert sum(s["data_set_id"] in series for s in records["SubImage"].values()) == 627
    reconstruction = next(
        r for r in records["NeuronReconstruction"].values() if r["specimen_id"] == 313862306
    )
    assert any(
        w["attachable_id"] == reconstruction["id"] and w["well_known_file_type_id"] == 303941301
        for w in records["WellKnownFile"].values()
    )
    glif = [
        m
        for m in records["NeuronalModel"].values()
        if m["specimen_id"] == 469803127
        and "LIF" in records["NeuronalModelTemplate"][m["neuronal_model_template_id"]]["name"]
    ]
    assert len(glif) == 5
    snapshot = Snapshot(mini_snapshot)
    zips = {f.id: f for f in snapshot.files() if f.kind == "model_zip"}
    with zipfile.ZipFile(io.BytesIO(snapshot.resolve(zips[glif[0]["id"]]).read_bytes())) as z:
        assert any(name.endswith("neuron_config.json") for name in z.namelist())


def test_nwb_cells_start_with_the_documented_cell() -> None:
    real = load_realdata(MINI)
    order = nwb_cell_order(real.cells, real)
    assert order[0] == 320654829
    # 485574832 has a real GLIF config and a real sweep list.
    assert order[1] == 485574832
    assert order[2:] == sorted(order[2:])
