"""Keys for ``veil verify``: fingerprint counts, key sets, FK resolution and join cardinality.

The utility and integrity checks both need, per side (original, copy), the fingerprints of every
key column set: primary keys and unique keys (still unique?), the child columns of each foreign
key (do the references resolve?) and the parent columns they reference. :class:`KeyTracker` keeps
them once for both checks (:meth:`KeyTracker.shared`), as :class:`FingerprintCounts`: the sorted
distinct keyed fingerprints and how many rows hold each, 16 bytes per distinct key, never a value.

Composite keys are one fingerprint per row, combined from the columns' fingerprints in column
order (rows with a null in any of the columns are no reference and no key: SQL's MATCH SIMPLE).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..hmacs import hmac_sha256_many
from ..ops.arrays import canonical
from .base import VerifyContext

ORIGINAL, COPY = 0, 1
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: h * _MIX + fp keeps (a, b) and (b, a) apart
_SHORT = 15  # values of at most this many bytes are their own AES block (after their length)
_LONG = 0x40  # the first byte of a longer value's block (a length byte is at most 15)
_COMPACT = 1 << 20  # pending fingerprints merged into the sorted set past this many
_PROBE = 2048  # the first values of a batch tell whether encoding its distinct values pays


def _short_key(ctx: VerifyContext) -> bytes:
    """The AES key of the short fingerprints, derived from the verification's fingerprint key."""
    key = ctx.shared.get("short_key")
    if key is None:
        key = ctx.shared["short_key"] = hmac_sha256_many(ctx.fingerprint_key, [b"veil verify: short values"])[0]
    return key


def text_fingerprints(ctx: VerifyContext, text: pa.Array) -> np.ndarray:
    """The uint64 keyed fingerprint of every value of a binary array without nulls (canonical text).

    Each value becomes one 16-byte block, encrypted with AES-256 under a key derived from the
    verification's fingerprint key (one ECB call for the batch), of which 8 bytes are kept:

    - up to 15 bytes (numbers, dates, codes, most names): its length byte, its bytes, zero padding;
    - longer: a tag byte and the value's SipHash-1-3 (CPython's keyed ``hash`` of bytes, 64 bits).

    Distinct short values have distinct blocks; two distinct values share a fingerprint with
    probability about 2**-64 (8 bytes of a keyed permutation; for long values, also when their
    SipHashes collide). The same value gets the same fingerprint on both sides within one process;
    nothing outside the process can compute one. This is ``base.fingerprints``' contract (keyed,
    8 bytes, of the canonical text) at a fraction of its cost (one HMAC call per value); the two
    functions give different numbers, so fingerprints of this module are compared only with each
    other."""
    n = len(text)
    if n == 0:
        return np.empty(0, np.uint64)
    wide = pa.types.is_large_binary(text.type)
    offsets = np.frombuffer(text.buffers()[1], np.int64 if wide else np.int32)[text.offset:text.offset + n + 1]
    data = np.frombuffer(text.buffers()[2], np.uint8) if text.buffers()[2] is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    block = np.zeros((n, 16), np.uint8)
    short = lengths <= _SHORT
    rows = np.flatnonzero(short)
    if len(rows):
        # every byte of the short values scattered to its place in the blocks (row * 16 + 1 + k)
        starts, lens = offsets[:-1][rows].astype(np.int64), lengths[rows].astype(np.int64)
        before = np.cumsum(lens) - lens  # the bytes of the earlier short values
        at = np.arange(int(lens.sum()), dtype=np.int64)
        flat = block.reshape(-1)
        if len(rows) == n:  # all short: their bytes are one run of the data
            flat[at + np.repeat(rows * 16 + 1 - before, lens)] = data[offsets[0]:offsets[-1]]
        else:
            flat[at + np.repeat(rows * 16 + 1 - before, lens)] = data[at + np.repeat(starts - before, lens)]
        block[rows, 0] = lens
    if len(rows) < n:
        long_rows = np.flatnonzero(~short)
        values = (text if len(long_rows) == n else text.take(pa.array(long_rows))).to_pylist()
        sip = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
        block[long_rows, 0] = _LONG
        block[long_rows, 1:9] = sip.view(np.uint8).reshape(-1, 8)
    return _aes_blocks(ctx, block)


def _aes_blocks(ctx: VerifyContext, block: np.ndarray) -> np.ndarray:
    """The first 8 bytes of AES-256 of each 16-byte row of ``block``, as uint64 (one ECB call)."""
    enc = Cipher(algorithms.AES(_short_key(ctx)), modes.ECB()).encryptor()
    sealed = np.frombuffer(enc.update(block.tobytes()) + enc.finalize(), np.uint8).reshape(-1, 16)
    return np.ascontiguousarray(sealed[:, :8]).view("<u8").ravel()


def number_fingerprints(ctx: VerifyContext, values: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Fingerprints of an integer, float, date or timestamp column from its 8 bytes, not its text:
    consistent within one column on one side only (a distinct count), not across types or sides
    (keys and categories take :func:`column_fingerprints`). None for other types."""
    t = values.type
    if pa.types.is_integer(t) and not pa.types.is_uint64(t):
        raw, tag = values.cast(pa.int64()), 1
    elif pa.types.is_date32(t):
        raw, tag = values.cast(pa.int32()).cast(pa.int64()), 1
    elif pa.types.is_date64(t) or pa.types.is_timestamp(t):
        raw, tag = values.cast(pa.int64()), 2
    elif pa.types.is_floating(t):
        raw, tag = values.cast(pa.float64()), 3
    else:
        return None
    present = np.flatnonzero(~np.asarray(raw.is_null().to_numpy(zero_copy_only=False), dtype=bool))
    if len(present) < len(raw):
        raw = raw.take(pa.array(present))
    if tag != 3 and len(raw) > 4 * _PROBE and pc.count_distinct(raw.slice(0, _PROBE)).as_py() < 0.5 * _PROBE:
        # values that repeat (dates, years, small codes): each distinct one encrypted once, and
        # counted (not floats: -0.0 and 0.0 may share a dictionary entry)
        enc = pc.dictionary_encode(raw)
        table = _number_blocks(ctx, enc.dictionary, tag)
        idx = np.asarray(enc.indices, np.int64)
        rows = np.bincount(idx, minlength=len(table))
        held = rows > 0
        return RowFingerprints(table[idx], present, (table[held], rows[held]))
    return _number_blocks(ctx, raw, tag), present


def _number_blocks(ctx: VerifyContext, raw: pa.Array, tag: int) -> np.ndarray:
    """AES fingerprints of 8-byte numbers without nulls: a tag byte, then the number's bytes."""
    if len(raw) == 0:
        return np.empty(0, np.uint64)
    bits = np.ascontiguousarray(raw.to_numpy(zero_copy_only=False)).view(np.uint8).reshape(-1, 8)
    block = np.zeros((len(raw), 16), np.uint8)
    block[:, 0] = 0x80 | tag  # a length byte is at most 15: no text block looks like this
    block[:, 1:9] = bits
    return _aes_blocks(ctx, block)


def value_fingerprints(ctx: VerifyContext, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(fingerprints of the non-null values, their positions): :func:`text_fingerprints` of the
    canonical text (``ops.arrays.canonical``: '42' and 42 alike)."""
    present = np.flatnonzero(~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool))
    if len(present) < len(values):
        values = values.take(pa.array(present))
    return text_fingerprints(ctx, canonical(values)), present


def column_fingerprints(ctx: VerifyContext, values: pa.Array | pa.ChunkedArray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`value_fingerprints` of a column, each distinct value of the batch computed once.

    Returns (uint64 fingerprints of the non-null values, their row positions)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_nested(values.type):  # lists, structs, maps: their JSON text, row by row
        text = [None if v is None else json.dumps(v, sort_keys=True, default=str)
                for v in values.to_pylist()]
        return value_fingerprints(ctx, pa.array(text, pa.string()))
    if not pa.types.is_dictionary(values.type):
        if len(values) > 4 * _PROBE and pc.count_distinct(values.slice(0, _PROBE)).as_py() > 0.9 * _PROBE:
            return value_fingerprints(ctx, values)  # values that hardly repeat: no encoding to gain
        values = pc.dictionary_encode(values)
    indices = values.indices
    present = ~np.asarray(indices.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    valid = np.flatnonzero(present)
    dict_fps, dict_pos = value_fingerprints(ctx, values.dictionary)
    table = np.zeros(len(values.dictionary), dtype=np.uint64)
    table[dict_pos] = dict_fps
    dict_present = np.zeros(len(values.dictionary), dtype=bool)
    dict_present[dict_pos] = True
    idx = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)[valid]
    keep = dict_present[idx]  # a null inside the dictionary is a null value
    idx = idx[keep]
    rows = np.bincount(idx, minlength=len(table))
    held = rows > 0
    return RowFingerprints(table[idx], valid[keep], (table[held], rows[held]))


class RowFingerprints(tuple):
    """(fingerprints, row positions) of a column's non-null values, as a pair; ``counted``: the
    batch's distinct fingerprints and how many rows hold each, when the batch was dictionary-encoded
    (a :class:`FingerprintCounts` adds them instead of every row's), else None."""

    counted: tuple[np.ndarray, np.ndarray] | None

    def __new__(cls, fps: np.ndarray, rows: np.ndarray,
                counted: tuple[np.ndarray, np.ndarray] | None = None) -> RowFingerprints:
        out = super().__new__(cls, (fps, rows))
        out.counted = counted
        return out


Fingerprints = dict[str, tuple[np.ndarray, np.ndarray]]  # column -> column_fingerprints of a batch


def row_fingerprints(ctx: VerifyContext, batch: pa.RecordBatch, columns: list[str],
                     known: Fingerprints | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """One fingerprint per row of ``batch`` over ``columns`` (rows with no null among them), with
    the row positions; None when the batch lacks one of the columns. ``known``: the columns'
    fingerprints when the caller has them already."""
    names = batch.schema.names
    if any(c not in names for c in columns):
        return None
    n = batch.num_rows
    combined = np.zeros(n, dtype=np.uint64)
    present = np.ones(n, dtype=bool)
    for c in columns:
        got = (known or {}).get(c)
        fps, pos = got if got is not None else column_fingerprints(ctx, batch.column(names.index(c)))
        full = np.zeros(n, dtype=np.uint64)
        full[pos] = fps
        seen = np.zeros(n, dtype=bool)
        seen[pos] = True
        present &= seen
        with np.errstate(over="ignore"):
            combined = combined * _MIX + full if len(columns) > 1 else full
    rows = np.flatnonzero(present)
    return combined[rows], rows


class CountSummary:
    """What a value count tells without its values: ``counts`` holds one count per distinct value."""

    counts: np.ndarray

    @property
    def distinct(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def duplicates(self) -> int:
        """Rows beyond the first of each value: 0 when every value is unique."""
        return self.total - self.distinct


class FingerprintCounts(CountSummary):
    """A multiset of fingerprints: sorted distinct fingerprints and their counts (16 bytes each)."""

    def __init__(self) -> None:
        self._fps = np.empty(0, np.uint64)
        self._counts = np.empty(0, np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._pending_n = 0

    def add(self, fps: np.ndarray, counts: np.ndarray | None = None) -> None:
        """Count ``fps`` (each once, or ``counts[i]`` times: a batch's distinct values)."""
        if len(fps) == 0:
            return
        self._pending.append((fps, counts))
        self._pending_n += len(fps)
        if self._pending_n > max(_COMPACT, len(self._fps)):
            self._compact()

    def _compact(self) -> None:
        if not self._pending:
            return
        fps = np.concatenate([p[0] for p in self._pending])
        if all(p[1] is None for p in self._pending):
            new, new_counts = np.unique(fps, return_counts=True)
        else:
            weights = np.concatenate([np.ones(len(f), np.int64) if c is None else np.asarray(c, np.int64)
                                      for f, c in self._pending])
            new, inv = np.unique(fps, return_inverse=True)
            new_counts = np.bincount(inv.ravel(), weights=weights, minlength=len(new)).astype(np.int64)
        self._pending, self._pending_n = [], 0
        if len(self._fps) == 0:
            self._fps, self._counts = new, new_counts.astype(np.int64)
            return
        # merge two sorted sets: add the counts of known fingerprints, insert the others in place
        at = np.searchsorted(self._fps, new)
        known = at < len(self._fps)
        known[known] = self._fps[at[known]] == new[known]
        np.add.at(self._counts, at[known], new_counts[known])
        fresh = ~known
        self._fps = np.insert(self._fps, at[fresh], new[fresh])
        self._counts = np.insert(self._counts, at[fresh], new_counts[fresh])

    @property
    def fps(self) -> np.ndarray:
        self._compact()
        return self._fps

    @property
    def counts(self) -> np.ndarray:
        self._compact()
        return self._counts



def resolution(children: FingerprintCounts, parents: FingerprintCounts | None) -> dict[str, Any]:
    """How the references ``children`` resolve into the key set ``parents``.

    ``children_per_parent``: for each distinct parent key, how many references point at it."""
    cfp, ccount = children.fps, children.counts
    total = int(ccount.sum())
    pfp = parents.fps if parents is not None else np.empty(0, np.uint64)
    if len(pfp):
        at = np.minimum(np.searchsorted(pfp, cfp), len(pfp) - 1)
        found = pfp[at] == cfp
    else:
        at = np.zeros(len(cfp), np.int64)
        found = np.zeros(len(cfp), bool)
    resolved = int(ccount[found].sum())
    per_parent = np.bincount(at[found], weights=ccount[found], minlength=len(pfp)).astype(np.int64)
    return {"references": total, "resolved": resolved, "unresolved": total - resolved,
            "share": round(resolved / total, 6) if total else None, "per_parent": per_parent}


class KeyTracker:
    """The fingerprint counts of every key column set of the context's tables, on both sides.

    Both checks call :meth:`feed` with every batch; only the first one to call it (its owner)
    is counted, so the keys are fingerprinted once however many checks use them."""

    def __init__(self, ctx: VerifyContext) -> None:
        self.ctx = ctx
        self._owner: int | None = None
        self.sets: dict[str, set[tuple[str, ...]]] = {}
        for name, info in ctx.tables.items():
            keys = self.sets.setdefault(name, set())
            if info.primary_key:
                keys.add(tuple(info.primary_key))
            keys.update(tuple(u) for u in info.unique if u)
            for fk in info.foreign_keys:
                keys.add(tuple(fk.columns))
                self.sets.setdefault(fk.ref_table, set()).add(tuple(fk.ref_columns))
        self.counts: dict[tuple[int, str, tuple[str, ...]], FingerprintCounts] = {}
        self.rows: dict[tuple[int, str], int] = {}

    @classmethod
    def shared(cls, ctx: VerifyContext) -> KeyTracker:
        """The tracker of this verification (one per context)."""
        tracker = ctx.shared.get("key_tracker")
        if tracker is None:
            tracker = ctx.shared["key_tracker"] = cls(ctx)
        return tracker

    def feed(self, owner: object, side: int, table: str, batch: pa.RecordBatch,
             known: Fingerprints | None = None) -> None:
        """Count the batch's keys (``known``: fingerprints of some of its columns, to reuse)."""
        if self._owner is None:
            self._owner = id(owner)
        if id(owner) != self._owner:
            return
        self.rows[(side, table)] = self.rows.get((side, table), 0) + batch.num_rows
        for cols in self.sets.get(table, ()):
            got = row_fingerprints(self.ctx, batch, list(cols), known)
            counts = self.counts.setdefault((side, table, cols), FingerprintCounts())
            if got is None:
                self.counts[(side, table, cols)] = _MISSING
                continue
            if counts is not _MISSING:
                counts.add(got[0])

    def get(self, side: int, table: str, columns: list[str] | tuple[str, ...]
            ) -> FingerprintCounts | None:
        """The counts of ``table(columns)`` on a side; None when the side lacks the table or one
        of the columns."""
        info = self.ctx.tables.get(table)
        schema = None if info is None else (
            info.original_schema if side == ORIGINAL else info.copy_schema)
        if schema is None or any(c not in schema.names for c in columns):
            return None
        counts = self.counts.get((side, table, tuple(columns)))
        if counts is _MISSING:
            return None
        return counts if counts is not None else FingerprintCounts()  # no batch: an empty table

    def foreign_key(self, side: int, table: str, fk) -> dict[str, Any] | None:
        """``resolution`` of one foreign key on a side (None: the side lacks the child columns)."""
        children = self.get(side, table, fk.columns)
        if children is None:
            return None
        return resolution(children, self.get(side, fk.ref_table, fk.ref_columns))


_MISSING = FingerprintCounts()


def references(fk) -> str:
    """``table(col, ...)``: how a report names the target of a foreign key."""
    return f"{fk.ref_table}({', '.join(fk.ref_columns)})"
