"""The page memo: a re-crawl of unchanged answers stages the same package without parsing them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import httpx
import pytest

from ctmirror.crawl import StagingPackage, extract
from ctmirror.crawl.page_memo import MEMO_DIR, PageMemo
from ctmirror.rma.client import RmaClient

from .fake_rma import FakeRma, corpus, expected_records

BASE = "http://api.example.test"
# the module, which the package's ``extract`` function shadows
extract_module = importlib.import_module("ctmirror.crawl.extract")


def client_for(server: FakeRma) -> RmaClient:
    return RmaClient(BASE, http=httpx.Client(transport=server.transport()), max_attempts=2,
                     concurrency=3, sleep=lambda _: None)


def package_files(root: Path, sync_id: str) -> dict[str, bytes]:
    folder = root / sync_id
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.jsonl"))}


def models(root: Path, sync_id: str) -> dict[str, object]:
    doc = json.loads((root / sync_id / "manifest.json").read_text())
    assert isinstance(doc, dict)
    return dict(doc["models"])


@pytest.fixture
def staged_pages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models of the pages the crawl parses and stages (not taken from the memo)."""
    calls: list[str] = []
    original = extract_module._Crawl._stage

    def counted(self: object, resource: object, key: str, response: object) -> object:
        calls.append(resource.model)  # type: ignore[attr-defined]
        return original(self, resource, key, response)  # type: ignore[arg-type]

    monkeypatch.setattr(extract_module._Crawl, "_stage", counted)
    return calls


def test_unchanged_answers_are_staged_again_from_the_memo(
        tmp_path: Path, staged_pages: list[str]) -> None:
    records = corpus(cells=5)
    server = FakeRma(records)
    first = extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    assert len(staged_pages) == first.pages_fetched
    staged_pages.clear()
    server.queries.clear()

    second = extract(client_for(server), tmp_path, sync_id="s2", page_size=3, in_batch=2)

    assert staged_pages == []  # every answer was the memo's, byte for byte
    assert len(server.queries) == second.requests == first.requests  # all asked again
    assert second.pages_fetched == first.pages_fetched and second.pages_reused == 0
    assert package_files(tmp_path, "s2") == package_files(tmp_path, "s1")
    assert models(tmp_path, "s2") == models(tmp_path, "s1")
    assert {m: (r.rows, r.api_total_rows, r.consistent) for m, r in second.models.items()} == {
        m: (r.rows, r.api_total_rows, r.consistent) for m, r in first.models.items()}
    package = StagingPackage(tmp_path, "s2")
    assert {m: package.unique_records(m) for m in expected_records(records)} == \
        expected_records(records)
    assert package.links("NeuronalModelTemplate", "well_known_files") == {
        (900, 20), (900, 21), (901, 21)}


def test_a_changed_answer_is_parsed_and_remembered(
        tmp_path: Path, staged_pages: list[str]) -> None:
    records = corpus(cells=5)
    server = FakeRma(records)
    extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    records["Donor"][0]["name"] = "renamed upstream"
    staged_pages.clear()

    extract(client_for(server), tmp_path, sync_id="s2", page_size=3, in_batch=2)
    assert staged_pages == ["Donor"]
    donors = StagingPackage(tmp_path, "s2").unique_records("Donor")
    assert donors[records["Donor"][0]["id"]]["name"] == "renamed upstream"

    staged_pages.clear()
    extract(client_for(server), tmp_path, sync_id="s3", page_size=3, in_batch=2)
    assert staged_pages == []
    assert package_files(tmp_path, "s3") == package_files(tmp_path, "s2")


def test_a_page_whose_memo_files_are_gone_is_staged_from_the_answer(
        tmp_path: Path, staged_pages: list[str]) -> None:
    records = corpus(cells=2)
    server = FakeRma(records)
    extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    (pairs,) = (tmp_path / MEMO_DIR / "links" / "NeuronalModelTemplate.well_known_files"
                ).iterdir()
    pairs.unlink()
    staged_pages.clear()
    server.queries.clear()

    extract(client_for(server), tmp_path, sync_id="s2", page_size=3, in_batch=2)
    # asked once more after the memo fell short, then parsed: the same package
    assert staged_pages == ["NeuronalModelTemplate"]
    assert server.queries.count(("NeuronalModelTemplate", "")) == 2
    assert package_files(tmp_path, "s2") == package_files(tmp_path, "s1")


def test_the_memo_keeps_only_the_pages_of_the_last_full_crawl(tmp_path: Path) -> None:
    server = FakeRma(corpus(cells=5))
    extract(client_for(server), tmp_path, sync_id="s1", page_size=3, in_batch=2)
    memo = tmp_path / MEMO_DIR
    before = {p.relative_to(memo) for p in memo.rglob("*.json*")}
    stale = memo / "Donor" / ("0" * 32 + ".json")
    stale.write_text("{}")
    extract(client_for(server), tmp_path, sync_id="s2", page_size=3, in_batch=2)
    assert {p.relative_to(memo) for p in memo.rglob("*.json*")} == before
    assert PageMemo(tmp_path).get("Donor", "0" * 32) is None
