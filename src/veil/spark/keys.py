"""The keys a Spark job ships to its executors: the run's derived subkeys, never the root key.

Every key an operator uses is an HKDF subkey of the keyring's secret for one (purpose, domain,
version), or an index key of the index secret for one (purpose, domain) (veil.keys). Which ones a
plan needs is found on the driver: each table's plan runs over a small sample of its rows with a
:class:`RecordingKeys` around the real (scoped) keyring, which notes every key asked for. The
executors get a :class:`SubkeyProvider` holding exactly those keys; a key it was not given is an
error (fail closed: a row can never come out under another key), naming purpose and domain only.

What an executor then holds: 32-byte subkeys of the run's domains, which compute the run's
pseudonyms (and blind indexes) for those domains and nothing else; not the keyring's secrets, not
the vault keys, not other domains' or other scopes' keys (docs/spark.md, "Keys on executors").
"""

from __future__ import annotations

from ..errors import KeyringError
from ..keys import KeyProvider


class RecordingKeys:
    """A KeyProvider that answers from ``keys`` and remembers every subkey and index key given."""

    def __init__(self, keys: KeyProvider):
        self._keys = keys
        self.subkeys: dict[tuple[str, str, str], bytes] = {}
        self.index_keys: dict[tuple[str, str], bytes] = {}

    def __repr__(self) -> str:
        return f"RecordingKeys({self._keys!r}, {len(self.subkeys)} subkeys, {len(self.index_keys)} index keys)"

    @property
    def active_version(self) -> str:
        return self._keys.active_version

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes:
        vid = version or self._keys.active_version
        key = self._keys.subkey(purpose, domain, vid)
        self.subkeys[(purpose, domain, vid)] = key
        return key

    def vault_key(self, version: str) -> bytes:
        raise KeyringError("no vault key leaves the driver: executors stage vault records, the driver seals them",
                           hint="this is a bug in veil.spark; run with the local engine meanwhile")

    def index_key(self, purpose: str, domain: str = "") -> bytes:
        key = self._keys.index_key(purpose, domain)
        self.index_keys[(purpose, domain)] = key
        return key

    def provider(self) -> SubkeyProvider:
        return SubkeyProvider(self.active_version, dict(self.subkeys), dict(self.index_keys))


class SubkeyProvider:
    """The executors' KeyProvider: only the subkeys and index keys a run's plan was seen to use."""

    def __init__(self, active: str, subkeys: dict[tuple[str, str, str], bytes],
                 index_keys: dict[tuple[str, str], bytes]):
        self._active = active
        self._subkeys = subkeys
        self._index_keys = index_keys

    def __repr__(self) -> str:  # never the keys, even in a traceback or a Spark UI
        return (f"SubkeyProvider(active={self._active!r}, {len(self._subkeys)} subkeys, "
                f"{len(self._index_keys)} index keys)")

    @property
    def active_version(self) -> str:
        return self._active

    @property
    def domains(self) -> list[tuple[str, str]]:
        """(purpose, domain) of every key held: what docs/spark.md calls the exposure of a run."""
        return sorted({(p, d) for p, d, _ in self._subkeys} | set(self._index_keys))

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes:
        key = self._subkeys.get((purpose, domain, version or self._active))
        if key is None:
            raise _missing("subkey", purpose, domain)
        return key

    def vault_key(self, version: str) -> bytes:
        raise KeyringError("no vault key leaves the driver: executors stage vault records, the driver seals them",
                           hint="this is a bug in veil.spark; run with the local engine meanwhile")

    def index_key(self, purpose: str, domain: str = "") -> bytes:
        key = self._index_keys.get((purpose, domain))
        if key is None:
            raise _missing("index key", purpose, domain)
        return key


def _missing(what: str, purpose: str, domain: str) -> KeyringError:
    return KeyringError(f"an executor asked for a {what} the driver did not ship ({purpose} / {domain}): the "
                        "sample the driver looked at did not use it", hint="raise probe_rows (veil.spark."
                        "anonymize), or run this table with the local engine; nothing was written")
