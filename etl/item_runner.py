"""Where a derived stage computes its items: in this process, in worker processes or threads of
this machine (the default), or on a Dask cluster (``--dask ADDRESS`` or ``--dask local:N``).

Every way yields ``(item, outcome)`` pairs to the one process that writes the warehouse, as
they complete (not in order), with at most a few items per worker in flight, so neither the
outcomes waiting to be written nor the futures grow with the stage's size.

On Dask, Prefect's ``DaskTaskRunner`` (``prefect-dask``) connects to the scheduler or starts the
``LocalCluster``, and the items are plain functions on its client, not one Prefect task run
each: a task run inside a Dask worker needs a Prefect API the worker can reach, and the
default temporary server of ``ctmirror sync`` is reachable from no worker (each would start one
of its own); ``--no-prefect`` runs need no Prefect server at all. Dask itself runs an item again
on another worker when its worker dies mid-item (``distributed.scheduler.allowed-failures``
times, then the stage fails with ``KilledWorker``).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Literal, TypeVar

from ctmirror.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")

#: Items in flight per worker: one computing, one queued so the worker never waits for the
#: writer.
IN_FLIGHT_PER_WORKER = 2

_LOCAL = re.compile(r"local:(\d+)")


@dataclass(frozen=True)
class DaskTarget:
    """A Dask scheduler to connect to, or the size of a ``LocalCluster`` to start."""

    address: str | None = None
    local_workers: int | None = None


def parse_dask(spec: str) -> DaskTarget:
    """``local:N`` (a ``LocalCluster`` of N single-threaded worker processes) or a scheduler
    address (``tcp://host:8786``, ``host:8786``)."""
    spec = spec.strip()
    local = _LOCAL.fullmatch(spec)
    if local:
        workers = int(local.group(1))
        if workers < 1:
            raise ConfigError(f"--dask {spec}: a local cluster needs at least one worker")
        return DaskTarget(local_workers=workers)
    if spec.startswith("local"):
        raise ConfigError(f"--dask {spec!r}: say local:N, N the number of worker processes")
    if not re.fullmatch(r"([a-z]+://)?[\w.\-\[\]:]+:\d+", spec):
        raise ConfigError(f"--dask {spec!r}: not a scheduler address (tcp://host:8786) or "
                          "local:N")
    return DaskTarget(address=spec)


def compute_items(function: Callable[[T], R], items: Sequence[T], *, workers: int,
                  pool: Literal["processes", "threads"] = "processes",
                  dask: str | None = None) -> Iterator[tuple[T, R]]:
    """``(item, function(item))`` for every item, as each completes: on the Dask cluster
    ``dask`` names when given, else in this process when there is one worker or one item, else
    in ``workers`` processes (spawned) or threads. ``function`` and the items must be
    picklable (``function`` a module-level function) for processes and Dask."""
    if not items:
        return
    if dask is not None:
        yield from _on_dask(function, items, parse_dask(dask))
        return
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield item, function(item)
        return
    executor: Executor
    if pool == "threads":
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stage")
    else:
        # spawn, not fork: the sync may run inside Prefect's threads, and a forked child can
        # inherit a lock another thread held at the fork.
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    with executor:
        yield from _windowed(executor, function, items, workers * IN_FLIGHT_PER_WORKER)


def _windowed(executor: Executor, function: Callable[[T], R], items: Sequence[T],
              window: int) -> Iterator[tuple[T, R]]:
    queue = iter(items)
    pending = {executor.submit(function, item): item
               for item in itertools.islice(queue, window)}
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            item = pending.pop(future)
            yield item, future.result()
            for following in itertools.islice(queue, 1):
                pending[executor.submit(function, following)] = following


def _on_dask(function: Callable[[T], R], items: Sequence[T],
             target: DaskTarget) -> Iterator[tuple[T, R]]:
    import distributed
    from prefect_dask.task_runners import DaskTaskRunner

    if target.address is not None:
        runner = DaskTaskRunner(address=target.address)
    else:
        # one thread per worker: the stages' numeric code holds the GIL. The workers' own logs
        # are silenced: an item's error reaches this process through its future, and closing
        # the cluster logs heartbeat tracebacks from workers that outlive the scheduler.
        runner = DaskTaskRunner(cluster_kwargs={
            "n_workers": target.local_workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None, "silence_logs": logging.CRITICAL})
    with runner:
        # distributed is untyped
        client: Any = runner.client
        window = max(2, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER
        queue = iter(items)
        submitted: dict[str, T] = {}

        def submit(item: T) -> Any:
            # pure=False: the same item twice (a retried stage) is computed twice, not shared
            future = client.submit(function, item, pure=False)
            submitted[future.key] = item
            return future

        as_completed: Any = distributed.as_completed
        running = as_completed([submit(item) for item in itertools.islice(queue, window)],
                               loop=client.loop)
        for future in running:
            item = submitted.pop(future.key)
            outcome = future.result()
            # dropping the future lets the worker forget the outcome
            future.release()
            yield item, outcome
            for following in itertools.islice(queue, 1):
                running.add(submit(following))


__all__ = ["DaskTarget", "compute_items", "parse_dask"]
