"""Scopes: releases for different recipients that cannot be joined to each other.

A scope is a short name (``staging``, ``ml``, ``vendor-x``) mixed into every key derived from the
keyring: :class:`ScopedKeys` wraps any :class:`~veil.keys.KeyProvider` and turns each purpose
``P`` into ``scope=<name>/P``, so the HKDF info ``veil/v1/<purpose>/<domain>`` becomes
``veil/v1/scope=<name>/<purpose>/<domain>``. The encoding is unambiguous: no unscoped purpose
starts with ``scope=`` and a scope name holds no ``/`` (``[a-z0-9_-]{1,64}``), so a scoped key
never equals an unscoped one or another scope's, whatever the domain names are.

Every pseudonymization key is scoped: domain subkeys, the blind-index keys the digests start from,
date_shift and row-order keys. The vault's own keys are not, on purpose, so that one vault can
serve several scopes: its binding to the keyring, its audit chain, the keys of record contexts,
and the version's vault key that encrypts originals. Records of different scopes are told apart
by their scoped pseudonyms and blind indexes; a forget list entry is a scoped blind index, so a
subject is forgotten per scope (``veil vault forget --scope``).

No scope (the default) is the keyring itself: exactly the keys of veil before scopes existed.
"""

from __future__ import annotations

import re

from .keys import KeyProvider

SCOPE_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
SCOPE_HINT = "a scope is 1 to 64 characters of a-z, 0-9, _ and - (one name per recipient, e.g. staging, ml)"
#: The vault's own keys, the same in every scope, so that one vault serves several scopes: its
#: binding to the keyring, its audit chain, and the keys of record contexts (part of each record's
#: authenticated data; a record's dedup key still differs per scope through its scoped blind index).
UNSCOPED_INDEX_PURPOSES = frozenset({"vault-binding", "audit", "context", "context-block"})


def valid_scope(name: object) -> bool:
    return isinstance(name, str) and SCOPE_PATTERN.fullmatch(name) is not None


class ScopedKeys:
    """A :class:`~veil.keys.KeyProvider` whose derived keys all belong to one scope."""

    def __init__(self, keys: KeyProvider, scope: str):
        if not valid_scope(scope):
            raise ValueError(SCOPE_HINT)
        self._keys = keys
        self.scope = scope
        self._tag = f"scope={scope}/"

    def __repr__(self) -> str:
        return f"ScopedKeys({self._keys!r}, scope={self.scope!r})"

    @property
    def active_version(self) -> str:
        return self._keys.active_version

    def subkey(self, purpose: str, domain: str, version: str | None = None) -> bytes:
        return self._keys.subkey(self._tag + purpose, domain, version)

    def vault_key(self, version: str) -> bytes:
        return self._keys.vault_key(version)

    def index_key(self, purpose: str, domain: str = "") -> bytes:
        if purpose in UNSCOPED_INDEX_PURPOSES:
            return self._keys.index_key(purpose, domain)
        return self._keys.index_key(self._tag + purpose, domain)


def scoped(keys: KeyProvider, scope: str | None) -> KeyProvider:
    """KEYS in SCOPE; with no scope, KEYS unchanged (the keys of every unscoped release)."""
    return keys if scope is None else ScopedKeys(keys, scope)
