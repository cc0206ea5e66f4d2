"""``veil run --engine spark``: the command's checks, then veil.spark.run (kept out of veil.cli, whose
import must not load pyspark)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli.data import _reads
from ..cli.options import keys_from, vault_from
from ..errors import VaultError
from ..keys import refuse_inside
from ..output import Target, check_targets, target_lock
from ..scope import scoped


def run_spark_command(input_path: Path, profile, out: Path, keyring, passphrase_env, scope, vault, fmt, report,
                      force: bool, workers: int | None, row_order: str | None, quiet: bool) -> None:
    """Parquet tables only; with --vault, records and forget lists as in a local run; atomic like a local run."""
    from .run import run_spark

    if fmt == "csv" or row_order == "shuffle" or report is not None:
        raise click.UsageError("--engine spark takes no --format csv, --row-order shuffle or --report "
                               "(docs/spark.md, limits)")
    keys = scoped(keys_from(keyring, passphrase_env, (input_path, out)), scope or profile.scope)
    if vault and "://" not in str(vault):
        refuse_inside(Path(vault).expanduser(), (input_path, out), "vault", VaultError)
    paths = check_targets([Target("--out", out, True)], reads=_reads(input=input_path, keyring=keyring, vault=vault),
                          force=force)
    final = paths.get("--out", out)
    with target_lock(final):
        the_vault = vault_from(vault, keys, (input_path, out), required=False, create=True)
        try:
            tables = run_spark(input_path, profile, keys, final, workers=workers, vault=the_vault,
                               purpose=f"run {input_path}")
        finally:
            if the_vault is not None:
                the_vault.close()
    if not quiet:
        click.echo(f"veil: wrote {final} ({len(tables)} tables, Spark engine, key version {keys.active_version})",
                   err=True)
