"""Options and helpers shared by the commands: how inputs are read, keyring, passphrase, scope, vault."""

from __future__ import annotations

import os
import sys

import click

from ..keys import ENV_KEYRING, Keyring, load_keyring
from ..scope import SCOPE_HINT, valid_scope
from ..vault import ENV_VAULT, Vault, open_vault


def input_options(delimiter_kept: bool = False):
    """--dialect and --delimiter: how the commands that read inputs read a dump or CSV files
    (``delimiter_kept``: the command writes CSV back with the same delimiter)."""
    kept = ", kept on output" if delimiter_kept else ""

    def deco(f):
        f = click.option("--delimiter", default=None, metavar="CHAR",
                         help=f"Delimiter of CSV input{kept} (default: sniffed from the header; 'tab' for a tab).")(f)
        return click.option("--dialect", type=click.Choice(["postgresql", "mysql"]), default=None,
                            help="SQL dialect of a dump (default: detected).")(f)
    return deco


def keyring_option(f):
    return click.option("--keyring", envvar=ENV_KEYRING, default=None, metavar="PATH|env:NAME",
                        help=f"Keyring file, or env:NAME for a raw base64 key in a variable (env {ENV_KEYRING}).")(f)


def passphrase_option(f):
    return click.option("--passphrase-env", metavar="NAME", default=None,
                        help="Read the keyring passphrase from this environment variable "
                        "(otherwise prompted on a terminal).")(f)


def _check_scope(ctx, param, value: str | None) -> str | None:
    if value is not None and not valid_scope(value):
        raise click.BadParameter(SCOPE_HINT)  # exit 2
    return value


def scope_option(f):
    return click.option("--scope", default=None, metavar="NAME", callback=_check_scope,
                        help="Derive every key in this scope (overrides the profile's scope:): copies made "
                        "for different recipients cannot be joined on their pseudonyms. Default: none.")(f)


def vault_option(required: bool = False):
    def deco(f):
        return click.option("--vault", envvar=ENV_VAULT, default=None, required=required, metavar="PATH|URL",
                            help=f"Vault: a SQLite file, or a postgresql:// URL (env {ENV_VAULT}).")(f)
    return deco


def passphrase_source(env_name: str | None):
    """A callable giving the keyring passphrase: from the variable ENV_NAME, else typed on a
    terminal, else None (asked only when the keyring turns out to be protected)."""
    def get() -> bytes | None:
        if env_name:
            value = os.environ.get(env_name)
            if value is None:
                raise click.UsageError(f"environment variable {env_name} (--passphrase-env) is not set")
            return value.encode()
        if sys.stdin.isatty():
            return click.prompt("Keyring passphrase", hide_input=True, err=True).encode()
        return None
    return get


def keys_from(keyring: str | None, passphrase_env: str | None, forbidden=()) -> Keyring:
    """The keyring of --keyring (refused inside any of the FORBIDDEN directories)."""
    return load_keyring(keyring, forbidden_dirs=forbidden, passphrase=passphrase_source(passphrase_env))


def vault_from(spec: str | None, keys: Keyring | None, forbidden=(), required: bool = True,
               create: bool = False, pending_ok: bool = False) -> Vault | None:
    """The vault of --vault, or None when none is given and REQUIRED is false (a usage error otherwise)."""
    v = open_vault(spec, keys, forbidden_dirs=forbidden, create=create, pending_ok=pending_ok)
    if v is None and required:
        raise click.UsageError(f"this command needs a vault: pass --vault PATH|URL or set {ENV_VAULT}")
    return v
