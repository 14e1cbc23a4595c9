"""Inflate a dataset's zlib chunks and scale them into float64 in one compiled call.

Per chunk, a Python-level inflate (zlib-ng) holds the GIL several times: slicing the bytes,
the call, wrapping the result, the scaling call. An NWB sweep has hundreds of chunks, so
threads inflating sweeps wait on the GIL whenever the reading thread is busy asking HDF5
about the next sweep, and two cores do little more than one. Here libdeflate's
``libdeflate_zlib_decompress`` is called from compiled code for every chunk of a dataset,
the GIL released throughout. The library comes with the ``deflate`` package, whose extension
module exports its C functions (the package's own ``zlib_decompress`` works chunk by chunk
from Python). libdeflate also inflates recorded responses faster than zlib-ng, but not long
runs of one value (see ``MIN_COMPRESSED_FRACTION``). Where those functions cannot be found,
``available()`` is False and the callers inflate chunk by chunk as before.
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
#: Datasets compressed below this fraction of their size are left to zlib-ng: they are long
#: runs of one value (a stimulus is constant for most of a sweep), which libdeflate copies
#: about ten times slower than zlib-ng (7-9 ns against 0.6-1 ns per float32 sample measured
#: on Allen stimuli at 0.2-0.4% of their size), while it inflates the noisy responses (about
#: 20%) faster (2.8-3.1 ns against 4.3-4.6).
MIN_COMPRESSED_FRACTION = 0.05


def _functions() -> tuple[Any, Any, int] | None:
    """libdeflate's allocate and free (ctypes) and the address of its zlib inflate."""
    try:
        import deflate

        # The extension module: ``deflate._deflate`` in recent releases, ``deflate`` before.
        library = ctypes.CDLL(getattr(deflate, "_deflate", deflate).__file__)
        alloc = library.libdeflate_alloc_decompressor
        free = library.libdeflate_free_decompressor
        decompress = library.libdeflate_zlib_decompress
    except (ImportError, OSError, AttributeError):
        return None
    alloc.argtypes, alloc.restype = [], ctypes.c_void_p
    free.argtypes, free.restype = [ctypes.c_void_p], None
    address = ctypes.cast(decompress, ctypes.c_void_p).value
    return (alloc, free, address) if address else None


_FOUND = _functions()


def available() -> bool:
    """Whether libdeflate's functions were found (else the callers inflate with zlib-ng)."""
    return _FOUND is not None and ctypes.sizeof(ctypes.c_void_p) == 8


def _zlib_decompress_call(typingctx: Any, function: Any, decompressor: Any, source: Any,
                          source_bytes: Any, target: Any, target_bytes: Any) -> Any:
    """``libdeflate_zlib_decompress(decompressor, source, source_bytes, target, target_bytes,
    NULL)`` called at the address ``function``. The address is an argument, not a constant
    of the compiled code, so numba can cache that code. Pointers and sizes go as 64-bit
    integers: the same registers in the C calling convention of the 64-bit platforms numba
    builds for (``available`` checks the pointer size)."""
    arguments = (function, decompressor, source, source_bytes, target, target_bytes)
    signature = types.int32(*arguments)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        word = ir.IntType(64)
        values = [context.cast(builder, value, kind, types.int64)
                  for value, kind in zip(args, sig.args, strict=True)]
        callee = builder.inttoptr(values[0], ir.FunctionType(
            ir.IntType(32), [word] * 6).as_pointer())
        return builder.call(callee, [*values[1:], ir.Constant(word, 0)])

    return signature, codegen


_zlib_decompress: Callable[..., int] = intrinsic(_zlib_decompress_call)


@njit(cache=True, nogil=True)
def _inflate_scaled(function: int, decompressor: int, mapped: NDArray[np.uint8],
                    layout: NDArray[np.int64], chunk: NDArray[Any], out: NDArray[np.float64],
                    scale: NDArray[np.float64]) -> bool:
    # layout: (first sample, file offset, bytes) per chunk. Each chunk must inflate to exactly
    # ``chunk``'s bytes (libdeflate then needs no output size back); a chunk outside the
    # mapped file, damaged, or of another size gives False.
    base = mapped.ctypes.data
    for c in range(layout.shape[0]):
        first, offset, size = layout[c, 0], layout[c, 1], layout[c, 2]
        if offset < 0 or size <= 0 or offset + size > mapped.size or first < 0:
            return False
        if _zlib_decompress(function, decompressor, base + offset, size, chunk.ctypes.data,
                            chunk.nbytes) != _SUCCESS:
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
    ``mapped`` (the whole file), in float64 times each factor of ``scale`` in turn; None when
    a chunk does not inflate to a whole chunk. Requires ``available()``."""
    assert _FOUND is not None
    alloc, free, function = _FOUND
    chunk = np.empty(chunk_length, dtype=dtype)
    table = np.array(layout, dtype=np.int64).reshape(-1, 3)
    decompressor = alloc()  # one per call: a decompressor is not shared between threads
    if not decompressor:
        raise MemoryError("libdeflate could not allocate a decompressor")
    try:
        inflated = _inflate_scaled(function, decompressor, mapped, table, chunk, out, scale)
    finally:
        free(decompressor)
    return out if inflated else None


__all__ = ["available", "inflate_scaled"]
