"""Crypto-shredding: destroy a key version in the keyring and its records in the vault, in the one
order that leaves every interruption visible and finishable."""

from __future__ import annotations

import os

from ..keys import Keyring
from .vault import Vault, open_vault


def destroy_version(keyring: Keyring, version: str, vault: Vault | str | os.PathLike | None = None, *,
                    actor: str | None = None) -> int | None:
    """Destroy key ``version``: its secrets in ``keyring`` (saved), its records in ``vault`` (a Vault,
    or its path or URL, opened here even with a destruction pending). Returns the vault records the
    destruction deleted, or None without a vault (its records there remain, undecryptable).

    The order: (0) the keyring refuses the active or an unknown version, in memory, before
    anything is opened or changed; (1) the vault records the intent and a "destroy-begin" audit
    entry; (2) it deletes the version's records; (3) the keyring is saved without the secrets;
    (4) the vault writes the "destroy" audit entry with the count and compacts. Each step commits:
    run again, an interrupted destruction finishes (a destroyed version may be destroyed again).
    """
    keyring.destroy(version)
    owned = vault is not None and not isinstance(vault, Vault)
    the_vault = open_vault(vault, keyring, create=False, pending_ok=True) if owned else vault
    try:
        if the_vault is not None:
            the_vault.begin_destroy(version, actor=actor)
            the_vault.delete_version(version)
        keyring.save()
        return the_vault.end_destroy(version, actor=actor) if the_vault is not None else None
    finally:
        if owned and the_vault is not None:
            the_vault.close()
