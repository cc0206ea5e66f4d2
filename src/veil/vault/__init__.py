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
and up to 64k records, holding an Arrow IPC table of (pseudonym, blind, nonce,
ciphertext). A run writes a few rows instead of one per value, which keeps a
run with the vault close to the cost of a run without it; forgetting a subject
rewrites the segments that hold them. The backend is an embedded SQLite file
by default, or PostgreSQL (``postgresql://`` URL) for teams.

Every reveal, forget and destruction is appended to an audit log whose entries
are chained by HMAC: ``verify_audit`` names the first entry that was altered.
"""

from __future__ import annotations

import getpass
import hmac
import io
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import VaultError
from ..hmacs import hmac_sha256_many
from ..keys import KeyProvider, derive, refuse_inside
from .backends import Backend, open_backend

ENV_VAULT = "VEIL_VAULT"
SEGMENT_ROWS = 65_536
SEGMENT_SCHEMA = pa.schema([
    ("pseudonym", pa.string()),
    ("context", pa.string()),
    ("blind", pa.binary(16)),
    ("nonce", pa.binary(12)),
    ("ct", pa.binary()),
    # blind index of the row's subject (the table's `subject` column), so forgetting a
    # subject deletes every record written from their rows, in every domain
    ("subject", pa.binary(16)),
])
AAD_PREFIX = b"veil-vault/v1\0"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def aad(domain: str, version: str, pseudonym: str, context: str) -> bytes:
    return b"\0".join([AAD_PREFIX, domain.encode(), version.encode(), pseudonym.encode(), context.encode()])


def blind_key(keys: KeyProvider, domain: str) -> bytes:
    return keys.index_key("blind", domain)


def blind_indexes(key: bytes, originals: list[bytes]) -> list[bytes]:
    return [d[:16] for d in hmac_sha256_many(key, originals)]


PLAIN_SCHEMA = pa.schema([
    ("pseudonym", pa.string()),
    ("context", pa.string()),
    ("original", pa.binary()),
    ("subject", pa.binary(16)),
])


def _blind_array(key: bytes, originals: list[bytes]) -> pa.Array:
    """The blind indexes of ``originals`` (same bytes as :func:`blind_indexes`) as a binary(16) array."""
    n = len(originals)
    digests = np.frombuffer(b"".join(hmac_sha256_many(key, originals)), np.uint8).reshape(n, 32)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(digests[:, :16].tobytes())])


def encrypt_records(keys: KeyProvider, domain: str, version: str, plain: pa.RecordBatch) -> pa.RecordBatch:
    """Encrypt plain records (PLAIN_SCHEMA) into vault records (run in workers: no database here).

    One AES-GCM call per record (a fresh random nonce each) and one blind index per
    distinct original; the loops are ``map`` over C methods, the rest is vectorised.
    """
    aes = AESGCM(derive(keys.vault_key(version), "vault", domain))
    n = plain.num_rows
    nonces = os.urandom(12 * n)
    originals = plain.column(2).to_pylist()
    # the associated data of every record, built vectorised (same bytes as aad())
    head = aad(domain, version, "", "")[:-2]  # prefix, domain and version, without the trailing separators
    aads = pc.binary_join_element_wise(pa.scalar(head, pa.binary()), plain.column(0).cast(pa.binary()),
                                       plain.column(1).cast(pa.binary()), pa.scalar(b"\0", pa.binary()))
    nonce_list = struct.Struct("12s" * n).unpack(nonces) if n else ()  # n bytes objects in one C call
    cts = list(map(AESGCM.encrypt, repeat(aes, n), nonce_list, originals, aads.to_pylist()))
    bkey = blind_key(keys, domain)
    if len(set(originals)) == n:
        blinds = _blind_array(bkey, originals)
    else:  # one blind index per distinct original (a fake's originals repeat across rows)
        encoded = plain.column(2).dictionary_encode()
        blinds = _blind_array(bkey, encoded.dictionary.to_pylist()).take(encoded.indices)
    nonce_arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(12), n, [None, pa.py_buffer(nonces)])
    return pa.RecordBatch.from_arrays(
        [plain.column(0), plain.column(1), blinds, nonce_arr, pa.array(cts, pa.binary()), plain.column(3)],
        schema=SEGMENT_SCHEMA)


def _to_ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, SEGMENT_SCHEMA) as w:
        w.write_table(table)
    return sink.getvalue()


@dataclass
class Segment:
    id: int
    domain: str
    version: str
    table: pa.Table


class Vault:
    def __init__(self, backend: Backend, keys: KeyProvider | None, location: str):
        self.db = backend
        self.keys = keys
        self.location = location
        self._pending: dict[tuple[str, str], list[pa.RecordBatch]] = {}
        # (domain, version) -> the (pseudonym, context) pairs held: (unlinked, linked to a subject)
        self._known: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
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
            self.db.execute("INSERT INTO veil_meta (name, value) VALUES (?, ?)", ["keyring", tag])
            self.db.commit()
        elif not hmac.compare_digest(rows[0][0], tag):
            raise VaultError("this vault belongs to another keyring", file=self.location,
                             hint="use the keyring the vault was created with (its forget list and audit "
                             "chain depend on it)")

    # -- segments --------------------------------------------------------------
    def _segments(self, domain: str | None = None, version: str | None = None) -> Iterator[Segment]:
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
            try:
                table = pa.ipc.open_stream(bytes(data)).read_all()
                if table.schema != SEGMENT_SCHEMA:
                    raise ValueError("schema")
            except (pa.ArrowInvalid, ValueError, OSError):
                raise VaultError(f"authentication failed: vault segment {sid} (domain {dom}, key version "
                                 f"{ver}) is damaged", file=self.location,
                                 hint="restore the vault from its backup") from None
            yield Segment(sid, dom, ver, table)

    @staticmethod
    def _joined(table: pa.Table | pa.RecordBatch) -> pa.Array | pa.ChunkedArray:
        """Dedup keys: "pseudonym\0context" per record."""
        return pc.binary_join_element_wise(table.column("pseudonym"), table.column("context"), "\0")

    @classmethod
    def _pairs(cls, table: pa.Table | pa.RecordBatch) -> list[str]:
        return cls._joined(table).to_pylist()

    def _held(self, domain: str, version: str) -> tuple[set[str], set[str]]:
        """The (pseudonym, context) pairs held for (domain, version): (unlinked, linked to a subject)."""
        key = (domain, version)
        if key not in self._known:
            unlinked: set[str] = set()
            linked: set[str] = set()
            for seg in self._segments(domain, version):
                pairs = self._pairs(seg.table)
                subj = seg.table.column("subject")
                if subj.null_count == 0:
                    linked.update(pairs)
                elif subj.null_count == len(subj):
                    unlinked.update(pairs)
                else:
                    mask = pc.is_valid(subj).to_pylist()
                    linked.update(k for k, m in zip(pairs, mask, strict=True) if m)
                    unlinked.update(k for k, m in zip(pairs, mask, strict=True) if not m)
            self._known[key] = (unlinked, linked)
        return self._known[key]

    def known_records(self, domain: str, version: str) -> bool:
        """Whether the vault holds any record of (domain, version)."""
        unlinked, linked = self._held(domain, version)
        return bool(unlinked or linked)

    def fresh(self, domain: str, version: str, plain: pa.RecordBatch) -> pa.RecordBatch | None:
        """The records the vault does not hold yet (by pseudonym and context); marks them as held.

        A record linked to a subject is kept even when the same pseudonym was first written
        unlinked (from a table read before the subject's own table); an unlinked record is
        also held when the vault has it linked. Set operations run in C; no Python loop per
        record but for batches that mix linked and unlinked records.
        """
        unlinked, linked = self._held(domain, version)
        joined = self._joined(plain)
        names = joined.to_pylist()
        subj = plain.column("subject")
        if subj.null_count in (0, len(subj)):
            # every record linked (held only as a linked record), or none (held as either)
            first, other = (linked, None) if subj.null_count == 0 else (unlinked, linked)
            if first.issuperset(names):  # a refresh (stops at the first new record otherwise)
                return None
            held = first.intersection(names)
            if other:
                held.update(other.intersection(names))
            first.update(names)  # the held ones too: harmless, they stay held
            if not held:
                return plain
            keep = pc.invert(pc.is_in(joined, value_set=pa.array(list(held), pa.string())))
        else:
            is_linked = pc.is_valid(subj).to_pylist()
            keep = [k not in linked and (m or k not in unlinked) for k, m in zip(names, is_linked, strict=True)]
            for k, m, new in zip(names, is_linked, keep, strict=True):
                if new:
                    (linked if m else unlinked).add(k)
            keep = pa.array(keep)
        n_keep = pc.sum(keep).as_py() or 0
        if n_keep == 0:
            return None
        return plain if n_keep == plain.num_rows else plain.filter(keep)

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
        self.db.execute("INSERT INTO veil_segments (domain, key_version, created, n, data) VALUES (?, ?, ?, ?, ?)",
                        [domain, version, _now(), table.num_rows, _to_ipc(table)])
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
    def _decrypt(self, seg: Segment, table: pa.Table, positions, aes: AESGCM) -> list[tuple[str, str, bytes]]:
        out = []
        cols = [table.column(n).to_pylist() for n in ("pseudonym", "context", "nonce", "ct")]
        for i, (p, c, nonce, ct) in enumerate(zip(*cols, strict=True)):
            try:
                out.append((p, c, aes.decrypt(nonce, ct, aad(seg.domain, seg.version, p, c))))
            except InvalidTag:
                raise VaultError(f"authentication failed: vault record {int(positions[i])} of segment {seg.id} "
                                 f"(domain {seg.domain}, key version {seg.version}) was modified or damaged",
                                 file=self.location, hint="restore the vault from its backup") from None
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
            for p, _c, original in self._decrypt(seg, seg.table.take(pa.array(idx)), idx, aes):
                got = found.setdefault(p, [])
                if original not in got:
                    got.append(original)
        return found

    def load_map(self, domain: str, version: str) -> tuple[dict[str, bytes], set[str]]:
        """Every record of (domain, version), decrypted: ("pseudonym\\0context" -> original, ambiguous keys)."""
        aes = self._aes(domain, version)
        out: dict[str, bytes] = {}
        ambiguous: set[str] = set()
        for seg in self._segments(domain, version):
            for p, c, original in self._decrypt(seg, seg.table, range(seg.table.num_rows), aes):
                key = f"{p}\0{c}"
                if out.setdefault(key, original) != original:
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
        segments = list(self._segments())
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
            hit = pc.is_in(pc.binary_join_element_wise(seg.table.column("pseudonym"), seg.table.column("context"),
                                                       "\0"), value_set=pa.array(sorted(names), pa.string()))
            n_hit = pc.sum(hit).as_py() or 0
            if not n_hit:
                continue
            rest = seg.table.filter(pc.invert(hit))
            deleted += n_hit
            if rest.num_rows:
                self.db.execute("UPDATE veil_segments SET data = ?, n = ? WHERE id = ?",
                                [_to_ipc(rest), rest.num_rows, seg.id])
            else:
                self.db.execute("DELETE FROM veil_segments WHERE id = ?", [seg.id])
        already = self.forgotten(domain)
        new = [b for b in dict.fromkeys(blinds) if b not in already]
        for b in new:
            self.db.execute("INSERT INTO veil_forgotten (domain, blind, added) VALUES (?, ?, ?)", [domain, b, _now()])
        return len(new), deleted

    # -- crypto-shredding ----------------------------------------------------------
    def destroy_version(self, version: str) -> int:
        rows = self.db.query("SELECT COALESCE(SUM(n), 0) FROM veil_segments WHERE key_version = ?", [version])
        n = int(rows[0][0])
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

    def audit(self, action: str, *, purpose: str = "", domain: str = "", version: str = "", count: int = 0,
              actor: str | None = None) -> None:
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


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def open_vault(spec: str | os.PathLike | None, keys: KeyProvider | None, *,
               forbidden_dirs: tuple[Path | None, ...] = (), create: bool = True) -> Vault | None:
    """Open the vault named by ``spec`` (path or postgresql:// URL, or env VEIL_VAULT); None if none given."""
    spec = str(spec) if spec not in (None, "") else os.environ.get(ENV_VAULT)
    if not spec:
        return None
    if not spec.startswith(("postgresql://", "postgres://")):
        p = Path(spec).expanduser()
        refuse_inside(p, forbidden_dirs, "vault", VaultError)
        if not create and not p.exists():
            raise VaultError("vault file not found", file=str(p), hint="check --vault or VEIL_VAULT")
    backend = open_backend(spec)
    return Vault(backend, keys, backend.location)
