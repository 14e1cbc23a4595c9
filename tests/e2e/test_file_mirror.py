"""The file mirror end to end against the replica: every linked file verified and converted,
a second sync for free, bad files recorded without costing anything else, kill and resume."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from ctmirror.replica.faults import Fault, FaultConfig
from ctmirror.replica.server import serve_in_thread
from ctmirror.replica.snapshot import Snapshot, StoredFile
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import SyncResult, run_sync_locally
from tests.conftest import duckdb_url
from tests.faults.corpus import replace_file

from .warehouse_sql import query_rows as _rows


def _config(base_url: str, root: Path, warehouse_url: str, *, derived: bool = True,
            **files: object) -> SyncConfig:
    """The sync's settings; ``derived=False`` leaves out the feature and GLIF stages (the
    files are still mirrored and converted)."""
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = warehouse_url
    if not derived:
        settings.features.ephys = settings.features.morphology = settings.features.glif = False
    for name, value in files.items():
        setattr(settings.files, name, value)
    return settings.sync_config()


def _stored(snapshot: Path) -> dict[tuple[str, int], StoredFile]:
    """The snapshot's files the mirror holds: those of the records it holds (the NEURON
    mechanism files too, through the templates' lists), and every model package."""
    source = {"well_known_file": "well_known_file", "model_zip": "model_package"}
    held = {int(r["id"]) for r in Snapshot(snapshot).mirrored_records("WellKnownFile")}
    return {(source[f.kind], f.id): f for f in Snapshot(snapshot).files()
            if f.kind != "well_known_file" or f.id in held}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _nwb_sweeps(snapshot: Path) -> dict[int, int]:
    """Sweeps per NWB file in the snapshot, by WellKnownFile id."""
    counts = {}
    for stored in Snapshot(snapshot).files():
        if stored.relpath.endswith(".nwb"):
            with h5py.File(Snapshot(snapshot).resolve(stored), "r") as nwb:
                counts[stored.id] = sum(1 for name in nwb["epochs"] if name.startswith("Sweep_"))
    return counts


def test_sync_mirrors_converts_and_then_costs_nothing(
    replica: object, synth_snapshot: Path, warehouse_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "mirror"
    # What is checked is the files and their conversion: the feature and GLIF stages (which
    # read the converted rows and are checked in tests/e2e/test_ephys_pipeline.py and
    # test_glif_pipeline.py) are off in both syncs.
    first = run_sync_locally(_config(replica.base_url, root, warehouse_url, derived=False))
    assert first.errors == ()
    stored = _stored(synth_snapshot)
    mirrored = {(s, i): (relpath, size, sha) for s, i, relpath, size, sha in _rows(
        warehouse_url, "SELECT source, source_id, relpath, size, sha256 FROM mirror_files")}
    # Every stored file of the replica is mirrored, with the replica's sha256 and size, and
    # the bytes on disk are those bytes.
    for key, file in stored.items():
        relpath, size, sha = mirrored[key]
        assert (size, sha) == (file.size, file.sha256), key
        assert _sha256(root / relpath) == file.sha256
    images = _rows(warehouse_url, "SELECT count(*) FROM projection_images")[0][0]
    assert len(mirrored) == len(stored) + images
    assert first.stages["download"].done == len(mirrored)

    # Recordings became sweeps, reconstructions nodes and markers, GLIF configs rows.
    expected_sweeps = _nwb_sweeps(synth_snapshot)
    assert first.stages["convert"].failures == ()
    converted = dict(_rows(warehouse_url, "SELECT converted_to, count(*) FROM mirror_files "
                                          "WHERE converted_sha256 = sha256 GROUP BY 1"))
    assert converted["sweeps"] == len(expected_sweeps)
    assert converted["reconstruction_nodes"] == converted["reconstruction_markers"] == 8
    glif_models = _rows(warehouse_url, "SELECT count(*) FROM glif_neuron_configs")[0][0]
    assert glif_models == converted["glif_neuron_configs"] > 0

    requests_before = replica.request_count
    second = run_sync_locally(_config(replica.base_url, root, warehouse_url, derived=False))
    assert second.stages["download"].counts["bytes_transferred"] == 0
    assert second.stages["download"].counts["up_to_date"] == len(mirrored)
    assert second.stages["convert"].pending == 0
    # No request for any file: only the crawl's queries.
    assert replica.request_count - requests_before == second.requests + 1  # + preflight


def test_sweeps_view_reads_one_sweep_and_joins_metadata(synced_mirror: Path) -> None:
    # It only reads a synced mirror: the session's shared one.
    root = synced_mirror
    url = duckdb_url(root)
    [(specimen_id, file_id, relpath)] = _rows(url, """
        SELECT specimen_id, source_id, relpath FROM mirror_files
        WHERE converted_to = 'sweeps' ORDER BY source_id LIMIT 1""")
    with h5py.File(root / relpath, "r") as nwb:
        number = min(int(n.split("_")[1]) for n in nwb["epochs"] if n.startswith("Sweep_"))
        samples = nwb[f"acquisition/timeseries/Sweep_{number}/data"][()]
    [(response, name, cell_name)] = _rows(url, f"""
        SELECT s.response, s.stimulus_name, c.specimen__name
        FROM sweeps s JOIN api_cell_types_specimen_details c ON c.specimen__id = s.specimen_id
        WHERE s.specimen_id = {specimen_id} AND s.sweep_number = {number}""")
    assert np.array_equal(np.asarray(response, dtype=np.float32), samples)
    assert name and cell_name
    assert _rows(url, "SELECT count(*) FROM reconstruction_nodes")[0][0] > 100


# -- bad files ------------------------------------------------------------------------------




def _pick(snapshot: Path, suffix: str, n: int, *, contains: str = "") -> list[StoredFile]:
    files = [f for f in Snapshot(snapshot).files()
             if f.relpath.endswith(suffix) and contains in f.relpath]
    return sorted(files, key=lambda f: f.id)[:n]


def _nwb_without_sweeps() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as nwb:
        nwb.create_group("acquisition/timeseries")
        nwb.create_group("epochs")
    return buffer.getvalue()


@pytest.fixture
def bad_snapshot(synth_snapshot: Path, tmp_path: Path) -> Iterator[tuple[Path, dict[str, int]]]:
    snapshot = tmp_path / "bad-snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    nwb_a, nwb_b = _pick(snapshot, ".nwb", 2)
    swc_a, swc_b = [f for f in _pick(snapshot, ".swc", 16) if "_marker" not in f.relpath][:2]
    [config] = _pick(snapshot, "_neuron_config.json", 1)
    [package] = _pick(snapshot, ".zip", 1)
    truncated = Snapshot(snapshot).resolve(nwb_a).read_bytes()
    replace_file(snapshot, ("well_known_file", nwb_a.id), truncated[: len(truncated) // 2])
    replace_file(snapshot, ("well_known_file", nwb_b.id), _nwb_without_sweeps())
    replace_file(snapshot, ("well_known_file", swc_a.id),
             b"1 1 0 0 0 5 3\n2 3 10 0 0 1 1\n3 3 20 0 0 1 2\n")
    replace_file(snapshot, ("well_known_file", swc_b.id),
             b"1 1 0 0 0 5 -1\n2 3 10 0 0 1 1\n3 1 50 0 0 5 -1\n")
    replace_file(snapshot, ("well_known_file", config.id), b'{"El": 0.0, "coeffs": ')
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("neuron_config.json", "{}")
        zf.writestr("../../outside.txt", "escaped")
    replace_file(snapshot, ("model_zip", package.id), archive.getvalue())
    yield snapshot, {"truncated_nwb": nwb_a.id, "nwb_without_sweeps": nwb_b.id,
                     "swc_cycle": swc_a.id, "swc_two_roots": swc_b.id, "bad_json": config.id,
                     "zip_escape": package.id}


def test_bad_files_are_recorded_and_cost_nothing_else(
    bad_snapshot: tuple[Path, dict[str, int]], warehouse_url: str, tmp_path: Path
) -> None:
    snapshot, bad = bad_snapshot
    root = tmp_path / "mirror"
    with serve_in_thread(snapshot) as replica:
        result = run_sync_locally(_config(replica.base_url, root, warehouse_url))
        again = run_sync_locally(_config(replica.base_url, root, warehouse_url))

    errors = {(model, record_id): (stage, message) for model, record_id, stage, message in _rows(
        warehouse_url, f"SELECT model, record_id, stage, message FROM sync_errors "
                       f"WHERE sync_id = '{result.sync_id}'")}
    expected = {
        ("WellKnownFile", bad["truncated_nwb"]): ("download", "HDF5 does not open"),
        ("WellKnownFile", bad["swc_cycle"]): ("download", "no root"),
        ("WellKnownFile", bad["swc_two_roots"]): ("download", "2 soma roots"),
        ("WellKnownFile", bad["bad_json"]): ("download", "does not parse"),
        ("NeuronalModel", bad["zip_escape"]): ("download", "contains '..'"),
        ("WellKnownFile", bad["nwb_without_sweeps"]): ("convert", "no sweeps"),
    }
    assert set(errors) == set(expected)
    for key, (stage, phrase) in expected.items():
        assert errors[key][0] == stage
        assert phrase in errors[key][1], errors[key][1]
    assert not any(root.rglob("outside.txt")) and not (tmp_path / "outside.txt").exists()

    # No partial or bad file is presented as complete: none is on disk, none has a row.
    mirrored = {(s, i) for s, i in _rows(warehouse_url,
                                         "SELECT source, source_id FROM mirror_files")}
    for model, record_id in expected:
        source = "model_package" if model == "NeuronalModel" else "well_known_file"
        downloaded = (source, record_id) in mirrored
        assert downloaded == (record_id == bad["nwb_without_sweeps"])
    assert not list(root.rglob("*.part"))
    # Everything else is mirrored and converted; no record is lost.
    stored = _stored(snapshot)
    assert len(mirrored & set(stored)) == len(stored) - 5
    assert result.load.models["WellKnownFile"].rows == len(
        [f for f in stored if f[0] == "well_known_file"])
    assert _rows(warehouse_url, "SELECT status FROM sync_runs ORDER BY started_at")[0] == (
        "completed_with_errors",)
    # The next sync tries the bad downloads again (and fails the same way), fetches nothing
    # else, and does not retry a conversion of unchanged bytes.
    assert len(again.stages["download"].failures) == 5
    assert again.stages["download"].counts["up_to_date"] == len(mirrored)
    assert again.stages["convert"].pending == 0


# -- kill and resume ------------------------------------------------------------------------


@pytest.mark.slow
def test_sync_killed_during_a_large_download_resumes_to_verified_files(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    largest = max(Snapshot(synth_snapshot).files(), key=lambda f: f.size)
    with serve_in_thread(synth_snapshot) as replica:
        # Slow enough that the sync is killed with the largest file part way through.
        replica.faults = FaultConfig(throttle_bytes_per_s=2_000_000, throttle_scope="files")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTMIRROR_")}
        env["CTMIRROR_FILES__CONCURRENCY"] = "1"
        # What is checked is the files and their conversion (the sweeps): the feature and
        # GLIF stages, which only read the converted sweeps, are off in both syncs.
        proc = subprocess.Popen(
            [sys.executable, "-m", "ctmirror", "sync", "--no-prefect", "--api-base",
             replica.base_url, "--root", str(root), "--no-features", "--no-glif"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            partial = next((p for p in root.glob("files/*/*/*.part/data")
                            if p.stat().st_size > largest.size // 4), None)
            if partial is not None:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert partial is not None, "the sync ended before a large download was under way"
        kept = partial.stat().st_size

        # Resume through dropped connections and truncated bodies. At these rates a file
        # fails all 10 attempts with a chance of about 3e-6 (at 0.3 and 0.2 it was 3e-4 per
        # file, so over the corpus's hundreds of files about one run in ten lost a file).
        replica.faults = FaultConfig(faults=(Fault("drop", 0.2, scope="files"),
                                             Fault("truncate", 0.1, scope="files")))
        result = run_sync_locally(_config(replica.base_url, root, url, derived=False))
        replica.faults = FaultConfig()

    assert result.resumed and result.errors == ()
    assert result.stages["download"].counts["resumed"] >= 1
    assert result.stages["download"].counts["bytes_transferred"] < sum(f.size for f in Snapshot(
        synth_snapshot).files()) + 10_000_000  # the kept bytes were not fetched again
    assert kept > 0
    stored = _stored(synth_snapshot)
    rows = _rows(url, "SELECT source, source_id, relpath, sha256 FROM mirror_files")
    assert len(rows) == len({(s, i) for s, i, _, _ in rows})
    by_key = {(s, i): (relpath, sha) for s, i, relpath, sha in rows}
    for key, file in stored.items():
        relpath, sha = by_key[key]
        assert sha == file.sha256 and _sha256(root / relpath) == file.sha256
    assert not list(root.rglob("*.part"))
    sweeps = _rows(url, "SELECT specimen_id, sweep_number, count(*) FROM sweeps GROUP BY ALL "
                        "HAVING count(*) > 1")
    assert sweeps == []
    assert _rows(url, "SELECT count(*) FROM sweeps")[0][0] == sum(
        _nwb_sweeps(synth_snapshot).values())
    runs = _rows(url, "SELECT status FROM sync_runs")
    assert runs == [("succeeded",)]


def test_verify_reports_and_fixes_a_damaged_file(
    replica: object, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from ctmirror.cli import app

    root = tmp_path / "mirror"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    result: SyncResult = run_sync_locally(_config(replica.base_url, root, url, categories="models"))
    assert result.stages["download"].done > 0
    extra = root / "files" / "extra" / "notes.txt"
    extra.parent.mkdir(parents=True)
    extra.write_text("kept by hand")
    clean = CliRunner().invoke(app, ["verify", "--root", str(root)])
    assert clean.exit_code == 0, clean.output
    assert f"checked {result.stages['download'].done} files" in clean.output
    # An extra file is reported as such, and why it is no failure.
    assert ("1 extra file(s) under files/ that the warehouse does not list, e.g. "
            "files/extra/notes.txt: not part of the mirror and never read by ctmirror"
            ) in " ".join(clean.output.split())
    [(relpath,)] = _rows(url, "SELECT relpath FROM mirror_files ORDER BY source_id LIMIT 1")
    damaged = root / relpath
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    found = CliRunner().invoke(app, ["verify", "--root", str(root), "--fix"])
    assert found.exit_code == 1
    assert relpath in found.output and "sha256" in found.output
    assert not damaged.exists()
    repaired = run_sync_locally(_config(replica.base_url, root, url, categories="models"))
    assert repaired.stages["download"].done == 1
    assert CliRunner().invoke(app, ["verify", "--root", str(root)]).exit_code == 0
