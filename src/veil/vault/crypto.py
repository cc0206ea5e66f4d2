"""Crypto of the vault's indexes: blind indexes, context keys, dedup keys, and their sealing.

- A **blind index** is a keyed HMAC of an original under the version-independent index key of
  its domain, so a subject can be found (and forgotten) by their value across rotations.
- A **context key** stands for a record's context (its row's primary-key pseudonym) in 16 bytes;
  a record's **dedup key** is its blind index XOR its context's key.
- Stored, each of those indexes is **sealed** to the record's key version (AES-256, one block
  each: a permutation) under :func:`index_seal`: from the vault alone, records of two versions
  share no index, and destroying a version destroys the key that opens its indexes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..hmacs import hmac_sha256_many
from ..keys import KeyProvider, derive
from ..ops.arrays import map_distinct
from .buffers import binary16, fixed_rows, nullable16, one_chunk, rows16, var_buffers

CONTEXT_INLINE = 15  # contexts of up to this many UTF-8 bytes go into their key's AES block as they are


def blind_key(keys: KeyProvider, domain: str) -> bytes:
    return keys.index_key("blind", domain)


def blind_indexes(key: bytes, originals: list[bytes]) -> list[bytes]:
    return [d[:16] for d in hmac_sha256_many(key, originals)]


def blind_array(key: bytes, originals: pa.Array) -> pa.Array:
    """The blind indexes of a non-null binary array (same bytes as :func:`blind_indexes`) as
    binary(16), one HMAC per distinct value."""
    def digests(uniques: pa.Array) -> pa.Array:
        out = hmac_sha256_many(key, uniques.to_pylist())
        return binary16(np.frombuffer(b"".join(out), np.uint8).reshape(len(out), 32)[:, :16])

    return map_distinct(originals, digests) if len(originals) else pa.array([], pa.binary(16))


def context_keys(keys: KeyProvider, contexts: pa.Array) -> pa.Array:
    """A 16-byte key per context (binary(16)), one-to-one with the context and zero for the empty one.

    A context is first put in one block: up to 15 UTF-8 bytes zero-padded, then its length; a
    longer one as 15 bytes of its HMAC under ``index_key("context")``, then 0xFF. The block is then
    encrypted with AES-256 under ``index_key("context-block")`` (one block each, a permutation): one
    call for the whole batch, and keys spread evenly whatever the contexts look like, as the dedup
    look-ups expect. Integer and short text primary keys cost no HMAC.
    """
    contexts = one_chunk(contexts)
    n = len(contexts)
    offs, data = var_buffers(contexts)
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
    out = ecb(keys.index_key("context-block"), block).copy()
    out[lens == 0] = 0
    return binary16(out)


def dedup_keys(keys: KeyProvider, blinds: pa.Array, contexts: pa.Array) -> pa.Array:
    """Each record's dedup key: its blind index XOR its context's key (:func:`context_keys`, zero
    for the empty context), binary(16)."""
    return binary16(rows16(blinds) ^ rows16(context_keys(keys, contexts)))


def record_cipher(keys: KeyProvider, domain: str, version: str) -> AESGCM:
    """The AES-256-GCM key that encrypts the originals of (domain, version): from the version's vault key."""
    return AESGCM(derive(keys.vault_key(version), "vault", domain))


def index_seal(keys: KeyProvider, domain: str, version: str) -> bytes:
    """The AES-256 key that seals the stored indexes of (domain, version): from the version's vault key."""
    return derive(keys.vault_key(version), "index-seal", domain)


def ecb(key: bytes, rows: np.ndarray, decrypt: bool = False) -> np.ndarray:
    """Each 16-byte row encrypted (or decrypted) as one AES block: one call for the whole array."""
    if not len(rows):
        return np.zeros((0, 16), np.uint8)
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    out = op.update(np.ascontiguousarray(rows, np.uint8).reshape(-1))  # whole blocks: finalize adds nothing
    op.finalize()
    return np.frombuffer(out, np.uint8).reshape(-1, 16)


def seal_indexes(table: pa.Table, key: bytes, decrypt: bool = False) -> pa.Table:
    """A segment (SEGMENT_SCHEMA) with its blind and subject indexes sealed (or unsealed) under ``key``
    (:func:`index_seal`)."""
    table = table.combine_chunks()
    blind = binary16(ecb(key, rows16(table.column("blind")), decrypt))
    valid, subj = fixed_rows(table.column("subject"), 16)
    out = np.zeros_like(subj)
    out[valid] = ecb(key, subj[valid], decrypt)
    table = table.set_column(table.schema.get_field_index("blind"), "blind", blind)
    return table.set_column(table.schema.get_field_index("subject"), "subject", nullable16(valid, out))
