"""Fixtures of the replica tests: the tiny snapshot, its engine, and a server serving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .tiny_snapshot import write_tiny_snapshot


@pytest.fixture(scope="session")
def tiny_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_snapshot(tmp_path_factory.mktemp("replica") / "snapshot")


@pytest.fixture(scope="session")
def engine(tiny_snapshot: Path) -> Any:
    from ctmirror.replica.snapshot import Snapshot

    return Snapshot(tiny_snapshot).query_engine()


@pytest.fixture
def tiny_replica(tiny_snapshot: Path) -> Iterator[Any]:
    from ctmirror.replica.server import serve_in_thread

    with serve_in_thread(tiny_snapshot) as running:
        yield running
