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
    """Sorted indices of the samples to draw: the first minimum and maximum of each of at most
    ``buckets`` equal runs of samples, and every index of ``keep`` inside the trace. A trace
    of at most ``2 * buckets`` samples is kept whole. NaN samples are never an extreme."""
    n = int(values.shape[0])
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    extra = np.asarray(keep, dtype=np.int64).ravel()
    extra = extra[(extra >= 0) & (extra < n)]
    if n <= 2 * buckets:
        return np.arange(n, dtype=np.int64)
    size = -(-n // buckets)
    rows = -(-n // size)
    starts = np.arange(rows, dtype=np.int64) * size
    # one reshaped pass per extreme: the trace padded with its last sample, which can never be
    # a bucket's *first* extreme before a real sample of the same value
    padded = np.empty(rows * size, dtype=values.dtype)
    padded[:n] = values
    padded[n:] = values[-1]
    nan = np.isnan(padded)
    if nan.any():
        lows = np.where(nan, np.inf, padded).reshape(rows, size).argmin(axis=1)
        highs = np.where(nan, -np.inf, padded).reshape(rows, size).argmax(axis=1)
    else:
        grid = padded.reshape(rows, size)
        lows, highs = grid.argmin(axis=1), grid.argmax(axis=1)
    chosen = np.concatenate([starts + lows, starts + highs, extra])
    return np.unique(np.minimum(chosen, n - 1))


__all__ = ["minmax_indices"]
