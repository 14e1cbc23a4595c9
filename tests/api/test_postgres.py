"""The Python API on a PostgreSQL warehouse (``ctmirror.open(url, root=...)``): the same
calls, answered from the warehouse's tables and the mirror's Parquet samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

import ctmirror
from ctmirror.settings import Settings
from ctmirror.sync import run_sync_locally
from tests.conftest import _postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def postgres_mirror(postgres_url: str, synth_snapshot: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from ctmirror.replica.server import serve_in_thread

    for url in _postgres_database(postgres_url):
        root = tmp_path_factory.mktemp("api-pg") / "mirror"
        settings = Settings()
        settings.root = root
        settings.warehouse.url = url
        with serve_in_thread(synth_snapshot) as replica:
            settings.api.base_url = replica.base_url
            assert not run_sync_locally(settings.sync_config()).errors
        yield url, root


def test_every_call_on_postgres(postgres_mirror: tuple[str, Path]) -> None:
    url, root = postgres_mirror
    engine = sa.create_engine(url)

    def sql(query: str, **params: object) -> list[dict[str, object]]:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]

    with ctmirror.open(url, root=root) as mirror:
        assert mirror.cells().column("specimen_id").to_pylist() == [
            r["specimen_id"] for r in sql("SELECT specimen_id FROM cells ORDER BY specimen_id")]
        cell = sql("SELECT specimen_id FROM cells WHERE has_nwb ORDER BY specimen_id"
                   )[0]["specimen_id"]
        assert mirror.sweeps(cell).column("sweep_number").to_pylist() == [
            r["sweep_number"] for r in sql("SELECT sweep_number FROM sweep_summary WHERE "
                                           "specimen_id = :s ORDER BY sweep_number", s=cell)]
        spikes = sql("SELECT sweep_number, peak_t FROM ephys_spikes WHERE specimen_id = :s "
                     "AND definitions = 'allen2016' ORDER BY sweep_number, spike_number", s=cell)
        assert spikes
        assert mirror.spikes(cell).select(["sweep_number", "peak_t"]).to_pylist() == spikes
        assert mirror.features(cell).num_rows == len(sql(
            "SELECT 1 FROM ephys_features_comparison WHERE specimen_id = :s", s=cell))
        number = spikes[0]["sweep_number"]
        sweep = mirror.sweep(cell, number)
        assert sweep.response.size > 0 and np.isfinite(sweep.response).all()
        shaped = sql("SELECT specimen_id, neuron_reconstruction_id FROM cells WHERE "
                     "neuron_reconstruction_id IS NOT NULL ORDER BY specimen_id")[0]
        shape = mirror.reconstruction(shaped["specimen_id"])
        assert shape.nodes.num_rows == len(sql(
            "SELECT 1 FROM reconstruction_nodes WHERE neuron_reconstruction_id = :r",
            r=shaped["neuron_reconstruction_id"]))
        models = mirror.glif_models(cell)
        assert models.num_rows > 0
        run = mirror.simulate_glif(models.column("neuronal_model_id")[0].as_py(), number)
        assert run.voltage_v.size == sweep.stimulus.size
        assert mirror.sql("SELECT count(*) AS n FROM cells").to_pylist() == [
            {"n": mirror.cells().num_rows}]
    with ctmirror.open(url) as rootless, pytest.raises(Exception, match="without its root"):
        rootless.sweep(cell, number)
    engine.dispose()
