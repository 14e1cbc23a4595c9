"""Run a sync of the synthetic corpus against the replica and reduce it to what is compared.

A case is a fault configuration; its outcome is the mirror's digest (``tests/digest.py``),
what the injector fired, and what each sync reported. The fault-free outcome of the same
corpus is the reference every case must reach.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctmirror.replica.faults import FaultConfig
from ctmirror.replica.server import serve_in_thread
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import SyncResult, run_sync_locally
from tests.digest import differences, mirror_digest

#: Tables that keep every run's bookkeeping: a run that ended with per-item errors leaves its
#: rows there, which a fault-free history never has (the rows the mirror holds are compared).
ERROR_LOG_TABLES = frozenset({"sync_errors", "sync_quarantine"})


def sync_config(base_url: str, root: Path, warehouse_url: str | None = None,
                **api: Any) -> SyncConfig:
    """The faults suite's sync: every record and file, converted; no features.

    The feature stages only read converted outputs already in the digest, so they would add
    a minute per case and nothing a network fault can reach.
    """
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    for name, value in api.items():
        setattr(settings.api, name, value)
    settings.warehouse.url = warehouse_url
    settings.features.ephys = settings.features.morphology = settings.features.glif = False
    return settings.sync_config()


@dataclass
class Outcome:
    root: Path
    digest: dict[str, Any]
    #: the warehouse; None for the root's DuckDB file
    url: str | None = None
    injected: dict[str, int] = field(default_factory=dict)
    runs: list[SyncResult] = field(default_factory=list)

    @property
    def warehouse_url(self) -> str:
        return self.url or f"duckdb:///{self.root / 'warehouse.duckdb'}"

    @property
    def rows(self) -> int:
        return self.rows_without(frozenset())

    def rows_without(self, tables: frozenset[str]) -> int:
        return sum(t["rows"] for name, t in self.digest["tables"].items() if name not in tables)

    @property
    def files(self) -> int:
        return len(self.digest["files"])


def free_port() -> int:
    """A loopback port no one listens on now.

    Every case serves on the same port as the reference, since the mirror keeps each file's
    download URL (``mirror_files.url``): a different port would be a different mirror.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_case(snapshot: Path, root: Path, faults: FaultConfig | None, *, port: int,
             resync: bool = False, warehouse_url: str | None = None, **api: Any) -> Outcome:
    """One sync under ``faults``; with ``resync`` a second, fault-free sync after it.
    The warehouse is the root's DuckDB file unless ``warehouse_url`` names another."""
    with serve_in_thread(snapshot, port=port, faults=faults) as replica:
        config = sync_config(replica.base_url, root, warehouse_url, **api)
        runs = [run_sync_locally(config)]
        injected = replica.injected
        if resync:
            replica.faults = None
            runs.append(run_sync_locally(sync_config(replica.base_url, root, warehouse_url)))
    return Outcome(root, mirror_digest(root, warehouse_url), warehouse_url, injected, runs)


def compare(reference: Outcome, case: Outcome, *, ignore: frozenset[str] = frozenset()
            ) -> list[str]:
    """The digest lines that differ, leaving out the tables in ``ignore``."""
    def without(digest: dict[str, Any]) -> dict[str, Any]:
        return {"tables": {k: v for k, v in digest["tables"].items() if k not in ignore},
                "files": digest["files"]}

    return differences(without(reference.digest), without(case.digest))


@dataclass(frozen=True)
class MatrixRow:
    case: str
    injected: dict[str, int]
    rows: int
    files: int
    differences: int
