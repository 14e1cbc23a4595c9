"""The shape every derived stage of a sync has, and the one loop that runs them.

A derived stage turns mirrored inputs into outputs (Parquet datasets, warehouse rows). Its
state is in the warehouse: each output records the hashes of its inputs and the code version
that made it, so ``plan`` finds the pending items (inputs or code changed) and the outputs to
withdraw (inputs gone). ``compute`` makes one item's outcome; it is a module-level function of
a picklable item, so ``run_stage`` can run it in worker processes or on a Dask cluster
(``ctmirror.item_runner``). ``write`` stores one outcome
(only this process writes the warehouse) and says what it added to the report. An item that
fails is a ``Failure`` in the report (and a ``sync_errors`` row), never a crashed sync.

A new derived stage is one module with a ``DerivedStage`` subclass, plus one line in
``ctmirror.sync.STEPS``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import sqlalchemy as sa

from ctmirror.item_runner import compute_items
from ctmirror.settings import SyncConfig

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Gone = TypeVar("Gone")


@dataclass(frozen=True)
class Failure:
    """A record whose file or output could not be made in this sync; tried again later."""

    source: str
    source_id: int
    url: str
    message: str


@dataclass(frozen=True)
class Tally:
    """What one item added to its stage's report."""

    done: int = 0
    failures: tuple[Failure, ...] = ()
    counts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StageReport:
    """What one stage did: the same fields for every stage, plus its own ``counts``."""

    name: str
    pending: int = 0
    done: int = 0
    withdrawn: int = 0
    failures: tuple[Failure, ...] = ()
    counts: Mapping[str, float] = field(default_factory=dict)
    #: Why the stage did not run (``DerivedStage.disabled_reason``), else None.
    skipped: str | None = None

    def summary(self) -> str:
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        counts = "".join(f", {value:,.{0 if float(value).is_integer() else 1}f} "
                         f"{name.replace('_', ' ')}" for name, value in self.counts.items())
        return (f"{self.done} of {self.pending} done{counts}, {len(self.failures)} failed, "
                f"{self.withdrawn} withdrawn")


@dataclass(frozen=True)
class Plan(Generic[Item, Gone]):
    """The items to compute and the outputs to withdraw."""

    items: Sequence[Item]
    withdraw: Sequence[Gone] = ()
    #: What the report counts as pending, when it is not one per item.
    pending: int | None = None


class DerivedStage(ABC, Generic[Item, Outcome, Gone]):
    """One derived stage over one warehouse and mirror root (see the module doc)."""

    name: ClassVar[str]
    #: The stage-specific counts its report always has (zero when nothing was computed).
    counts: ClassVar[tuple[str, ...]] = ()
    #: Items are cheap: compute them in this process.
    in_process: ClassVar[bool] = False
    #: ``compute`` as a plain module-level function (picklable for worker processes).
    compute: Callable[[Item], Outcome]

    def __init__(self, engine: sa.Engine, config: SyncConfig) -> None:
        self.engine = engine
        self.config = config
        self._stage_connection: sa.Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A transaction for one item's writes (or one withdrawal): its own on DuckDB, a
        savepoint of the stage's transaction on PostgreSQL (``stage_transaction``)."""
        if self._stage_connection is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._stage_connection.begin_nested():
            yield self._stage_connection

    @contextmanager
    def stage_transaction(self) -> Iterator[None]:
        """On PostgreSQL, one transaction for all of the stage's writes, committed at its end,
        so a reader sees the warehouse as before the stage or after it, never half of it. The
        rows wait in the server, not here, so the stage's size costs no memory. DuckDB commits
        each item (its readers read the copy published at the end of the sync), so a killed
        sync keeps every finished item."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as conn, conn.begin():
            self._stage_connection = conn
            try:
                yield
            finally:
                self._stage_connection = None

    def enabled(self) -> bool:
        return True

    def disabled_reason(self) -> str | None:
        """Why a stage that is not ``enabled`` does not run, for the summary; None to report
        it as one that found nothing to do."""
        return None

    @abstractmethod
    def plan(self) -> Plan[Item, Gone]: ...

    @abstractmethod
    def withdraw(self, gone: Sequence[Gone]) -> None: ...

    @abstractmethod
    def write(self, item: Item, outcome: Outcome) -> Tally: ...

    def publish(self) -> None:
        """Point the warehouse's views at the stage's datasets, and put them on the object
        store if the mirror has one."""
        from ctmirror.warehouse.views import publish_parquet_views

        publish_parquet_views(self.engine, self.config.root)
        push_datasets(self.config)


def push_datasets(config: SyncConfig) -> None:
    """Make the object store's Parquet datasets equal to the working copy's (nothing without
    a store). Written after the stage's files are complete and its rows committed, so a
    reader of the store sees only whole files."""
    from ctmirror.storage import PUSHED_MANIFEST
    from ctmirror.warehouse.views import PARQUET_FOLDER

    store = config.object_store
    if store is None or not (config.root / PARQUET_FOLDER).is_dir():
        return
    pushed = store.push(config.root, PARQUET_FOLDER, config.root / PUSHED_MANIFEST)
    log.info("datasets on %s: %d file(s) put (%d bytes), %d deleted", store.url, pushed.put,
             pushed.bytes_put, pushed.deleted)


def run_stage(stage: DerivedStage[Item, Outcome, Gone]) -> StageReport:
    """Plan, withdraw, compute the pending items (in worker processes or on Dask: see
    ``ctmirror.item_runner``), write each outcome as it comes back, publish the views,
    report."""
    done = 0
    failures: list[Failure] = []
    counts: dict[str, float] = dict.fromkeys(stage.counts, 0)
    if not stage.enabled():
        stage.publish()
        return StageReport(stage.name, counts=counts)
    plan = stage.plan()
    features = stage.config.features
    with stage.stage_transaction():
        stage.withdraw(plan.withdraw)
        for item, outcome in compute_items(
                type(stage).compute, plan.items, workers=1 if stage.in_process
                else features.workers, pool=features.pool,
                dask=None if stage.in_process else features.dask):
            tally = stage.write(item, outcome)
            done += tally.done
            failures += tally.failures
            for name, value in tally.counts.items():
                counts[name] = counts.get(name, 0) + value
            for failure in tally.failures:
                log.warning("%s: %s %s failed: %s", stage.name, failure.source,
                            failure.source_id, failure.message)
    stage.publish()
    report = StageReport(stage.name, pending=len(plan.items) if plan.pending is None
                         else plan.pending, done=done, withdrawn=len(plan.withdraw),
                         failures=tuple(failures), counts=counts)
    log.info("%s: %s", stage.name, report.summary())
    return report


def error_message(path_name: str, exc: BaseException) -> str:
    """An error about one file, naming the file once."""
    return str(exc) if path_name in str(exc) else f"{path_name}: {exc}"


__all__ = ["DerivedStage", "Failure", "Plan", "StageReport", "Tally", "error_message",
           "run_stage"]
