"""Fixtures of the mirror tests: the synthetic snapshot's file list, URLs to the replica, an
HTTP client, and a sleep that records instead of waiting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ctmirror.mirror import FileKind
from ctmirror.replica.snapshot import Snapshot, StoredFile


@pytest.fixture(scope="session")
def stored_files(synth_snapshot: Path) -> dict[str, StoredFile]:
    """One stored file of each kind, by kind name: the first NWB, SWC, marker, JSON, PNG and
    model zip listed in files.jsonl."""
    chosen: dict[str, StoredFile] = {}
    for stored in Snapshot(synth_snapshot).files():
        kind = "zip" if stored.kind == "model_zip" else FileKind.from_name(stored.relpath).value
        chosen.setdefault(kind, stored)
    return chosen


@pytest.fixture(scope="session")
def nwb_file(stored_files: dict[str, StoredFile]) -> StoredFile:
    return stored_files["nwb"]


def file_url(base_url: str, stored: StoredFile) -> str:
    if stored.kind == "model_zip":
        return f"{base_url}/neuronal_model/download/{stored.id}"
    return f"{base_url}/api/v2/well_known_file_download/{stored.id}"


def stored_path(snapshot: Path, stored: StoredFile) -> Path:
    return snapshot / stored.relpath


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


class Sleeps(list[float]):
    """A ``sleep`` for ``download_file`` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
