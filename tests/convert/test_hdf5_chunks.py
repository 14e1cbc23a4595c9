"""The chunk reader gives exactly what h5py reads, for the Allen layout and every other one."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from etl.convert import hdf5_chunks
from etl.convert.hdf5_chunks import read_1d

RNG = np.random.default_rng(3)
VALUES = RNG.normal(size=20_001).astype(np.float32)


@pytest.mark.parametrize(("name", "options", "raw_chunks"), [
    ("allen", {"chunks": (6322,), "compression": "gzip", "compression_opts": 4}, True),
    ("one_chunk", {"chunks": (20_001,), "compression": "gzip"}, True),
    ("contiguous", {}, False),
    ("shuffled", {"chunks": (1000,), "compression": "gzip", "shuffle": True}, False),
    ("lzf", {"chunks": (1000,), "compression": "lzf"}, False),
    ("uncompressed_chunks", {"chunks": (1000,)}, False),
])
def test_reads_what_h5py_reads(tmp_path: Path, name: str, options: dict,
                               raw_chunks: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"{name}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=VALUES, **options)
        f.create_dataset("int16", data=(VALUES * 1000).astype(">i2"), **options)
    inflated = []
    real = hdf5_chunks.zlib_ng.decompress
    monkeypatch.setattr(hdf5_chunks.zlib_ng, "decompress",
                        lambda raw: inflated.append(1) or real(raw))
    with h5py.File(path, "r") as f:
        for key in ("data", "int16"):
            got = read_1d(f[key])
            want = f[key][()]
            assert got.dtype == want.dtype and np.array_equal(got, want)
    assert bool(inflated) == raw_chunks


def test_unwritten_chunks_and_other_shapes_fall_back_to_h5py(tmp_path: Path) -> None:
    path = tmp_path / "sparse.h5"
    with h5py.File(path, "w") as f:
        sparse = f.create_dataset("sparse", shape=(10_000,), dtype="f4", chunks=(1000,),
                                  compression="gzip", fillvalue=np.float32(-1.5))
        sparse[:1000] = VALUES[:1000]  # nine chunks never written: they hold the fill value
        f.create_dataset("matrix", data=VALUES[:20_000].reshape(100, 200), chunks=(10, 200),
                         compression="gzip")
    with h5py.File(path, "r") as f:
        sparse = read_1d(f["sparse"])
        assert np.array_equal(sparse[:1000], VALUES[:1000]) and (sparse[1000:] == -1.5).all()
        assert np.array_equal(read_1d(f["matrix"]), VALUES[:20_000])
