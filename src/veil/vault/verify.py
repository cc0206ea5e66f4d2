"""`vault audit --verify`: check a vault against itself and its keyring, naming each problem.

Checked: the audit chain; interrupted destructions; records of destroyed or unknown versions;
every record of a live version authenticated; the dedup index against the records; each forget
list, and the number of records, against the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import VaultError
from ..keys import DESTROYED
from .audit import FORGET_NOTE, forget_digest
from .crypto import index_seal, record_cipher
from .segments import keys_blob

if TYPE_CHECKING:
    from .vault import Vault


def verify_vault(vault: Vault, statuses: dict[str, str]) -> tuple[int, list[str]]:
    """(audit entries, problems: one line each); ``statuses``: key version -> status in the keyring."""
    problems: list[str] = []
    n_entries, broken = vault.audit_log.verify()
    entries = vault.audit_log.entries()
    if broken is not None:
        problems.append(f"audit log entry {broken} was altered, removed or reordered (the HMAC chain breaks there)")
    begun: set[str] = set()
    for e in entries:
        if e["action"] == "destroy-begin":
            begun.add(e["key_version"])
        elif e["action"] == "destroy":
            begun.discard(e["key_version"])
    pending = set(vault.pending_destroys()) | begun
    for v in sorted(pending):
        problems.append(f"the destruction of key version {v} was interrupted and is incomplete (run `veil "
                        f"keys destroy {v}` again with this vault to finish it)")
    stored = 0
    for version, n in vault.db.query(
            "SELECT key_version, COALESCE(SUM(n), 0) FROM veil_segments GROUP BY key_version ORDER BY key_version", []):
        stored += int(n)
        status = statuses.get(version)
        if status is None:
            problems.append(f"the vault holds {int(n):,} record(s) of key version {version}, which this "
                            "keyring does not hold")
        elif status == DESTROYED and version not in pending:
            problems.append(f"the vault holds {int(n):,} record(s) of destroyed key version {version} "
                            f"(undecryptable; `veil keys destroy {version}` with this vault deletes them)")
    problems += _segments(vault, statuses)
    problems += _forget_lists(vault, entries)
    if broken is None:
        problems += _count(vault, entries, stored)
    return n_entries, problems


def _segments(vault: Vault, statuses: dict[str, str]) -> list[str]:
    problems = []
    keys = vault.keys
    assert keys is not None
    blobs = dict(vault.db.query("SELECT segment, keys FROM veil_segment_keys", []))
    groups = vault.db.query("SELECT DISTINCT domain, key_version FROM veil_segments ORDER BY domain, key_version", [])
    orphans = set(blobs) - {r[0] for r in vault.db.query("SELECT id FROM veil_segments", [])}
    for domain, version in groups:
        if statuses.get(version) in (None, DESTROYED):
            continue  # reported by the caller: no key to check them with
        try:
            aes = record_cipher(keys, domain, version)
            seal = index_seal(keys, domain, version)
            for seg in vault.segments(domain, version):
                seg.originals(keys, aes)  # every block decrypted and authenticated
                blob = blobs.pop(seg.id, None)
                if blob is not None and bytes(blob) != keys_blob(seg.with_dedup(keys), seal):
                    problems.append(f"the dedup index of vault segment {seg.id} (domain {domain}, key version "
                                    f"{version}) does not match its records (it was edited)")
        except VaultError as err:
            problems.append(err.message)
    if orphans:
        problems.append(f"the dedup index holds {len(orphans)} entr{'y' if len(orphans) == 1 else 'ies'} for "
                        "vault segments that do not exist (it was edited)")
    return problems


def _forget_lists(vault: Vault, entries: list[dict]) -> list[str]:
    latest: dict[str, dict] = {}
    for e in entries:
        if e["action"] == "forget":
            latest[e["domain"]] = e
    domains = {r[0] for r in vault.db.query("SELECT DISTINCT domain FROM veil_forgotten", [])} | set(latest)
    problems = []
    for domain in sorted(domains):
        e = latest.get(domain)
        if e is None:
            problems.append(f"the forget list of domain {domain} has entries but the audit log no forget: "
                            "it was edited")
            continue
        note = FORGET_NOTE.match(e["purpose"])
        if note is None:
            problems.append(f"the last forget of domain {domain} (audit entry {e['seq']}) does not record its "
                            "forget list: it was not written by veil")
            continue
        n, digest = forget_digest(vault.forgotten(domain))
        if (n, digest) != (int(note["n"]), note["digest"]):
            problems.append(f"the forget list of domain {domain} was edited: it holds {n} value(s), the last "
                            f"forget (audit entry {e['seq']}) left {note['n']}, or others")
    return problems


def _count(vault: Vault, entries: list[dict], stored: int) -> list[str]:
    expected = 0
    for e in entries:
        if e["action"] in ("run", "rekey"):
            expected += int(e["count"])
        elif e["action"] == "destroy":
            expected -= int(e["count"])
        elif e["action"] == "forget":
            note = FORGET_NOTE.match(e["purpose"])
            if note is None:  # named by _forget_lists when it is a domain's last; no count to compare
                return [f"audit entry {e['seq']} (forget) does not record the records it deleted: it was not "
                        "written by veil"]
            expected -= int(note["deleted"])
    expected -= sum(vault.pending_destroys().values())
    if expected != stored:
        return [f"the vault holds {stored:,} record(s) where the audit log accounts for {expected:,}: records "
                "were removed or added outside veil"]
    return []
