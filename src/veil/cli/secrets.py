"""Commands that hold secrets: keys (init, rotate, list, retire, destroy) and vault (reveal, forget, audit)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..keys import init_keyring
from ..scope import scoped
from ..vault import check_purpose, destroy_version
from .options import (
    keyring_option,
    keys_from,
    passphrase_option,
    passphrase_source,
    scope_option,
    vault_from,
    vault_option,
)


@click.group()
def keys() -> None:
    """Manage keyrings (the secrets behind every pseudonym).

    \b
    Example:
      veil keys init ~/.veil/keyring.json
    """


@keys.command("init")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@keyring_option
@click.option("--force", is_flag=True, help="Overwrite an existing keyring (its keys are lost).")
@click.option("--if-missing", is_flag=True, help="Do nothing if a keyring already exists at PATH.")
@click.option("--passphrase-env", metavar="NAME", default=None,
              help="Protect the keyring with the passphrase in this environment variable (scrypt + AES-GCM).")
@click.option("--prompt-passphrase", is_flag=True, help="Protect the keyring with a passphrase typed twice.")
def keys_init(path: Path | None, keyring: str | None, force: bool, if_missing: bool, passphrase_env: str | None,
              prompt_passphrase: bool) -> None:
    """Create a keyring at PATH (mode 0600) with one active key version.

    Each version holds two random 256-bit secrets (pseudonyms, vault
    encryption); the keyring also holds the blind-index secret. Key material
    is never printed; the version id is.

    \b
    Example:
      veil keys init ~/.veil/keyring.json
      VEIL_PASS=... veil keys init ~/.veil/keyring.json --passphrase-env VEIL_PASS
    """
    target = path or (Path(keyring) if keyring and not keyring.startswith("env:") else None)
    if target is None:
        raise click.UsageError("give the keyring PATH (or --keyring PATH)")
    target = target.expanduser()
    if if_missing and target.exists():
        click.echo(f"keyring {target} exists; left unchanged")
        return
    passphrase = None
    if passphrase_env:
        passphrase = passphrase_source(passphrase_env)()
    elif prompt_passphrase:
        passphrase = click.prompt("New keyring passphrase", hide_input=True, confirmation_prompt=True,
                                  err=True).encode()
    if passphrase is not None and len(passphrase) < 8:
        raise click.UsageError("the passphrase must have at least 8 characters")
    vid = init_keyring(target, force=force, passphrase=passphrase)
    click.echo(f"created keyring {target} with key version {vid}"
               + (" (passphrase-protected)" if passphrase else ""))


@keys.command("rotate")
@keyring_option
@passphrase_option
def keys_rotate(keyring: str | None, passphrase_env: str | None) -> None:
    """Add a new active key version; the previous one is retired.

    New runs use the new version; data pseudonymized under the old one stays
    reversible through the vault until that version is destroyed.

    \b
    Example:
      veil keys rotate --keyring ~/.veil/keyring.json
    """
    ring = keys_from(keyring, passphrase_env)
    old = ring.active_version
    vid = ring.rotate()
    ring.save()
    click.echo(f"rotated: {vid} is active, {old} is retired")


@keys.command("list")
@keyring_option
@passphrase_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keys_list(keyring: str | None, passphrase_env: str | None, as_json: bool) -> None:
    """List key versions: id, status, created (never key material).

    \b
    Example:
      veil keys list --keyring ~/.veil/keyring.json
    """
    ring = keys_from(keyring, passphrase_env)
    rows = [{"id": v.id, "status": v.status, "created": v.created, "active": v.id == ring.active_version}
            for v in ring.versions()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['status']:<9}  {r['created']}")


@keys.command("retire")
@click.argument("version")
@keyring_option
@passphrase_option
def keys_retire(version: str, keyring: str | None, passphrase_env: str | None) -> None:
    """Mark VERSION retired: kept for reveal and re-key, never used by new runs.

    \b
    Example:
      veil keys retire k-1a2b3c4d --keyring ~/.veil/keyring.json
    """
    ring = keys_from(keyring, passphrase_env)
    ring.retire(version)
    ring.save()
    click.echo(f"retired {version}")


@keys.command("destroy")
@click.argument("version")
@keyring_option
@passphrase_option
@vault_option()
@click.option("--actor", default=None, help="Who does this, for the audit log (default: the OS user).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def keys_destroy(version: str, keyring: str | None, passphrase_env: str | None, vault: str | None,
                 actor: str | None, yes: bool) -> None:
    """Crypto-shred VERSION: erase its secrets from the keyring and its records from the vault.

    Data pseudonymized under VERSION can then never be reversed or re-keyed:
    it is anonymous for good. Irreversible.

    \b
    Example:
      veil keys destroy k-1a2b3c4d --keyring ~/.veil/keyring.json --vault ~/.veil/vault.db --yes
    """
    ring = keys_from(keyring, passphrase_env)
    if not yes and sys.stdin.isatty():
        click.confirm(f"Destroy key version {version} for good?", abort=True, err=True)
    # the library refuses the active or an unknown version before opening the vault, and commits
    # each step, so an interrupted destruction is seen and running this command again finishes it
    n = destroy_version(ring, version, vault, actor=actor)
    msg = f"destroyed key version {version} in the keyring"
    if n is not None:
        msg += f" and {n:,} vault record(s)"
    else:
        msg += " (no vault given: its vault records remain, undecryptable)"
    click.echo(msg)


@click.group()
def vault() -> None:
    """Re-identify, forget subjects, and check the audit log of the vault.

    \b
    Example:
      veil vault reveal --domain email --purpose "ticket 123" --vault v.db k3x...@example.com
    """


def _tokens_from(args: tuple[str, ...], from_file: Path | None) -> list[str]:
    items = list(args)
    if from_file is not None:
        items += [ln.strip() for ln in from_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not items:
        raise click.UsageError("give at least one value (arguments or --from-file)")
    return items


@vault.command("reveal")
@click.argument("tokens", nargs=-1)
@click.option("--domain", required=True, help="The pseudonyms' domain (as in the profile / run report).")
@click.option("--purpose", required=True, help="Why: recorded in the audit log.")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read pseudonyms from this file, one per line.")
@click.option("--key-version", default=None, help="Only this key version (default: every version in the vault).")
@click.option("--actor", default=None, help="Who asks, for the audit log (default: the OS user).")
@keyring_option
@passphrase_option
@vault_option()
def vault_reveal(tokens: tuple[str, ...], domain: str, purpose: str, from_file: Path | None,
                 key_version: str | None, actor: str | None, keyring: str | None, passphrase_env: str | None,
                 vault: str | None) -> None:
    """Print the originals of pseudonyms (TOKENS), as "pseudonym<TAB>original" lines.

    For authorized holders of the keyring. Every call is appended to the audit
    log (time, actor, purpose, domain, count, key version; never values).

    \b
    Example:
      veil vault reveal --domain email --purpose "GDPR request 42" \\
          --keyring k.json --vault v.db 4fzq2k...@example.com
    """
    items = _tokens_from(tokens, from_file)
    check_purpose(purpose)  # before the keyring is opened (or its passphrase asked)
    ring = keys_from(keyring, passphrase_env)
    the_vault = vault_from(vault, ring)
    assert the_vault is not None
    try:
        found = the_vault.reveal(domain, items, purpose=purpose, versions=[key_version] if key_version else None,
                                 actor=actor)
    finally:
        the_vault.close()
    for t in items:
        # a fake value can stand for several originals: each is printed on its own line
        for original in found.get(t, []):
            click.echo(f"{t}\t{original.decode('utf-8', 'replace')}")
    missing = len(set(items) - set(found))
    if missing:
        click.echo(f"veil: {missing} pseudonym(s) not found in domain {domain}", err=True)
        sys.exit(8)


@vault.command("forget")
@click.argument("values", nargs=-1)
@click.option("--domain", required=True, help="The subjects' domain (the profile's subject domain).")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read original values from this file, one per line.")
@click.option("--actor", default=None, help="Who does this, for the audit log (default: the OS user).")
@keyring_option
@passphrase_option
@scope_option
@vault_option()
def vault_forget(values: tuple[str, ...], domain: str, from_file: Path | None, actor: str | None,
                 keyring: str | None, passphrase_env: str | None, scope: str | None, vault: str | None) -> None:
    """Forget subjects by their original VALUES: delete their vault records, add them to the forget list.

    Their pseudonyms can no longer be reversed, and every later run drops the
    rows of tables whose subject column holds them (and rows referencing those).
    Only a keyed blind index of each value is stored, never the value.
    Blind indexes are per scope: with scoped releases, forget the subjects in
    each scope (--scope NAME, as in the runs' profile or --scope).

    \b
    Example:
      veil vault forget --domain email --keyring k.json --vault v.db alice@example.org
    """
    items = _tokens_from(values, from_file)
    ring = scoped(keys_from(keyring, passphrase_env), scope)
    the_vault = vault_from(vault, ring, create=True)
    assert the_vault is not None
    try:
        added, deleted = the_vault.forget(domain, [v.encode() for v in items], actor=actor)
    finally:
        the_vault.close()
    click.echo(f"forgot {len(set(items))} subject(s) in domain {domain}: {added} added to the forget list, "
               f"{deleted} vault record(s) deleted")


@vault.command("audit")
@click.option("--verify", is_flag=True, help="Check the vault: the audit log's HMAC chain, every record, the "
              "forget lists, interrupted destructions; exit 8 naming each problem.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@keyring_option
@passphrase_option
@vault_option()
def vault_audit(verify: bool, as_json: bool, keyring: str | None, passphrase_env: str | None,
                vault: str | None) -> None:
    """Show the audit log (who re-identified, forgot or destroyed what, and when), or verify it.

    \b
    Example:
      veil vault audit --verify --keyring k.json --vault v.db
    """
    ring = keys_from(keyring, passphrase_env)
    the_vault = vault_from(vault, ring, pending_ok=True)
    assert the_vault is not None
    try:
        if verify:
            n, problems = the_vault.verify({kv.id: kv.status for kv in ring.versions()})
            for problem in problems:
                click.echo(f"veil: error: {the_vault.location}: {problem}", err=True)
            if problems:
                sys.exit(8)
            click.echo(f"audit log intact: {n} entries; every record authenticated")
            return
        entries = the_vault.audit_entries()
    finally:
        the_vault.close()
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        click.echo(f"{e['seq']:>5}  {e['at']}  {e['actor']:<12} {e['action']:<8} domain={e['domain'] or '-'} "
                   f"version={e['key_version'] or '-'} count={e['count']} purpose={e['purpose'] or '-'}")
