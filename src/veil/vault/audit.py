"""The vault's audit log: who revealed, forgot, destroyed or wrote what, and when (never a value).

Entries are chained by HMAC under the keyring's ``index_key("audit")``: each entry's MAC covers
its fields and the previous entry's MAC, so :meth:`AuditLog.verify` names the first entry that
was altered, removed or reordered.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from ..errors import UsageError
from .backends import Backend

COLUMNS = ["seq", "at", "actor", "action", "purpose", "domain", "key_version", "count", "prev", "mac"]
# what a forget's entry records in its purpose field (forget_note)
FORGET_NOTE = re.compile(r"^forget list: (?P<n>\d+) value\(s\), digest (?P<digest>[0-9a-f]{32}); "
                         r"(?P<deleted>\d+) record\(s\) deleted$")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def check_purpose(purpose: object) -> str:
    """A reveal's purpose, as the audit log records it: some visible text, on one line."""
    if not isinstance(purpose, str) or not purpose.strip():
        raise UsageError("a reveal needs a purpose (--purpose): it is recorded in the audit log",
                         hint='say why, e.g. --purpose "GDPR request 42"')
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in purpose):
        raise UsageError("the purpose must be one line of text (no control characters): it is recorded "
                         "in the audit log", hint='e.g. --purpose "GDPR request 42"')
    return purpose.strip()


def forget_note(blinds: Iterable[bytes], deleted: int) -> str:
    """What a forget's entry records besides its count: the size and digest of the domain's forget
    list (its blind indexes) after it, and the records it deleted (so verification sees later edits
    of either)."""
    n, digest = forget_digest(blinds)
    return f"forget list: {n} value(s), digest {digest}; {deleted} record(s) deleted"


def forget_digest(blinds: Iterable[bytes]) -> tuple[int, str]:
    ordered = sorted(blinds)
    return len(ordered), hashlib.sha256(b"".join(ordered)).hexdigest()[:32]


def _entry_bytes(entry: dict) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


class AuditLog:
    """The ``veil_audit`` table of a vault backend; ``key`` gives the chain's HMAC key when needed."""

    def __init__(self, db: Backend, key: Callable[[], bytes]):
        self.db = db
        self.key = key

    def append(self, action: str, *, purpose: str = "", domain: str = "", version: str = "", count: int = 0,
               actor: str | None = None) -> None:
        """Add an entry (not committed: it is part of the caller's transaction)."""
        if action == "reveal":
            purpose = check_purpose(purpose)
        self.db.serialize()
        rows = self.db.query("SELECT seq, mac FROM veil_audit ORDER BY seq DESC LIMIT 1", [])
        seq, prev = (rows[0][0] + 1, rows[0][1]) if rows else (1, "")
        entry = {"seq": seq, "at": now(), "actor": actor or os_user(), "action": action, "purpose": purpose,
                 "domain": domain, "key_version": version, "count": count, "prev": prev}
        mac = hmac.new(self.key(), _entry_bytes(entry), "sha256").hexdigest()
        self.db.execute(f"INSERT INTO veil_audit ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [seq, entry["at"], entry["actor"], action, purpose, domain, version, count, prev, mac])

    def entries(self) -> list[dict]:
        return [dict(zip(COLUMNS, r, strict=True)) for r in self.db.query(
            f"SELECT {', '.join(COLUMNS)} FROM veil_audit ORDER BY seq", [])]

    def verify(self) -> tuple[int, int | None]:
        """(entries checked, seq of the first broken entry or None)."""
        key = self.key()
        prev = ""
        entries = self.entries()
        for i, e in enumerate(entries, 1):
            mac = e.pop("mac")
            expect = hmac.new(key, _entry_bytes(e), "sha256").hexdigest()
            if e["seq"] != i or e["prev"] != prev or not hmac.compare_digest(mac, expect):
                return len(entries), e["seq"]
            prev = mac
        return len(entries), None
