"""The sweep viewer's min/max decimation keeps the envelope of a trace and every spike peak and
trough, on the corpus's recordings (the ipfx 2.1.2 reference spikes of tests/data/ephys)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctmirror.features.ephys.spikes import detect_spikes
from ctmirror.serve.web.decimate import minmax_indices
from tests.features.ephys.reference import cases

BUCKETS = 2000


@pytest.mark.slow
def test_every_reference_peak_and_trough_survives(synth_snapshot: Path) -> None:
    """As the server decimates: each bucket's extremes plus the peaks and troughs of the
    sweep's spike table (here detected by the pipeline's own code); every peak and trough
    ipfx finds in the full trace must be a drawn sample."""
    traces = spikes = 0
    for case in cases(synth_snapshot):
        found = detect_spikes(case.t, case.v, case.i, start=case.start, end=case.end)
        keep = np.concatenate([found["peak_index"], found["trough_index"]])
        kept = set(minmax_indices(case.v, BUCKETS, keep[keep >= 0]).tolist())
        assert len(kept) <= 2 * BUCKETS + keep.size
        for column in ("peak_index", "trough_index"):
            wanted = case.expected[column]
            wanted = wanted[np.isfinite(wanted) & (wanted >= 0)].astype(np.int64)
            assert set(wanted.tolist()) <= kept, (case.key, column)
            spikes += wanted.size
        traces += 1
    assert traces == 116 and spikes > 4000


@pytest.mark.slow
def test_min_max_alone_keeps_isolated_spikes(synth_snapshot: Path) -> None:
    """Without a spike table the extremes of the buckets still hold every peak of a trace whose
    spikes lie more than a bucket apart."""
    checked = 0
    for case in cases(synth_snapshot):
        peaks = case.expected["peak_index"]
        peaks = peaks[np.isfinite(peaks)].astype(np.int64)
        bucket = case.v.size / BUCKETS
        if peaks.size < 2 or np.min(np.diff(peaks)) <= 2 * bucket:
            continue
        kept = set(minmax_indices(case.v, BUCKETS).tolist())
        assert set(peaks.tolist()) <= kept, case.key
        checked += 1
    assert checked > 10


def test_each_bucket_keeps_its_minimum_and_maximum() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=100_003).astype(np.float32)
    values[5_000:5_200] = np.nan
    kept = minmax_indices(values, 100)
    assert kept.size <= 200 and np.all(np.diff(kept) > 0)
    size = -(-values.size // 100)  # equal runs of samples, the last one shorter
    for first in range(0, values.size, size):
        last = min(first + size, values.size)
        inside = kept[(kept >= first) & (kept < last)]
        assert np.nanmax(values[inside]) == np.nanmax(values[first:last])
        assert np.nanmin(values[inside]) == np.nanmin(values[first:last])


def test_short_traces_stay_whole_and_keep_is_clipped() -> None:
    values = np.arange(10, dtype=np.float32)
    assert minmax_indices(values, 5).tolist() == list(range(10))
    long = np.zeros(1000, dtype=np.float32)
    assert minmax_indices(long, 10, [-1, 500, 5000]).tolist().count(500) == 1
    with pytest.raises(ValueError):
        minmax_indices(values, 0)
