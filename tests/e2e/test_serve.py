"""`ctmirror serve` over a synced mirror: it answers as the replica it was synced from, seeds
another mirror, and picks up a finished sync without a restart."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ctmirror.serve.server import ApiServer, Limits, run_in_thread
from ctmirror.serve.warehouse_source import WarehouseSource
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from tests.digest import differences, mirror_digest

pytestmark = pytest.mark.slow


def _config(base_url: str, root: Path) -> SyncConfig:
    """Records and files (but the large recordings, to stay fast), nothing derived: what a
    served mirror hands on."""
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = _url(root)
    settings.files.categories = "reconstructions,models,thumbnails,images"
    settings.files.convert = False
    settings.features.ephys = settings.features.morphology = settings.features.glif = False
    return settings.sync_config()


def _url(root: Path) -> str:
    return f"duckdb:///{root / 'warehouse.duckdb'}"


@contextmanager
def _serving(root: Path, **limits: object) -> Iterator[ApiServer]:
    server = ApiServer(WarehouseSource(_url(root), root), ("127.0.0.1", 0),
                       limits=Limits(**limits))  # type: ignore[arg-type]
    with run_in_thread(server, "serve"):
        yield server


@pytest.fixture(scope="module")
def synced_mirror(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctmirror.replica.server import serve_in_thread

    root = tmp_path_factory.mktemp("served") / "mirror"
    with serve_in_thread(synth_snapshot) as replica:
        result = run_sync_locally(_config(replica.base_url, root))
    assert not result.errors
    return root


# Where the seeded mirror differs by design: the URLs it downloaded from, and the validators
# the serving mirror sent instead of the replica's.
_SEED_IGNORES = {"mirror_files": ("url", "etag", "last_modified")}


def test_a_served_mirror_seeds_another_mirror(synced_mirror: Path, tmp_path: Path) -> None:
    seeded = tmp_path / "seeded"
    with _serving(synced_mirror) as server:
        result = run_sync_locally(_config(server.base_url, seeded))
    assert not result.errors
    assert result.load.inserted > 500
    first = mirror_digest(synced_mirror, ignore_columns=_SEED_IGNORES)
    second = mirror_digest(seeded, ignore_columns=_SEED_IGNORES)
    assert len(first["files"]) > 50
    assert differences(first, second) == []


def test_status_counts_the_files_serve_lacks(synced_mirror: Path, synth_snapshot: Path) -> None:
    import sqlalchemy as sa

    from ctmirror.replica.snapshot import Snapshot
    from ctmirror.warehouse.mirror_files import unserved_files

    recordings = sum(f.relpath.endswith(".nwb") for f in Snapshot(synth_snapshot).files())
    engine = sa.create_engine(_url(synced_mirror))
    try:
        with engine.connect() as conn:
            unserved = unserved_files(conn)
    finally:
        engine.dispose()
    # the recordings were left out of the sync (``_config``): serve answers 404 for them
    assert recordings > 0
    assert (unserved.not_downloaded, unserved.removed_upstream) == (recordings, 0)


def test_serve_answers_queries_and_files_as_the_replica_does(
    synced_mirror: Path, synth_snapshot: Path
) -> None:
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.replica.snapshot import Snapshot

    swc = next(f for f in Snapshot(synth_snapshot).files() if f.relpath.endswith(".swc"))
    mod = next(f for f in Snapshot(synth_snapshot).files() if f.relpath.endswith(".mod"))
    paths = [
        "/api/v2/data/query.json?q=model::ApiCellTypesSpecimenDetail,"
        "rma::options[num_rows$eq'all']",
        "/api/v2/data/query.json?q=model::Specimen,rma::criteria,"
        "ephys_result(well_known_files(well_known_file_type[name$eqNWBDownload])),"
        "rma::include,ephys_result(well_known_files(well_known_file_type)),"
        "rma::options[num_rows$eq'all']",
        "/api/v2/data/query.json?q=model::NeuronalModel,rma::include,well_known_files,"
        "rma::options[num_rows$eq5][order$eq'id$desc']",
        # BiophysicalApi.cache_data: the models whose template lists its mechanism files
        "/api/v2/data/query.json?q=model::NeuronalModel,rma::criteria,"
        "neuronal_model_template(well_known_files(well_known_file_type)),rma::include,"
        "neuronal_model_template(well_known_files(well_known_file_type)),"
        "rma::options[num_rows$eq'all']",
    ]
    with serve_in_thread(synth_snapshot) as replica, _serving(synced_mirror) as served, \
            httpx.Client() as http:
        for path in paths:
            want = http.get(replica.base_url + path).json()
            got = http.get(served.base_url + path).json()
            assert want["total_rows"] > 0, path
            assert got == want, path
        for stored in (swc, mod):
            url = f"/api/v2/well_known_file_download/{stored.id}"
            body = http.get(served.base_url + url).content
            assert body == http.get(replica.base_url + url).content
            assert hashlib.sha256(body).hexdigest() == stored.sha256
        url = f"/api/v2/well_known_file_download/{swc.id}"
        ranged = http.get(served.base_url + url, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206
        assert ranged.headers["ETag"] == f'"{swc.sha256}"'


def test_serve_picks_up_a_finished_sync_and_keeps_serving_while_locked(
    synced_mirror: Path, tmp_path: Path
) -> None:
    import shutil

    import duckdb

    root = tmp_path / "copy"
    shutil.copytree(synced_mirror, root)
    with _serving(root) as server, httpx.Client() as http:
        before = server.catalog.version
        query = "/api/v2/data/query.json?q=model::Donor,rma::options[num_rows$eq'all']"
        donors = http.get(server.base_url + query).json()["total_rows"]
        # a writer holds the file: the source cannot be read, the last state is served
        writer = duckdb.connect(str(root / "warehouse.duckdb"))
        try:
            assert server.reload() is False
            assert http.get(server.base_url + query).json()["total_rows"] == donors
            # a sync that removes a donor and finishes
            writer.execute("UPDATE donors SET removed_at = now() WHERE id = "
                           "(SELECT min(id) FROM donors)")
            writer.execute("INSERT INTO sync_runs (sync_id, started_at, finished_at, status, "
                           "api_base) VALUES ('zz-later', now(), now(), 'succeeded', 'test')")
        finally:
            writer.close()
        # the sync's last step: the published copy readers (and serve) open
        from ctmirror.warehouse.engine import create_warehouse_engine
        from ctmirror.warehouse.published import publish_copy

        engine = create_warehouse_engine(f"duckdb:///{root / 'warehouse.duckdb'}",
                                         mirror_root=root)
        try:
            publish_copy(engine, root)
        finally:
            engine.dispose()
        assert server.reload() is True
        assert server.catalog.version == "zz-later" != before
        assert http.get(server.base_url + query).json()["total_rows"] == donors - 1
        health = json.loads(http.get(server.base_url + "/healthz").content)
        assert health["version"] == "zz-later"
