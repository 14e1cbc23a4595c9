"""A sync whose derived stages run on a local Dask cluster ends in the same warehouse rows and
the same Parquet bytes as a sync computing them in this machine's worker processes, inside the
Prefect flow and without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from tests.digest import differences, mirror_digest

pytestmark = pytest.mark.timeout(900)


def _config(base_url: str, root: Path, dask: str | None) -> SyncConfig:
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = f"duckdb:///{root / 'warehouse.duckdb'}"
    settings.features.workers = 2
    settings.features.dask = dask
    return settings.sync_config()


def test_dask_sync_gives_the_same_warehouse_and_datasets(replica: object,
                                                         tmp_path: Path) -> None:
    here = run_sync_locally(_config(replica.base_url, tmp_path / "here", None))
    on_dask = run_sync_locally(_config(replica.base_url, tmp_path / "dask", "local:2"))
    assert here.errors == on_dask.errors == ()
    print(here.stage_seconds, on_dask.stage_seconds)
    for name in ("convert", "ephys-features", "morphology-features", "glif-metrics"):
        assert on_dask.stages[name].done == here.stages[name].done > 0, name
        # every count but the compute time
        assert ({k: v for k, v in on_dask.stages[name].counts.items() if k != "seconds"}
                == {k: v for k, v in here.stages[name].counts.items() if k != "seconds"}), name
    expected = mirror_digest(tmp_path / "here")
    got = mirror_digest(tmp_path / "dask")
    assert any(path.startswith("parquet/ephys") for path in got["files"])
    assert differences(expected, got) == []
