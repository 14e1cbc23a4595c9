"""Inflate a dataset's zlib chunks and scale them into float64 in one compiled call.

Per chunk, a Python-level inflate (zlib-ng) holds the GIL several times: slicing the bytes,
the call, wrapping the result, the scaling call. An NWB sweep has hundreds of chunks, so
threads inflating sweeps wait on the GIL whenever the reading thread is busy asking HDF5
about the next sweep, and two cores do little more than one. Here libdeflate's
``libdeflate_zlib_decompress`` is called from compiled code for every chunk of a dataset,
the GIL released throughout. The library comes with the ``deflate`` package, whose extension
module exports its C functions (the package's own ``zlib_decompress`` works chunk by chunk
from Python). libdeflate also inflates recorded responses faster than zlib-ng, but not long
runs of one value (see ``MIN_COMPRESSED_FRACTION``): those are inflated by zlib-ng, called
from the same compiled loop (the ``zlib-ng`` package's extension module exports its
functions; its stream's layout is checked on a known stream before first use). Where any of
this cannot be found or fails its check, ``available()`` is False and the callers inflate
chunk by chunk from Python as before.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numpy.typing import NDArray

_SUCCESS = 0  # LIBDEFLATE_SUCCESS
_Z_OK, _Z_STREAM_END, _Z_FINISH = 0, 1, 4
#: A ``zng_stream`` (104 bytes on 64-bit platforms), with room to spare; its fields by offset:
#: next_in (pointer) at 0, avail_in (uint32) at 8, next_out at 24, avail_out at 32, total_out
#: (size_t) at 40. ``_zlib_ng_works`` checks the layout on a known stream before use.
_STREAM_BYTES = 256
#: The inflaters: libdeflate, and zlib-ng for datasets compressed below
#: ``MIN_COMPRESSED_FRACTION`` of their size.
LIBDEFLATE, ZLIB_NG = 0, 1
#: Datasets compressed below this fraction of their size are inflated by zlib-ng: they are
#: long runs of one value (a stimulus is constant for most of a sweep), which libdeflate
#: copies about ten times slower than zlib-ng (7-9 ns against 0.6-1 ns per float32 sample
#: measured on Allen stimuli at 0.2-0.4% of their size), while it inflates the noisy responses
#: (about 20%) faster (2.8-3.1 ns against 4.3-4.6).
MIN_COMPRESSED_FRACTION = 0.05


def _library(module: Any) -> ctypes.CDLL:
    return ctypes.CDLL(module.__file__)


def _address(function: Any) -> int:
    return int(ctypes.cast(function, ctypes.c_void_p).value or 0)


def _libdeflate() -> tuple[Any, Any, int] | None:
    """libdeflate's allocate and free (ctypes) and the address of its zlib inflate."""
    try:
        import deflate

        # The extension module: ``deflate._deflate`` in recent releases, ``deflate`` before.
        library = _library(getattr(deflate, "_deflate", deflate))
        alloc = library.libdeflate_alloc_decompressor
        free = library.libdeflate_free_decompressor
        decompress = library.libdeflate_zlib_decompress
    except (ImportError, OSError, AttributeError):
        return None
    alloc.argtypes, alloc.restype = [], ctypes.c_void_p
    free.argtypes, free.restype = [ctypes.c_void_p], None
    address = _address(decompress)
    return (alloc, free, address) if address else None


def _zlib_ng() -> tuple[Any, Any, int, int] | None:
    """zlib-ng's inflate init and end (ctypes) and the addresses of its inflate reset and
    inflate, from the ``zlib-ng`` package's extension module."""
    try:
        from zlib_ng import zlib_ng

        library = _library(zlib_ng)
        init, end = library.zng_inflateInit2, library.zng_inflateEnd
        reset, inflate = _address(library.zng_inflateReset), _address(library.zng_inflate)
    except (ImportError, OSError, AttributeError):
        return None
    init.argtypes, init.restype = [ctypes.c_void_p, ctypes.c_int32], ctypes.c_int
    end.argtypes, end.restype = [ctypes.c_void_p], ctypes.c_int
    return (init, end, reset, inflate) if reset and inflate else None


_LIBDEFLATE = _libdeflate()
_ZLIB_NG = _zlib_ng()


def available() -> bool:
    """Whether libdeflate's and zlib-ng's functions were found and work here (else the
    callers inflate chunk by chunk from Python)."""
    return (_LIBDEFLATE is not None and ctypes.sizeof(ctypes.c_void_p) == 8
            and _zlib_ng_works())


def _c_call(arity: int, trailing_null: bool) -> Any:
    """An intrinsic calling the C function at the address given as its first argument with
    ``arity`` more arguments (and a trailing NULL), returning a C int. The address is an
    argument, not a constant of the compiled code, so numba can cache that code. Pointers and
    sizes go as 64-bit integers: the same registers in the C calling convention of the 64-bit
    platforms numba builds for (``available`` checks the pointer size)."""

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        word = ir.IntType(64)
        values = [context.cast(builder, value, kind, types.int64)
                  for value, kind in zip(args, sig.args, strict=True)]
        count = arity + trailing_null
        callee = builder.inttoptr(values[0], ir.FunctionType(
            ir.IntType(32), [word] * count).as_pointer())
        return builder.call(callee, [*values[1:], *[ir.Constant(word, 0)] * trailing_null])

    def typer(typingctx: Any, function: Any, *arguments: Any) -> Any:
        return types.int32(function, *arguments), codegen

    return typer


def _call1_typer(typingctx: Any, function: Any, a: Any) -> Any:
    return _c_call(1, False)(typingctx, function, a)


def _call2_typer(typingctx: Any, function: Any, a: Any, b: Any) -> Any:
    return _c_call(2, False)(typingctx, function, a, b)


def _call5_typer(typingctx: Any, function: Any, a: Any, b: Any, c: Any, d: Any, e: Any
                 ) -> Any:
    return _c_call(5, True)(typingctx, function, a, b, c, d, e)


_call1: Callable[..., int] = intrinsic(_call1_typer)
_call2: Callable[..., int] = intrinsic(_call2_typer)
#: libdeflate_zlib_decompress(d, in, in_nbytes, out, out_nbytes_avail, NULL)
_call5_null: Callable[..., int] = intrinsic(_call5_typer)


@njit(cache=True, nogil=True)
def _inflate_scaled(inflater: int, functions: NDArray[np.int64], state: int,
                    stream: NDArray[np.uint8], mapped: NDArray[np.uint8],
                    layout: NDArray[np.int64], chunk: NDArray[Any], out: NDArray[np.float64],
                    scale: NDArray[np.float64]) -> bool:
    # layout: (first sample, file offset, bytes) per chunk. Each chunk must inflate to exactly
    # ``chunk``'s bytes; a chunk outside the mapped file, damaged, or of another size gives
    # False. libdeflate: functions[0] its inflate, ``state`` its decompressor. zlib-ng:
    # functions[1] and [2] its inflate reset and inflate, ``state`` the address of ``stream``.
    base = mapped.ctypes.data
    words = stream.view(np.uint64)
    halves = stream.view(np.uint32)
    for c in range(layout.shape[0]):
        first, offset, size = layout[c, 0], layout[c, 1], layout[c, 2]
        if offset < 0 or size <= 0 or offset + size > mapped.size or first < 0:
            return False
        if inflater == LIBDEFLATE:
            if _call5_null(functions[0], state, base + offset, size, chunk.ctypes.data,
                           chunk.nbytes) != _SUCCESS:
                return False
        else:
            if _call1(functions[1], state) != _Z_OK or size > 0xFFFFFFFF:
                return False
            words[0], halves[2] = base + offset, size  # next_in, avail_in
            words[3], halves[8] = chunk.ctypes.data, chunk.nbytes  # next_out, avail_out
            if _call2(functions[2], state, _Z_FINISH) != _Z_STREAM_END \
                    or words[5] != chunk.nbytes:  # total_out
                return False
        # float64(value) * scale[0] * scale[1] ..., left to right, as numpy's widening copy
        # and in-place products round; the last chunk is cut at ``out``'s end.
        stop = min(chunk.size, out.size - first)
        if scale.size == 2:
            # The readers' case (conversion, unit): a loop without an inner one is vectorised.
            a, b = scale[0], scale[1]
            for k in range(stop):
                out[first + k] = np.float64(chunk[k]) * a * b
        else:
            for k in range(stop):
                value = np.float64(chunk[k])
                for factor in scale:
                    value = value * factor
                out[first + k] = value
    return True


def inflate_scaled(mapped: NDArray[np.uint8], layout: list[tuple[int, int, int]],
                   out: NDArray[np.float64], dtype: np.dtype[Any], chunk_length: int,
                   scale: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """``out`` filled with a dataset of ``out.size`` native-order ``dtype`` values stored in
    zlib chunks of ``chunk_length`` at ``layout``'s (first sample, file offset, bytes) in
    ``mapped`` (the whole file), in float64 times each factor of ``scale`` in turn, by
    libdeflate or zlib-ng (``MIN_COMPRESSED_FRACTION``); None when a chunk does not inflate
    to a whole chunk. Requires ``available()``."""
    assert _LIBDEFLATE is not None and _ZLIB_NG is not None
    chunk = np.empty(chunk_length, dtype=dtype)
    table = np.array(layout, dtype=np.int64).reshape(-1, 3)
    chosen = inflater(int(table[:, 2].sum()), out.size * dtype.itemsize)
    return out if _inflate(chosen, mapped, table, chunk, out, scale) else None


def inflater(stored_bytes: int, nbytes: int) -> int:
    """The inflater of a dataset of ``nbytes`` stored in ``stored_bytes``: ``ZLIB_NG`` below
    ``MIN_COMPRESSED_FRACTION``, else ``LIBDEFLATE``."""
    return ZLIB_NG if stored_bytes < MIN_COMPRESSED_FRACTION * nbytes else LIBDEFLATE


def _inflate(inflater: int, mapped: NDArray[np.uint8], table: NDArray[np.int64],
             chunk: NDArray[Any], out: NDArray[np.float64], scale: NDArray[np.float64]
             ) -> bool:
    assert _LIBDEFLATE is not None and _ZLIB_NG is not None
    alloc, free, decompress = _LIBDEFLATE
    init, end, reset, inflate = _ZLIB_NG
    functions = np.array([decompress, reset, inflate], dtype=np.int64)
    stream = np.zeros(_STREAM_BYTES, dtype=np.uint8)
    # One decompressor or stream per call: neither may be shared between threads.
    if inflater == LIBDEFLATE:
        state = alloc()
        if not state:
            raise MemoryError("libdeflate could not allocate a decompressor")
        try:
            return bool(_inflate_scaled(inflater, functions, state, stream, mapped, table,
                                        chunk, out, scale))
        finally:
            free(state)
    state = stream.ctypes.data
    if init(state, 15) != _Z_OK:  # 15: a zlib stream with a 32 KiB window
        raise MemoryError("zlib-ng could not set up an inflate stream")
    try:
        return bool(_inflate_scaled(inflater, functions, state, stream, mapped, table, chunk,
                                    out, scale))
    finally:
        end(state)


_ZLIB_NG_CHECKED: list[bool] = []


def _zlib_ng_works() -> bool:
    """Whether the compiled zlib-ng inflate gives what ``zlib_ng.decompress`` gives on a known
    stream (the stream's layout is zlib-ng's own, not a published ABI): checked once."""
    if not _ZLIB_NG_CHECKED:
        works = False
        if _ZLIB_NG is not None and _LIBDEFLATE is not None:
            from zlib_ng import zlib_ng

            values = np.repeat(np.arange(8, dtype=np.float32), 1000)
            packed = zlib_ng.compress(values.tobytes())
            mapped = np.frombuffer(b"\0" * 16 + packed, dtype=np.uint8)
            out = np.empty(values.size)
            table = np.array([[0, 16, len(packed)]], dtype=np.int64)
            try:
                works = _inflate(ZLIB_NG, mapped, table, np.empty(values.size, np.float32),
                                 out, np.array([1.0, 1.0])) \
                    and bool(np.array_equal(out, values))
            except MemoryError:
                works = False
        _ZLIB_NG_CHECKED.append(works)
    return _ZLIB_NG_CHECKED[0]


__all__ = ["LIBDEFLATE", "MIN_COMPRESSED_FRACTION", "ZLIB_NG", "available", "inflate_scaled",
           "inflater"]
