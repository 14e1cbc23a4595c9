"""A sweep's samples read from a ``sweeps`` Parquet file one row at a time (the ephys-features
and GLIF workers): the values as stored times the unit factors, and Arrow's cached decode memory
handed back after a large read only (docs/ephys.md: a worker's peak, against the time of
faulting the cache in again after every small read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ctmirror.readers import ephys
from ctmirror.schema.parquet import SWEEPS


class _PoolSpy:
    def __init__(self) -> None:
        self.releases = 0

    def release_unused(self) -> None:
        self.releases += 1


def _sweeps_file(path: Path, sizes: dict[int, int]) -> Path:
    rows = [{"specimen_id": 1, "well_known_file_id": 2, "sweep_number": number,
             "clamp_mode": "CurrentClamp", "stimulus_name": "Long Square",
             "sampling_rate_hz": 2e5, "num_samples": size, "stimulus_unit": "Amps",
             "response_unit": "Volts", "stimulus_conversion": 1e-12,
             "response_conversion": 1e-3,
             "stimulus": np.arange(size, dtype=np.float32),
             "response": -np.arange(size, dtype=np.float32)}
            for number, size in sizes.items()]
    pq.write_table(pa.Table.from_pylist(rows, schema=SWEEPS.schema), path, row_group_size=1)
    return path


def test_only_a_large_read_hands_the_pool_back(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = _sweeps_file(tmp_path / "nwb-2.parquet", {3: 4, 5: 16})
    spy = _PoolSpy()
    monkeypatch.setattr(ephys.pa, "default_memory_pool", lambda: spy)
    # 16 samples in float64 reach the threshold, 4 do not
    monkeypatch.setattr(ephys, "RELEASE_AFTER_BYTES", 16 * 8)
    small, large = ephys.stored_sweeps_from_parquet(path)[0]

    v, i = small.samples()
    assert spy.releases == 0
    # V x 1e-3 conversion -> mV; A x 1e-12 conversion -> pA
    np.testing.assert_array_equal(v, -np.arange(4, dtype=np.float64) * 1e-3 * 1e3)
    np.testing.assert_array_equal(i, np.arange(4, dtype=np.float64) * 1e-12 * 1e12)

    v, i = large.samples()
    assert spy.releases == 2  # the response, then the stimulus
    assert v.size == i.size == 16 and v.dtype == i.dtype == np.float64

    stimuli = {s.sweep_number: s for s in ephys.stimulus_sweeps_from_parquet(path)[0]}
    np.testing.assert_array_equal(stimuli[3].stimulus_a(), np.arange(4) * 1e-12)
    assert spy.releases == 2
    np.testing.assert_array_equal(stimuli[5].stimulus_a(), np.arange(16) * 1e-12)
    assert spy.releases == 3
