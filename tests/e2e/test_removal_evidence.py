"""Removal only from complete evidence: one empty answer does not soft-delete a model."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.sync import run_sync_locally
from tests.e2e.test_sync import _config, _warehouse_counts


def test_a_model_answered_empty_on_a_resync_is_held_not_removed(
    synth_snapshot: Path, warehouse_url: str, tmp_path: Path
) -> None:
    from ctmirror.replica.server import serve_in_thread

    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    sweeps_file = snapshot / "records" / "EphysSweep.jsonl"
    sweeps = sweeps_file.read_text()
    root = tmp_path / "mirror"
    with serve_in_thread(snapshot) as replica:
        config = _config(replica.base_url, root, warehouse_url, files=False)
        first = run_sync_locally(config)
        live = first.load.models["EphysSweep"].inserted
        assert live > 10
        sweeps_file.write_text("")  # every sweep query answers with no rows
        replica.reload()
        emptied = run_sync_locally(config)
        sweeps_file.write_text(sweeps)
        replica.reload()
        back = run_sync_locally(config)

    assert emptied.load.removed == 0
    assert _warehouse_counts(warehouse_url)["EphysSweep"] == live
    counts = emptied.load.models["EphysSweep"]
    assert (counts.rows, counts.removed, counts.held) == (0, 0, live)
    status = CliRunner().invoke(app, ["status", "--root", str(root), "--db", warehouse_url])
    assert status.exit_code == 0, status.output
    assert f"{live} removals held back" in " ".join(status.output.split())
    # The sweeps came back before a second sync confirmed the drop: nothing was ever removed.
    assert back.load.models["EphysSweep"].unchanged == live
    assert back.load.removed == back.load.held == 0
