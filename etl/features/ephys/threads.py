"""Run independent per-sweep work on several threads.

The costly steps of a feature run (inflating chunks, the compiled filters and scans) release
the GIL, so the sweeps of one cell can use every core of a machine that has no other work for
them. A caller that already runs cells in several processes keeps ``threads=1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class SweepPool:
    """``threads`` worker threads shared by every map of one cell, including maps made at
    the same time from several threads (the protocols are analysed at once): the sweeps'
    work never runs on more threads than asked for, whichever protocol it comes from. With
    one thread every map runs in the calling thread. Use as a context manager."""

    def __init__(self, threads: int) -> None:
        self.threads = max(threads, 1)
        self._pool = (ThreadPoolExecutor(threads, thread_name_prefix="ephys-sweeps")
                      if threads > 1 else None)

    def __enter__(self) -> SweepPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[function(item) for item in items]`` in that order; in the calling thread for one
        thread or one item. The first exception raised is re-raised (the items not begun
        are then dropped)."""
        if self._pool is None or len(items) <= 1:
            return [function(item) for item in items]
        futures = [self._pool.submit(function, item) for item in items]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()


def map_in_threads(function: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """``[function(item) for item in items]`` in that order, on up to ``threads`` threads of
    their own; see ``SweepPool.map``."""
    with SweepPool(min(threads, len(items))) as pool:
        return pool.map(function, items)


__all__ = ["SweepPool", "map_in_threads"]
