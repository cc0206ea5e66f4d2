"""``veil run --engine spark``: the command's checks, then veil.spark.run (kept out of veil.cli, whose
import must not load pyspark)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli.data import print_summary, reads, report_target, write_report
from ..cli.options import keys_from, vault_from
from ..errors import VaultError
from ..keys import refuse_inside
from ..output import Target, check_targets, target_lock
from ..pipeline.report import report_dict
from ..scope import scoped


def run_spark_command(input_path: Path, profile, profile_path: Path, out: Path, keyring, passphrase_env, scope,
                      vault, fmt, report, force: bool, workers: int | None, row_order: str | None,
                      quiet: bool) -> None:
    """Parquet tables only; with --vault, records and forget lists as in a local run; atomic like a
    local run, with the local engine's JSON report (``"engine": "spark"``) and summary."""
    from .run import run_spark, session

    if fmt == "csv":
        raise click.UsageError("--engine spark takes no --format csv (docs/spark.md, limits)")
    scope = scope or profile.scope
    keys = scoped(keys_from(keyring, passphrase_env, (input_path, out)), scope)
    if vault and "://" not in str(vault):
        refuse_inside(Path(vault).expanduser(), (input_path, out), "vault", VaultError)
    # every path written is checked before anything is read or written, as for the local engine
    paths = check_targets([Target("--out", out, True), report_target(report)],
                          reads=reads(input=input_path, profile=profile_path, keyring=keyring, vault=vault),
                          force=force)
    final = paths.get("--out", out)
    with target_lock(final):
        the_vault = vault_from(vault, keys, (input_path, out), required=False, create=True)
        try:
            result, plan = run_spark(input_path, profile, keys, final, spark=session(workers, quiet), workers=workers,
                                     vault=the_vault, purpose=f"run {input_path}", row_order=row_order)
        finally:
            if the_vault is not None:
                the_vault.close()
        doc = report_dict(result, plan, input_path=input_path, profile_path=str(profile_path),
                          extra={"scope": scope, "engine": "spark"})
        if report is not None:
            write_report(doc, report, paths)
    if not quiet:
        print_summary(result, plan, scope)
