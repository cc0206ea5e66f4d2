"""The vault: a separate, encrypted lookup table from pseudonym back to original.

Logically a vault holds records (domain, key version, pseudonym, context) ->
original. The context is empty for injective operators; for operators that
can give two originals one output (``fake``), it is the row's primary-key
pseudonym, so a record stays unambiguous.
Each original is encrypted with AES-256-GCM under a per-domain subkey of the
key version's own vault key (not the HMAC key); the associated data binds the
domain, the version and the pseudonym, so a record cannot be moved or edited
without failing authentication. Each record also carries a blind index, a
keyed HMAC of the original under the version-independent index key, so a
subject can be found (and forgotten) by their original value.

Physically, records are stored in *segments*: one row per (domain, version)
and up to 64k records, holding an Arrow IPC table of (pseudonym, context, blind,
subject, ciphertext), with a nonce and tag per block of records; each record's
dedup key is made again from its blind index and context when needed. A
run writes a few rows instead of one per value, which keeps a run with the vault
close to the cost of a run without it; forgetting a subject
rewrites the segments that hold them. The backend is an embedded SQLite file
by default, or PostgreSQL (``postgresql://`` URL) for teams.

Every reveal, forget and destruction is appended to an audit log whose entries
are chained by HMAC: ``verify_audit`` names the first entry that was altered.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import KeyringError, UsageError, VaultError
from ..hmacs import hmac_sha256_many
from ..keys import DESTROYED, KeyProvider, derive, refuse_inside
from ..ops.arrays import map_distinct
from .backends import Backend, open_backend

ENV_VAULT = "VEIL_VAULT"
DESTROYING = "destroying:"  # veil_meta: a key version's destruction began and has not ended
_FORGET_NOTE = re.compile(r"^forget list: (?P<n>\d+) value\(s\), digest (?P<digest>[0-9a-f]{32}); "
                          r"(?P<deleted>\d+) record\(s\) deleted$")
SEGMENT_ROWS = 65_536
BLOCK_ROWS = 1024  # records sealed by one AES-GCM call
SEGMENT_SCHEMA = pa.schema([
    ("pseudonym", pa.string()),
    ("context", pa.string()),
    ("blind", pa.binary(16)),
    ("key", pa.binary(16)),  # dedup key: the blind index XOR the context's key (context_keys; zero if none)
    # blind index of the row's subject (the table's `subject` column), so forgetting a
    # subject deletes every record written from their rows, in every domain
    ("subject", pa.binary(16)),
    ("ct", pa.binary()),  # this record's original, encrypted: its slice of the block's ciphertext
    ("nonce", pa.binary(12)),  # set on the first record of each block, null on the others
    ("tag", pa.binary(16)),  # the block's GCM tag, likewise
])
AAD_PREFIX = b"veil-vault/v2\0"
PLAIN_SCHEMA = pa.schema([
    ("pseudonym", pa.string()),
    ("context", pa.string()),
    ("original", pa.binary()),
    ("blind", pa.binary(16)),
    ("key", pa.binary(16)),
    ("subject", pa.binary(16)),
])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def blind_key(keys: KeyProvider, domain: str) -> bytes:
    return keys.index_key("blind", domain)


def blind_indexes(key: bytes, originals: list[bytes]) -> list[bytes]:
    return [d[:16] for d in hmac_sha256_many(key, originals)]


def binary16(data: np.ndarray) -> pa.Array:
    """A binary(16) array over the rows of an n x 16 uint8 array (sharing its memory when contiguous)."""
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(data),
                                                [None, pa.py_buffer(np.ascontiguousarray(data, np.uint8))])


def rows16(arr: pa.Array) -> np.ndarray:
    """A binary(16) array as an n x 16 uint8 array (null slots zeroed): the inverse of :func:`binary16`."""
    return _fixed(arr, 16)[1]


def blind_array(key: bytes, originals: pa.Array) -> pa.Array:
    """The blind indexes of a non-null binary array (same bytes as :func:`blind_indexes`) as
    binary(16), one HMAC per distinct value."""
    def digests(uniques: pa.Array) -> pa.Array:
        out = hmac_sha256_many(key, uniques.to_pylist())
        return binary16(np.frombuffer(b"".join(out), np.uint8).reshape(len(out), 32)[:, :16])

    return map_distinct(originals, digests) if len(originals) else pa.array([], pa.binary(16))


CONTEXT_INLINE = 15  # contexts of up to this many UTF-8 bytes go into their key's AES block as they are


def context_keys(keys: KeyProvider, contexts: pa.Array) -> pa.Array:
    """A 16-byte key per context (binary(16)), one-to-one with the context and zero for the empty one.

    A context is first put in one block: up to 15 UTF-8 bytes zero-padded, then its length; a
    longer one as 15 bytes of its HMAC under ``index_key("context")``, then 0xFF. The block is then
    encrypted with AES-256 under ``index_key("context-block")`` (one block each, a permutation): one
    call for the whole batch, and keys spread evenly whatever the contexts look like, as the dedup
    look-ups expect. Integer and short text primary keys cost no HMAC.
    """
    contexts = _one(contexts)
    n = len(contexts)
    offs, data = _var(contexts)
    lens = np.diff(offs)
    block = np.zeros((n, 16), np.uint8)
    short = lens <= CONTEXT_INLINE
    if data:
        # every byte of a short context goes to its row's block, at its place in the context
        dest = np.arange(len(data), dtype=np.int64) + np.repeat(np.arange(n, dtype=np.int64) * 16 - offs[:-1], lens)
        buf = np.frombuffer(data, np.uint8)
        if short.all():
            block.reshape(-1)[dest] = buf
        else:
            inline = np.repeat(short, lens)
            block.reshape(-1)[dest[inline]] = buf[inline]
    block[short, CONTEXT_INLINE] = lens[short]
    if not short.all():
        rows = np.flatnonzero(~short)
        digests = hmac_sha256_many(keys.index_key("context"), [data[offs[i]:offs[i + 1]] for i in rows.tolist()])
        block[rows, :CONTEXT_INLINE] = np.frombuffer(b"".join(digests), np.uint8).reshape(-1, 32)[:, :CONTEXT_INLINE]
        block[rows, CONTEXT_INLINE] = 0xFF
    enc = Cipher(algorithms.AES(keys.index_key("context-block")), modes.ECB()).encryptor()
    out = np.frombuffer(enc.update(block.tobytes()) + enc.finalize(), np.uint8).reshape(n, 16).copy()
    out[lens == 0] = 0
    return binary16(out)


# -- blocks: many records sealed by one AES-GCM call ------------------------------------------------

def _one(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _var(arr: pa.Array) -> tuple[np.ndarray, bytes]:
    """(offsets from 0, data) of a string/binary array."""
    arr = _one(arr)
    arr = arr.cast(pa.binary()) if pa.types.is_string(arr.type) else arr
    n = len(arr)
    if n == 0:
        return np.zeros(1, np.int64), b""
    offs = np.frombuffer(arr.buffers()[1], np.int32, count=n + 1, offset=4 * arr.offset).astype(np.int64)
    data = arr.buffers()[2]
    start, end = int(offs[0]), int(offs[-1])
    return offs - start, (data.slice(start, end - start).to_pybytes() if data is not None else b"")


def _fixed(arr: pa.Array, width: int, zeroed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(validity, n x width bytes with null slots zeroed) of a fixed-size binary array; with
    ``zeroed`` false, null slots hold whatever their buffer holds (for callers that skip them)."""
    arr = _one(arr)
    n = len(arr)
    valid = np.ones(n, bool) if arr.null_count == 0 else pc.is_valid(arr).to_numpy(zero_copy_only=False)
    buf = arr.buffers()[1]
    if buf is None or arr.null_count == n:
        return valid, np.zeros((n, width), np.uint8)
    data = np.frombuffer(buf, np.uint8, count=width * n, offset=width * arr.offset).reshape(n, width)
    if arr.null_count and zeroed:
        data = data * valid[:, None].astype(np.uint8)
    return valid, data


class _Fields:
    """The authenticated fields of a run of records, to build each block's associated data.

    A block's associated data binds the domain, the key version and, for each of its records,
    the lengths of its original, pseudonym and context, the pseudonym, the context, the blind
    index, the dedup key and the subject: moving, editing, reordering or resizing any of them fails the tag.
    """

    def __init__(self, domain: str, version: str, cols, lengths: np.ndarray):
        pseud, ctx, blind, dedup, subject = cols
        d, v = domain.encode(), version.encode()
        self.head = b"".join([AAD_PREFIX, struct.pack("<I", len(d)), d, struct.pack("<I", len(v)), v])
        self.p_off, self.p = _var(pseud)
        self.c_off, self.c = _var(ctx)
        self.o_len = lengths.astype("<u4")
        self.p_len = np.diff(self.p_off).astype("<u4")
        self.c_len = np.diff(self.c_off).astype("<u4")
        self.blind = _fixed(blind, 16)[1].tobytes()
        self.dedup = _fixed(dedup, 16)[1].tobytes()
        valid, subj = _fixed(subject, 16)
        self.s_valid = valid.astype(np.uint8).tobytes()
        self.subject = subj.tobytes()

    def aad(self, s: int, e: int) -> bytes:
        return b"".join([
            self.head, struct.pack("<I", e - s), self.o_len[s:e].tobytes(), self.p_len[s:e].tobytes(),
            self.c_len[s:e].tobytes(), self.p[self.p_off[s]:self.p_off[e]], self.c[self.c_off[s]:self.c_off[e]],
            self.blind[16 * s:16 * e], self.dedup[16 * s:16 * e], self.s_valid[s:e], self.subject[16 * s:16 * e]])


def encrypt_records(keys: KeyProvider, domain: str, version: str, plain: pa.RecordBatch) -> pa.RecordBatch:
    """Seal plain records (PLAIN_SCHEMA) into vault records (SEGMENT_SCHEMA).

    Records are sealed in blocks of BLOCK_ROWS: one AES-256-GCM call (a fresh random nonce)
    per block encrypts the block's originals, laid end to end, and authenticates every
    record's fields with them (:class:`_Fields`). GCM is a stream mode, so each record keeps
    its own slice of the ciphertext; the nonce and tag sit on the block's first record.
    """
    aes = AESGCM(derive(keys.vault_key(version), "vault", domain))
    n = plain.num_rows
    o_off, o = _var(plain.column(2))
    fields = _Fields(domain, version, [plain.column(i) for i in (0, 1, 3, 4, 5)], np.diff(o_off))
    starts = np.arange(0, n, BLOCK_ROWS)
    ends = np.append(starts[1:], n)
    nonces = os.urandom(12 * len(starts))
    cts, tags = [], []
    for b, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        sealed = aes.encrypt(nonces[12 * b:12 * b + 12], o[o_off[s]:o_off[e]], fields.aad(s, e))
        cts.append(sealed[:-16])
        tags.append(sealed[-16:])
    ct = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(o_off.astype(np.int32)),
                                                       pa.py_buffer(b"".join(cts))])
    at = np.full(n, -1, np.int64)
    at[starts] = np.arange(len(starts))
    which = pa.array(at, mask=at < 0)
    nonce = pa.FixedSizeBinaryArray.from_buffers(pa.binary(12), len(starts), [None, pa.py_buffer(nonces)])
    tag = pa.array(tags, pa.binary(16))
    return pa.RecordBatch.from_arrays(
        [plain.column(0), plain.column(1), plain.column(3), plain.column(4), plain.column(5), ct, nonce.take(which),
         tag.take(which)],
        schema=SEGMENT_SCHEMA)


# On disk a segment drops the fixed-width null slots of SEGMENT_SCHEMA (16-byte subjects of
# records without one, nonces and tags of records that do not start a block): the subject is
# variable-length, and a block's nonce and tag are one `seal` value on its first record. Nor
# does it store the dedup keys: each is its blind index XOR its context's key, made again on
# reading (:func:`dedup_keys`; the block's tag still authenticates it), and a run reads them
# from `veil_segment_keys`.
STORED_SCHEMA = pa.schema([
    ("pseudonym", pa.string()),
    ("context", pa.string()),
    ("blind", pa.binary(16)),
    ("subject", pa.binary()),
    ("ct", pa.binary()),
    ("seal", pa.binary()),  # nonce (12 bytes) and tag (16) of the block the record starts, else null
])
# the same with the dedup keys, as veil wrote segments before (still read)
STORED_SCHEMA_KEYED = pa.schema([*STORED_SCHEMA][:3] + [pa.field("key", pa.binary(16))] + [*STORED_SCHEMA][3:])


def dedup_keys(keys: KeyProvider, blinds: pa.Array, contexts: pa.Array) -> pa.Array:
    """Each record's dedup key: its blind index XOR its context's key (:func:`context_keys`, zero
    for the empty context), binary(16)."""
    return binary16(rows16(blinds) ^ rows16(context_keys(keys, contexts)))


def _sparse(valid: np.ndarray, data: np.ndarray) -> pa.Array:
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


def _to_ipc(table: pa.Table, seal: bytes | None = None) -> memoryview:
    """A segment (SEGMENT_SCHEMA) as an Arrow IPC stream of STORED_SCHEMA (bytes-like, not copied);
    with ``seal`` (:func:`index_seal`), its blind and subject indexes sealed to its key version."""
    table = table.combine_chunks()
    schema = STORED_SCHEMA
    if seal is not None:
        table = _seal_indexes(table, seal)
        schema = STORED_SCHEMA.with_metadata(SEALED_META)
    valid, nonce = _fixed(table.column("nonce"), 12, zeroed=False)
    starts = np.flatnonzero(valid)
    tag = _fixed(table.column("tag"), 16, zeroed=False)[1]
    seal_col = _sparse(valid, np.concatenate([nonce[starts], tag[starts]], axis=1))
    linked, subject = _fixed(table.column("subject"), 16, zeroed=False)
    subject = _sparse(linked, subject[linked])
    stored = pa.table([table.column("pseudonym"), table.column("context"), table.column("blind"), subject,
                       table.column("ct"), seal_col], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_table(stored)
    return memoryview(sink.getvalue())


def _keys_blob(table: pa.Table, seal: bytes | None = None) -> bytes:
    """A segment's (SEGMENT_SCHEMA) dedup keys, 16 bytes each, then one bit per record (numpy's
    packbits order): set if the record is linked to a subject. With ``seal`` (:func:`index_seal`)
    the keys are sealed to their key version and one byte, 1, ends the blob."""
    table = table.combine_chunks()
    linked = pc.is_valid(table.column("subject")).to_numpy(zero_copy_only=False)
    keys = _fixed(table.column("key"), 16)[1]
    if seal is None:
        return keys.tobytes() + np.packbits(linked).tobytes()
    return _ecb(seal, keys).tobytes() + np.packbits(linked).tobytes() + SEALED_BLOB


# -- blind indexes sealed to their key version ----------------------------------------------------
# A blind index is keyed by the version-independent index secret (so forget lists outlive
# rotations), hence the same for a value under every version. Stored as it is, it would link a
# record of one version to the record of the same original under the next, from the vault alone.
# So what a segment stores of each blind index, subject index and dedup key is that value
# encrypted (AES-256, one block each: a permutation) under a key of the record's own version
# (`index_seal`); reading a segment decrypts them, with the version's key. Records of two
# versions share no stored index; destroying a version destroys the key that opens its indexes.

SEALED_META = {b"veil.indexes": b"sealed-v1"}  # schema metadata of a stored segment whose indexes are sealed
SEALED_BLOB = b"\x01"  # last byte of a sealed veil_segment_keys blob


def index_seal(keys: KeyProvider, domain: str, version: str) -> bytes:
    """The AES-256 key that seals the stored indexes of (domain, version): from the version's vault key."""
    return derive(keys.vault_key(version), "index-seal", domain)


def _ecb(key: bytes, rows: np.ndarray, decrypt: bool = False) -> np.ndarray:
    """Each 16-byte row encrypted (or decrypted) as one AES block: one call for the whole array."""
    if not len(rows):
        return np.zeros((0, 16), np.uint8)
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    out = op.update(np.ascontiguousarray(rows, np.uint8).reshape(-1))  # whole blocks: finalize adds nothing
    op.finalize()
    return np.frombuffer(out, np.uint8).reshape(-1, 16)


def _seal_indexes(table: pa.Table, key: bytes, decrypt: bool = False) -> pa.Table:
    """A segment (SEGMENT_SCHEMA) with its blind and subject indexes sealed (or unsealed)."""
    table = table.combine_chunks()
    blind = binary16(_ecb(key, rows16(table.column("blind")), decrypt))
    valid, subj = _fixed(table.column("subject"), 16)
    out = np.zeros_like(subj)
    out[valid] = _ecb(key, subj[valid], decrypt)
    subject = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(valid), [None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little")),
                                    pa.py_buffer(np.ascontiguousarray(out))], null_count=int((~valid).sum()))
    table = table.set_column(table.schema.get_field_index("blind"), "blind", blind)
    return table.set_column(table.schema.get_field_index("subject"), "subject", subject)


def _from_stored(table: pa.Table, keys: KeyProvider | None = None) -> pa.Table:
    """A stored segment back in SEGMENT_SCHEMA (a segment written before STORED_SCHEMA already is).
    The dedup keys of a segment that does not store them are made with ``keys``; without them
    they are left null (the vault makes those it needs: ``Vault._dedup``)."""
    if table.schema not in (STORED_SCHEMA, STORED_SCHEMA_KEYED):
        return table
    table = table.combine_chunks()
    seal = table.column("seal")
    if pc.all(pc.equal(pc.binary_length(seal), 28)).as_py() not in (True, None):
        raise ValueError("a seal is not 28 bytes")
    if table.schema == STORED_SCHEMA_KEYED:
        key = table.column("key")
    elif keys is None:
        key = pa.nulls(table.num_rows, pa.binary(16))
    else:
        key = dedup_keys(keys, _one(table.column("blind")), _one(table.column("context")))
    return pa.table([table.column("pseudonym"), table.column("context"), table.column("blind"),
                     key, table.column("subject").cast(pa.binary(16)), table.column("ct"),
                     pc.binary_slice(seal, 0, 12).cast(pa.binary(12)),
                     pc.binary_slice(seal, 12, 28).cast(pa.binary(16))], schema=SEGMENT_SCHEMA)


def _argsort64(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable") of uint64 values, several times faster: numpy sorts plain
    integers much faster than it argsorts them, so each value's low bits are replaced by its index
    and the results sorted; values whose remaining high bits tie are then ordered exactly."""
    n = len(values)
    bits = max(1, (n - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    packed = (values & ~low) | np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & low).astype(np.intp)
    high = packed >> np.uint64(bits)
    tie = np.flatnonzero(high[1:] == high[:-1])
    if len(tie):
        rows = np.unique(np.concatenate([tie, tie + 1]))
        order[rows] = order[rows][np.argsort(values[order[rows]], kind="stable")]
    return order


class KeySet:
    """Dedup keys: an open-addressing hash table (linear probing) over numpy arrays, so look-ups and
    inserts are vectorised, with no Python object per key.

    Keys are HMAC and AES outputs, evenly spread: a key's home slot is the top bits of its first
    half. Each slot holds the key's two 64-bit halves and a state: 0 empty, 1 held, 2 held and
    linked to a subject (a key held both ways is 2). The table is kept at most half full (17 bytes
    a slot, so 34-68 bytes a key).
    """

    MIN_BITS = 16

    def __init__(self, hi: np.ndarray | None = None, lo: np.ndarray | None = None,
                 linked: np.ndarray | None = None) -> None:
        """A set of the given keys (repeats allowed), laid out in one sorted pass."""
        self.n = 0
        if hi is None or not len(hi):
            self._alloc(self.MIN_BITS)
            return
        order = _argsort64(hi)
        hi, lo, state = hi[order], lo[order], linked[order].astype(np.uint8) + 1
        same_hi = np.flatnonzero(hi[1:] == hi[:-1])
        if len(same_hi):  # repeats (and, rarely, keys sharing a first half): order those by both halves
            rows = np.unique(np.concatenate([same_hi, same_hi + 1]))
            by_both = rows[np.lexsort((lo[rows], hi[rows]))]
            hi[rows], lo[rows], state[rows] = hi[by_both], lo[by_both], state[by_both]
        first = np.ones(len(hi), bool)
        first[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
        starts = np.flatnonzero(first)  # a repeated key once, linked if any of its copies is
        self._layout(hi[starts], lo[starts], np.maximum.reduceat(state, starts))

    def _alloc(self, bits: int) -> None:
        self.bits = bits
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        pairs = np.zeros((1 << bits, 2), np.uint64)  # a slot's two halves share a cache line
        self.hi, self.lo = pairs[:, 0], pairs[:, 1]
        self.state = np.zeros(1 << bits, np.uint8)

    def _layout(self, hi: np.ndarray, lo: np.ndarray, state: np.ndarray, room: int = 0) -> None:
        """A new table for these distinct keys, sorted by first half, with room for more: linear
        probing puts each at max(its home slot, the previous key's slot + 1), which one pass of
        numpy computes."""
        n = len(hi)
        self._alloc(max(self.MIN_BITS, (2 * (n + room) - 1).bit_length()))
        step = np.arange(n)
        at = np.maximum.accumulate((hi >> self.shift).astype(np.intp) - step) + step
        fits = at <= self.mask
        if fits.all():
            self.hi[at], self.lo[at], self.state[at] = hi, lo, state
            self.n = n
            return
        self.hi[at[fits]], self.lo[at[fits]], self.state[at[fits]] = hi[fits], lo[fits], state[fits]
        self.n = int(fits.sum())
        # the last few run past the end: they wrap around to the first free slots
        self.add(hi[~fits], lo[~fits], state[~fits] == 2)

    @staticmethod
    def halves(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        pairs = _fixed(keys, 16)[1].view(np.uint64).reshape(len(keys), 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def find(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """The state of each key: 0 not held, 1 held, 2 held and linked."""
        found = np.zeros(len(hi), np.uint8)
        if not self.n:
            return found
        at = (hi >> self.shift).astype(np.intp)  # the home slots: most keys are found there
        state = self.state[at]
        hit = (state != 0) & (self.hi[at] == hi) & (self.lo[at] == lo)
        found[hit] = state[hit]
        todo = np.flatnonzero((state != 0) & ~hit)  # an empty slot ends the probe: not held
        at = (at[todo] + 1) & self.mask
        while todo.size:
            state = self.state[at]
            held = state != 0
            todo, at, state = todo[held], at[held], state[held]
            hit = (self.hi[at] == hi[todo]) & (self.lo[at] == lo[todo])
            found[todo[hit]] = state[hit]
            todo, at = todo[~hit], (at[~hit] + 1) & self.mask
        return found

    def reserve(self, room: int) -> None:
        """Make room for this many more keys at once (instead of growing step by step)."""
        if 2 * (self.n + room) > (1 << self.bits):
            used = np.flatnonzero(self.state)  # in slot order: sorted by first half but for the wrapped
            order = _argsort64(self.hi[used])
            used = used[order]
            self._layout(self.hi[used], self.lo[used], self.state[used], room=room)

    def add(self, hi: np.ndarray, lo: np.ndarray, linked: np.ndarray) -> None:
        """Hold these keys (state 2 where linked); a key already held only gains the link."""
        self.reserve(len(hi))
        pos = (hi >> self.shift).astype(np.intp)
        todo = np.arange(len(hi))
        while todo.size:
            at = pos[todo]
            taken = self.state[at] != 0
            same = taken & (self.hi[at] == hi[todo]) & (self.lo[at] == lo[todo])
            self.state[at[same & linked[todo]]] = 2
            # keys race for free slots: the first half written wins, then the second half among
            # those; a key that lost looks at the slot again next round (it may hold its own key)
            f_at, f_key = at[~taken], todo[~taken]
            self.hi[f_at] = hi[f_key]
            first = self.hi[f_at] == hi[f_key]
            f_at, f_key = f_at[first], f_key[first]
            self.lo[f_at] = lo[f_key]
            won = self.lo[f_at] == lo[f_key]
            self.state[f_at[won]] = 1
            self.state[f_at[won & linked[f_key]]] = 2
            done = same
            done[np.flatnonzero(~taken)[first][won]] = True
            move = taken & ~same
            pos[todo[move]] = (at[move] + 1) & self.mask
            todo = todo[~done]
        self.n = int(np.count_nonzero(self.state))


@dataclass
class Segment:
    id: int
    domain: str
    version: str
    table: pa.Table  # one chunk per column
    starts: np.ndarray  # the first record of each block
    keyed: bool = True  # whether the stored segment holds its dedup keys (else its key column is null)

    def block_range(self, b: int) -> tuple[int, int]:
        end = int(self.starts[b + 1]) if b + 1 < len(self.starts) else self.table.num_rows
        return int(self.starts[b]), end


class Vault:
    def __init__(self, backend: Backend, keys: KeyProvider | None, location: str):
        self.db = backend
        self.keys = keys
        self.location = location
        self._pending: dict[tuple[str, str], list[pa.RecordBatch]] = {}
        # (domain, version) -> the dedup keys the vault holds
        self._known: dict[tuple[str, str], KeySet] = {}
        if keys is not None:
            self._bind(keys)

    def _bind(self, keys: KeyProvider) -> None:
        """Tie the vault to its keyring's index secret on first use; refuse any other keyring.

        With another keyring, blind indexes would silently stop matching: forgotten
        subjects would come back and the audit chain would break.
        """
        tag = hmac.new(keys.index_key("vault-binding"), b"veil vault", "sha256").hexdigest()[:32]
        self.db.serialize()
        rows = self.db.query("SELECT value FROM veil_meta WHERE name = ?", ["keyring"])
        if not rows:
            if not self._empty():
                # a vault is bound on first use, before anything is written to it: content without
                # a binding means the binding was removed, and binding it now would take any keyring
                raise VaultError("the vault's keyring binding is missing although the vault holds records, "
                                 "a forget list or an audit log: it was edited or damaged", file=self.location,
                                 hint="restore the vault from its backup")
            self.db.execute("INSERT INTO veil_meta (name, value) VALUES (?, ?)", ["keyring", tag])
            self.db.commit()
        elif not hmac.compare_digest(rows[0][0], tag):
            raise VaultError("this vault belongs to another keyring", file=self.location,
                             hint="use the keyring the vault was created with (its forget list and audit "
                             "chain depend on it)")

    def _empty(self) -> bool:
        return not any(self.db.query(f"SELECT 1 FROM {t} LIMIT 1", [])
                       for t in ("veil_meta", "veil_segments", "veil_segment_keys", "veil_forgotten", "veil_audit"))

    # -- segments --------------------------------------------------------------
    def _seal(self, domain: str, version: str) -> bytes:
        assert self.keys is not None
        return index_seal(self.keys, domain, version)

    def _segments(self, domain: str | None = None, version: str | None = None,
                  live_only: bool = False) -> Iterator[Segment]:
        """The segments (of a domain, of a version), their indexes unsealed. With ``live_only``, those
        whose indexes need a key version the keyring no longer holds (destroyed) are skipped."""
        sql = "SELECT id, domain, key_version, data FROM veil_segments"
        cond, params = [], []
        if domain is not None:
            cond.append("domain = ?")
            params.append(domain)
        if version is not None:
            cond.append("key_version = ?")
            params.append(version)
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        for sid, dom, ver, data in self.db.query(sql + " ORDER BY id", params):
            damaged = VaultError(f"authentication failed: vault segment {sid} (domain {dom}, key version {ver}) "
                                 "is damaged", file=self.location, hint="restore the vault from its backup")
            try:
                stored = pa.ipc.open_stream(bytes(data)).read_all()
                table = _from_stored(stored)
            except (pa.ArrowInvalid, ValueError, OSError):
                raise damaged from None
            if (stored.schema.metadata or {}).get(b"veil.indexes") == SEALED_META[b"veil.indexes"]:
                try:
                    seal = self._seal(dom, ver)
                except KeyringError:
                    if live_only:
                        continue
                    raise
                try:
                    table = _seal_indexes(table, seal, decrypt=True)
                except (pa.ArrowInvalid, ValueError):
                    raise damaged from None
            if table.schema != SEGMENT_SCHEMA:
                if "tag" not in table.schema.names and "nonce" in table.schema.names:
                    raise VaultError(f"vault segment {sid} was written by an earlier veil (one AES-GCM call per "
                                     "record) that this version does not read", file=self.location,
                                     hint="write a new vault with this version (veil run --vault NEW_PATH)")
                raise damaged
            table = table.combine_chunks()
            starts = np.flatnonzero(pc.is_valid(table.column("nonce")).to_numpy(zero_copy_only=False))
            tags = np.flatnonzero(pc.is_valid(table.column("tag")).to_numpy(zero_copy_only=False))
            if table.num_rows and (not len(starts) or starts[0] != 0 or not np.array_equal(starts, tags)):
                raise damaged
            yield Segment(sid, dom, ver, table, starts, keyed=stored.schema != STORED_SCHEMA)

    def _dedup(self, seg: Segment, rows: np.ndarray | None = None) -> pa.Array:
        """A segment's dedup keys (binary(16)): the stored ones, or, for a segment that does not
        store them, made from each record's blind index and context (for ``rows`` only, zero
        elsewhere, when given: a long context costs an HMAC)."""
        t = seg.table
        if seg.keyed:
            return t.column("key").chunk(0)
        assert self.keys is not None
        blind, ctx = t.column("blind").chunk(0), t.column("context").chunk(0)
        if rows is None or len(rows) == t.num_rows:
            return dedup_keys(self.keys, blind, ctx)
        out = np.zeros((t.num_rows, 16), np.uint8)
        at = pa.array(rows)
        out[rows] = rows16(dedup_keys(self.keys, blind.take(at), ctx.take(at)))
        return binary16(out)

    @staticmethod
    def _joined(table: pa.Table | pa.RecordBatch) -> pa.Array | pa.ChunkedArray:
        """Each record's (pseudonym, context) as one string, "pseudonym\0context" (reveal, forget, rekey)."""
        return pc.binary_join_element_wise(table.column("pseudonym"), table.column("context"), "\0")

    @classmethod
    def _pairs(cls, table: pa.Table | pa.RecordBatch) -> list[str]:
        return cls._joined(table).to_pylist()

    def held(self, domain: str, version: str) -> KeySet:
        """The dedup keys the vault holds for (domain, version), and which are linked to a subject.

        Read from each segment's keys (veil_segment_keys: 17 bytes a record, where its data takes
        about a hundred); a segment without them (written by an earlier veil), or whose keys are not
        the right size, is read whole instead.
        """
        if (domain, version) not in self._known:
            halves, links = [], []
            whole = set()
            for sid, n, blob in self.db.query(
                    "SELECT s.id, s.n, k.keys FROM veil_segments s LEFT JOIN veil_segment_keys k ON k.segment = s.id "
                    "WHERE s.domain = ? AND s.key_version = ? ORDER BY s.id", [domain, version]):
                size = 16 * n + (n + 7) // 8
                sealed = blob is not None and len(blob) == size + 1 and bytes(blob[-1:]) == SEALED_BLOB
                if blob is None or (len(blob) != size and not sealed):
                    whole.add(sid)
                    continue
                if sealed:
                    opened = _ecb(self._seal(domain, version), np.frombuffer(blob, np.uint8, count=16 * n)
                                  .reshape(n, 16), decrypt=True)
                    pairs = opened.view(np.uint64).reshape(n, 2)
                else:
                    pairs = np.frombuffer(blob, np.uint64, count=2 * n).reshape(n, 2)
                halves.append((pairs[:, 0].copy(), pairs[:, 1].copy()))
                links.append(np.unpackbits(np.frombuffer(blob, np.uint8, offset=16 * n), count=n).astype(bool))
            for seg in (self._segments(domain, version) if whole else ()):
                if seg.id in whole:
                    halves.append(KeySet.halves(self._dedup(seg)))
                    links.append(pc.is_valid(seg.table.column("subject")).to_numpy(zero_copy_only=False))
            if halves:
                hi, lo = (np.concatenate(h) for h in zip(*halves, strict=True))
                self._known[(domain, version)] = KeySet(hi, lo, np.concatenate(links))
            else:
                self._known[(domain, version)] = KeySet()
        return self._known[(domain, version)]

    def fresh(self, domain: str, version: str, keys: np.ndarray, linked: np.ndarray,
              no_context: np.ndarray) -> np.ndarray:
        """Which records the vault does not hold yet, by dedup key (``keys``: n x 16 bytes, one for
        each record's original and context); ``linked``: the records linked to a subject;
        ``no_context``: the records without a context.

        A record linked to a subject is kept unless a linked record with its key is held (so it
        is kept even when the same record was first written unlinked, from a table read before
        the subject's own table); an unlinked record is kept unless any record with its key is
        held. Repeats within one batch are all kept (workers send distinct records).

        "Held" means in the vault when the run began, and for records without a context also
        written earlier in this run. A record with a context (one per row: the context is the
        row's primary key) repeats within a run only where key values repeat, so checking it
        against the run's own records would cost a hash-table insert per row for nothing: such
        a repeat is stored twice, and reveal shows its original once. Vectorised: no Python
        object per record.
        """
        held = self.held(domain, version)
        pairs = np.ascontiguousarray(keys, np.uint8).view(np.uint64).reshape(len(keys), 2)
        hi, lo = pairs[:, 0].copy(), pairs[:, 1].copy()
        state = held.find(hi, lo)
        keep = np.where(linked, state != 2, state == 0)
        add = keep & no_context
        if add.any():
            held.add(hi[add], lo[add], linked[add])
        return keep

    def store(self, domain: str, version: str, records: pa.RecordBatch) -> int:
        """Queue encrypted records (from :func:`encrypt_records`) for the next segment.

        A segment holds up to SEGMENT_ROWS records (more only from a single larger batch): the
        queued ones are written first when these would take it past that, and a queue of half
        a segment or more is written at once, so the run writes as it goes and leaves little
        for the commit (and its fsync) at the end.
        """
        queued = self._pending.setdefault((domain, version), [])
        if queued and sum(b.num_rows for b in queued) + records.num_rows > SEGMENT_ROWS:
            self._flush_one(domain, version)
            queued = self._pending.setdefault((domain, version), [])
        queued.append(records)
        if sum(b.num_rows for b in queued) >= SEGMENT_ROWS // 2:
            self._flush_one(domain, version)
        return records.num_rows

    def _flush_one(self, domain: str, version: str) -> None:
        batches = self._pending.pop((domain, version), [])
        if not batches:
            return
        table = pa.Table.from_batches(batches, SEGMENT_SCHEMA)
        seal = self._seal(domain, version)
        sid = self.db.insert("INSERT INTO veil_segments (domain, key_version, created, n, data) VALUES (?, ?, ?, ?, ?)",
                             [domain, version, _now(), table.num_rows, _to_ipc(table, seal)])
        self.db.execute("INSERT INTO veil_segment_keys (segment, keys) VALUES (?, ?)",
                        [sid, _keys_blob(table, seal)])
        self.db.writeback()

    def flush(self) -> None:
        for domain, version in list(self._pending):
            self._flush_one(domain, version)

    def commit(self) -> None:
        self.flush()
        self.db.commit()

    def rollback(self) -> None:
        self._pending.clear()
        self._known.clear()
        self.db.rollback()

    def close(self) -> None:
        self.db.close()

    # -- reveal ------------------------------------------------------------------
    def _originals(self, seg: Segment, aes: AESGCM, rows: np.ndarray | None = None) -> dict[int, bytes]:
        """row -> original for the given rows of a segment (every row when None): each block
        that holds one is decrypted and authenticated whole."""
        t = seg.table
        if rows is None:
            blocks = range(len(seg.starts))
        else:
            blocks = np.unique(np.searchsorted(seg.starts, rows, "right") - 1).tolist()
        if not t.num_rows or not len(blocks):
            return {}
        ct_off, ct = _var(t.column("ct").chunk(0))
        opened = None if rows is None else np.concatenate([np.arange(*seg.block_range(b)) for b in blocks])
        cols = [t.column(n).chunk(0) for n in ("pseudonym", "context", "blind")]
        cols += [self._dedup(seg, opened), t.column("subject").chunk(0)]
        fields = _Fields(seg.domain, seg.version, cols, np.diff(ct_off))
        nonces, tags = t.column("nonce").chunk(0), t.column("tag").chunk(0)
        wanted = None if rows is None else set(np.asarray(rows).tolist())
        out: dict[int, bytes] = {}
        for b in blocks:
            s, e = seg.block_range(b)
            try:
                plain = aes.decrypt(nonces[s].as_py(), ct[ct_off[s]:ct_off[e]] + tags[s].as_py(),
                                    fields.aad(s, e))
            except InvalidTag:
                raise VaultError(f"authentication failed: vault records {s}-{e - 1} of segment {seg.id} (domain "
                                 f"{seg.domain}, key version {seg.version}; one encrypted block) were modified "
                                 "or damaged", file=self.location, hint="restore the vault from its backup") from None
            base = ct_off[s]
            for r in range(s, e):
                if wanted is None or r in wanted:
                    out[r] = plain[ct_off[r] - base:ct_off[r + 1] - base]
        return out

    def _aes(self, domain: str, version: str) -> AESGCM:
        assert self.keys is not None
        return AESGCM(derive(self.keys.vault_key(version), "vault", domain))

    def lookup(self, domain: str, version: str, pseudonyms: Iterable[str]) -> dict[str, list[bytes]]:
        """The distinct originals recorded for each given pseudonym (those the vault holds)."""
        wanted = pa.array(list(dict.fromkeys(pseudonyms)), pa.string())
        aes = self._aes(domain, version)
        found: dict[str, list[bytes]] = {}
        for seg in self._segments(domain, version):
            hit = pc.is_in(seg.table.column("pseudonym"), value_set=wanted)
            idx = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
            if not len(idx):
                continue
            names = seg.table.column("pseudonym").take(pa.array(idx)).to_pylist()
            originals = self._originals(seg, aes, idx)
            for r, p in zip(idx.tolist(), names, strict=True):
                got = found.setdefault(p, [])
                if originals[r] not in got:
                    got.append(originals[r])
        return found

    def load_map(self, domain: str, version: str) -> tuple[dict[str, bytes], set[str]]:
        """Every record of (domain, version), decrypted: ("pseudonym\\0context" -> original, ambiguous keys)."""
        aes = self._aes(domain, version)
        out: dict[str, bytes] = {}
        ambiguous: set[str] = set()
        for seg in self._segments(domain, version):
            originals = self._originals(seg, aes)
            for r, key in enumerate(self._pairs(seg.table)):
                if out.setdefault(key, originals[r]) != originals[r]:
                    ambiguous.add(key)
        return out, ambiguous

    def versions_of(self, domain: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT key_version FROM veil_segments WHERE domain = ? ORDER BY key_version", [domain])]

    # -- forget ------------------------------------------------------------------
    def forgotten(self, domain: str) -> set[bytes]:
        return {bytes(r[0]) for r in self.db.query("SELECT blind FROM veil_forgotten WHERE domain = ?", [domain])}

    def forget(self, domain: str, originals: list[bytes]) -> tuple[int, int]:
        """Delete the subjects' records (every version) and add them to the forget list.

        Returns (subjects added to the forget list, vault records deleted).
        """
        assert self.keys is not None
        blinds = blind_indexes(blind_key(self.keys, domain), originals)
        wanted = pa.array(blinds, pa.binary(16))
        deleted = 0
        segments = list(self._segments(live_only=True))  # a destroyed version's records cannot be matched
        # the subject's own value in this domain, and every record written from their rows ...
        doomed: dict[str, set[str]] = {}
        for seg in segments:
            hit = pc.fill_null(pc.is_in(seg.table.column("subject"), value_set=wanted), False)
            if seg.domain == domain:
                hit = pc.or_(hit, pc.is_in(seg.table.column("blind"), value_set=wanted))
            doomed.setdefault(seg.domain, set()).update(self._pairs(seg.table.filter(hit)))
        # ... and every copy of those records (the same pseudonym written from another table)
        for seg in segments:
            names = doomed.get(seg.domain)
            if not names:
                continue
            hit = pc.is_in(self._joined(seg.table), value_set=pa.array(sorted(names), pa.string()))
            n_hit = pc.sum(hit).as_py() or 0
            if not n_hit:
                continue
            keep = np.flatnonzero(~hit.to_numpy(zero_copy_only=False))
            deleted += n_hit
            if len(keep):
                # the blocks lose records: the rest are sealed again, in new blocks
                originals = self._originals(seg, self._aes(seg.domain, seg.version), keep)
                t = seg.table.take(pa.array(keep))
                plain = pa.RecordBatch.from_arrays(
                    [t.column("pseudonym").chunk(0), t.column("context").chunk(0),
                     pa.array([originals[r] for r in keep.tolist()], pa.binary()), t.column("blind").chunk(0),
                     # the keys as this veil makes them (a segment of an older one may hold others)
                     dedup_keys(self.keys, t.column("blind").chunk(0), t.column("context").chunk(0)),
                     t.column("subject").chunk(0)], schema=PLAIN_SCHEMA)
                rest = pa.Table.from_batches([encrypt_records(self.keys, seg.domain, seg.version, plain)])
                seal = self._seal(seg.domain, seg.version)
                self.db.execute("UPDATE veil_segments SET data = ?, n = ? WHERE id = ?",
                                [_to_ipc(rest, seal), rest.num_rows, seg.id])
                self.db.execute("DELETE FROM veil_segment_keys WHERE segment = ?", [seg.id])
                self.db.execute("INSERT INTO veil_segment_keys (segment, keys) VALUES (?, ?)",
                                [seg.id, _keys_blob(rest, seal)])
            else:
                self.db.execute("DELETE FROM veil_segment_keys WHERE segment = ?", [seg.id])
                self.db.execute("DELETE FROM veil_segments WHERE id = ?", [seg.id])
        already = self.forgotten(domain)
        new = [b for b in dict.fromkeys(blinds) if b not in already]
        for b in new:
            self.db.execute("INSERT INTO veil_forgotten (domain, blind, added) VALUES (?, ?, ?)", [domain, b, _now()])
        return len(new), deleted

    # -- crypto-shredding ----------------------------------------------------------
    # A destruction runs in steps, each committed, so that a crash at any point is seen and a
    # second `keys destroy V` finishes it: (1) begin: a `destroying:V` row in veil_meta and a
    # "destroy-begin" audit entry; (2) V's records deleted (the row keeps their count); (3) the
    # keyring rewritten without V's secrets (by the caller); (4) end: the "destroy" audit entry
    # with the count, the row removed. While the row is there, every command but `keys destroy`
    # and `vault audit` refuses the vault, and `vault audit --verify` names V.
    def pending_destroys(self) -> dict[str, int]:
        """Key versions whose destruction began and did not end: version -> records deleted so far."""
        return {name[len(DESTROYING):]: int(value or 0) for name, value in self.db.query(
            "SELECT name, value FROM veil_meta WHERE name LIKE ? ORDER BY name", [DESTROYING + "%"])}

    def refuse_pending(self) -> None:
        pending = self.pending_destroys()
        if pending:
            v = next(iter(pending))
            raise VaultError(f"the destruction of key version {v} was interrupted and is incomplete",
                             file=self.location, hint=f"run `veil keys destroy {v}` again (same keyring and "
                             "vault) to finish it")

    def begin_destroy(self, version: str, actor: str | None = None) -> None:
        """Step 1: record the intent (committed), unless a destruction of ``version`` is already pending."""
        self.db.serialize()
        if version not in self.pending_destroys():
            self.db.execute("INSERT INTO veil_meta (name, value) VALUES (?, ?)", [DESTROYING + version, "0"])
            self.audit("destroy-begin", version=version, actor=actor)
        self.commit()

    def delete_version(self, version: str) -> int:
        """Step 2: delete the version's records (committed); the records deleted by this destruction so far."""
        done = self.pending_destroys().get(version, 0) + self.destroy_version(version)
        self.db.execute("UPDATE veil_meta SET value = ? WHERE name = ?", [str(done), DESTROYING + version])
        self.commit()
        return done

    def end_destroy(self, version: str, actor: str | None = None) -> int:
        """Step 4, once the keyring no longer holds the version: log it, clear the intent (committed),
        and compact the storage. The records the destruction deleted."""
        done = self.pending_destroys().get(version, 0)
        self.audit("destroy", version=version, count=done, actor=actor)
        self.db.execute("DELETE FROM veil_meta WHERE name = ?", [DESTROYING + version])
        self.commit()
        self.compact()
        return done

    def destroy_version(self, version: str) -> int:
        rows = self.db.query("SELECT COALESCE(SUM(n), 0) FROM veil_segments WHERE key_version = ?", [version])
        n = int(rows[0][0])
        self.db.execute("DELETE FROM veil_segment_keys WHERE segment IN "
                        "(SELECT id FROM veil_segments WHERE key_version = ?)", [version])
        self.db.execute("DELETE FROM veil_segments WHERE key_version = ?", [version])
        return n

    def compact(self) -> None:
        """Rewrite the storage so deleted records leave no trace in the files."""
        self.db.compact()

    # -- audit ---------------------------------------------------------------------
    def _audit_key(self) -> bytes:
        assert self.keys is not None
        return self.keys.index_key("audit")

    @staticmethod
    def _entry_bytes(entry: dict) -> bytes:
        return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()

    def reveal(self, domain: str, pseudonyms: Iterable[str], *, purpose: str, versions: Iterable[str],
               actor: str | None = None) -> dict[str, list[bytes]]:
        """The originals of pseudonyms, searched in the given key versions in turn; every version
        with hits (or, when nothing is found, the attempt) is written to the audit log with its
        purpose. Not committed: the caller commits."""
        purpose = check_purpose(purpose)
        versions = list(versions)
        items = list(pseudonyms)
        found: dict[str, list[bytes]] = {}
        for v in versions:
            got = self.lookup(domain, v, [t for t in items if t not in found])
            if got:
                self.audit("reveal", purpose=purpose, domain=domain, version=v, count=len(got), actor=actor)
            found.update(got)
        if not found:  # an attempt that revealed nothing is recorded too
            self.audit("reveal", purpose=purpose, domain=domain, version=versions[0] if len(versions) == 1 else "",
                       count=0, actor=actor)
        return found

    def audit(self, action: str, *, purpose: str = "", domain: str = "", version: str = "", count: int = 0,
              actor: str | None = None) -> None:
        if action == "reveal":
            purpose = check_purpose(purpose)
        self.db.serialize()
        rows = self.db.query("SELECT seq, mac FROM veil_audit ORDER BY seq DESC LIMIT 1", [])
        seq, prev = (rows[0][0] + 1, rows[0][1]) if rows else (1, "")
        entry = {"seq": seq, "at": _now(), "actor": actor or _os_user(), "action": action, "purpose": purpose,
                 "domain": domain, "key_version": version, "count": count, "prev": prev}
        mac = hmac.new(self._audit_key(), self._entry_bytes(entry), "sha256").hexdigest()
        self.db.execute("INSERT INTO veil_audit (seq, at, actor, action, purpose, domain, key_version, count, "
                        "prev, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [seq, entry["at"], entry["actor"], action, purpose, domain, version, count, prev, mac])

    def audit_entries(self) -> list[dict]:
        cols = ["seq", "at", "actor", "action", "purpose", "domain", "key_version", "count", "prev", "mac"]
        return [dict(zip(cols, r, strict=True)) for r in self.db.query(
            "SELECT seq, at, actor, action, purpose, domain, key_version, count, prev, mac FROM veil_audit "
            "ORDER BY seq", [])]

    # -- verification ----------------------------------------------------------------
    def forget_note(self, domain: str, deleted: int) -> str:
        """What a forget's audit entry records besides its count: the size and digest of the domain's
        forget list after it, and the records it deleted (so `verify` sees later edits of either)."""
        n, digest = self._forget_digest(domain)
        return f"forget list: {n} value(s), digest {digest}; {deleted} record(s) deleted"

    def _forget_digest(self, domain: str) -> tuple[int, str]:
        blinds = sorted(self.forgotten(domain))
        return len(blinds), hashlib.sha256(b"".join(blinds)).hexdigest()[:32]

    def verify(self, statuses: dict[str, str]) -> tuple[int, list[str]]:
        """Check the vault against itself and the keyring (``statuses``: key version -> status):
        the audit chain; interrupted destructions; records of destroyed or unknown versions; every
        record of a live version authenticated; the dedup index against the records; each forget
        list and the number of records against the audit log. (audit entries, problems: one line each)."""
        problems: list[str] = []
        n_entries, broken = self.verify_audit()
        entries = self.audit_entries()
        if broken is not None:
            problems.append(f"audit log entry {broken} was altered, removed or reordered (the HMAC chain breaks there)")
        begun: set[str] = set()
        for e in entries:
            if e["action"] == "destroy-begin":
                begun.add(e["key_version"])
            elif e["action"] == "destroy":
                begun.discard(e["key_version"])
        pending = set(self.pending_destroys()) | begun
        for v in sorted(pending):
            problems.append(f"the destruction of key version {v} was interrupted and is incomplete (run `veil "
                            f"keys destroy {v}` again with this vault to finish it)")
        stored = 0
        for version, n in self.db.query(
                "SELECT key_version, COALESCE(SUM(n), 0) FROM veil_segments GROUP BY key_version ORDER BY key_version",
                []):
            stored += int(n)
            status = statuses.get(version)
            if status is None:
                problems.append(f"the vault holds {int(n):,} record(s) of key version {version}, which this "
                                "keyring does not hold")
            elif status == DESTROYED and version not in pending:
                problems.append(f"the vault holds {int(n):,} record(s) of destroyed key version {version} "
                                f"(undecryptable; `veil keys destroy {version}` with this vault deletes them)")
        problems += self._verify_segments(statuses)
        problems += self._verify_forget_lists(entries)
        if broken is None:
            problems += self._verify_count(entries, stored)
        return n_entries, problems

    def _verify_segments(self, statuses: dict[str, str]) -> list[str]:
        problems = []
        blobs = dict(self.db.query("SELECT segment, keys FROM veil_segment_keys", []))
        groups = self.db.query("SELECT DISTINCT domain, key_version FROM veil_segments ORDER BY domain, key_version",
                               [])
        orphans = set(blobs) - {r[0] for r in self.db.query("SELECT id FROM veil_segments", [])}
        for domain, version in groups:
            if statuses.get(version) in (None, DESTROYED):
                continue  # reported above: no key to check them with
            try:
                aes = self._aes(domain, version)
                for seg in self._segments(domain, version):
                    self._originals(seg, aes)  # every block decrypted and authenticated
                    blob = blobs.pop(seg.id, None)
                    if blob is None:
                        continue
                    with_keys = seg.table.set_column(3, "key", pa.chunked_array([self._dedup(seg)]))
                    # sealed, or as an earlier veil wrote it
                    if bytes(blob) not in (_keys_blob(with_keys, self._seal(domain, version)), _keys_blob(with_keys)):
                        problems.append(f"the dedup index of vault segment {seg.id} (domain {domain}, key version "
                                        f"{version}) does not match its records (it was edited)")
            except VaultError as err:
                problems.append(err.message)
        if orphans:
            problems.append(f"the dedup index holds {len(orphans)} entr{'y' if len(orphans) == 1 else 'ies'} for "
                            "vault segments that do not exist (it was edited)")
        return problems

    def _verify_forget_lists(self, entries: list[dict]) -> list[str]:
        latest: dict[str, dict] = {}
        for e in entries:
            if e["action"] == "forget":
                latest[e["domain"]] = e
        domains = {r[0] for r in self.db.query("SELECT DISTINCT domain FROM veil_forgotten", [])} | set(latest)
        problems = []
        for domain in sorted(domains):
            e = latest.get(domain)
            note = _FORGET_NOTE.match(e["purpose"]) if e else None
            if e is None:
                problems.append(f"the forget list of domain {domain} has entries but the audit log no forget: "
                                "it was edited")
                continue
            if note is None:
                continue  # written by an earlier veil: no digest to check
            n, digest = self._forget_digest(domain)
            if (n, digest) != (int(note["n"]), note["digest"]):
                problems.append(f"the forget list of domain {domain} was edited: it holds {n} value(s), the last "
                                f"forget (audit entry {e['seq']}) left {note['n']}, or others")
        return problems

    def _verify_count(self, entries: list[dict], stored: int) -> list[str]:
        expected = 0
        for e in entries:
            if e["action"] in ("run", "rekey"):
                expected += int(e["count"])
            elif e["action"] == "destroy":
                expected -= int(e["count"])
            elif e["action"] == "forget":
                note = _FORGET_NOTE.match(e["purpose"])
                if note is None:
                    return []  # an earlier veil's forget did not log what it deleted: nothing to compare
                expected -= int(note["deleted"])
        pending = self.pending_destroys()
        expected -= sum(pending.values())
        if expected != stored:
            return [f"the vault holds {stored:,} record(s) where the audit log accounts for {expected:,}: records "
                    "were removed or added outside veil"]
        return []

    def verify_audit(self) -> tuple[int, int | None]:
        """(entries checked, seq of the first broken entry or None)."""
        key = self._audit_key()
        prev = ""
        entries = self.audit_entries()
        for i, e in enumerate(entries, 1):
            mac = e.pop("mac")
            expect = hmac.new(key, self._entry_bytes(e), "sha256").hexdigest()
            if e["seq"] != i or e["prev"] != prev or not hmac.compare_digest(mac, expect):
                return len(entries), e["seq"]
            prev = mac
        return len(entries), None


def check_purpose(purpose: object) -> str:
    """A reveal's purpose, as the audit log records it: some visible text, on one line."""
    if not isinstance(purpose, str) or not purpose.strip():
        raise UsageError("a reveal needs a purpose (--purpose): it is recorded in the audit log",
                         hint='say why, e.g. --purpose "GDPR request 42"')
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in purpose):
        raise UsageError("the purpose must be one line of text (no control characters): it is recorded "
                         "in the audit log", hint='e.g. --purpose "GDPR request 42"')
    return purpose.strip()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def open_vault(spec: str | os.PathLike | None, keys: KeyProvider | None, *,
               forbidden_dirs: tuple[Path | None, ...] = (), create: bool = True,
               pending_ok: bool = False) -> Vault | None:
    """Open the vault named by ``spec`` (path or postgresql:// URL, or env VEIL_VAULT); None if none given.

    A vault with an interrupted key destruction is refused unless ``pending_ok`` (for the commands
    that finish or report it)."""
    spec = str(spec) if spec not in (None, "") else os.environ.get(ENV_VAULT)
    if not spec:
        return None
    if not spec.startswith(("postgresql://", "postgres://")):
        p = Path(spec).expanduser()
        refuse_inside(p, forbidden_dirs, "vault", VaultError)
        if not create and not p.exists():
            raise VaultError("vault file not found", file=str(p), hint="check --vault or VEIL_VAULT")
    backend = open_backend(spec)
    try:
        vault = Vault(backend, keys, backend.location)
        if not pending_ok:
            vault.refuse_pending()
    except BaseException:
        backend.close()
        raise
    return vault
