"""The synthetic snapshot: consistent links, true files, readable SWC and models, reproducible."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from ctmirror.errors import ConfigError
from ctmirror.replica.corpus.ids import is_synthetic_id
from ctmirror.replica.corpus.swc import parse_swc
from ctmirror.replica.corpus.synth import build_synthetic_snapshot
from ctmirror.replica.snapshot import Snapshot

from .snapshot_checks import dangling_foreign_keys, file_problems, records_by_key, wkf_id

GLIF_KEYS = {
    "El_reference",
    "C",
    "R_input",
    "th_inf",
    "spike_cut_length",
    "dt",
    "El",
    "asc_tau_array",
    "asc_amp_array",
    "init_voltage",
    "init_threshold",
    "init_AScurrents",
    "voltage_dynamics_method",
    "threshold_dynamics_method",
    "AScurrent_dynamics_method",
    "voltage_reset_method",
    "threshold_reset_method",
    "AScurrent_reset_method",
    "extrapolation_method_name",
    "dt_multiplier",
    "th_adapt",
    "type",
}


@pytest.fixture(scope="module")
def records(synth_snapshot: Path) -> dict:
    return records_by_key(synth_snapshot)


def test_every_foreign_key_and_attachment_resolves(synth_snapshot: Path) -> None:
    assert dangling_foreign_keys(synth_snapshot) == []


def test_every_file_matches_its_index_and_every_record_has_its_bytes(synth_snapshot: Path) -> None:
    assert file_problems(synth_snapshot) == []


def test_cell_links_resolve_and_only_nwb_cells_have_nwb(
    synth_snapshot: Path, records: dict
) -> None:
    files = records["WellKnownFile"]
    nwb_type = 481007198
    nwb = {w["attachable_id"] for w in files.values() if w["well_known_file_type_id"] == nwb_type}
    assert len(nwb) == Snapshot(synth_snapshot).meta["nwb_cells"] == 3
    for cell in records["ApiCellTypesSpecimenDetail"].values():
        specimen = records["Specimen"][cell["specimen__id"]]
        for column in ("ephys_thumb_path", "ephys_inst_thresh_thumb_path", "morph_thumb_path"):
            if cell[column]:
                thumb = files[wkf_id(cell[column])]
                assert thumb["attachable_id"] == specimen["ephys_result_id"]
        if cell["nr__reconstruction_type"]:
            swc = files[cell["nrwkf__id"]]
            assert swc["well_known_file_type_id"] == 303941301
            assert (
                records["NeuronReconstruction"][swc["attachable_id"]]["specimen_id"]
                == cell["specimen__id"]
            )
        has_nwb = specimen["ephys_result_id"] in nwb
        assert (cell["erwkf__id"] in files) == has_nwb


def test_covers_every_kind_of_cell(records: dict) -> None:
    cells = list(records["ApiCellTypesSpecimenDetail"].values())
    assert {c["donor__species"] for c in cells} == {"Mus musculus", "Homo Sapiens"}
    assert {"spiny", "aspiny"} <= {c["tag__dendrite_type"] for c in cells}
    assert {"full", "dendrite-only", None} == {c["nr__reconstruction_type"] for c in cells}
    templates = {m["neuronal_model_template_id"] for m in records["NeuronalModel"].values()}
    assert len(templates) == 7
    assert [r["failed"] for r in records["EphysResult"].values()].count(True) == 1
    assert records["ProjectionImage"] and records["SubImage"] and records["ImageSeries"]
    assert all(is_synthetic_id(c["specimen__id"]) for c in cells)


def test_model_counts_follow_the_cell_rows(records: dict) -> None:
    per_cell: dict[int, list[int]] = {}
    for model in records["NeuronalModel"].values():
        per_cell.setdefault(model["specimen_id"], []).append(model["neuronal_model_template_id"])
    for cell in records["ApiCellTypesSpecimenDetail"].values():
        templates = per_cell.get(cell["specimen__id"], [])
        assert templates.count(329230710) == cell["m__biophys_perisomatic"]
        assert templates.count(491455321) == cell["m__biophys_all_active"]
        assert (
            len(templates) - templates.count(329230710) - templates.count(491455321)
            == cell["m__glif"]
        )
    runs = {r["neuronal_model_id"] for r in records["NeuronalModelRun"].values()}
    assert runs == set(records["NeuronalModel"])


def test_swc_files_are_single_trees_with_the_published_shape(
    synth_snapshot: Path, records: dict
) -> None:
    snapshot = Snapshot(synth_snapshot)
    stored = {f.id: f for f in snapshot.files() if f.kind == "well_known_file"}
    checked = 0
    for cell in records["ApiCellTypesSpecimenDetail"].values():
        if not cell["nr__reconstruction_type"]:
            continue
        text = snapshot.resolve(stored[cell["nrwkf__id"]]).read_text()
        body = [line for line in text.splitlines() if not line.startswith("#")]
        assert all(len(line.split(" ")) == 7 for line in body)  # AllenSDK splits on one space
        tree = parse_swc(text)
        assert (tree.parent < 0).sum() == 1 and tree.kind[tree.parent < 0][0] == 1
        # The cell's nr__ values are the file's own (test_computed); the drawn shape is
        # test_swc's.
        assert (2 in tree.kind) == (cell["nr__reconstruction_type"] == "full")
        checked += 1
    assert checked >= 4


def test_model_zips_hold_the_parameter_files(synth_snapshot: Path, records: dict) -> None:
    snapshot = Snapshot(synth_snapshot)
    zips = {f.id: snapshot.resolve(f) for f in snapshot.files() if f.kind == "model_zip"}
    for model in records["NeuronalModel"].values():
        with zipfile.ZipFile(io.BytesIO(zips[model["id"]].read_bytes())) as archive:
            names = set(archive.namelist())
            assert {"ephys_sweeps.json", "neuronal_model.json"} <= names
            if model["neuronal_model_template_id"] in (329230710, 491455321):
                assert "manifest.json" in names
                continue
            config = json.loads(archive.read(f"{model['id']}_neuron_config.json"))
        assert GLIF_KEYS <= set(config)
        assert config["C"] > 0 and config["R_input"] > 1e6


def test_synthetic_snapshot_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    def digest(root: Path) -> tuple[dict, list]:
        files = [(f.kind, f.id, f.sha256) for f in Snapshot(root).files()]
        return records_by_key(root), files

    first = digest(build_synthetic_snapshot(tmp_path / "a", cells=4, seed=3, nwb_cells=0))
    second = digest(build_synthetic_snapshot(tmp_path / "b", cells=4, seed=3, nwb_cells=0))
    other = digest(build_synthetic_snapshot(tmp_path / "c", cells=4, seed=4, nwb_cells=0))
    assert first == second
    assert first != other


def test_nwb_cells_must_leave_the_failed_cell_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_synthetic_snapshot(tmp_path, cells=3, nwb_cells=3)
