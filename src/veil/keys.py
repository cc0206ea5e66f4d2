"""Keys: a versioned keyring, and the subkeys derived from it.

The key provider is one small interface, :class:`KeyProvider`. The pipeline
asks it for the active version id, for HKDF-SHA256 subkeys per (purpose,
domain, version), for a version's vault key and for the blind-index key; it
never sees where the keys live. A consistent transform is a pure function of
(master key, domain, value), so workers need no shared state.

Each version holds two independent random 256-bit secrets: ``secret`` (HMAC
pseudonyms and fakes) and ``vault_key`` (encryption of the vault's originals),
so destroying a version makes both its pseudonyms and its vault records
irreversible. The keyring also holds one version-independent ``index_secret``
for blind indexes (forget lists keep working across rotations) and the audit
chain.

Keyring files are JSON, mode 0600, carrying a SHA-256 integrity digest; or
encrypted under a passphrase (scrypt, then AES-256-GCM). A raw key can come
from an environment variable for CI: ``--keyring env:NAME``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import KeyringError, VeilError
from .output import write_atomic

KEYRING_FORMAT = "veil-keyring"
ENCRYPTED_FORMAT = "veil-keyring-encrypted"
KEYRING_VERSION = 1
ENV_KEYRING = "VEIL_KEYRING"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
# Bounds on the KDF parameters a keyring file may ask for: read from the file before the passphrase
# is checked, so an edited or hostile file must not make veil spend unbounded memory or time
# (scrypt needs 128 * n * r bytes: at most 1 GiB here; p multiplies the time).
SCRYPT_N_RANGE = (2**10, 2**20)  # a power of two
SCRYPT_R_RANGE = (1, 32)
SCRYPT_P_RANGE = (1, 16)
SCRYPT_MAX_MEMORY = 2**30
SALT_RANGE = (16, 64)
ACTIVE, RETIRED, DESTROYED = "active", "retired", "destroyed"


class KeyProvider(Protocol):
    """What the pipeline and the vault need from keys."""

    @property
    def active_version(self) -> str: ...

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes: ...

    def vault_key(self, version: str) -> bytes: ...

    def index_key(self, purpose: str, domain: str = "") -> bytes: ...


@dataclass(frozen=True)
class KeyVersion:
    id: str
    created: str
    status: str
    secret: bytes | None
    vault_key: bytes | None

    def __repr__(self) -> str:  # never show key material, even in a debugger or traceback
        return f"KeyVersion(id={self.id!r}, created={self.created!r}, status={self.status!r})"


def derive(master: bytes, purpose: str, domain: str) -> bytes:
    """HKDF-SHA256(master, info="veil/v1/<purpose>/<domain>") -> 32 bytes."""
    info = f"veil/v1/{purpose}/{domain}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(b: bytes | None) -> str | None:
    return None if b is None else base64.b64encode(b).decode()


def _unb64(s: str | None) -> bytes | None:
    return None if s is None else base64.b64decode(s, validate=True)


class Keyring:
    """Key versions (one active), the index secret, and where they are stored."""

    def __init__(self, versions: list[KeyVersion], active: str, index_secret: bytes,
                 path: Path | None = None, passphrase: bytes | None = None, source: str | None = None):
        self._versions = {v.id: v for v in versions}
        self._active = active
        self._index_secret = index_secret
        self.path = path
        self.source = source or (str(path) if path else "<memory>")
        self._passphrase = passphrase
        self._cache: dict[tuple[str, str, str], bytes] = {}
        if self._versions.get(active) is None or self._versions[active].status != ACTIVE:
            raise KeyringError("the keyring names an active version it does not hold",
                               file=self.source, hint="restore the keyring from its backup")

    def __repr__(self) -> str:
        return f"Keyring(source={self.source!r}, active={self._active!r})"

    def __getstate__(self) -> dict:
        # Workers receive the keyring through a local pipe; caches are rebuilt there.
        state = self.__dict__.copy()
        state["_cache"] = {}
        state["_passphrase"] = None
        return state

    # -- the KeyProvider interface -----------------------------------------
    @property
    def active_version(self) -> str:
        return self._active

    def _live(self, vid: str) -> KeyVersion:
        kv = self._versions.get(vid)
        if kv is None:
            raise KeyringError(f"key version {vid} is not in the keyring", file=self.source,
                               hint="`veil keys list` shows the versions")
        if kv.status == DESTROYED or kv.secret is None:
            raise KeyringError(f"key version {vid} was destroyed (crypto-shredded); data pseudonymized "
                               "with it can no longer be reversed or re-keyed", file=self.source)
        return kv

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes:
        vid = version or self._active
        cache_key = (purpose, domain, vid)
        key = self._cache.get(cache_key)
        if key is None:
            kv = self._live(vid)
            assert kv.secret is not None
            key = derive(kv.secret, purpose, domain)
            self._cache[cache_key] = key
        return key

    def vault_key(self, version: str) -> bytes:
        kv = self._live(version)
        assert kv.vault_key is not None
        return kv.vault_key

    def index_key(self, purpose: str, domain: str = "") -> bytes:
        """Version-independent keys (blind index, audit chain), from the index secret."""
        return derive(self._index_secret, purpose, domain)

    # -- management ----------------------------------------------------------
    def versions(self) -> list[KeyVersion]:
        return sorted(self._versions.values(), key=lambda v: (v.created, v.id))

    def rotate(self) -> str:
        """Add a new active version; the previous active one is retired."""
        vid = _new_version_id(self._versions)
        old = self._versions[self._active]
        self._versions[old.id] = replace(old, status=RETIRED)
        self._versions[vid] = KeyVersion(vid, _now(), ACTIVE, secrets.token_bytes(32), secrets.token_bytes(32))
        self._active = vid
        return vid

    def retire(self, vid: str) -> None:
        kv = self._live(vid)
        if vid == self._active:
            raise KeyringError(f"key version {vid} is the active one", file=self.source,
                               hint="run `veil keys rotate` first")
        self._versions[vid] = replace(kv, status=RETIRED)

    def destroy(self, vid: str) -> None:
        if vid not in self._versions:
            self._live(vid)
        if vid == self._active:
            raise KeyringError(f"key version {vid} is the active one", file=self.source,
                               hint="run `veil keys rotate` first, then destroy the old version")
        kv = self._versions[vid]
        self._versions[vid] = KeyVersion(kv.id, kv.created, DESTROYED, None, None)
        self._cache = {k: v for k, v in self._cache.items() if k[2] != vid}

    @classmethod
    def for_testing(cls, secret: bytes, version: str = "k-test") -> Keyring:
        """A keyring from a fixed secret: for known-answer tests only."""
        return cls([KeyVersion(version, "1970-01-01T00:00:00Z", ACTIVE, secret, derive(secret, "vault", ""))],
                   version, derive(secret, "index", ""))

    # -- storage -------------------------------------------------------------
    def to_document(self) -> dict:
        doc = {
            "format": KEYRING_FORMAT,
            "version": KEYRING_VERSION,
            "active": self._active,
            "index_secret": _b64(self._index_secret),
            "keys": [{"id": v.id, "created": v.created, "status": v.status, "secret": _b64(v.secret),
                      "vault_key": _b64(v.vault_key)} for v in self.versions()],
        }
        doc["integrity"] = _digest(doc)
        return doc

    def save(self) -> None:
        if self.path is None:
            raise KeyringError("this keyring comes from an environment variable and cannot be changed",
                               file=self.source, hint="use a keyring file for rotation and destruction")
        write_keyring_file(self.path, self.to_document(), self._passphrase)


def _digest(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != "integrity"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _new_version_id(existing: dict | None = None) -> str:
    while True:
        vid = "k-" + secrets.token_hex(4)
        if not existing or vid not in existing:
            return vid


def new_keyring(path: Path | None = None) -> Keyring:
    vid = _new_version_id()
    return Keyring([KeyVersion(vid, _now(), ACTIVE, secrets.token_bytes(32), secrets.token_bytes(32))],
                   vid, secrets.token_bytes(32), path)


def init_keyring(path: Path, *, force: bool = False, passphrase: bytes | None = None) -> str:
    """Write a new keyring holding one random version; return its version id."""
    path = Path(path)
    if path.exists() and not force:
        raise KeyringError("a keyring already exists here; refusing to overwrite it",
                           file=str(path), hint="choose another path, or pass --force "
                           "if you really mean to lose the old keys")
    ring = new_keyring(path)
    ring._passphrase = passphrase
    ring.save()
    return ring.active_version


def _scrypt(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def write_keyring_file(path: Path, doc: dict, passphrase: bytes | None) -> None:
    data = json.dumps(doc, indent=2).encode() + b"\n"
    if passphrase is not None:
        salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
        kdf = {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)}
        kdf_params(kdf, str(path))  # never write a file veil would refuse to read
        key = _scrypt(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        wrapper = {
            "format": ENCRYPTED_FORMAT,
            "version": KEYRING_VERSION,
            "kdf": kdf,
            "cipher": "AES-256-GCM",
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(key).encrypt(nonce, data, ENCRYPTED_FORMAT.encode())),
        }
        data = json.dumps(wrapper, indent=2).encode() + b"\n"
    _write_private(path, data)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, atomically (a random O_EXCL|O_NOFOLLOW temporary
    name beside it, fsync, rename: see :func:`veil.output.write_atomic`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_unsafe_dir(path)
    refuse_unsafe_dir(Path(os.path.realpath(path)))  # where a symbolic link leads: written there
    write_atomic(path, data, private=True)


def refuse_unsafe_dir(p: Path) -> None:
    """A keyring in a directory every user may write (without the sticky bit) could be replaced
    or removed by any of them: refused (exit 6). ``/tmp`` (sticky) is accepted."""
    parent = Path(p).expanduser().absolute().parent
    try:
        mode = parent.stat().st_mode
    except OSError:
        return
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise KeyringError("the keyring sits in a directory every user may write (no sticky bit)",
                           file=str(p), hint=f"move the keyring to a private directory, or run: chmod o-w {parent}")


def is_within(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def refuse_inside(p: Path, forbidden_dirs: tuple[Path | None, ...], what: str,
                  error: type[VeilError] = KeyringError) -> None:
    """Keys and the vault must never travel with the data."""
    for d in forbidden_dirs:
        if d is None:
            continue
        d = Path(d)
        if is_within(p, d):  # lexical: the output directory may not exist yet
            raise error(f"the {what} sits inside the input or output location; it must never "
                        "travel with the data", file=str(p), hint=f"move the {what} outside the data directories")


def _looks_like_key(spec: str) -> bool:
    try:
        return len(base64.b64decode(spec.strip(), validate=True)) >= 16
    except ValueError:
        return False


PassphraseSource = Callable[[], bytes | None]


def load_keyring(spec: str | os.PathLike | None, *, forbidden_dirs: tuple[Path | None, ...] = (),
                 passphrase: PassphraseSource | None = None) -> Keyring:
    """Load a keyring from a file path or ``env:NAME``, refusing unsafe ones.

    ``forbidden_dirs`` are the input and output locations. ``passphrase`` is
    called only when the file is passphrase-protected.
    """
    if spec is None or str(spec) == "":
        spec = os.environ.get(ENV_KEYRING)
        if not spec:
            raise KeyringError("no keyring given",
                               hint=f"pass --keyring PATH (or env:NAME) or set {ENV_KEYRING}; "
                               "create one with `veil keys init PATH`")
    spec = str(spec)
    if spec.startswith("env:"):
        return _from_env(spec[4:])
    p = Path(spec).expanduser()
    if not p.is_file():
        if _looks_like_key(spec):  # a raw key given where a path belongs: never echo it
            raise KeyringError("the keyring is not a file path (it looks like a raw key)",
                               hint="for a key in an environment variable use --keyring env:NAME")
        raise KeyringError("keyring file not found", file=str(p),
                           hint="create one with `veil keys init PATH`")
    refuse_inside(p, forbidden_dirs, "keyring")
    refuse_unsafe_dir(p)
    mode = p.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(f"the keyring is accessible by other users (mode {stat.filemode(mode)})",
                           file=str(p), hint=f"run: chmod 600 {p}")
    raw = p.read_bytes()
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeyringError("authentication failed: the keyring file is damaged (not valid JSON)",
                           file=str(p), hint="restore the keyring from its backup") from None
    secret_pass: bytes | None = None
    if isinstance(doc, dict) and doc.get("format") == ENCRYPTED_FORMAT:
        kdf = kdf_params(doc.get("kdf"), str(p))  # before asking for the passphrase
        secret_pass = passphrase() if passphrase else None
        if secret_pass is None:
            raise KeyringError("the keyring is protected by a passphrase", file=str(p),
                               hint="pass --passphrase-env NAME, or run in a terminal to be prompted")
        doc = _decrypt(doc, kdf, secret_pass, p)
    return _parse(doc, p, secret_pass)


def kdf_params(kdf: object, where: str) -> tuple[bytes, int, int, int]:
    """(salt, n, r, p) of a keyring's ``kdf`` entry, within bounds; else a KeyringError (exit 6)."""
    def bad(what: str) -> KeyringError:
        return KeyringError(f"the keyring's key derivation parameters are out of bounds ({what})", file=where,
                            hint="restore the keyring from its backup; veil writes scrypt with "
                            f"n={SCRYPT_N}, r={SCRYPT_R}, p={SCRYPT_P} and a 16-byte salt")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise bad("the KDF must be scrypt")
    params = {}
    for name, (lo, hi) in (("n", SCRYPT_N_RANGE), ("r", SCRYPT_R_RANGE), ("p", SCRYPT_P_RANGE)):
        v = kdf.get(name)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise bad(f"{name} must be an integer from {lo} to {hi}")
        params[name] = v
    n, r, p = params["n"], params["r"], params["p"]
    if n & (n - 1):
        raise bad("n must be a power of two")
    if 128 * n * r > SCRYPT_MAX_MEMORY:
        raise bad(f"128 * n * r must be at most {SCRYPT_MAX_MEMORY} bytes")
    try:
        salt = _unb64(kdf.get("salt"))
    except (ValueError, TypeError):
        salt = None
    if salt is None or not SALT_RANGE[0] <= len(salt) <= SALT_RANGE[1]:
        raise bad(f"the salt must be {SALT_RANGE[0]} to {SALT_RANGE[1]} bytes")
    return salt, n, r, p


def _decrypt(wrapper: dict, kdf: tuple[bytes, int, int, int], passphrase: bytes, p: Path) -> dict:
    """The keyring document inside ``wrapper``; ``kdf`` is its checked ``kdf_params``."""
    salt, n, r, par = kdf
    try:
        nonce = _unb64(wrapper["nonce"]) or b""
        if wrapper.get("cipher") != "AES-256-GCM" or len(nonce) != 12:
            raise ValueError("cipher")
        key = _scrypt(passphrase, salt, n, r, par)
        plain = AESGCM(key).decrypt(nonce, _unb64(wrapper["ciphertext"]) or b"",
                                    ENCRYPTED_FORMAT.encode())
        return json.loads(plain)
    except InvalidTag:
        raise KeyringError("authentication failed: wrong passphrase, or the keyring file was modified",
                           file=str(p), hint="check the passphrase; restore the file from its backup") from None
    except (KeyError, ValueError, TypeError):
        raise KeyringError("authentication failed: the keyring file is damaged", file=str(p),
                           hint="restore the keyring from its backup") from None


def _parse(doc: dict, p: Path, passphrase: bytes | None) -> Keyring:
    try:
        if doc.get("format") != KEYRING_FORMAT:
            raise ValueError("format")
        if doc.get("integrity") != _digest(doc):
            raise KeyringError("authentication failed: the keyring's integrity digest does not match "
                               "(the file was modified or damaged)", file=str(p),
                               hint="restore the keyring from its backup")
        versions = [KeyVersion(k["id"], k["created"], k["status"], _unb64(k["secret"]), _unb64(k["vault_key"]))
                    for k in doc["keys"]]
        index_secret = _unb64(doc["index_secret"])
        active = doc["active"]
    except KeyringError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError):
        # The message never quotes the file: it holds key material.
        raise KeyringError("the file is not a valid veil keyring", file=str(p),
                           hint="create one with `veil keys init PATH`") from None
    for v in versions:
        if v.status != DESTROYED and (len(v.secret or b"") != 32 or len(v.vault_key or b"") != 32):
            raise KeyringError(f"key version {v.id} is not 256 bits long", file=str(p))
    if index_secret is None or len(index_secret) != 32:
        raise KeyringError("the keyring's index secret is missing", file=str(p))
    return Keyring(versions, active, index_secret, p, passphrase)


def _from_env(name: str) -> Keyring:
    """A one-version keyring from a base64 256-bit key in an environment variable (CI secrets).

    The version id is derived from the key, so runs with the same secret report
    the same key_version; the vault and index keys are HKDF-derived from it.
    """
    value = os.environ.get(name)
    source = f"env:{name}"
    if not value:
        raise KeyringError(f"environment variable {name} is not set", file=source,
                           hint="export it from your CI secret store (32 random bytes, base64)")
    try:
        secret = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise KeyringError("the key must be 32 random bytes, base64-encoded", file=source,
                           hint="generate one with: python -c 'import os,base64;"
                           "print(base64.b64encode(os.urandom(32)).decode())'")
    vid = "k-" + derive(secret, "version-id", "")[:4].hex()
    kv = KeyVersion(vid, "1970-01-01T00:00:00Z", ACTIVE, secret, derive(secret, "vault", ""))
    return Keyring([kv], vid, derive(secret, "index", ""), None, source=source)
