"""Keys: the keyring file and the per-domain subkeys derived from it.

The key provider is one small interface, :class:`KeyProvider`; the pipeline
only ever asks it for the active version id and for a subkey for a
(purpose, domain) pair. Subkeys come from HKDF-SHA256 over the version's
256-bit master secret, so a consistent transform is a pure function of
(master key, domain, value) and needs no shared state between workers.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import KeyringError

KEYRING_FORMAT = "veil-keyring"
KEYRING_VERSION = 1
ENV_KEYRING = "VEIL_KEYRING"


class KeyProvider(Protocol):
    """What the pipeline needs from keys: a version id and derived subkeys."""

    @property
    def active_version(self) -> str: ...

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes: ...


@dataclass(frozen=True)
class KeyVersion:
    id: str
    created: str
    status: str
    secret: bytes

    def __repr__(self) -> str:  # never show key material, even in a debugger or traceback
        return f"KeyVersion(id={self.id!r}, created={self.created!r}, status={self.status!r})"


def derive(master: bytes, purpose: str, domain: str) -> bytes:
    """HKDF-SHA256(master, info="veil/v1/<purpose>/<domain>") -> 32 bytes."""
    info = f"veil/v1/{purpose}/{domain}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class Keyring:
    """A set of key versions, one of them active."""

    def __init__(self, versions: list[KeyVersion], active: str, path: Path | None = None):
        self._versions = {v.id: v for v in versions}
        self._active = active
        self.path = path
        self._cache: dict[tuple[str, str, str], bytes] = {}
        if active not in self._versions:
            raise KeyringError("the keyring names an active version it does not hold",
                               file=str(path) if path else None,
                               hint="restore the keyring from its backup")

    def __repr__(self) -> str:
        return f"Keyring(path={str(self.path)!r}, active={self._active!r})"

    @property
    def active_version(self) -> str:
        return self._active

    def versions(self) -> list[KeyVersion]:
        return list(self._versions.values())

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes:
        vid = version or self._active
        cache_key = (purpose, domain, vid)
        key = self._cache.get(cache_key)
        if key is None:
            kv = self._versions.get(vid)
            if kv is None:
                raise KeyringError(f"key version {vid} is not in the keyring",
                                   file=str(self.path) if self.path else None)
            key = derive(kv.secret, purpose, domain)
            self._cache[cache_key] = key
        return key

    def __getstate__(self) -> dict:
        # Workers receive the keyring through a local pipe; the derived-key cache
        # is rebuilt there rather than copied.
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    @classmethod
    def for_testing(cls, secret: bytes, version: str = "k-test") -> Keyring:
        """A keyring from a fixed secret: for known-answer tests only."""
        return cls([KeyVersion(version, "1970-01-01T00:00:00Z", "active", secret)], version)


def _new_version_id() -> str:
    return "k-" + secrets.token_hex(4)


def init_keyring(path: Path, *, force: bool = False) -> str:
    """Write a new keyring holding one random 256-bit key; return its version id."""
    path = Path(path)
    if path.exists() and not force:
        raise KeyringError("a keyring already exists here; refusing to overwrite it",
                           file=str(path), hint="choose another path, or pass --force "
                           "if you really mean to lose the old keys")
    vid = _new_version_id()
    doc = {
        "format": KEYRING_FORMAT,
        "version": KEYRING_VERSION,
        "active": vid,
        "keys": [{
            "id": vid,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "active",
            "secret": base64.b64encode(secrets.token_bytes(32)).decode(),
        }],
    }
    _write_private(path, json.dumps(doc, indent=2).encode() + b"\n")
    return vid


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def load_keyring(path: str | os.PathLike | None, *, forbidden_dirs: tuple[Path, ...] = ()) -> Keyring:
    """Load a keyring file, refusing unsafe ones.

    ``forbidden_dirs`` are the input and output locations: a keyring inside them
    would travel with the data, which defeats pseudonymization.
    """
    if path is None or str(path) == "":
        env = os.environ.get(ENV_KEYRING)
        if not env:
            raise KeyringError("no keyring given",
                               hint=f"pass --keyring PATH or set {ENV_KEYRING}; "
                               "create one with `veil keys init PATH`")
        path = env
    p = Path(path).expanduser()
    if not p.is_file():
        raise KeyringError("keyring file not found", file=str(p),
                           hint="create one with `veil keys init PATH`")
    for d in forbidden_dirs:
        if d is not None and (_is_within(p, d) if d.is_dir() else p.resolve() == d.resolve()):
            raise KeyringError("the keyring sits inside the input or output location; keys must "
                               "never travel with the data", file=str(p),
                               hint="move the keyring outside the data directories")
    mode = p.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(f"the keyring is accessible by other users (mode {stat.filemode(mode)})",
                           file=str(p), hint=f"run: chmod 600 {p}")
    try:
        doc = json.loads(p.read_bytes())
        if doc.get("format") != KEYRING_FORMAT:
            raise ValueError("format")
        versions = [
            KeyVersion(k["id"], k["created"], k["status"], base64.b64decode(k["secret"], validate=True))
            for k in doc["keys"]
        ]
        active = doc["active"]
    except (ValueError, KeyError, TypeError):
        # The message never quotes the file: it holds key material.
        raise KeyringError("the file is not a valid veil keyring", file=str(p),
                           hint="create one with `veil keys init PATH`") from None
    if any(len(v.secret) != 32 for v in versions):
        raise KeyringError("a key in the keyring is not 256 bits long", file=str(p))
    return Keyring(versions, active, p)

