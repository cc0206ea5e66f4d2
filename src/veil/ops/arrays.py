"""Vectorised building blocks shared by the operators.

Operators work on the distinct values of a batch: :func:`map_distinct`
dictionary-encodes the array, transforms the dictionary once and takes the
result back to row positions, so a value repeated a million times costs one
transform. Keyed operators get one 32-byte digest per distinct value from
:func:`digests` (one HMAC-SHA256, then AES: see there); everything after that
is numpy/Arrow arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import InputError
from ..hmacs import hmac_sha256_many
from ..keys import derive


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def map_distinct(arr: pa.Array, fn: Callable[[pa.Array], pa.Array],
                 then: Callable[[pa.DictionaryArray], None] | None = None) -> pa.Array:
    """Apply ``fn`` to the distinct non-null values of ``arr``; nulls stay null. ``then`` is given
    the dictionary encoding once ``fn`` has run."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) == 0 or arr.null_count == len(arr):
        return None  # type: ignore[return-value]  # callers handle the all-null case
    enc = pc.dictionary_encode(arr)
    out = fn(enc.dictionary)
    if then is not None:
        then(enc)
    return out.take(enc.indices)


def blank_mask(arr: pa.Array) -> pa.Array | None:
    """True where a text value is blank: empty, or whitespace only (Unicode White_Space, as
    ``str.isspace``: space, tab, newlines, NBSP U+00A0, U+3000...; not U+200B or U+FEFF, which are
    not whitespace); False elsewhere, nulls included. None when the array is not text or has no
    blank value, so callers skip the work."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not is_text(arr.type) or len(arr) == 0:
        return None
    mask = pc.fill_null(pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr)), False)
    return mask if pc.any(mask).as_py() else None


def without_blanks(arr: pa.Array, mask: pa.Array) -> pa.Array:
    """``arr`` with its blank values (``mask``, from :func:`blank_mask`) made null."""
    return pc.if_else(mask, pa.scalar(None, arr.type), arr)


def with_blanks(out: pa.Array, inp: pa.Array, mask: pa.Array) -> pa.Array:
    """``out`` with the rows of ``mask`` taken back from ``inp``: blanks keep their exact value."""
    if out.type != inp.type:
        inp = inp.cast(out.type)
    return pc.if_else(mask, inp, out)


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def temporal_text(arr: pa.Array) -> pa.Array:
    """Timestamps as 'YYYY-MM-DD HH:MM:SS' when they have no fraction of a second.

    That is how CSV extracts write them, so a timestamp hashes (and converts)
    alike from Parquet and from CSV; Arrow's own cast would append '.000'.
    """
    t = arr.type
    if pa.types.is_timestamp(t) and t.tz is None:
        ticks = pc.fill_null(arr.view(pa.int64()), 0).to_numpy()
        whole = (ticks % _PER_SECOND[t.unit]) == 0
        # in seconds first: Arrow's %S prints the fraction of the column's unit
        seconds = pc.strftime(pc.cast(arr, pa.timestamp("s"), safe=False), format="%Y-%m-%d %H:%M:%S")
        if whole.all():
            return seconds
        return pc.if_else(pa.array(whole), seconds, pc.cast(arr, pa.string()))  # decided value by value
    return pc.cast(arr, pa.string())


def as_text(arr: pa.Array) -> pa.Array:
    """The values as text (string), the way keyed operators see them."""
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_timestamp(t):
        return temporal_text(arr)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_large_string(t):
        return arr.cast(pa.string())
    return pc.cast(arr, pa.string())


def canonical(arr: pa.Array) -> pa.Array:
    """The bytes a keyed operator hashes: UTF-8 text of the value.

    Casting to text first makes the same value hash alike whether it was read
    from CSV (text) or Parquet (int64, date32, decimal), so keys join across
    formats.
    """
    t = arr.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return arr
    if pa.types.is_fixed_size_binary(t):
        return arr.cast(pa.binary())  # the bytes as they are (they need not be UTF-8)
    if not is_text(t):
        arr = temporal_text(arr) if pa.types.is_timestamp(t) else pc.cast(arr, pa.string())
    return arr.cast(pa.binary() if pa.types.is_string(arr.type) else pa.large_binary())


@dataclass(frozen=True)
class DigestKey:
    """The two keys of a keyed digest in one domain under one key version."""
    index: bytes  # the domain's blind-index key, from the keyring's version-independent index secret
    version: bytes  # the domain's subkey of the key version


def blind_digests(index_key: bytes, values: pa.Array) -> np.ndarray:
    """Stage 1: the first 16 bytes of HMAC-SHA256(index key, value) of every (non-null) value, an
    (n, 16) uint8 array. It is the value's blind index in the vault, too (the same bytes)."""
    buf = b"".join(hmac_sha256_many(index_key, canonical(values).to_pylist()))
    return np.frombuffer(buf, dtype=np.uint8).reshape(-1, 32)[:, :16]


@lru_cache(maxsize=256)
def _stage2_keys(version_key: bytes) -> tuple[bytes, bytes]:
    return derive(version_key, "digest", "0"), derive(version_key, "digest", "1")


def expand(version_key: bytes, blinds: np.ndarray) -> np.ndarray:
    """Stage 2: AES-256 of each 16-byte blind index under two keys derived from the version's
    subkey, laid side by side: an (n, 32) uint8 array. Two ECB calls for the whole array."""
    data = np.ascontiguousarray(blinds, dtype=np.uint8).tobytes()
    halves = []
    for key in _stage2_keys(version_key):
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        halves.append(np.frombuffer(enc.update(data) + enc.finalize(), np.uint8).reshape(-1, 16))
    return np.concatenate(halves, axis=1)


def digests(key: DigestKey, values: pa.Array) -> np.ndarray:
    """The keyed digest of every (non-null) value: an (n, 32) uint8 array.

    AES-256(k0, b) || AES-256(k1, b), where b = HMAC-SHA256(index key, value)[:16] is the
    value's blind index and k0, k1 are derived from the key version's subkey for the domain.
    One HMAC per value serves both the output and, in a run with a vault, the blind index the
    vault stores (a second HMAC per value would cost as much as the rest of the run). Both keys
    are needed to map a value to its output: the version's subkey keeps outputs of different
    versions unlinkable and lets crypto-shredding a version cut its outputs off for good.
    """
    return expand(key.version, blind_digests(key.index, values))


def u64(d: np.ndarray, word: int) -> np.ndarray:
    """The ``word``-th little-endian 64-bit word of each digest."""
    return np.ascontiguousarray(d[:, 8 * word: 8 * word + 8]).view("<u8").ravel()


def fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """An (n, w) uint8 array of ASCII codes -> a StringArray of n strings of width w."""
    n, w = chars.shape
    offsets = np.arange(0, n * w + 1, w, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def digit_strings(d: np.ndarray, width: int, start: int = 0) -> pa.Array:
    """``width`` decimal digits per digest, taken from bytes ``start`` onwards."""
    if start + width > d.shape[1]:
        d = np.concatenate([d, d[:, ::-1] ^ 0x5A], axis=1)
    return fixed_width_strings((d[:, start:start + width] % 10) + 48)


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literal strings."""
    return pc.binary_join_element_wise(*parts, "")


def is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def char_view(arr: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """The values as ``string`` for operators that count characters (mask, generalize prefix).

    Text stays text and typed values are rendered as text. Binary values are read as UTF-8; those
    that are not UTF-8 come back null, and the second array (None when there are none) is True
    at their rows, so the caller can replace them whole (see :func:`masked_bytes`).
    """
    t = arr.type
    if pa.types.is_string(t):
        return arr, None
    if not is_binary(t):
        return pc.cast(arr, pa.string()), None
    raw = arr if pa.types.is_binary(t) else arr.cast(pa.binary())
    try:
        return raw.cast(pa.string()), None
    except pa.ArrowInvalid:
        pass
    enc = pc.dictionary_encode(raw)  # decode each distinct value once
    texts, bad = [], []
    for v in enc.dictionary.to_pylist():
        try:
            texts.append(v.decode("utf-8"))
            bad.append(False)
        except UnicodeDecodeError:
            texts.append(None)
            bad.append(True)
    return (pa.array(texts, pa.string()).take(enc.indices),
            pc.fill_null(pa.array(bad, pa.bool_()).take(enc.indices), False))


def masked_bytes(out: pa.Array, arr: pa.Array, undecodable: pa.Array | None, char: str) -> pa.Array:
    """``out`` with every undecodable binary value of ``arr`` replaced by ``char`` once per byte."""
    if undecodable is None:
        return out
    raw = arr if pa.types.is_binary(arr.type) else arr.cast(pa.binary())
    whole = pc.binary_repeat(pa.scalar(char, out.type), pc.binary_length(raw))
    return pc.if_else(undecodable, whole, out)


def restore_type(out: pa.Array, like: pa.DataType) -> pa.Array:
    """Cast a text result back to the column's text flavour (string/large_string)."""
    if is_text(like) and out.type != like:
        return out.cast(like)
    return out


def first_bad_row(ok: pa.Array, ctx_offset: int) -> int:
    """1-based row number (within the table) of the first False in a boolean mask."""
    idx = pc.index(pc.fill_null(ok, True), False).as_py()
    return ctx_offset + int(idx) + 1


def cast_checked(arr: pa.Array, to: pa.DataType, ctx, what: str, hint: str) -> pa.Array:
    """Cast text to ``to``; on failure name the row and column, never the value."""
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Find the first offending row without quoting it.
    bad_row = None
    for i in range(len(arr)):
        v = arr[i]
        if not v.is_valid:
            continue
        try:
            pc.cast(pa.array([v.as_py()], type=arr.type), to)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad_row = ctx.row_offset + i + 1
            break
    raise InputError(f"a value is not {what}", row=bad_row, table=ctx.table,
                     column=ctx.column, hint=hint) from None
