"""Arrow buffer helpers of the vault: fixed- and variable-width binary arrays as numpy, and back.

The vault handles millions of 16-byte indexes and keys; these read and build Arrow arrays
straight from their buffers, with no Python object per value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def one_chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An array as one chunk."""
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def binary16(data: np.ndarray) -> pa.Array:
    """A binary(16) array over the rows of an n x 16 uint8 array (sharing its memory when contiguous)."""
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(data),
                                                [None, pa.py_buffer(np.ascontiguousarray(data, np.uint8))])


def rows16(arr: pa.Array) -> np.ndarray:
    """A binary(16) array as an n x 16 uint8 array (null slots zeroed): the inverse of :func:`binary16`."""
    return fixed_rows(arr, 16)[1]


def var_buffers(arr: pa.Array) -> tuple[np.ndarray, bytes]:
    """(offsets from 0, data) of a string/binary array."""
    arr = one_chunk(arr)
    arr = arr.cast(pa.binary()) if pa.types.is_string(arr.type) else arr
    n = len(arr)
    if n == 0:
        return np.zeros(1, np.int64), b""
    offs = np.frombuffer(arr.buffers()[1], np.int32, count=n + 1, offset=4 * arr.offset).astype(np.int64)
    data = arr.buffers()[2]
    start, end = int(offs[0]), int(offs[-1])
    return offs - start, (data.slice(start, end - start).to_pybytes() if data is not None else b"")


def fixed_rows(arr: pa.Array, width: int, zeroed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(validity, n x width bytes with null slots zeroed) of a fixed-size binary array; with
    ``zeroed`` false, null slots hold whatever their buffer holds (for callers that skip them)."""
    arr = one_chunk(arr)
    n = len(arr)
    valid = np.ones(n, bool) if arr.null_count == 0 else pc.is_valid(arr).to_numpy(zero_copy_only=False)
    buf = arr.buffers()[1]
    if buf is None or arr.null_count == n:
        return valid, np.zeros((n, width), np.uint8)
    data = np.frombuffer(buf, np.uint8, count=width * n, offset=width * arr.offset).reshape(n, width)
    if arr.null_count and zeroed:
        data = data * valid[:, None].astype(np.uint8)
    return valid, data


def sparse_binary(valid: np.ndarray, data: np.ndarray) -> pa.Array:
    """A binary array, null where not ``valid``, whose valid rows hold the rows of ``data`` (one
    per valid row, each ``width`` bytes): null rows take no bytes, where Arrow's cast of a
    fixed-size binary array keeps every null slot's."""
    n, width = len(valid), data.shape[1]
    rows = np.flatnonzero(valid)
    offsets = np.zeros(n + 1, np.int32)
    offsets[rows + 1] = width
    return pa.BinaryArray.from_buffers(pa.binary(), n, [
        pa.py_buffer(np.packbits(valid, bitorder="little").tobytes()), pa.py_buffer(np.cumsum(offsets, dtype=np.int32)),
        pa.py_buffer(np.ascontiguousarray(data))], null_count=n - len(rows))


def nullable16(valid: np.ndarray, data: np.ndarray) -> pa.Array:
    """A binary(16) array of the rows of ``data`` (n x 16), null where not ``valid``."""
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(valid), [None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little")),
                                    pa.py_buffer(np.ascontiguousarray(data))], null_count=int((~valid).sum()))
