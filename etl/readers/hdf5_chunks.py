"""Read a 1-D, deflate-compressed HDF5 dataset (the layout of every Allen NWB sweep) by its raw
chunks, inflated with zlib-ng or libdeflate.

Allen NWB files store each sweep in small gzip chunks (about 6,000 samples); HDF5's own filter
pipeline inflates them with the system zlib, which is most of the time a conversion or a feature
run spends reading. zlib-ng inflates the same bytes about three times faster, and
``zlib_chunks`` inflates a whole dataset from compiled code (libdeflate for the responses).
The compressed bytes are taken straight from the file at the addresses HDF5 gives for each
chunk (one ``read_direct_chunk`` call per chunk costs more than inflating it). Any other
layout (contiguous, several dimensions, other filters, missing chunks) is read by h5py as
before, so the result is always the dataset's values.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any

import h5py
import numpy as np
from numba import njit
from numpy.typing import NDArray
from zlib_ng import zlib_ng

from ctmirror.readers import zlib_chunks


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
    with ScaledReads(dataset.file) as reads:
        reads.submit(dataset, factors)
        return reads.results()[0]


class ScaledReads:
    """Datasets of one open HDF5 file read as ``read_1d_scaled`` reads them, inflated and
    scaled on ``threads`` worker threads while the calling thread goes on asking HDF5 about
    the next ones (HDF5 answers one thread at a time, and a cell's metadata costs about as
    much as inflating half its samples). The workers inflate and scale a dataset's chunks
    from the mapped file in one compiled call that releases the GIL (``zlib_chunks``), so
    they run on separate cores. With one thread each dataset is read when it is submitted.
    A dataset that cannot be read that way (another layout, byte order or driver, or no
    compiled inflater here) is read by ``results`` in the calling thread: chunk by chunk
    with zlib-ng, or by HDF5.

    Use as a context manager on the open file; ``results`` inside it."""

    def __init__(self, file: h5py.File, threads: int = 1) -> None:
        self._file = file
        self._threads = threads
        self._requests: list[tuple[h5py.Dataset, NDArray[np.float64],
                                   list[tuple[int, int, int]] | None]] = []
        # per request: its read, or None (read by ``results`` in the calling thread)
        self._done: list[Future[NDArray[np.float64] | None] | None] = []
        self._stack = ExitStack()
        self._bytes: NDArray[np.uint8] | None = None  # the mapped file, for compiled code
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ScaledReads:
        path = _plain_file(self._file)
        if path is not None and zlib_chunks.available():
            handle = self._stack.enter_context(open(path, "rb"))
            mapped = self._stack.enter_context(
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
            if len(mapped):
                self._bytes = np.frombuffer(mapped, dtype=np.uint8)
                # Let go before the file is unmapped (a mapping with a view cannot close).
                self._stack.callback(setattr, self, "_bytes", None)
        if self._threads > 1:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="hdf5-inflate")
            # Registered last, so run first: the reads not begun are dropped and those running
            # end before the file is unmapped.
            self._stack.callback(self._pool.shutdown, wait=True, cancel_futures=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def submit(self, dataset: h5py.Dataset, factors: Sequence[float]) -> None:
        """Start reading ``dataset`` (of this file) times each factor in turn."""
        scale = np.array(factors, dtype=np.float64)
        layout = deflate_chunks(dataset)
        self._requests.append((dataset, scale, layout))
        if (layout is None or self._bytes is None or not dataset.dtype.isnative
                or dataset.file.id != self._file.id):
            self._done.append(None)  # read by ``results`` chunk by chunk, or by HDF5
            return
        job = partial(zlib_chunks.inflate_scaled, self._bytes, layout, np.empty(dataset.size),
                      dataset.dtype, dataset.chunks[0], scale)
        if self._pool is not None:
            self._done.append(self._pool.submit(job))
        else:
            done: Future[NDArray[np.float64] | None] = Future()
            done.set_result(job())
            self._done.append(done)

    def results(self) -> list[NDArray[np.float64]]:
        """The submitted datasets' values, in the order submitted."""
        out = []
        for (dataset, scale, layout), future in zip(self._requests, self._done, strict=True):
            values = None if future is None else future.result()
            out.append(values if values is not None else _read_scaled(dataset, layout, scale))
        return out


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


__all__ = ["ScaledReads", "deflate_chunks", "raw_chunks", "read_1d", "read_1d_scaled",
           "scaled_float64"]
