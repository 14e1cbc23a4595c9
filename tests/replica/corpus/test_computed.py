"""Values a synthetic corpus makes up are computed from its own files: EphysFeature rows and the
cell list's ef__ values from the recordings, reconstruction measurements and nr__ values from
the SWC files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctmirror.features.ephys import ALLEN2016
from ctmirror.features.ephys.cell import cell_features
from ctmirror.features.morphology import compute_morphology_features
from ctmirror.features.names import (
    CELL_LIST_COLUMNS,
    EPHYS_CELL_FEATURES,
    EPHYS_CELL_FLAGS,
    RECONSTRUCTION_COLUMNS,
)
from ctmirror.readers.ephys import recordings_from_nwb
from ctmirror.readers.swc import read_swc
from ctmirror.replica.corpus.computed import CELL_LIST_EPHYS, cell_list_ephys
from ctmirror.replica.snapshot import Snapshot

from .snapshot_checks import records_by_key

NWB_TYPE, SWC_TYPE = 481007198, 303941301


@pytest.fixture(scope="module")
def records(synth_snapshot: Path) -> dict:
    return records_by_key(synth_snapshot)


def _file(snapshot: Path, records: dict, type_id: int, attachable_id: int) -> Path:
    [wkf] = [w for w in records["WellKnownFile"].values()
             if w["well_known_file_type_id"] == type_id and w["attachable_id"] == attachable_id]
    snap = Snapshot(snapshot)
    [stored] = [f for f in snap.files() if f.kind == "well_known_file" and f.id == wkf["id"]]
    return snap.resolve(stored)


def test_ephys_features_of_recording_cells_are_the_recordings_own(
    synth_snapshot: Path, records: dict
) -> None:
    features = {r["specimen_id"]: r for r in records["EphysFeature"].values()}
    sweeps = {(s["specimen_id"], s["sweep_number"]): s["id"]
              for s in records["EphysSweep"].values()}
    checked, with_values = 0, 0
    for cell in records["ApiCellTypesSpecimenDetail"].values():
        sid = cell["specimen__id"]
        erid = records["Specimen"][sid]["ephys_result_id"]
        if cell["erwkf__id"] not in records["WellKnownFile"]:
            continue
        # The published path of `ctmirror features ephys`: the NWB file read directly.
        expected = cell_features(recordings_from_nwb(_file(synth_snapshot, records, NWB_TYPE,
                                                           erid))[0], ALLEN2016)
        row = features[sid]
        for name in (*EPHYS_CELL_FEATURES, *EPHYS_CELL_FLAGS):
            assert row[name] == expected.values.get(name), name
        assert row["rheobase_sweep_number"] == expected.rheobase_sweep_number
        if expected.rheobase_sweep_number is not None:
            assert row["rheobase_sweep_id"] == sweeps[(sid, expected.rheobase_sweep_number)]
        # The cell list's ef__ values are the row's.
        for name in CELL_LIST_EPHYS:
            assert cell[f"ef__{name}"] == row[name], name
        isi = row["avg_isi"]
        assert cell["ef__avg_firing_rate"] == (1000.0 / isi if isi else None)
        with_values += sum(expected.values.get(n) is not None for n in EPHYS_CELL_FEATURES)
        checked += 1
    assert checked == 3
    assert with_values >= 40


def test_cell_list_ephys_values() -> None:
    values = cell_list_ephys({"vrest": -71.5, "avg_isi": 50.0, "ri": None})
    assert values["ef__vrest"] == -71.5 and values["ef__ri"] is None
    assert values["ef__avg_firing_rate"] == 20.0
    assert cell_list_ephys({})["ef__avg_firing_rate"] is None


def test_reconstruction_measurements_are_the_swc_files_own(
    synth_snapshot: Path, records: dict
) -> None:
    checked = 0
    for record in records["NeuronReconstruction"].values():
        swc = _file(synth_snapshot, records, SWC_TYPE, record["id"])
        expected = compute_morphology_features(read_swc(swc))
        for name in RECONSTRUCTION_COLUMNS:
            assert record[name] == expected[name], name
        [cell] = [c for c in records["ApiCellTypesSpecimenDetail"].values()
                  if c["specimen__id"] == record["specimen_id"]]
        for name in CELL_LIST_COLUMNS:
            assert cell[name] == expected[name], name
        checked += 1
    assert checked >= 6
