"""Vault segments: records sealed in blocks, and the format a segment is stored in.

A segment holds the records of one (domain, key version), up to SEGMENT_ROWS of them, as an
Arrow table (SEGMENT_SCHEMA in memory). Records are sealed in blocks of BLOCK_ROWS: one
AES-256-GCM call per block encrypts the block's originals and authenticates every field of its
records (:class:`BlockFields`).

On disk (STORED_SCHEMA, an Arrow IPC stream) a segment drops the fixed-width null slots of
SEGMENT_SCHEMA (16-byte subjects of records without one, nonces and tags of records that do not
start a block): the subject is variable-length, and a block's nonce and tag are one `seal` value
on its first record. Nor does it store the dedup keys: each is its blind index XOR its context's
key, made again on reading (:meth:`Segment.dedup`; the block's tag still authenticates it), and a
run reads them from `veil_segment_keys` (:func:`keys_blob`). Its blind and subject indexes, and
the dedup keys of its blob, are stored sealed to the segment's key version (:mod:`.crypto`).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import VaultError
from ..keys import KeyProvider
from .buffers import binary16, fixed_rows, rows16, sparse_binary, var_buffers
from .crypto import dedup_keys, ecb, record_cipher, seal_indexes

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
STORED_SCHEMA = pa.schema([
    ("pseudonym", pa.string()),
    ("context", pa.string()),
    ("blind", pa.binary(16)),
    ("subject", pa.binary()),
    ("ct", pa.binary()),
    ("seal", pa.binary()),  # nonce (12 bytes) and tag (16) of the block the record starts, else null
])
SEALED_META = {b"veil.indexes": b"sealed-v1"}  # schema metadata of a stored segment: its indexes are sealed
SEALED_BLOB = b"\x01"  # last byte of a veil_segment_keys blob (its keys are sealed)


class BlockFields:
    """The authenticated fields of a run of records, to build each block's associated data.

    A block's associated data binds the domain, the key version and, for each of its records,
    the lengths of its original, pseudonym and context, the pseudonym, the context, the blind
    index, the dedup key and the subject: moving, editing, reordering or resizing any of them fails the tag.
    """

    def __init__(self, domain: str, version: str, cols, lengths: np.ndarray):
        pseud, ctx, blind, dedup, subject = cols
        d, v = domain.encode(), version.encode()
        self.head = b"".join([AAD_PREFIX, struct.pack("<I", len(d)), d, struct.pack("<I", len(v)), v])
        self.p_off, self.p = var_buffers(pseud)
        self.c_off, self.c = var_buffers(ctx)
        self.o_len = lengths.astype("<u4")
        self.p_len = np.diff(self.p_off).astype("<u4")
        self.c_len = np.diff(self.c_off).astype("<u4")
        self.blind = fixed_rows(blind, 16)[1].tobytes()
        self.dedup = fixed_rows(dedup, 16)[1].tobytes()
        valid, subj = fixed_rows(subject, 16)
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
    record's fields with them (:class:`BlockFields`). GCM is a stream mode, so each record keeps
    its own slice of the ciphertext; the nonce and tag sit on the block's first record.
    """
    aes = record_cipher(keys, domain, version)
    n = plain.num_rows
    o_off, o = var_buffers(plain.column(2))
    fields = BlockFields(domain, version, [plain.column(i) for i in (0, 1, 3, 4, 5)], np.diff(o_off))
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


# -- the stored format ------------------------------------------------------------------------------

def to_ipc(table: pa.Table, seal: bytes) -> memoryview:
    """A segment (SEGMENT_SCHEMA) as an Arrow IPC stream of STORED_SCHEMA (bytes-like, not copied),
    its blind and subject indexes sealed under ``seal`` (:func:`.crypto.index_seal`)."""
    table = seal_indexes(table.combine_chunks(), seal)
    schema = STORED_SCHEMA.with_metadata(SEALED_META)
    valid, nonce = fixed_rows(table.column("nonce"), 12, zeroed=False)
    starts = np.flatnonzero(valid)
    tag = fixed_rows(table.column("tag"), 16, zeroed=False)[1]
    seal_col = sparse_binary(valid, np.concatenate([nonce[starts], tag[starts]], axis=1))
    linked, subject = fixed_rows(table.column("subject"), 16, zeroed=False)
    subject = sparse_binary(linked, subject[linked])
    stored = pa.table([table.column("pseudonym"), table.column("context"), table.column("blind"), subject,
                       table.column("ct"), seal_col], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_table(stored)
    return memoryview(sink.getvalue())


def from_stored(table: pa.Table) -> pa.Table:
    """A stored segment (STORED_SCHEMA) back in SEGMENT_SCHEMA, its indexes as stored (sealed) and
    its dedup keys null (:meth:`Segment.dedup` makes them). ValueError if it is not one."""
    if table.schema != STORED_SCHEMA:
        raise ValueError("not a stored vault segment")
    table = table.combine_chunks()
    seal = table.column("seal")
    if pc.all(pc.equal(pc.binary_length(seal), 28)).as_py() not in (True, None):
        raise ValueError("a seal is not 28 bytes")
    return pa.table([table.column("pseudonym"), table.column("context"), table.column("blind"),
                     pa.nulls(table.num_rows, pa.binary(16)), table.column("subject").cast(pa.binary(16)),
                     table.column("ct"), pc.binary_slice(seal, 0, 12).cast(pa.binary(12)),
                     pc.binary_slice(seal, 12, 28).cast(pa.binary(16))], schema=SEGMENT_SCHEMA)


def keys_blob(table: pa.Table, seal: bytes) -> bytes:
    """A segment's (SEGMENT_SCHEMA) dedup keys sealed under ``seal`` (16 bytes each), then one bit
    per record (numpy's packbits order): set if the record is linked to a subject; then SEALED_BLOB."""
    table = table.combine_chunks()
    linked = pc.is_valid(table.column("subject")).to_numpy(zero_copy_only=False)
    keys = fixed_rows(table.column("key"), 16)[1]
    return ecb(seal, keys).tobytes() + np.packbits(linked).tobytes() + SEALED_BLOB


def open_keys_blob(blob: bytes | None, n: int, seal: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The dedup keys (two 64-bit halves each) and subject links of a segment of ``n`` records from
    its blob (:func:`keys_blob`); None when the blob is missing or not of its size (the caller
    reads the segment whole instead)."""
    if blob is None or len(blob) != 16 * n + (n + 7) // 8 + 1 or bytes(blob[-1:]) != SEALED_BLOB:
        return None
    opened = ecb(seal, np.frombuffer(blob, np.uint8, count=16 * n).reshape(n, 16), decrypt=True)
    pairs = opened.view(np.uint64).reshape(n, 2)
    linked = np.unpackbits(np.frombuffer(blob, np.uint8, count=(n + 7) // 8, offset=16 * n), count=n).astype(bool)
    return pairs[:, 0].copy(), pairs[:, 1].copy(), linked


# -- segments read back ------------------------------------------------------------------------------

def damaged(sid: int, domain: str, version: str, location: str) -> VaultError:
    return VaultError(f"authentication failed: vault segment {sid} (domain {domain}, key version {version}) "
                      "is damaged", file=location, hint="restore the vault from its backup")


def parse_stored(sid: int, domain: str, version: str, data: bytes, location: str) -> pa.Table:
    """A stored segment's IPC bytes as a table of SEGMENT_SCHEMA, its indexes still sealed."""
    try:
        stored = pa.ipc.open_stream(bytes(data)).read_all()
        if (stored.schema.metadata or {}).get(b"veil.indexes") != SEALED_META[b"veil.indexes"]:
            raise ValueError("indexes not sealed")
        return from_stored(stored)
    except (pa.ArrowInvalid, ValueError, OSError):
        raise damaged(sid, domain, version, location) from None


@dataclass
class Segment:
    id: int
    domain: str
    version: str
    table: pa.Table  # one chunk per column; its dedup keys null
    starts: np.ndarray  # the first record of each block
    location: str = ""  # the vault's, for messages

    @classmethod
    def open(cls, sid: int, domain: str, version: str, table: pa.Table, seal: bytes, location: str) -> Segment:
        """A segment from :func:`parse_stored`'s table, its indexes unsealed under ``seal``."""
        try:
            table = seal_indexes(table, seal, decrypt=True).combine_chunks()
        except (pa.ArrowInvalid, ValueError):
            raise damaged(sid, domain, version, location) from None
        starts = np.flatnonzero(pc.is_valid(table.column("nonce")).to_numpy(zero_copy_only=False))
        tags = np.flatnonzero(pc.is_valid(table.column("tag")).to_numpy(zero_copy_only=False))
        if table.num_rows and (not len(starts) or starts[0] != 0 or not np.array_equal(starts, tags)):
            raise damaged(sid, domain, version, location)
        return cls(sid, domain, version, table, starts, location)

    def block_range(self, b: int) -> tuple[int, int]:
        end = int(self.starts[b + 1]) if b + 1 < len(self.starts) else self.table.num_rows
        return int(self.starts[b]), end

    def dedup(self, keys: KeyProvider, rows: np.ndarray | None = None) -> pa.Array:
        """The records' dedup keys (binary(16)), made from each one's blind index and context: for
        ``rows`` only, zero elsewhere, when given (a long context costs an HMAC)."""
        t = self.table
        blind, ctx = t.column("blind").chunk(0), t.column("context").chunk(0)
        if rows is None or len(rows) == t.num_rows:
            return dedup_keys(keys, blind, ctx)
        out = np.zeros((t.num_rows, 16), np.uint8)
        at = pa.array(rows)
        out[rows] = rows16(dedup_keys(keys, blind.take(at), ctx.take(at)))
        return binary16(out)

    def with_dedup(self, keys: KeyProvider) -> pa.Table:
        """The segment's table with its dedup keys."""
        return self.table.set_column(3, "key", pa.chunked_array([self.dedup(keys)]))

    def originals(self, keys: KeyProvider, aes: AESGCM, rows: np.ndarray | None = None) -> dict[int, bytes]:
        """row -> original for the given rows (every row when None): each block that holds one is
        decrypted and authenticated whole."""
        t = self.table
        blocks = range(len(self.starts)) if rows is None else \
            np.unique(np.searchsorted(self.starts, rows, "right") - 1).tolist()
        if not t.num_rows or not len(blocks):
            return {}
        ct_off, ct = var_buffers(t.column("ct").chunk(0))
        opened = None if rows is None else np.concatenate([np.arange(*self.block_range(b)) for b in blocks])
        cols = [t.column(n).chunk(0) for n in ("pseudonym", "context", "blind")]
        cols += [self.dedup(keys, opened), t.column("subject").chunk(0)]
        fields = BlockFields(self.domain, self.version, cols, np.diff(ct_off))
        nonces, tags = t.column("nonce").chunk(0), t.column("tag").chunk(0)
        wanted = None if rows is None else set(np.asarray(rows).tolist())
        out: dict[int, bytes] = {}
        for b in blocks:
            s, e = self.block_range(b)
            try:
                plain = aes.decrypt(nonces[s].as_py(), ct[ct_off[s]:ct_off[e]] + tags[s].as_py(), fields.aad(s, e))
            except InvalidTag:
                raise VaultError(f"authentication failed: vault records {s}-{e - 1} of segment {self.id} (domain "
                                 f"{self.domain}, key version {self.version}; one encrypted block) were modified "
                                 "or damaged", file=self.location, hint="restore the vault from its backup") from None
            base = ct_off[s]
            for r in range(s, e):
                if wanted is None or r in wanted:
                    out[r] = plain[ct_off[r] - base:ct_off[r + 1] - base]
        return out

    def resealed(self, keys: KeyProvider, keep: np.ndarray) -> pa.Table:
        """The records at rows ``keep``, decrypted and sealed again in new blocks (SEGMENT_SCHEMA)."""
        originals = self.originals(keys, record_cipher(keys, self.domain, self.version), keep)
        t = self.table.take(pa.array(keep))
        blind, ctx = t.column("blind").chunk(0), t.column("context").chunk(0)
        plain = pa.RecordBatch.from_arrays(
            [t.column("pseudonym").chunk(0), ctx, pa.array([originals[r] for r in keep.tolist()], pa.binary()),
             blind, dedup_keys(keys, blind, ctx), t.column("subject").chunk(0)], schema=PLAIN_SCHEMA)
        return pa.Table.from_batches([encrypt_records(keys, self.domain, self.version, plain)])


def joined(table: pa.Table | pa.RecordBatch) -> pa.Array | pa.ChunkedArray:
    """Each record's (pseudonym, context) as one string, "pseudonym\\0context" (reveal, forget, rekey)."""
    return pc.binary_join_element_wise(table.column("pseudonym"), table.column("context"), "\0")

