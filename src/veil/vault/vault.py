"""The Vault: records in segments over a backend, and what a holder of the keyring does with them.

Runs store records (:meth:`Vault.fresh`, :meth:`Vault.store`, :meth:`Vault.commit`); a holder of
the keyring reveals (:meth:`Vault.reveal`), forgets subjects (:meth:`Vault.forget`) and destroys
key versions (:func:`.shred.destroy_version`). Each of those writes its own audit entry here, in
the library, in the same transaction as what it records.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import KeyringError, VaultError
from ..keys import KeyProvider, refuse_inside
from .audit import AuditLog, check_purpose, forget_note, now
from .backends import Backend, open_backend
from .crypto import blind_indexes, blind_key, index_seal, record_cipher
from .keyset import KeySet
from .segments import SEGMENT_ROWS, SEGMENT_SCHEMA, Segment, joined, keys_blob, open_keys_blob, parse_stored, to_ipc
from .verify import verify_vault

ENV_VAULT = "VEIL_VAULT"
DESTROYING = "destroying:"  # veil_meta: a key version's destruction began and has not ended


class Vault:
    def __init__(self, backend: Backend, keys: KeyProvider | None, location: str):
        self.db = backend
        self.keys = keys
        self.location = location
        self.audit_log = AuditLog(backend, self._audit_key)
        self._pending: dict[tuple[str, str], list[pa.RecordBatch]] = {}
        # (domain, version) -> the dedup keys the vault holds
        self._known: dict[tuple[str, str], KeySet] = {}
        self._run: dict | None = None  # the audit entry of a run, written by its commit (record_run)
        self._stored = 0  # records stored since record_run
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

    def _key_provider(self) -> KeyProvider:
        assert self.keys is not None, "this vault was opened without a keyring"
        return self.keys

    def _audit_key(self) -> bytes:
        return self._key_provider().index_key("audit")

    # -- segments ------------------------------------------------------------------
    def segments(self, domain: str | None = None, version: str | None = None,
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
        keys = self._key_provider()
        for sid, dom, ver, data in self.db.query(sql + " ORDER BY id", params):
            table = parse_stored(sid, dom, ver, data, self.location)
            try:
                seal = index_seal(keys, dom, ver)
            except KeyringError:
                if live_only:
                    continue
                raise
            yield Segment.open(sid, dom, ver, table, seal, self.location)

    def held(self, domain: str, version: str) -> KeySet:
        """The dedup keys the vault holds for (domain, version), and which are linked to a subject.

        Read from each segment's keys (veil_segment_keys: 17 bytes a record, where its data takes
        about a hundred); a segment whose keys are missing or not of the right size is read whole.
        """
        if (domain, version) not in self._known:
            keys = self._key_provider()
            seal = index_seal(keys, domain, version)
            halves, links = [], []
            whole = set()
            for sid, n, blob in self.db.query(
                    "SELECT s.id, s.n, k.keys FROM veil_segments s LEFT JOIN veil_segment_keys k ON k.segment = s.id "
                    "WHERE s.domain = ? AND s.key_version = ? ORDER BY s.id", [domain, version]):
                opened = open_keys_blob(blob, n, seal)
                if opened is None:
                    whole.add(sid)
                    continue
                halves.append(opened[:2])
                links.append(opened[2])
            for seg in (self.segments(domain, version) if whole else ()):
                if seg.id in whole:
                    halves.append(KeySet.halves(seg.dedup(keys)))
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
        """Queue encrypted records (from :func:`.segments.encrypt_records`) for the next segment.

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
        self._stored += records.num_rows
        return records.num_rows

    def _flush_one(self, domain: str, version: str) -> None:
        batches = self._pending.pop((domain, version), [])
        if not batches:
            return
        table = pa.Table.from_batches(batches, SEGMENT_SCHEMA)
        seal = index_seal(self._key_provider(), domain, version)
        sid = self.db.insert("INSERT INTO veil_segments (domain, key_version, created, n, data) VALUES (?, ?, ?, ?, ?)",
                             [domain, version, now(), table.num_rows, to_ipc(table, seal)])
        self.db.execute("INSERT INTO veil_segment_keys (segment, keys) VALUES (?, ?)", [sid, keys_blob(table, seal)])
        self.db.writeback()

    def flush(self) -> None:
        for domain, version in list(self._pending):
            self._flush_one(domain, version)

    def record_run(self, action: str = "run", *, purpose: str = "", version: str = "",
                   actor: str | None = None) -> None:
        """Have the next :meth:`commit` write this run's audit entry (``action`` "run" or "rekey"),
        counting the records stored from now on, in the same transaction as the records."""
        self._run = {"action": action, "purpose": purpose, "version": version, "actor": actor}
        self._stored = 0

    def commit(self) -> None:
        self.flush()
        if self._run is not None:
            run, self._run = self._run, None
            self.audit(run.pop("action"), count=self._stored, **run)
        self.db.commit()

    def rollback(self) -> None:
        self._pending.clear()
        self._known.clear()
        self._run = None
        self.db.rollback()

    def close(self) -> None:
        self.db.close()

    # -- reveal ------------------------------------------------------------------
    def lookup(self, domain: str, version: str, pseudonyms: Iterable[str]) -> dict[str, list[bytes]]:
        """The distinct originals recorded for each given pseudonym (those the vault holds). Writes no
        audit entry: :meth:`reveal` is the audited way to show originals to a person."""
        keys = self._key_provider()
        wanted = pa.array(list(dict.fromkeys(pseudonyms)), pa.string())
        aes = record_cipher(keys, domain, version)
        found: dict[str, list[bytes]] = {}
        for seg in self.segments(domain, version):
            hit = pc.is_in(seg.table.column("pseudonym"), value_set=wanted)
            idx = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
            if not len(idx):
                continue
            names = seg.table.column("pseudonym").take(pa.array(idx)).to_pylist()
            originals = seg.originals(keys, aes, idx)
            for r, p in zip(idx.tolist(), names, strict=True):
                got = found.setdefault(p, [])
                if originals[r] not in got:
                    got.append(originals[r])
        return found

    def load_map(self, domain: str, version: str) -> tuple[dict[str, bytes], set[str]]:
        """Every record of (domain, version), decrypted: ("pseudonym\\0context" -> original, ambiguous keys)."""
        keys = self._key_provider()
        aes = record_cipher(keys, domain, version)
        out: dict[str, bytes] = {}
        ambiguous: set[str] = set()
        for seg in self.segments(domain, version):
            originals = seg.originals(keys, aes)
            for r, key in enumerate(joined(seg.table).to_pylist()):
                if out.setdefault(key, originals[r]) != originals[r]:
                    ambiguous.add(key)
        return out, ambiguous

    def versions_of(self, domain: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT key_version FROM veil_segments WHERE domain = ? ORDER BY key_version", [domain])]

    def live_versions_of(self, domain: str) -> list[str]:
        """The key versions of the domain's records whose keys the keyring holds (not destroyed)."""
        keys = self._key_provider()
        live = []
        for v in self.versions_of(domain):
            try:
                keys.vault_key(v)
            except KeyringError:
                continue
            live.append(v)
        return live

    def reveal(self, domain: str, pseudonyms: Iterable[str], *, purpose: str, versions: Iterable[str] | None = None,
               actor: str | None = None) -> dict[str, list[bytes]]:
        """The originals of pseudonyms, searched in the given key versions in turn (default: every
        version of the domain the keyring holds). Every version with hits (or, when nothing is
        found, the attempt) is written to the audit log with its purpose, and committed before the
        originals are returned."""
        purpose = check_purpose(purpose)
        versions = self.live_versions_of(domain) if versions is None else list(versions)
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
        self.commit()
        return found

    # -- forget ------------------------------------------------------------------
    def forgotten(self, domain: str) -> set[bytes]:
        return {bytes(r[0]) for r in self.db.query("SELECT blind FROM veil_forgotten WHERE domain = ?", [domain])}

    def forget(self, domain: str, originals: list[bytes], *, actor: str | None = None) -> tuple[int, int]:
        """Delete the subjects' records (every version), add them to the forget list, write the audit
        entry, commit, and compact the storage (so the deleted records leave no trace in its files).

        Returns (subjects added to the forget list, vault records deleted).
        """
        keys = self._key_provider()
        blinds = blind_indexes(blind_key(keys, domain), originals)
        deleted = self._delete_subjects(domain, pa.array(blinds, pa.binary(16)))
        already = self.forgotten(domain)
        new = [b for b in dict.fromkeys(blinds) if b not in already]
        for b in new:
            self.db.execute("INSERT INTO veil_forgotten (domain, blind, added) VALUES (?, ?, ?)", [domain, b, now()])
        self.audit("forget", purpose=forget_note(self.forgotten(domain), deleted), domain=domain,
                   count=len(set(originals)), actor=actor)
        self.commit()
        self.compact()
        return len(new), deleted

    def _delete_subjects(self, domain: str, wanted: pa.Array) -> int:
        """Delete the records of the subjects with these blind indexes; the number deleted."""
        keys = self._key_provider()
        segments = list(self.segments(live_only=True))  # a destroyed version's records cannot be matched
        # the subject's own value in this domain, and every record written from their rows ...
        doomed: dict[str, set[str]] = {}
        for seg in segments:
            hit = pc.fill_null(pc.is_in(seg.table.column("subject"), value_set=wanted), False)
            if seg.domain == domain:
                hit = pc.or_(hit, pc.is_in(seg.table.column("blind"), value_set=wanted))
            doomed.setdefault(seg.domain, set()).update(joined(seg.table.filter(hit)).to_pylist())
        # ... and every copy of those records (the same pseudonym written from another table)
        deleted = 0
        for seg in segments:
            names = doomed.get(seg.domain)
            if not names:
                continue
            hit = pc.is_in(joined(seg.table), value_set=pa.array(sorted(names), pa.string()))
            n_hit = pc.sum(hit).as_py() or 0
            if not n_hit:
                continue
            keep = np.flatnonzero(~hit.to_numpy(zero_copy_only=False))
            deleted += n_hit
            if len(keep):  # the blocks lose records: the rest are sealed again, in new blocks
                rest = seg.resealed(keys, keep)
                seal = index_seal(keys, seg.domain, seg.version)
                self.db.execute("DELETE FROM veil_segment_keys WHERE segment = ?", [seg.id])
                self.db.execute("UPDATE veil_segments SET data = ?, n = ? WHERE id = ?",
                                [to_ipc(rest, seal), rest.num_rows, seg.id])
                self.db.execute("INSERT INTO veil_segment_keys (segment, keys) VALUES (?, ?)",
                                [seg.id, keys_blob(rest, seal)])
            else:
                self.db.execute("DELETE FROM veil_segment_keys WHERE segment = ?", [seg.id])
                self.db.execute("DELETE FROM veil_segments WHERE id = ?", [seg.id])
        return deleted

    # -- crypto-shredding ----------------------------------------------------------
    # A destruction runs in steps, each committed, so that a crash at any point is seen and a
    # second `keys destroy V` finishes it (:func:`.shred.destroy_version` runs them in order):
    # (1) begin: a `destroying:V` row in veil_meta and a "destroy-begin" audit entry; (2) V's
    # records deleted (the row keeps their count); (3) the keyring rewritten without V's secrets;
    # (4) end: the "destroy" audit entry with the count, the row removed. While the row is there,
    # every command but `keys destroy` and `vault audit` refuses the vault, and `vault audit
    # --verify` names V.
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
        rows = self.db.query("SELECT COALESCE(SUM(n), 0) FROM veil_segments WHERE key_version = ?", [version])
        self.db.execute("DELETE FROM veil_segment_keys WHERE segment IN "
                        "(SELECT id FROM veil_segments WHERE key_version = ?)", [version])
        self.db.execute("DELETE FROM veil_segments WHERE key_version = ?", [version])
        done = self.pending_destroys().get(version, 0) + int(rows[0][0])
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

    def compact(self) -> None:
        """Rewrite the storage so deleted records leave no trace in the files."""
        self.db.compact()

    # -- audit and verification ----------------------------------------------------
    def audit(self, action: str, *, purpose: str = "", domain: str = "", version: str = "", count: int = 0,
              actor: str | None = None) -> None:
        """Append an audit entry (not committed: part of the current transaction)."""
        self.audit_log.append(action, purpose=purpose, domain=domain, version=version, count=count, actor=actor)

    def audit_entries(self) -> list[dict]:
        return self.audit_log.entries()

    def verify_audit(self) -> tuple[int, int | None]:
        """(entries checked, seq of the first broken entry or None)."""
        return self.audit_log.verify()

    def verify(self, statuses: dict[str, str]) -> tuple[int, list[str]]:
        """Check the vault against itself and the keyring (``statuses``: key version -> status): see
        :func:`.verify.verify_vault`. (audit entries, problems: one line each)."""
        return verify_vault(self, statuses)


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
