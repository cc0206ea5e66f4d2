"""What the CLI calls for a database URL: INPUT's parameter type, and a run into a live database."""

from __future__ import annotations

from pathlib import Path

import click

from .url import DbUrl, is_db_url, parse_url


class DataPath(click.ParamType):
    """INPUT: a path (a :class:`Path`), or a database URL (a :class:`DbUrl`, shown without its password)."""

    name = "path-or-url"

    def convert(self, value, param, ctx):
        if isinstance(value, (Path, DbUrl)):
            return value
        if is_db_url(value):
            try:
                return parse_url(value)
            except Exception as exc:  # a UsageError: click's own, with veil's message
                self.fail(getattr(exc, "message", "the database URL cannot be read"), param, ctx)
        return Path(value)


IF_EXISTS = click.option("--if-exists", type=click.Choice(["fail", "replace"]), default="fail", show_default=True,
                         help="--out DATABASE-URL: when the target database exists, fail, or replace it "
                         "(atomically: loaded into a scratch database, swapped in by rename).")


def run_into_database(params: dict) -> None:
    """``veil run INPUT --out DATABASE-URL``: the run command's steps, into a database (veil.db.run)."""
    import json
    import os

    from ..cli.options import keys_from, vault_from
    from ..errors import VaultError
    from ..formats import open_dataset
    from ..keys import refuse_inside
    from ..output import Target, check_targets, looks_like_report, write_atomic
    from ..pipeline import report_dict
    from ..plan import compile_plan
    from ..profile import load_profile
    from ..progress import Progress
    from ..scope import scoped
    from .run import run_into

    url = parse_url(params["out_raw"], "--out")
    if params.get("fmt") is not None:
        raise click.UsageError("--format writes table files; --out is a database")
    report = params.get("report")
    paths = check_targets([Target("--report", report, kind="report", recognise=looks_like_report)],
                          reads={"the profile": params["profile_path"], "the keyring": params.get("keyring")},
                          force=params.get("force", False))  # before anything is read or written
    profile = load_profile(params["profile_path"], strict=False)
    dataset = open_dataset(params["input_path"], dialect=params.get("dialect"))
    scope = params.get("scope") or profile.scope
    keys = scoped(keys_from(params.get("keyring"), params.get("passphrase_env"), (dataset.root,)), scope)
    vault = params.get("vault")
    if vault and "://" not in vault:  # the vault never travels with the data
        refuse_inside(Path(vault).expanduser(), (dataset.root,), "vault", VaultError)
    plan = compile_plan(profile, dataset, keys.active_version)
    the_vault = vault_from(params.get("vault"), keys, (dataset.root,), required=False, create=True)
    quiet = params.get("quiet", False)
    progress = Progress({t.name: t.num_rows for t in dataset.tables}, quiet=quiet)
    try:
        result = run_into(plan, dataset, url, keys, if_exists=params.get("if_exists") or "fail",
                          batch_size=params.get("batch_size") or 65_536,
                          workers=params.get("workers") or os.cpu_count() or 1, progress=progress,
                          vault=the_vault, purpose=f"run {params['input_path']}",
                          row_order=params.get("row_order") or profile.row_order)
    finally:
        if the_vault is not None:
            the_vault.close()
        close = getattr(dataset.dump, "close", None)
        if close is not None:
            close()
    progress.finish()
    if report is not None:
        doc = report_dict(result, plan, input_path=params["input_path"], profile_path=str(params["profile_path"]),
                          extra={"scope": scope, "output": str(url)})
        text = json.dumps(doc, indent=2, default=str) + "\n"
        if str(report) == "-":
            click.echo(text, nl=False)
        else:
            write_atomic(paths["--report"], text.encode(), kind="report")
    if not quiet:
        rows = sum(t.rows_out for t in result.tables)
        click.echo(f"veil: wrote {url} ({len(result.tables)} tables, {rows:,} rows, {result.seconds:.2f}s, "
                   f"key version {result.key_version})", err=True)
