"""Map a function over tasks in worker processes, for the stages that compute per cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_in_processes(function: Callable[[T], R], tasks: Sequence[T],
                     workers: int) -> Iterator[tuple[T, R]]:
    """``(task, function(task))`` for every task, in order: in this process when there is one
    worker or one task, else in ``workers`` spawned processes (``function`` and the tasks must
    be picklable, so ``function`` is a module-level function)."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, function(task)
        return
    # spawn, not fork: the sync may run inside Prefect's threads, and a forked child can
    # inherit a lock another thread held at the fork.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield from zip(tasks, pool.map(function, tasks, chunksize=1), strict=True)


__all__ = ["map_in_processes"]
