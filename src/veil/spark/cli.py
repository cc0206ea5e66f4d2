"""``veil run --engine spark``: the command's checks, then veil.spark.run (kept out of veil.cli, whose
import must not load pyspark)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli.options import keys_from
from ..output import Target, check_targets, target_lock
from ..scope import scoped


def run_spark_command(input_path: Path, profile, out: Path, keyring, passphrase_env, scope, vault, fmt, report,
                      force: bool, workers: int | None, row_order: str | None, quiet: bool) -> None:
    """Parquet tables only and no vault (the Spark engine writes no vault records); atomic like a local run."""
    from .run import run_spark

    if vault or fmt == "csv" or row_order == "shuffle" or report is not None:
        raise click.UsageError("--engine spark takes no --vault, --format csv, --row-order shuffle or --report "
                               "(docs/spark.md, limits)")
    keys = scoped(keys_from(keyring, passphrase_env, (input_path, out)), scope or profile.scope)
    paths = check_targets([Target("--out", out, True)], reads={"the input": input_path, "the keyring": keyring},
                          force=force)
    final = paths.get("--out", out)
    with target_lock(final):
        tables = run_spark(input_path, profile, keys, final, workers=workers)
    if not quiet:
        click.echo(f"veil: wrote {final} ({len(tables)} tables, Spark engine, key version {keys.active_version})",
                   err=True)
