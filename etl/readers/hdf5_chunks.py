"""Read a 1-D, deflate-compressed HDF5 dataset (the layout of every Allen NWB sweep) by its raw
chunks, inflated with zlib-ng.

Allen NWB files store each sweep in small gzip chunks (about 6,000 samples); HDF5's own filter
pipeline inflates them with the system zlib, which is most of the time a conversion or a feature
run spends reading. zlib-ng inflates the same bytes about three times faster. The compressed
bytes are taken straight from the file at the addresses HDF5 gives for each chunk (one
``read_direct_chunk`` call per chunk costs more than inflating it). Any other layout
(contiguous, several dimensions, other filters, missing chunks) is read by h5py as before, so
the result is always the dataset's values.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import h5py
import numpy as np
from numba import njit
from numpy.typing import NDArray
from zlib_ng import zlib_ng

from ctmirror.features.ephys.threads import map_in_threads


def read_1d(dataset: h5py.Dataset) -> NDArray[Any]:
    """All values of ``dataset`` as a 1-D array (other shapes are flattened by h5py)."""
    out = np.empty(dataset.size, dtype=dataset.dtype)

    def store(first: int, values: NDArray[Any]) -> None:
        part = out[first:first + values.size]  # the last chunk runs past the dataset's end
        part[...] = values[:part.size]

    return out if _each_chunk(dataset, store) else np.asarray(dataset[()]).ravel()


def read_1d_scaled(dataset: h5py.Dataset, *factors: float) -> NDArray[np.float64]:
    """``read_1d(dataset)`` in float64 multiplied by each factor in turn: the same values to
    the last bit as ``values = read_1d(dataset).astype(np.float64); values *= f`` for each
    factor, in one pass into one array (a feature run reads tens of millions of samples per
    cell and would otherwise hold each of them three times)."""
    return read_1d_scaled_many([(dataset, factors)])[0]


def read_1d_scaled_many(requests: Sequence[tuple[h5py.Dataset, Sequence[float]]],
                        threads: int = 1) -> list[NDArray[np.float64]]:
    """``[read_1d_scaled(dataset, *factors) for dataset, factors in requests]``, the same
    arrays, with the datasets inflated and scaled on up to ``threads`` threads at once. HDF5 is
    only asked, in the calling thread, where the chunks are; the workers slice them from the
    mapped file, and zlib-ng and the compiled scaling release the GIL, so the threads run on
    separate cores. A dataset whose chunks cannot be read that way is read as
    ``read_1d_scaled`` reads it."""
    if not requests:
        return []
    scales = [np.array(factors, dtype=np.float64) for _, factors in requests]
    layouts = [deflate_chunks(dataset) for dataset, _ in requests]
    out: list[NDArray[np.float64] | None] = [None] * len(requests)
    path = _plain_file(requests[0][0].file) \
        if len({dataset.file.id for dataset, _ in requests}) == 1 else None
    if path is not None:
        # What the workers need of each dataset, asked of HDF5 here.
        jobs = [(k, layout, dataset.size, dataset.dtype, dataset.chunks[0])
                for k, ((dataset, _), layout) in enumerate(zip(requests, layouts, strict=True))
                if layout is not None]
        with open(path, "rb") as handle, \
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:

            def inflate(job: tuple[int, list[tuple[int, int, int]], int, np.dtype[Any], int]
                        ) -> NDArray[np.float64] | None:
                k, layout, size, dtype, chunk_length = job
                values = np.empty(size, dtype=np.float64)
                chunks = ((first, mapped[address:address + nbytes])
                          for first, address, nbytes in layout)
                return values if _inflate_scaled(chunks, dtype, chunk_length, values,
                                                 scales[k]) else None

            for job, values in zip(jobs, map_in_threads(inflate, jobs, threads), strict=True):
                out[job[0]] = values
    return [values if values is not None else _read_scaled(dataset, layout, scale)
            for values, (dataset, _), layout, scale in zip(out, requests, layouts, scales,
                                                            strict=True)]


def _read_scaled(dataset: h5py.Dataset, layout: list[tuple[int, int, int]] | None,
                 scale: NDArray[np.float64]) -> NDArray[np.float64]:
    """One dataset, its chunks taken through ``raw_chunks``; HDF5's own read when they do
    not inflate (HDF5 then raises its own error for a damaged chunk)."""
    if layout is not None:
        out = np.empty(dataset.size, dtype=np.float64)
        with raw_chunks(dataset, layout) as chunks:
            inflated = _inflate_scaled(((first, raw) for (first, _, _), raw
                                        in zip(layout, chunks, strict=True)),
                                       dataset.dtype, dataset.chunks[0], out, scale)
        if inflated:
            return out
    return _scaled(np.asarray(dataset[()]).ravel(), scale)


def _inflate_scaled(chunks: Iterable[tuple[int, bytes]], dtype: np.dtype[Any],
                    chunk_length: int, out: NDArray[np.float64],
                    scale: NDArray[np.float64]) -> bool:
    """Inflate each (first sample, compressed bytes) and scale it into ``out``; False when a
    chunk does not inflate to a whole chunk."""
    native = dtype.newbyteorder("=")  # compiled code reads native byte order only

    def store(first: int, values: NDArray[Any]) -> None:
        _scale_into(out, first, values.astype(native, copy=False), scale)

    return _inflate_chunks(chunks, dtype, chunk_length, store)


def _each_chunk(dataset: h5py.Dataset, store: Callable[[int, NDArray[Any]], None]) -> bool:
    """Inflate the chunks in order and hand each to ``store`` with its first sample. False when
    the layout or a chunk is not what was understood (another layout, a damaged file): the
    caller then lets HDF5 read the dataset, which raises its own error for what it cannot
    read, as a plain h5py read would."""
    layout = deflate_chunks(dataset)
    if layout is None:
        return False
    with raw_chunks(dataset, layout) as chunks:
        return _inflate_chunks(((first, raw) for (first, _, _), raw
                                in zip(layout, chunks, strict=True)),
                               dataset.dtype, dataset.chunks[0], store)


def _inflate_chunks(chunks: Iterable[tuple[int, bytes]], dtype: np.dtype[Any],
                    chunk_length: int, store: Callable[[int, NDArray[Any]], None]) -> bool:
    chunk_bytes = chunk_length * dtype.itemsize
    for first, raw in chunks:
        try:
            inflated = zlib_ng.decompress(raw, bufsize=chunk_bytes)
        # zlib_ng.pyi declares ``error: Exception`` (an instance); at run time it is a class.
        except zlib_ng.error:  # type: ignore[misc]
            return False
        if len(inflated) != chunk_bytes:
            return False
        store(first, np.frombuffer(inflated, dtype))
    return True


def scaled_float64(values: NDArray[Any], *factors: float) -> NDArray[np.float64]:
    """``values`` in float64 multiplied by each factor in turn, as ``read_1d_scaled`` scales
    (the same bits as numpy's widening copy and in-place products), in one pass."""
    return _scaled(np.asarray(values).ravel(), np.array(factors, dtype=np.float64))


def _scaled(values: NDArray[Any], scale: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.empty(values.size, dtype=np.float64)
    _scale_into(out, 0, values.astype(values.dtype.newbyteorder("="), copy=False), scale)
    return out


@njit(cache=True, nogil=True)
def _scale_into(out: NDArray[np.float64], start: int, values: NDArray[Any],
                scale: NDArray[np.float64]) -> None:
    # float64(value) * scale[0] * scale[1] ..., left to right, as the numpy steps round; the
    # last chunk is padded beyond the dataset's end and is cut at ``out``'s end.
    stop = min(values.size, out.size - start)
    if scale.size == 2:
        # The readers' case (conversion, unit): a loop without an inner one is vectorised.
        first, second = scale[0], scale[1]
        for k in range(stop):
            out[start + k] = np.float64(values[k]) * first * second
        return
    for k in range(stop):
        value = np.float64(values[k])
        for factor in scale:
            value = value * factor
        out[start + k] = value


def deflate_chunks(dataset: h5py.Dataset) -> list[tuple[int, int, int]] | None:
    """(first sample, file address, size in bytes) of every chunk in order, or None unless
    every chunk of a 1-D dataset is stored and deflate is its only filter."""
    if (dataset.ndim != 1 or dataset.chunks is None or dataset.dtype.kind not in "fiu"
            or not hasattr(dataset.id, "chunk_iter")):  # chunk_iter: HDF5 1.12.3 and later
        return None
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(n)[0] for n in range(plist.get_nfilters())]
    if filters != [h5py.h5z.FILTER_DEFLATE]:
        return None
    (chunk_length,) = dataset.chunks
    expected = -(-dataset.shape[0] // chunk_length)
    found: list[tuple[int, int, int]] = []

    def collect(info: Any) -> None:
        if info.filter_mask == 0:  # a chunk stored without its filter is left to HDF5
            found.append((int(info.chunk_offset[0]), int(info.byte_offset), int(info.size)))

    dataset.id.chunk_iter(collect)
    found.sort()
    in_order = all(offset == n * chunk_length for n, (offset, _, _) in enumerate(found))
    return found if len(found) == expected and in_order else None


@contextmanager
def raw_chunks(dataset: h5py.Dataset, layout: list[tuple[int, int, int]]
                ) -> Iterator[Iterator[bytes]]:
    """The compressed bytes of each chunk: sliced from the file mapped in memory when HDF5
    opened it as a plain file without a user block (the addresses are then file offsets),
    otherwise through ``read_direct_chunk``."""
    path = _plain_file(dataset.file)
    if path is None:
        yield (dataset.id.read_direct_chunk((first,))[1] for first, _, _ in layout)
        return
    with open(path, "rb") as handle, \
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        yield (mapped[address:address + size] for _, address, size in layout)


def _plain_file(file: h5py.File) -> str | None:
    """The file's path when HDF5 opened it as a plain file without a user block (chunk
    addresses are then offsets in it), else None."""
    plain = (file.driver == "sec2" and isinstance(file.filename, str)
             and file.id.get_create_plist().get_userblock() == 0)
    return file.filename if plain else None


__all__ = ["deflate_chunks", "raw_chunks", "read_1d", "read_1d_scaled", "read_1d_scaled_many",
           "scaled_float64"]
