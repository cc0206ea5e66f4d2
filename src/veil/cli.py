"""The veil command line: parse options, call the library, render. No logic here.

Library errors (VeilError) become one line on stderr and a documented exit
code in one place, :class:`_Group.invoke`; a traceback only with --debug.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import click

from . import __version__
from .dataset import open_dataset
from .errors import EXIT_INTERNAL, VeilError
from .keys import ENV_KEYRING, init_keyring, load_keyring
from .ops import OPERATORS
from .output import write_atomic
from .pipeline import report_dict, run_plan
from .plan import compile_plan
from .profile import load_profile

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  internal error (rerun with --debug and report it)
  2  usage error (bad option or argument)
  3  the profile has problems
  4  columns the profile does not classify (unknown_columns: fail)
  5  the input cannot be read
  6  keyring missing or unsafe
  7  a key column would lose uniqueness (pseudonym collision)"""


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug")) or os.environ.get("VEIL_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except VeilError as err:
            if debug:
                traceback.print_exc()
            click.echo(f"veil: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as err:  # anything else is a bug; its text may quote data, so hide it
            if debug:
                traceback.print_exc()
            click.echo(f"veil: internal error ({type(err).__name__}); rerun with --debug for a "
                       "traceback and report it", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veil")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def main(debug: bool) -> None:
    """veil turns production extracts into data safe for development, staging and ML.

    \b
    Quick start:
      veil keys init ~/.veil/keyring.json
      veil validate profiles/shop.yaml samples/shop
      veil run samples/shop --profile profiles/shop.yaml \\
          --keyring ~/.veil/keyring.json --out out/shop --report out/shop-report.json
    """


class _Progress:
    """Rows done per table on stderr; silent unless stderr is a terminal."""

    def __init__(self, enabled: bool, totals: dict[str, int | None]):
        self.enabled = enabled
        self.totals = totals
        self.done: dict[str, int] = {}
        self.last = 0.0

    def __call__(self, table: str, rows: int) -> None:
        self.done[table] = self.done.get(table, 0) + rows
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        total = self.totals.get(table)
        n = self.done[table]
        text = f"{table}: {n:,}/{total:,} rows ({100 * n // max(total, 1)}%)" if total else \
            f"{table}: {n:,} rows"
        click.echo(f"\r\x1b[2K{text}", err=True, nl=False)

    def finish(self) -> None:
        if self.enabled and self.done:
            click.echo("\r\x1b[2K", err=True, nl=False)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_path", required=True, type=click.Path(path_type=Path),
              help="YAML profile with the rules per table and column.")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Output directory (or file, for a one-file input). Replaced atomically.")
@click.option("--keyring", type=click.Path(path_type=Path), envvar=ENV_KEYRING,
              help=f"Keyring file (or env {ENV_KEYRING}). Keep it outside the data.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: the input's).")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="Write the JSON run report here ('-' for stdout).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: the number of CPUs).")
@click.option("--batch-size", type=click.IntRange(1, 10_000_000), default=65_536, show_default=True,
              help="Rows per batch.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
def run(input_path: Path, profile_path: Path, out: Path, keyring: Path | None, fmt: str | None,
        report: Path | None, workers: int | None, batch_size: int, quiet: bool) -> None:
    """Anonymize INPUT (a directory of CSV/Parquet tables, or one file) into --out.

    Every column must be classified by the profile (or by its unknown_columns
    policy); foreign-key columns follow the column they reference, so joins
    survive. The output appears only when the whole run succeeded.

    \b
    Example:
      veil run samples/shop --profile profiles/shop.yaml \\
          --keyring ~/.veil/keyring.json --out out/shop --report out/report.json
    """
    profile = load_profile(profile_path, strict=False)
    dataset = open_dataset(input_path)
    keys = load_keyring(keyring, forbidden_dirs=(dataset.root, out))
    plan = compile_plan(profile, dataset, keys.active_version)
    progress = _Progress(sys.stderr.isatty() and not quiet, {t.name: t.num_rows for t in dataset.tables})
    result = run_plan(plan, dataset, out, keys, fmt=fmt, batch_size=batch_size,
                      workers=workers or os.cpu_count() or 1, progress=progress)
    progress.finish()
    doc = report_dict(result, plan, input_path=input_path, profile_path=str(profile_path))
    if report is not None:
        text = json.dumps(doc, indent=2) + "\n"
        if str(report) == "-":
            click.echo(text, nl=False)
        else:
            write_atomic(report, text.encode())
    if not quiet:
        for t in result.tables:
            changed = sum(1 for c in plan.tables[t.name].columns if c.op != "keep")
            click.echo(f"  {t.name}: {t.rows_in:,} rows in, {t.rows_out:,} out, "
                       f"{changed} of {len(plan.tables[t.name].columns)} columns transformed", err=True)
        click.echo(f"veil: wrote {result.output} ({len(result.tables)} tables, "
                   f"{result.seconds:.2f}s, key version {result.key_version})", err=True)


@main.command()
@click.argument("profile_path", metavar="PROFILE", type=click.Path(path_type=Path))
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path))
def validate(profile_path: Path, input_path: Path | None) -> None:
    """Check PROFILE, and with INPUT check it against the input's tables and columns.

    Reports every problem at once, each with file, line, YAML path and a hint
    ("did you mean ...?"). Exit 0 when the profile is valid.

    \b
    Example:
      veil validate profiles/shop.yaml samples/shop
    """
    profile = load_profile(profile_path, strict=input_path is None)
    if input_path is None:
        n = sum(len(t.columns) for t in profile.tables.values())
        click.echo(f"{profile_path}: valid ({len(profile.tables)} tables, {n} column rules)")
        return
    dataset = open_dataset(input_path)
    plan = compile_plan(profile, dataset, None)
    n = sum(len(t.columns) for t in plan.tables.values())
    click.echo(f"{profile_path}: valid for {input_path} ({len(plan.tables)} tables, {n} columns classified)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def operators(as_json: bool) -> None:
    """List the operators with their parameters.

    \b
    Example:
      veil operators --json
    """
    rows = []
    for op in OPERATORS.values():
        rows.append({
            "name": op.name, "help": op.help, "keyed": op.keyed, "deterministic": op.deterministic,
            "params": [{"name": p.name, "type": p.type.__name__ if isinstance(p.type, type) else "number",
                        "default": None if p.required else p.default, "required": p.required,
                        "choices": list(p.choices) if p.choices else None, "help": p.help}
                       for p in op.params],
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        flags = " [keyed]" if r["keyed"] else ""
        click.echo(f"{r['name']}{flags}: {r['help']}")
        for p in r["params"]:
            extra = "required" if p["required"] else f"default {p['default']!r}"
            if p["choices"]:
                extra += f"; one of {', '.join(map(str, p['choices']))}"
            click.echo(f"    {p['name']} ({p['type']}, {extra}): {p['help']}")


@main.group()
def keys() -> None:
    """Manage keyrings (the secrets behind every pseudonym).

    \b
    Example:
      veil keys init ~/.veil/keyring.json
    """


@keys.command("init")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing keyring (its keys are lost).")
@click.option("--if-missing", is_flag=True, help="Do nothing if a keyring already exists at PATH.")
def keys_init(path: Path, force: bool, if_missing: bool) -> None:
    """Create a keyring at PATH (mode 0600) holding one random 256-bit key.

    The key material is never printed; the version id is.

    \b
    Example:
      veil keys init ~/.veil/keyring.json
    """
    path = path.expanduser()
    if if_missing and path.exists():
        click.echo(f"keyring {path} exists; left unchanged")
        return
    vid = init_keyring(path, force=force)
    click.echo(f"created keyring {path} with key version {vid}")
