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


def map_in_threads(function: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """``[function(item) for item in items]`` in that order, on up to ``threads`` threads; in
    the calling thread for one thread or one item. The first exception raised is re-raised."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items)),
                            thread_name_prefix="ephys-sweeps") as pool:
        return list(pool.map(function, items))


__all__ = ["map_in_threads"]
