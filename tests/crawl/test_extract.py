"""The extract stage against an in-memory RMA server (httpx.MockTransport)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from ctmirror.crawl import (
    CrawlEvent,
    ModelDone,
    ModelStarted,
    PageDone,
    StagingPackage,
    extract,
)
from ctmirror.crawl.plan import DEFAULT_PLAN
from ctmirror.errors import ConfigError
from ctmirror.rma.client import RmaClient

from .fake_rma import FakeRma, corpus, expected_records

BASE = "http://api.example.test"
ALL_MODELS = {r.model for r in DEFAULT_PLAN}


def client_for(server: FakeRma, *, max_attempts: int = 2) -> RmaClient:
    return RmaClient(BASE, http=httpx.Client(transport=server.transport()),
                     max_attempts=max_attempts, concurrency=3, sleep=lambda _: None)


def staged(root: Path, sync_id: str) -> dict[str, dict[object, dict[str, object]]]:
    package = StagingPackage(root, sync_id)
    return {model: package.unique_records(model) for model in ALL_MODELS}


def manifest(root: Path, sync_id: str) -> dict[str, object]:
    return json.loads((root / sync_id / "manifest.json").read_text())


def test_full_crawl_stages_every_linked_record_and_nothing_else(tmp_path: Path) -> None:
    records = corpus(cells=5)
    server = FakeRma(records)
    report = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)

    assert staged(tmp_path, "s1") == expected_records(records)
    assert report.errors == ()
    assert report.complete
    assert report.requests == len(server.queries)
    assert report.pages_reused == 0
    doc = manifest(tmp_path, "s1")
    assert doc["sync_id"] == "s1"
    assert doc["api_base"] == BASE
    assert doc["limit"] is None
    assert doc["requests"] == report.requests
    assert doc["errors"] == []
    assert doc["finished_at"] is not None
    models = doc["models"]
    assert isinstance(models, dict)
    assert set(models) == ALL_MODELS
    for model, rows in expected_records(records).items():
        assert models[model]["rows"] == len(rows), model
        assert models[model]["complete"] and models[model]["full_scope"]
        assert models[model]["pages"] == report.models[model].pages_fetched


def test_queries_are_batched_not_one_per_cell(tmp_path: Path) -> None:
    server = FakeRma(corpus(cells=5))
    extract(client_for(server), tmp_path, sync_id="s1", page_size=100, in_batch=2)
    sweeps = sorted(c for m, c in server.queries if m == "EphysSweep")
    assert sweeps == ["[specimen_id$in100,101]", "[specimen_id$in102,103]", "[specimen_id$in104]"]
    files = [c for m, c in server.queries if m == "WellKnownFile"]
    assert "[attachable_type$eq'EphysResult'][attachable_id$in300,301]" in files
    # by owner, but the mechanism files: by the ids the templates list
    assert [c for c in files if not c.startswith("[attachable_type$eq'")] == ["[id$in20,21]"]
    assert server.queries[1] == ("NeuronalModelTemplate", "")
    # With pages of 100, every model costs ceil(ids / 2) requests, or one when fetched whole.
    assert len([m for m, _ in server.queries if m == "Specimen"]) == math.ceil(5 / 2)
    assert [c for m, c in server.queries if m == "ApiCellTypesSpecimenDetail"] == [""]


def test_large_batches_are_paged(tmp_path: Path) -> None:
    server = FakeRma(corpus(cells=5))
    report = extract(client_for(server), tmp_path, sync_id="s1", page_size=4, in_batch=200)
    # 15 sweeps in one $in batch, 4 per page: 4 pages, the last one short.
    assert report.models["EphysSweep"].pages_fetched == 4
    assert report.models["EphysSweep"].rows == 15


def test_second_extract_with_the_same_sync_id_makes_no_request(tmp_path: Path) -> None:
    server = FakeRma(corpus(cells=5))
    first = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    second = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    assert second.requests == 0
    assert second.pages_fetched == 0
    assert second.pages_reused == first.pages_fetched
    assert {m: r.rows for m, r in second.models.items()} == {
        m: r.rows for m, r in first.models.items()}
    assert manifest(tmp_path, "s1")["requests"] == first.requests


def test_a_killed_crawl_resumes_with_only_the_missing_pages(tmp_path: Path) -> None:
    records = corpus(cells=5)
    server = FakeRma(records)
    extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    package = StagingPackage(tmp_path, "s1")
    lost = package.pages("EphysSweep")[:2] + package.pages("WellKnownFile")[:1]
    for page in lost:
        page.unlink()
    server.queries.clear()
    again = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    assert again.requests == len(lost)
    assert {m for m, _ in server.queries} == {"EphysSweep", "WellKnownFile"}
    assert staged(tmp_path, "s1") == expected_records(records)
    assert not list((tmp_path / "s1").rglob("*.tmp"))


def test_join_table_pairs_are_staged_and_resumed(tmp_path: Path) -> None:
    server = FakeRma(corpus(cells=2))
    first = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    package = StagingPackage(tmp_path, "s1")
    assert package.links("NeuronalModelTemplate", "well_known_files") == {
        (900, 20), (900, 21), (901, 21)}
    # the joined total_rows of the including query is no evidence, but no contradiction
    template = first.models["NeuronalModelTemplate"]
    assert template.consistent and template.complete and template.api_total_rows is None
    # a page whose pairs were lost is fetched again, the files it lists still known
    (pairs,) = (tmp_path / "s1" / "links" / "NeuronalModelTemplate.well_known_files").iterdir()
    pairs.unlink()
    server.queries.clear()
    again = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    assert server.queries == [("NeuronalModelTemplate", "")]
    assert again.models["WellKnownFile"].rows == first.models["WellKnownFile"].rows
    assert {20, 21} <= set(package.unique_records("WellKnownFile"))


def test_a_failing_batch_is_recorded_and_the_crawl_goes_on(tmp_path: Path) -> None:
    records = corpus(cells=5)
    server = FakeRma(records)
    server.failing.add("model::EphysSweep,rma::criteria,[specimen_id$in102,103]")
    events: list[CrawlEvent] = []
    report = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2,
                     progress=events.append)

    assert [e.model for e in report.errors] == ["EphysSweep"]
    assert "%5Bspecimen_id$in102,103%5D" in report.errors[0].url
    assert "503" in report.errors[0].message
    assert not report.models["EphysSweep"].complete
    assert report.models["WellKnownFile"].complete
    doc = manifest(tmp_path, "s1")
    assert doc["errors"] == [{"model": "EphysSweep", "url": report.errors[0].url,
                              "message": report.errors[0].message}]
    assert doc["models"]["EphysSweep"]["complete"] is False  # type: ignore[index]
    assert staged(tmp_path, "s1")["WellKnownFile"] == expected_records(records)["WellKnownFile"]
    assert any(isinstance(e, ModelDone) and e.model == "EphysSweep" and not e.complete
               for e in events)

    server.failing.clear()
    server.queries.clear()
    healed = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    assert healed.errors == ()
    assert healed.complete
    assert {m for m, _ in server.queries} == {"EphysSweep"}
    assert manifest(tmp_path, "s1")["errors"] == []
    assert staged(tmp_path, "s1") == expected_records(records)


def test_an_incomplete_parent_makes_its_children_incomplete(tmp_path: Path) -> None:
    server = FakeRma(corpus(cells=5))
    server.failing.add("model::Specimen,")
    report = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=10)
    assert not report.models["Specimen"].complete
    # Donor, Structure and EphysResult take ids from Specimen; their own queries succeeded.
    assert not report.models["Donor"].complete
    assert not report.models["EphysResult"].complete
    assert not report.models["WellKnownFile"].complete
    assert report.models["EphysSweep"].complete  # ids from the cells, not from Specimen


def test_limit_keeps_the_first_cells_and_marks_the_scope(tmp_path: Path) -> None:
    records = corpus(cells=5)
    server = FakeRma(records)
    report = extract(client_for(server), tmp_path, sync_id="s1", limit=2, page_size=3)
    got = staged(tmp_path, "s1")
    assert sorted(got["ApiCellTypesSpecimenDetail"]) == [100, 101]
    assert sorted(got["Specimen"]) == [100, 101]
    assert {r["specimen_id"] for r in got["EphysSweep"].values()} == {100, 101}
    assert sorted(got["SubImage"]) == [7000, 7001, 7002, 7003]
    assert [c for m, c in server.queries if m == "ApiCellTypesSpecimenDetail"] == [""]
    doc = manifest(tmp_path, "s1")
    assert doc["limit"] == 2
    scope = {m: e["full_scope"] for m, e in doc["models"].items()}  # type: ignore[union-attr]
    assert scope.pop("WellKnownFileType") and scope.pop("NeuronalModelTemplate")
    assert not any(scope.values())
    assert report.complete

    with pytest.raises(ConfigError, match="limit=2"):
        extract(client_for(server), tmp_path, sync_id="s1", limit=3)


def test_nested_associations_are_not_staged(tmp_path: Path) -> None:
    records = corpus(cells=2)
    server = FakeRma(records, nested={
        "EphysSweep": lambda r: {"specimen": {"id": r["specimen_id"]}},
        "Specimen": lambda r: {"specimen_tags": [{"name": "dendrite type - spiny"}],
                               "ephys_sweeps": [], "donor": None},
    })
    extract(client_for(server), tmp_path, sync_id="s1")
    got = staged(tmp_path, "s1")
    assert got["EphysSweep"] == expected_records(records)["EphysSweep"]
    # 'donor' is a known association even when null; the plain attributes stay.
    assert got["Specimen"] == expected_records(records)["Specimen"]


def test_progress_events_follow_the_plan(tmp_path: Path) -> None:
    events: list[CrawlEvent] = []
    report = extract(client_for(FakeRma(corpus(cells=3))), tmp_path, sync_id="s1",
                     progress=events.append, page_size=2, in_batch=2)
    started = [e.model for e in events if isinstance(e, ModelStarted)]
    done = [e.model for e in events if isinstance(e, ModelDone)]
    assert started == done
    assert set(started) == ALL_MODELS
    assert started.index("NeuronalModel") < started.index("NeuronalModelRun")
    assert started.index("NeuronalModelRun") < started.index("WellKnownFile")
    pages = [e for e in events if isinstance(e, PageDone)]
    assert len(pages) == report.pages_fetched
    assert sum(e.rows for e in pages if e.model == "EphysSweep") == 9


@pytest.mark.parametrize("sync_id", ["", "../up", "a/b", ".hidden"])
def test_unsafe_sync_ids_are_refused(tmp_path: Path, sync_id: str) -> None:
    with pytest.raises(ConfigError):
        extract(client_for(FakeRma({})), tmp_path, sync_id=sync_id)


def test_an_empty_page_the_api_counted_rows_for_is_no_evidence_of_removal(
    tmp_path: Path,
) -> None:
    # A page answered empty while total_rows says the rows exist (a flaky server, a cache
    # returning nothing): the crawl cannot tell removed records from lost ones.
    server = FakeRma(corpus(cells=5))
    server.empty.add("model::EphysSweep,")
    report = extract(client_for(server), tmp_path, sync_id="s1", page_size=4, in_batch=200)
    sweeps = report.models["EphysSweep"]
    assert (sweeps.rows, sweeps.complete, sweeps.consistent) == (0, True, False)
    assert all(m.consistent for name, m in report.models.items() if name != "EphysSweep")
    models = manifest(tmp_path, "s1")["models"]
    assert models["EphysSweep"]["consistent"] is False  # type: ignore[index]
    assert models["Specimen"]["consistent"] is True  # type: ignore[index]
