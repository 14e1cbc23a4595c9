"""Acceptance on the corpus built from the published data: the Allen documentation's queries
answered by the replica, then the whole database mirrored and the same questions answered by SQL.

Skipped where the published data set is not beside the repository (see ``real_snapshot``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from ctmirror.demo import EXAMPLE_QUERIES
from ctmirror.replica.snapshot import Snapshot
from ctmirror.schema import MODEL_TABLES
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import SyncResult, run_sync_locally

from ..replica.corpus.snapshot_checks import dangling_foreign_keys, file_problems

pytestmark = pytest.mark.slow

CELLS = "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eqall]"


def _cells_where(criteria: str) -> str:
    return (f"model::ApiCellTypesSpecimenDetail,rma::criteria,{criteria},"
            "rma::options[num_rows$eqall]")


DOCUMENTED_COUNTS = {
    CELLS: 2333,
    _cells_where("[tag__dendrite_type$eq'spiny']"): 1213,
    _cells_where("[structure__layer$eq'4']"): 567,
    _cells_where("[donor__species$il'homo sapiens']"): 413,
    _cells_where("[donor__disease_state$il'epilepsy']"): 350,
    _cells_where("[nr__reconstruction_type$nonnull]"): 667,
    _cells_where("[m__biophys_perisomatic$gt0]"): 238,
    _cells_where("[m__glif$gt0]"): 1218,
}


@pytest.fixture(scope="module")
def real_replica(real_snapshot: Path) -> Iterator[object]:
    from ctmirror.replica.server import serve_in_thread

    with serve_in_thread(real_snapshot) as running:
        yield running


@pytest.fixture(scope="module")
def http(real_replica: object) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=real_replica.base_url, timeout=60) as client:
        yield client


def _query(http: httpx.Client, q: str, *, param: str = "criteria", encode: bool = True) -> dict:
    value = quote(q, safe=";/?:@&=+$,") if encode else q
    response = http.get(f"/api/v2/data/query.json?{param}={value}")
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["success"] is True
    return body


def test_corpus_is_consistent(real_snapshot: Path) -> None:
    assert dangling_foreign_keys(real_snapshot) == []
    assert file_problems(real_snapshot) == []


@pytest.mark.parametrize("encode", [True, False], ids=["encoded", "plain"])
@pytest.mark.parametrize("q", list(DOCUMENTED_COUNTS), ids=lambda q: q.split(",")[-2][:40])
def test_documented_cell_queries(http: httpx.Client, q: str, encode: bool) -> None:
    body = _query(http, q, encode=encode)
    assert body["num_rows"] == body["total_rows"] == len(body["msg"]) == DOCUMENTED_COUNTS[q]


def test_specimen_with_only_its_nwb_file(http: httpx.Client) -> None:
    q = ("model::Specimen,rma::criteria,[id$eq320654829],rma::include,"
         "ephys_result(well_known_files(well_known_file_type[name$eqNWBDownload]))")
    (specimen,) = _query(http, q)["msg"]
    files = specimen["ephys_result"]["well_known_files"]
    assert [f["well_known_file_type"]["name"] for f in files] == ["NWBDownload"]
    response = http.get(files[0]["download_link"])
    assert response.status_code == 200
    assert response.content[:8] == b"\x89HDF\r\n\x1a\n"
    assert int(response.headers["content-length"]) == len(response.content)


def test_published_ephys_feature_row(http: httpx.Client) -> None:
    (row,) = _query(http, "model::EphysFeature,rma::criteria,[specimen_id$eq467703703]")["msg"]
    assert row["specimen_id"] == 467703703
    assert isinstance(row["vrest"], float)


def test_projection_and_sub_images(http: httpx.Client) -> None:
    projections = _query(http, "model::ProjectionImage,rma::criteria,[specimen_id$eq313862022]")
    assert 1 <= len(projections["msg"]) <= 4
    response = http.get(f"/api/v2/section_image_download/{projections['msg'][0]['id']}",
                        params={"downsample": 2}, follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"
    subs = _query(http, "model::SubImage,rma::criteria,data_set[specimen_id$eq313862022],"
                        "rma::options[num_rows$eqall]")
    assert subs["total_rows"] == 627
    assert all(s["image_type"] == "Primary" for s in subs["msg"])


def test_reconstruction_with_its_swc(http: httpx.Client) -> None:
    q = ("model::NeuronReconstruction,rma::criteria,[specimen_id$eq313862306],"
         "rma::include,well_known_files")
    (recon,) = _query(http, q)["msg"]
    swc = next(f for f in recon["well_known_files"] if f["path"].endswith("_m.swc")
               and "marker" not in f["path"])
    text = http.get(swc["download_link"]).text
    rows = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert len(rows) > 100 and all(len(r) == 7 for r in rows)
    assert sum(r[6] == "-1" for r in rows) == 1


def test_glif_models_and_their_zip(http: httpx.Client) -> None:
    q = ("model::NeuronalModel,rma::criteria,[specimen_id$eq469803127],"
         "neuronal_model_template[name$il'*LIF*']")
    models = _query(http, q)["msg"]
    assert models and all(m["specimen_id"] == 469803127 for m in models)
    response = http.get(f"/neuronal_model/download/{models[0]['id']}")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(n.endswith("neuron_config.json") for n in names)


@pytest.fixture(scope="module")
def mirrored(real_replica: object, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[SyncConfig, SyncResult]:
    settings = Settings()
    settings.root = tmp_path_factory.mktemp("mirror")
    settings.api.base_url = real_replica.base_url
    # Records only: the file mirror has its own end-to-end tests, and all 18,000 files of the
    # corpus would take most of the suite's time.
    settings.files.categories = "none"
    config = settings.sync_config()
    return config, run_sync_locally(config)


def test_sync_mirrors_the_whole_corpus(real_snapshot: Path,
                                       mirrored: tuple[SyncConfig, SyncResult]) -> None:
    config, result = mirrored
    snap = Snapshot(real_snapshot)
    # Every record of the models the mirror holds (the mechanism files too, through the
    # templates' lists).
    expected = {m: sum(1 for _ in snap.mirrored_records(m))
                for m in snap.models() if m in MODEL_TABLES}
    assert {m: c.rows for m, c in result.load.models.items()} == expected
    assert result.load.inserted == sum(expected.values())
    assert not result.errors
    # bulk queries: a few hundred requests, against 2,333 cells x 15 linked models
    assert result.requests < 1000


def test_documented_questions_answered_offline(mirrored: tuple[SyncConfig, SyncResult]) -> None:
    config, _ = mirrored
    engine = sa.create_engine(config.warehouse_url)
    try:
        with engine.connect() as conn:
            counts = {label: conn.execute(sa.text(q)).scalar_one()
                      for label, q in EXAMPLE_QUERIES.items()}
    finally:
        engine.dispose()
    assert counts == {"all cells": 2333, "spiny": 1213, "layer 4": 567, "human": 413,
                      "epilepsy": 350}


def test_second_sync_changes_nothing(mirrored: tuple[SyncConfig, SyncResult]) -> None:
    config, first = mirrored
    second = run_sync_locally(config)
    assert (second.load.inserted, second.load.updated, second.load.removed) == (0, 0, 0)
    assert second.load.unchanged == first.load.inserted
    assert set(second.load.models) == set(MODEL_TABLES)
