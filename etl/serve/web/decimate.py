"""Min/max decimation of a sampled trace for drawing (pure numpy, no I/O).

A line through each bucket's minimum and maximum, in the order they occur, draws the same
envelope as the full trace at a screen's resolution. Samples named in ``keep`` (spike peaks
and troughs) are always kept too, so two spikes sharing a bucket both keep their peak.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def minmax_indices(values: npt.NDArray[np.floating], buckets: int,
                   keep: npt.ArrayLike = ()) -> npt.NDArray[np.int64]:
    """Sorted indices of the samples to draw: each bucket's first minimum and maximum (at most
    ``2 * buckets`` of them) and every index of ``keep`` inside the trace. A trace of at most
    ``2 * buckets`` samples is kept whole. NaN samples are never a bucket's extreme."""
    n = int(values.shape[0])
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if n <= 2 * buckets:
        return np.arange(n, dtype=np.int64)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts = edges[:-1]
    # reduceat over equal-ish slices: the extreme of each bucket, then its first position
    lows = np.fmin.reduceat(values, starts)
    highs = np.fmax.reduceat(values, starts)
    bucket_of = np.repeat(np.arange(buckets), np.diff(edges))
    is_low = values == lows[bucket_of]
    is_high = values == highs[bucket_of]
    chosen = np.concatenate([_first_per_bucket(is_low, bucket_of, buckets),
                             _first_per_bucket(is_high, bucket_of, buckets)])
    extra = np.asarray(keep, dtype=np.int64).ravel()
    extra = extra[(extra >= 0) & (extra < n)]
    return np.unique(np.concatenate([chosen[chosen >= 0], extra]))


def _first_per_bucket(mask: npt.NDArray[np.bool_], bucket_of: npt.NDArray[np.int64],
                      buckets: int) -> npt.NDArray[np.int64]:
    """The first index where ``mask`` holds in each bucket (-1: nowhere, an all-NaN bucket)."""
    hits = np.flatnonzero(mask)
    first = np.full(buckets, -1, dtype=np.int64)
    # reversed assignment: the earliest hit of a bucket is written last and wins
    first[bucket_of[hits[::-1]]] = hits[::-1]
    return first


__all__ = ["minmax_indices"]
