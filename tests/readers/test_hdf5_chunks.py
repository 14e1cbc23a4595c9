"""The chunk reader gives exactly what h5py reads, for the Allen layout and every other one."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ctmirror.readers import hdf5_chunks, zlib_chunks
from ctmirror.readers.hdf5_chunks import ScaledReads, read_1d, read_1d_scaled, scaled_float64

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
                        lambda raw, **kw: inflated.append(1) or real(raw, **kw))
    with h5py.File(path, "r") as f:
        for key in ("data", "int16"):
            got = read_1d(f[key])
            want = f[key][()]
            assert got.dtype == want.dtype and np.array_equal(got, want)
            # As the feature readers scale samples: float64, then each factor in turn.
            scaled = want.astype(np.float64)
            scaled *= 0.1
            scaled *= 1e3
            got = read_1d_scaled(f[key], 0.1, 1e3)
            assert got.dtype == np.float64 and np.array_equal(got, scaled)
            assert np.array_equal(scaled_float64(want, 0.1, 1e3), scaled)
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


@pytest.mark.parametrize("opener", [
    {"driver": "core"},  # in memory: no file offsets to slice, read_direct_chunk instead
    {"userblock": True},  # addresses are relative to the end of a user block
])
def test_files_not_mapped_as_plain_files_read_the_same(tmp_path: Path, opener: dict) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w", userblock_size=512 if opener.pop("userblock", False) else 0) as f:
        f.create_dataset("data", data=VALUES, chunks=(6322,), compression="gzip")
    with h5py.File(path, "r", **opener) as f:
        assert np.array_equal(read_1d(f["data"]), VALUES)
        assert np.array_equal(read_1d_scaled(f["data"], 2.5), VALUES.astype(np.float64) * 2.5)


def test_a_damaged_chunk_fails_as_h5py_fails(tmp_path: Path) -> None:
    """A chunk whose compressed bytes are damaged is not inflated into a wrong array: HDF5 reads
    the dataset and raises its own error."""
    path = tmp_path / "damaged.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=VALUES, chunks=(1000,), compression="gzip")
    with h5py.File(path, "r") as f:
        chunks: list[tuple[int, int]] = []
        f["data"].id.chunk_iter(lambda info: chunks.append((info.byte_offset, info.size)))
    address, size = chunks[-1]
    data = bytearray(path.read_bytes())
    data[address + 2:address + size] = bytes(size - 2)  # the deflate stream after its header
    path.write_bytes(bytes(data))
    with h5py.File(path, "r") as f:
        with pytest.raises(OSError):
            f["data"][()]
        with pytest.raises(OSError):
            read_1d(f["data"])
        with pytest.raises(OSError):
            read_1d_scaled(f["data"], 1e3)


def _allen_like(path: Path) -> dict[str, np.ndarray]:
    """Responses (noisy: libdeflate's datasets) and stimuli (long runs of one value: zlib-ng's)
    in the Allen chunk layout, float32 and int16, several sweeps."""
    stimulus = np.zeros(40_000, dtype=np.float32)
    stimulus[5_000:25_000] = np.float32(1.5e-10)
    stored = {
        "response_0": np.cumsum(RNG.normal(size=40_000)).astype(np.float32),
        "stimulus_0": stimulus,
        "response_1": (np.cumsum(RNG.normal(size=33_333)) * 10).astype(np.int16),
        "stimulus_1": stimulus[:33_333] * 2,
    }
    with h5py.File(path, "w") as f:
        for name, values in stored.items():
            f.create_dataset(name, data=values, chunks=(6322,), compression="gzip")
    return stored


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("compiled", [True, False])
def test_scaled_reads_are_the_numpy_products(tmp_path: Path, threads: int, compiled: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    inflaters: list[int] = []
    if compiled:
        assert zlib_chunks.available()  # the deflate package is a dependency
        real = zlib_chunks._inflate
        monkeypatch.setattr(zlib_chunks, "_inflate",
                            lambda inflater, *args: inflaters.append(inflater)
                            or real(inflater, *args))
    else:
        monkeypatch.setattr(zlib_chunks, "available", lambda: False)
    stored = _allen_like(tmp_path / "sweeps.h5")
    factors = {"response": (1.0, 1e3), "stimulus": (1.0, 1e12)}
    with h5py.File(tmp_path / "sweeps.h5", "r") as f, ScaledReads(f, threads) as reads:
        for name in stored:
            reads.submit(f[name], factors[name.split("_")[0]])
        got = reads.results()
    # The responses are inflated by libdeflate, the stimuli (runs of one value) by zlib-ng,
    # both from compiled code.
    assert sorted(inflaters) == ([zlib_chunks.LIBDEFLATE] * 2 + [zlib_chunks.ZLIB_NG] * 2
                                 if compiled else [])
    for (name, values), array in zip(stored.items(), got, strict=True):
        want = values.astype(np.float64)
        for factor in factors[name.split("_")[0]]:
            want *= factor
        assert array.dtype == np.float64 and np.array_equal(array, want), name


@pytest.mark.parametrize("name", ["response_0", "stimulus_0"])  # libdeflate's, zlib-ng's
def test_compiled_inflate_refuses_chunks_outside_the_file_or_damaged(tmp_path: Path,
                                                                     name: str) -> None:
    """The compiled inflaters read only inside the mapped file, and a chunk that does not
    inflate to a whole chunk gives None (the reader then lets HDF5 read the dataset)."""
    values = _allen_like(tmp_path / "sweeps.h5")[name]
    with h5py.File(tmp_path / "sweeps.h5", "r") as f:
        dataset = f[name]
        layout = hdf5_chunks.deflate_chunks(dataset)
        assert layout is not None
        mapped = np.frombuffer((tmp_path / "sweeps.h5").read_bytes(), dtype=np.uint8)
        scale = np.array([1.0, 1.0])

        def inflate(chunks: list[tuple[int, int, int]]) -> np.ndarray | None:
            return zlib_chunks.inflate_scaled(mapped, chunks, np.empty(dataset.size),
                                              dataset.dtype, dataset.chunks[0], scale)

        whole = inflate(layout)
        assert whole is not None and np.array_equal(whole, values.astype(np.float64))
        first, address, size = layout[-1]
        beyond = [*layout[:-1], (first, mapped.size - size // 2, size)]
        assert inflate(beyond) is None
        damaged = mapped.copy()
        damaged[address + 2:address + size] = 0
        mapped = damaged
        assert inflate(layout) is None
