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

Every reveal, forget and destruction is appended, by the library, to an audit log whose
entries are chained by HMAC: ``Vault.verify_audit`` names the first entry that was altered.

Where each job lives:

- :mod:`.crypto`: blind indexes, context and dedup keys, the record cipher, index sealing;
- :mod:`.buffers`: Arrow buffer helpers (binary(16) arrays as numpy and back);
- :mod:`.segments`: records sealed in blocks, the stored segment format, a segment read back;
- :mod:`.keyset`: the dedup set (a vectorised hash table of 16-byte keys);
- :mod:`.backends`: SQLite and PostgreSQL storage;
- :mod:`.audit`: the HMAC-chained audit log;
- :mod:`.vault`: the Vault (store, reveal, forget, the steps of a destruction) and ``open_vault``;
- :mod:`.shred`: ``destroy_version``, a key version's destruction in keyring and vault, in order;
- :mod:`.verify`: ``vault audit --verify``'s checks.
"""

from __future__ import annotations

from . import backends
from .audit import AuditLog, check_purpose, forget_note
from .buffers import binary16, rows16
from .crypto import (
    CONTEXT_INLINE,
    blind_array,
    blind_indexes,
    blind_key,
    context_keys,
    dedup_keys,
    ecb,
    index_seal,
    record_cipher,
    seal_indexes,
)
from .keyset import KeySet, argsort64
from .segments import (
    AAD_PREFIX,
    BLOCK_ROWS,
    PLAIN_SCHEMA,
    SEALED_BLOB,
    SEALED_META,
    SEGMENT_ROWS,
    SEGMENT_SCHEMA,
    STORED_SCHEMA,
    Segment,
    encrypt_records,
    from_stored,
    keys_blob,
    to_ipc,
)
from .shred import destroy_version
from .vault import DESTROYING, ENV_VAULT, Vault, open_vault
from .verify import verify_vault

__all__ = [
    "AAD_PREFIX", "BLOCK_ROWS", "CONTEXT_INLINE", "DESTROYING", "ENV_VAULT", "PLAIN_SCHEMA", "SEALED_BLOB",
    "SEALED_META", "SEGMENT_ROWS", "SEGMENT_SCHEMA", "STORED_SCHEMA", "AuditLog", "KeySet", "Segment", "Vault",
    "argsort64", "backends", "binary16", "blind_array", "blind_indexes", "blind_key", "check_purpose",
    "context_keys", "dedup_keys", "destroy_version", "ecb", "encrypt_records", "forget_note", "from_stored",
    "index_seal", "keys_blob", "open_vault", "record_cipher", "rows16", "seal_indexes", "to_ipc", "verify_vault",
]
