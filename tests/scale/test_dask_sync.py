"""A sync whose derived stages run on a local Dask cluster (`ctmirror sync --dask local:2`, the
Prefect flow on its temporary server) ends in the same warehouse rows and the same Parquet bytes
as the in-process sync of the same corpus (``--no-prefect``, worker processes of this machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.digest import differences, mirror_digest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_dask_sync_gives_the_same_warehouse_and_datasets(
        replica: object, synced_mirror: Path, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTMIRROR_", "PREFECT_"))}
    # the settings the shared in-process mirror was synced with (every stage, GLIF voltages)
    proc = subprocess.run(
        [sys.executable, "-m", "ctmirror", "sync", "--api-base", replica.base_url, "--root",
         str(root), "--glif-voltages", "--dask", "local:2"],
        env=env, capture_output=True, text=True, timeout=840)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    for stage in ("convert", "ephys-features", "morphology-features", "glif-metrics"):
        assert f"{stage}" in proc.stdout
    # the shared mirror was synced from a replica of its own, on another port
    other_port = {"mirror_files": ["url"]}
    expected = mirror_digest(synced_mirror, ignore_columns=other_port)
    got = mirror_digest(root, ignore_columns=other_port)
    assert any(path.startswith("parquet/ephys") for path in got["files"])
    assert any(path.startswith("parquet/glif_voltages") for path in got["files"])
    assert differences(expected, got) == []
