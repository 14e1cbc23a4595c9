"""The hostile-input corpus: files and records an attacker or a broken server could serve.

Each case must end as one recorded per-item error (or, for a name, a harmless local path)
and cost nothing else: every other record and file is mirrored, nothing is written outside
the mirror, no host file is read, and the run is closed out.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctmirror.replica.server import serve_in_thread
from ctmirror.replica.snapshot import Snapshot
from ctmirror.sync import SyncResult, run_sync_locally
from tests.e2e.warehouse_sql import query_rows
from tests.faults.corpus import (
    edit_records,
    host_hdf5,
    nwb_reaching_the_host,
    pick,
    replace_file,
    zero_bomb,
    zip_with,
)
from tests.faults.harness import Outcome, sync_config

pytestmark = pytest.mark.slow

OUTAGE = (b"<!DOCTYPE html><html><head><title>Site unavailable</title></head>"
          b"<body>The Allen Brain Atlas is down for maintenance.</body></html>\n")
ESCAPE_NAME = "ctmirror-hostile-escape.txt"


def _copy(synth_snapshot: Path, tmp: Path) -> Path:
    snapshot = tmp / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    return snapshot


def _sync(snapshot: Path, root: Path) -> SyncResult:
    with serve_in_thread(snapshot) as replica:
        return run_sync_locally(sync_config(replica.base_url, root))


def _url(root: Path) -> str:
    return f"duckdb:///{root / 'warehouse.duckdb'}"


def _errors(root: Path) -> dict[tuple[str, int | None], tuple[str, str]]:
    return {(model, record_id): (stage, message) for model, record_id, stage, message in
            query_rows(_url(root), "SELECT model, record_id, stage, message FROM sync_errors")}


# -- files: one sync over a snapshot holding every hostile file the code already refuses ------


@pytest.fixture(scope="module")
def hostile(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Path, dict[str, tuple[str, int]], SyncResult]]:
    tmp = tmp_path_factory.mktemp("hostile")
    snapshot = _copy(synth_snapshot, tmp)
    nwb = [pick(snapshot, ".nwb", skip=i) for i in range(3)]
    swc = [pick(snapshot, ".swc", skip=i, exclude="_marker") for i in range(3)]
    config = pick(snapshot, "_neuron_config.json")
    packages = [pick(snapshot, ".zip", skip=i) for i in range(2)]
    truncated = Snapshot(snapshot).resolve(nwb[0]).read_bytes()
    poison = {
        "truncated NWB": (nwb[0], truncated[: len(truncated) // 2]),
        "HTML page as NWB": (nwb[1], OUTAGE),
        "empty NWB": (nwb[2], b""),
        "SWC with a parent cycle": (swc[0], b"1 1 0 0 0 5 3\n2 3 10 0 0 1 1\n3 3 20 0 0 1 2\n"),
        "SWC that is not text": (swc[1], b"\x00\xff\xfe garbage \x89PNG\r\n"),
        "SWC with a huge parent id": (swc[2], b"1 1 0 0 0 5 -1\n2 3 1 0 0 1 "
                                              b"99999999999999999999\n"),
        "GLIF config cut short": (config, b'{"El": 0.0, "coeffs": '),
        "zip member ../": (packages[0], zip_with({"neuron_config.json": "{}",
                                                  f"../../{ESCAPE_NAME}": "escaped"})),
        "zip member absolute": (packages[1], zip_with({"neuron_config.json": "{}",
                                                       f"/tmp/{ESCAPE_NAME}": "escaped"})),
    }
    for stored, data in poison.values():
        replace_file(snapshot, (stored.kind, stored.id), data)
    # A server path made of `..`: the file must land inside the mirror, under a safe name.
    dotdot = pick(snapshot, ".swc", skip=5, exclude="_marker")
    edit_records(snapshot, "WellKnownFile", lambda records: [
        {**r, "path": f"/../../../{ESCAPE_NAME}"} if r["id"] == dotdot.id else r
        for r in records])
    root = tmp / "mirror"
    result = _sync(snapshot, root)
    cases = {name: (stored.kind, stored.id) for name, (stored, _) in poison.items()}
    cases["server path with .."] = (dotdot.kind, dotdot.id)
    yield root, cases, result


EXPECTED = {
    # case: (stage, phrase of the recorded message)
    "truncated NWB": ("download", "HDF5 does not open"),
    "HTML page as NWB": ("download", "no HDF5 signature"),
    "empty NWB": ("download", "no HDF5 signature"),
    "SWC with a parent cycle": ("download", "no root"),
    "SWC that is not text": ("download", "expected 7"),
    "SWC with a huge parent id": ("download", "is not in the file"),
    "GLIF config cut short": ("download", "does not parse"),
    "zip member ../": ("download", "contains '..'"),
    "zip member absolute": ("download", "is an absolute path"),
}


def _model(kind: str) -> str:
    return "NeuronalModel" if kind == "model_zip" else "WellKnownFile"


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_hostile_file_is_one_recorded_error(
    case: str, hostile: tuple[Path, dict[str, tuple[str, int]], SyncResult]
) -> None:
    root, cases, _ = hostile
    kind, file_id = cases[case]
    stage, phrase = EXPECTED[case]
    errors = _errors(root)
    assert (_model(kind), file_id) in errors, sorted(errors)
    recorded_stage, message = errors[(_model(kind), file_id)]
    assert recorded_stage == stage and phrase in message, message
    assert "Traceback" not in message and "\n" not in message.strip()
    source = "model_package" if kind == "model_zip" else "well_known_file"
    assert query_rows(_url(root), f"SELECT count(*) FROM mirror_files WHERE source = "
                                  f"'{source}' AND source_id = {file_id}") == [(0,)]


def test_hostile_files_cost_nothing_else(
    hostile: tuple[Path, dict[str, tuple[str, int]], SyncResult], reference: Outcome,
) -> None:
    root, cases, result = hostile
    # exactly one error per hostile file, and no other
    assert len(_errors(root)) == len(EXPECTED)
    assert len(result.errors) == len(EXPECTED)
    # every file the reference mirrored is here but the hostile ones
    mirrored = query_rows(_url(root), "SELECT count(*) FROM mirror_files")[0][0]
    expected = query_rows(_url(reference.root), "SELECT count(*) FROM mirror_files")[0][0]
    assert mirrored == expected - len(EXPECTED)
    assert query_rows(_url(root), "SELECT status FROM sync_runs") == [("completed_with_errors",)]
    assert not list(root.rglob("*.part"))
    assert not Path("/tmp", ESCAPE_NAME).exists()
    assert [p for p in root.parent.rglob(ESCAPE_NAME)] == [
        p for p in root.rglob(ESCAPE_NAME) if p.parent.parent.name == "well_known_files"]


def test_a_server_path_of_dotdots_stays_in_the_mirror(
    hostile: tuple[Path, dict[str, tuple[str, int]], SyncResult]
) -> None:
    root, cases, _ = hostile
    _, file_id = cases["server path with .."]
    [(relpath,)] = query_rows(_url(root), f"SELECT relpath FROM mirror_files WHERE "
                                          f"source = 'well_known_file' AND source_id = {file_id}")
    assert relpath == f"files/well_known_files/{file_id}/{ESCAPE_NAME}"
    assert (root / relpath).is_file()


# -- files that reach the host: HDF5 external storage, external links, virtual datasets -------

@pytest.mark.parametrize("how", ["external", "external-link", "virtual"])
def test_an_nwb_reaching_for_host_files_is_a_conversion_error(
    how: str, synth_snapshot: Path, tmp_path: Path
) -> None:
    snapshot = _copy(synth_snapshot, tmp_path)
    stored = pick(snapshot, ".nwb")
    original = Snapshot(snapshot).resolve(stored)
    import h5py

    with h5py.File(original, "r") as nwb:
        first = sorted(n for n in nwb["acquisition/timeseries"] if n.startswith("Sweep_"))[0]
        data = nwb["acquisition/timeseries"][first]["data"]
        shape, dtype = data.shape, data.dtype
    marker = 1234.5
    host = tmp_path / "host-secret.h5"
    if how == "external":
        host.write_bytes(np.full(shape, marker, dtype=dtype).tobytes())
    else:
        host_hdf5(host, shape, dtype, marker)
    replace_file(snapshot, (stored.kind, stored.id), nwb_reaching_the_host(original, host, how))
    root = tmp_path / "mirror"
    _sync(snapshot, root)

    leaked = query_rows(_url(root), f"SELECT count(*) FROM sweeps WHERE "
                                    f"list_contains(response, {marker})")
    errors = _errors(root)
    assert leaked == [(0,)], "the host file's values were converted into sweeps"
    stage, message = errors[("WellKnownFile", stored.id)]
    assert stage == "convert" and "may not read other files" in message, message
    assert query_rows(_url(root), f"SELECT count(*) FROM sweeps WHERE specimen_id = "
                                  f"(SELECT specimen_id FROM mirror_files WHERE source_id = "
                                  f"{stored.id})") == [(0,)]


def test_a_zip_bomb_is_a_recorded_error(synth_snapshot: Path, tmp_path: Path) -> None:
    snapshot = _copy(synth_snapshot, tmp_path)
    package = pick(snapshot, ".zip")
    bomb = zero_bomb(300 << 20)
    assert len(bomb) < 1 << 20  # over 300:1
    replace_file(snapshot, (package.kind, package.id), bomb)
    root = tmp_path / "mirror"
    _sync(snapshot, root)
    stage, message = _errors(root)[("NeuronalModel", package.id)]
    assert stage == "download" and "not a valid zip file" in message, message
    assert not list((root / "files" / "model_packages").rglob("neuron_config.json"))


# -- records: one poisoned record must not block the others (defect 4) -----------------------

POISONED_RECORDS: dict[str, tuple[str, Any]] = {
    # case: (model, how the first record is spoiled)
    "lone surrogate in a name": ("Donor", "surrogate"),
    "EphysSweep id beyond 64 bits": ("EphysSweep", 99999999999999999999),
    "id that is not a number": ("EphysSweep", "abc"),
    "sweep_number that is not a number": ("EphysSweep", "sweep_number"),
}


def _poison(snapshot: Path, model: str, how: Any) -> int:
    spoiled: list[int] = []

    def edit(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        first = dict(records[0])
        spoiled.append(first["id"])
        if how == "surrogate":
            first["name"] = "SURROGATE-HERE"
        elif how == "sweep_number":
            first["sweep_number"] = "forty-two"
        else:
            first["id"] = how
        return [first, *records[1:]]

    edit_records(snapshot, model, edit,
                 raw=lambda text: text.replace('"SURROGATE-HERE"', '"H\\ud800x"'))
    return spoiled[0]


@pytest.mark.parametrize("case", sorted(POISONED_RECORDS))
def test_a_poisoned_record_is_quarantined_and_the_rest_load(
    case: str, synth_snapshot: Path, tmp_path: Path
) -> None:
    model, how = POISONED_RECORDS[case]
    snapshot = _copy(synth_snapshot, tmp_path)
    total = sum(1 for _ in Snapshot(snapshot).iter_records(model))
    _poison(snapshot, model, how)
    root = tmp_path / "mirror"
    result = _sync(snapshot, root)
    from ctmirror.schema import MODEL_TABLES

    table = MODEL_TABLES[model].name
    assert result.load.models[model].rows == total - 1
    assert query_rows(_url(root), f"SELECT count(*) FROM {table}") == [(total - 1,)]
    assert query_rows(_url(root), "SELECT count(*) FROM sync_quarantine") == [(1,)]
    assert query_rows(_url(root), "SELECT status FROM sync_runs") == [("completed_with_errors",)]


# -- an empty answer must not remove a model (defect 5) ----------------------------------------


def test_a_model_that_vanishes_at_once_is_held_not_removed(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    snapshot = _copy(synth_snapshot, tmp_path)
    root = tmp_path / "mirror"
    with serve_in_thread(snapshot) as replica:
        run_sync_locally(sync_config(replica.base_url, root))
        (snapshot / "records" / "EphysSweep.jsonl").write_text("")
        replica.reload()
        again = run_sync_locally(sync_config(replica.base_url, root))
    removed = query_rows(_url(root), "SELECT count(*) FROM ephys_sweeps "
                                     "WHERE removed_at IS NOT NULL")
    assert removed == [(0,)]
    assert again.load.models["EphysSweep"].removed == 0
