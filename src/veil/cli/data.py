"""Commands that read data: run, validate, operators, rekey (scan: veil.cli.scan)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import click

from ..db.cli import IF_EXISTS, DataPath, is_db_url, run_into_database
from ..detect.relations import kept_inside_keys
from ..detect.sampling import DEFAULT_SAMPLE_ROWS, sample_dataset
from ..errors import Problem, ProfileError, VaultError, VeilError
from ..formats import open_dataset
from ..formats.csv import CSV_TYPES
from ..formats.dump import DumpDataset
from ..formats.dump.sinks import dump_output_name, output_path
from ..formats.typed import SAMPLE_ROWS
from ..keys import refuse_inside
from ..ops import OPERATORS, load_plugins
from ..output import (
    STDOUT,
    Target,
    check_targets,
    looks_like_report,
    target_lock,
    write_atomic,
)
from ..pipeline import output_name, report_dict, run_plan
from ..plan import compile_plan
from ..profile import load_profile, problem_record
from ..progress import Progress
from ..rekey import rekey as rekey_dataset
from ..scope import scoped
from .options import input_options, keyring_option, keys_from, passphrase_option, scope_option, vault_from, vault_option


def _final_output(dataset, out: Path, as_dir: bool, fmt: str | None) -> tuple[Path, bool]:
    """Where a run or re-key writes (the path AtomicOutput receives) and whether it is a directory:
    a one-file input or a dump given a directory writes a file of its own name into it."""
    if isinstance(dataset, DumpDataset):
        if as_dir and fmt is None:  # "out/" (maybe not there yet): the dump under its own name
            info = dataset.dump
            return out / dump_output_name(info), False
        return output_path(dataset.dump, out, fmt), fmt is not None
    if not dataset.is_dir and (as_dir or out.is_dir()):
        return out / output_name(dataset.tables[0], fmt), False
    return out, dataset.is_dir


def reads(**paths) -> dict[str, Path | str | None]:
    """The paths a command reads, by description, for check_targets (a vault's SQLite side files too)."""
    reads: dict[str, Path | str | None] = {}
    for what, p in paths.items():
        reads[f"the {what.replace('_', ' ')}"] = p
        if what == "vault" and p is not None and "://" not in str(p):
            for suffix in ("-wal", "-shm", "-journal"):
                reads[f"the vault's {suffix[1:]} file"] = str(p) + suffix
    return reads


def report_target(report: Path | None) -> Target:
    return Target("--report", report, kind="report", recognise=looks_like_report)


_LARGE_INPUT = 16 << 20  # bytes: an input this large surely fills several batches


def _prestart_workers(input_path, workers: int | None) -> None:
    """A live database or a large input will use the worker pool: start its forkserver now, so its
    import overlaps the run's setup (veil.pipeline.engine.prestart)."""
    from ..pipeline.engine import prestart

    workers = workers or os.cpu_count() or 1
    if workers <= 1:
        return  # no pool: nothing to start, and no need to size the input
    if not isinstance(input_path, Path):  # a database URL
        large = True
    elif input_path.is_dir():
        large = sum(p.stat().st_size for p in input_path.rglob("*") if p.is_file()) >= _LARGE_INPUT
    else:
        large = input_path.is_file() and input_path.stat().st_size >= _LARGE_INPUT
    if large:
        prestart(workers)


def _refuse_vault_inside(vault: str | None, dirs: tuple[Path, ...]) -> None:
    if vault and "://" not in vault:
        refuse_inside(Path(vault).expanduser(), dirs, "vault", VaultError)


@click.command()
@click.argument("input_path", metavar="INPUT", type=DataPath())
@click.option("--profile", "-p", "profile_path", required=True, type=click.Path(path_type=Path),
              help="YAML profile with the rules per table and column.")
@click.option("--out", "-o", "out_raw", required=True, type=click.Path(),
              help="Output directory (or file, for a one-file input or a dump; a path ending in / is a "
              "directory that receives the dump under its own name). Replaced atomically. '-': a dump "
              "rewritten to standard output as it goes (not atomic: a failure leaves a partial stream "
              "and a non-zero exit).")
@input_options(delimiter_kept=True)
@keyring_option
@passphrase_option
@scope_option
@vault_option()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: the input's).")
@click.option("--csv-types", type=click.Choice(CSV_TYPES), default="infer", show_default=True,
              help=f"Parquet output of CSV input: infer each column's type from its first {SAMPLE_ROWS:,} rows "
              "(a profile's type: wins), or write every column as text (string).")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="Write the JSON run report here ('-' for stdout).")
@click.option("--force", is_flag=True, help="Replace an existing --out or --report file that veil did not write.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: the number of CPUs).")
@click.option("--batch-size", type=click.IntRange(1, 10_000_000), default=65_536, show_default=True,
              help="Rows per batch.")
@click.option("--row-order", type=click.Choice(["keep", "shuffle"]), default=None,
              help="Rows in the input's order, or in a keyed pseudo-random order per table so that position "
                   "links nothing (default: the profile's row_order, else keep). Table outputs only.")
@IF_EXISTS
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="spark: a directory of Parquet tables (files or part-file folders) through Spark "
              "(the [spark] extra; docs/spark.md).")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
def run(input_path: Path, profile_path: Path, out_raw: str, dialect: str | None, delimiter: str | None,
        keyring: str | None,
        passphrase_env: str | None, scope: str | None,
        vault: str | None, fmt: str | None, csv_types: str, report: Path | None, force: bool,
        workers: int | None, batch_size: int, row_order: str | None, if_exists: str, engine: str,
        quiet: bool) -> None:
    """Anonymize INPUT (a directory of CSV/Parquet tables, one such file, or a SQL dump) into --out.

    Every column must be classified by the profile (or by its unknown_columns
    policy); foreign-key columns follow the column they reference, so joins
    survive. The output appears only when the whole run succeeded. With
    --vault, reversible columns record (pseudonym -> encrypted original) and
    rows of forgotten subjects are dropped.

    \b
    Examples:
      veil run samples/shop --profile profiles/shop.yaml \\
          --keyring ~/.veil/keyring.json --out out/shop --report out/report.json
      veil run prod.sql.gz --profile shop.yaml --keyring k.json --out safe/
      veil run prod.sql --profile shop.yaml --keyring k.json --format parquet --out tables/
    """
    if engine != "spark":
        _prestart_workers(input_path, workers)
    if is_db_url(out_raw):  # a live database (veil.db, docs/databases.md)
        return run_into_database(click.get_current_context().params)
    out = Path(out_raw)
    to_stdout = out == STDOUT
    if to_stdout and report is not None and str(report) == "-":
        raise click.UsageError("--out - and --report - would both write to standard output")
    profile = load_profile(profile_path, strict=False)
    if engine == "spark":  # veil.spark.cli: Parquet directories through Spark
        from ..spark.cli import run_spark_command
        return run_spark_command(input_path, profile, profile_path, out, keyring, passphrase_env, scope, vault, fmt,
                                 report, force, workers, row_order, quiet)
    dataset = open_dataset(input_path, dialect=dialect, delimiter=delimiter, csv_types=csv_types,
                           spool_dir=None if to_stdout else out if out_raw.endswith(("/", os.sep)) else out.parent)
    if to_stdout and not isinstance(dataset, DumpDataset):
        raise click.UsageError("--out - writes a SQL dump to standard output; this input is not a dump")
    scope = scope or profile.scope  # --scope overrides the profile; None: the unscoped keys
    keys = scoped(keys_from(keyring, passphrase_env, (dataset.root, out)), scope)
    _refuse_vault_inside(vault, (dataset.root, out))
    # every path written is checked before anything is written (a refused --report never
    # comes after a committed output), and the output is locked for the whole run
    final, is_dir = (STDOUT, False) if to_stdout else _final_output(dataset, out, out_raw.endswith(("/", os.sep)),
                                                                     fmt)
    paths = check_targets(([] if to_stdout else [Target("--out", final, is_dir)]) + [report_target(report)],
                          reads=reads(input=input_path, profile=profile_path, keyring=keyring, vault=vault),
                          force=force)
    final = paths.get("--out", final)
    plan = compile_plan(profile, dataset, keys.active_version)
    with contextlib.nullcontext() if to_stdout else target_lock(final):
        the_vault = vault_from(vault, keys, (dataset.root, out), required=False, create=True)
        progress = Progress({t.name: t.num_rows for t in dataset.tables}, quiet=quiet)
        try:
            result = run_plan(plan, dataset, final, keys, fmt=fmt, batch_size=batch_size,
                              workers=workers or os.cpu_count() or 1, progress=progress, vault=the_vault,
                              purpose=f"run {input_path}", row_order=row_order or profile.row_order)
        finally:
            progress.finish()  # the progress line is erased before any error is printed
            if the_vault is not None:
                the_vault.close()
        doc = report_dict(result, plan, input_path=input_path, profile_path=str(profile_path),
                          extra={"scope": scope})
        if report is not None:
            write_report(doc, report, paths)
    if not quiet:
        print_summary(result, plan, scope)


def write_report(doc: dict, report: Path, paths: dict[str, Path]) -> None:
    """The JSON run report to stdout ('-') or atomically to its checked path (either engine's run)."""
    text = json.dumps(doc, indent=2) + "\n"
    if str(report) == "-":
        click.echo(text, nl=False)
    else:
        write_atomic(paths["--report"], text.encode(), kind="report")


def print_summary(result, plan, scope: str | None) -> None:
    """A run's summary on stderr: a line per table, then where it wrote (either engine's run)."""
    for t in result.tables:
        changed = sum(1 for c in plan.tables[t.name].columns if c.transformed)
        dropped = t.rows_forgotten + t.rows_dropped_by_reference
        click.echo(f"  {t.name}: {t.rows_in:,} rows in, {t.rows_out:,} out, "
                   f"{changed} of {len(plan.tables[t.name].columns)} columns transformed"
                   + (f", {dropped:,} rows of forgotten subjects dropped" if dropped else ""), err=True)
    click.echo(f"veil: wrote {result.output} ({len(result.tables)} tables, "
               f"{result.seconds:.2f}s, key version {result.key_version}"
               + (f", scope {scope})" if scope else ")"), err=True)


@click.command()
@click.argument("profile_path", metavar="PROFILE", type=click.Path(path_type=Path))
@click.argument("input_path", metavar="[INPUT]", required=False, type=DataPath())
@click.option("--strict", is_flag=True, help="Warnings are errors (exit 3): e.g. a kept column whose sampled "
              "values fall inside a pseudonymized key.")
@input_options()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON on stdout (file, line, path, "
              "table, column, message, hint, severity); the exit code is the same.")
def validate(profile_path: Path, input_path: Path | None, strict: bool, dialect: str | None,
             delimiter: str | None, as_json: bool) -> None:
    """Check PROFILE, and with INPUT check it against the input's tables and columns.

    Reports every problem at once, each with file, line, YAML path and a hint
    ("did you mean ...?"). Exit 0 when the profile is valid.

    \b
    Example:
      veil validate profiles/shop.yaml samples/shop
      veil validate --json --dialect postgresql profiles/shop.yaml shop.sql > problems.json
    """
    columns: dict[str, list[str]] = {}
    try:
        profile = load_profile(profile_path, strict=input_path is None)
        columns.update({name: list(t.columns) for name, t in profile.tables.items()})
        if input_path is None:
            n = sum(len(t.columns) for t in profile.tables.values())
            summary, warnings = f"{profile_path}: valid ({len(profile.tables)} tables, {n} column rules)", []
        else:
            dataset = open_dataset(input_path, dialect=dialect, delimiter=delimiter)
            columns.update({t.name: t.schema.names for t in dataset.tables})
            plan = compile_plan(profile, dataset, None)
            if strict and plan.warnings:
                raise ProfileError(plan.warnings, file=profile.file)
            for problem in plan.warnings:
                click.echo(f"veil: warning: {problem.render(profile.file)}", err=True)
            warnings = plan.warnings + _kept_key_warnings(profile, plan, dataset, strict)
            n = sum(len(t.columns) for t in plan.tables.values())
            summary = f"{profile_path}: valid for {input_path} ({len(plan.tables)} tables, {n} columns classified)"
    except VeilError as err:
        if as_json:
            click.echo(json.dumps({"valid": False, "problems": _problem_records(err, str(profile_path), columns)},
                                  indent=2))
        raise
    if as_json:
        click.echo(json.dumps({"valid": True, "problems": [problem_record(p, str(profile_path), columns, "warning")
                                                           for p in warnings]}, indent=2))
    else:
        click.echo(summary)


def _problem_records(err: VeilError, file: str, columns: dict[str, list[str]]) -> list[dict]:
    """validate --json: a profile's problems, or the one error that stopped validation (input unreadable)."""
    if isinstance(err, ProfileError):
        return [problem_record(p, err.file or file, columns) for p in err.problems]
    return [{"file": err.file, "line": err.line, "path": "", "table": err.table, "column": err.column,
             "message": err.message, "hint": err.hint, "severity": "error", "kind": type(err).__name__}]


def _kept_key_warnings(profile, plan, dataset, strict: bool) -> list[Problem]:
    """A kept column whose name and sampled values point at a pseudonymized key (it will not join):
    a warning naming both columns, an error (exit 3) with --strict. Names and shares only, no value."""
    problems = []
    for table, column, ref_table, ref_column, share, n in kept_inside_keys(plan, dataset, sample_dataset(
            dataset, DEFAULT_SAMPLE_ROWS)):  # rows per table, as scan reads
        pname = next((p for p in profile.tables if table in (p, dataset.aliases.get(p))), table)
        path = f"tables.{pname}.columns.{column}"
        line = profile.line(path) or profile.line(f"tables.{pname}")
        problems.append(Problem(f"{table}.{column} is kept, and {100 * share:.0f}% of its {n} sampled values are "
                                f"values of {ref_table}.{ref_column}, which is pseudonymized: it will not join",
                                path, line, f"declare it a foreign key of {ref_table}.{ref_column} (foreign_keys: "
                                f"- columns: [{column}], references: {{table: {ref_table}, columns: [{ref_column}]}})"
                                ", or pseudonymize it in the same domain"))
    if strict and problems:
        raise ProfileError(problems, file=profile.file)
    for problem in problems:
        click.echo(f"veil: warning: {problem.render(profile.file)}", err=True)
    return problems


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def operators(as_json: bool) -> None:
    """List the operators with their parameters.

    \b
    Example:
      veil operators --json
    """
    for problem in load_plugins():  # a plugin that cannot be used is named, never fatal here
        click.echo(f"veil: warning: {problem.render()}", err=True)
    rows = []
    for op in OPERATORS.values():
        rows.append({
            "name": op.name, "origin": op.origin, "help": op.help, "keyed": op.keyed,
            "deterministic": op.deterministic,
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
        flags += f" [plugin: {r['origin']}]" if r["origin"] != "built-in" else ""
        click.echo(f"{r['name']}{flags}: {r['help']}")
        for p in r["params"]:
            extra = "required" if p["required"] else f"default {p['default']!r}"
            if p["choices"]:
                extra += f"; one of {', '.join(map(str, p['choices']))}"
            click.echo(f"    {p['name']} ({p['type']}, {extra}): {p['help']}")


@click.command("rekey")
@click.argument("dataset_path", metavar="DATASET", type=click.Path(path_type=Path))
@click.option("--from", "from_version", required=True, help="The key version DATASET was pseudonymized with.")
@click.option("--to", "to_version", default=None, help="The new version (default: the active one).")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Output (replaced atomically).")
@click.option("--profile", "-p", "profile_path", required=True, type=click.Path(path_type=Path),
              help="The profile DATASET was produced with.")
@keyring_option
@passphrase_option
@scope_option
@vault_option()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: the input's).")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Write the JSON run report here.")
@click.option("--force", is_flag=True, help="Replace an existing --out or --report file that veil did not write.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Worker processes (default: CPUs).")
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
def rekey_cmd(dataset_path: Path, from_version: str, to_version: str | None, out: Path, profile_path: Path,
              keyring: str | None, passphrase_env: str | None, scope: str | None, vault: str | None,
              fmt: str | None, report: Path | None, force: bool, workers: int | None, quiet: bool) -> None:
    """Re-key DATASET (a veil output) from one key version to another, without the extract.

    Keyed columns go back to their originals through the vault and forward
    under the new version; the result equals a fresh run under the new
    version, byte for byte. Needs every keyed column to be reversible.

    \b
    Example:
      veil rekey out/shop --from k-1a2b3c4d --to k-5e6f7a8b --profile profiles/shop.yaml \\
          --keyring k.json --vault v.db --out out/shop-v2
    """
    profile = load_profile(profile_path, strict=False)
    dataset = open_dataset(dataset_path)
    scope = scope or profile.scope  # a re-key stays in the scope the data was made in
    ring = scoped(keys_from(keyring, passphrase_env, (dataset.root, out)), scope)
    _refuse_vault_inside(vault, (dataset.root, out))
    final, is_dir = _final_output(dataset, out, False, fmt)
    paths = check_targets([Target("--out", final, is_dir), report_target(report)],
                          reads=reads(input=dataset_path, profile=profile_path, keyring=keyring, vault=vault),
                          force=force)
    with target_lock(paths["--out"]):
        the_vault = vault_from(vault, ring, (dataset.root, out))
        assert the_vault is not None
        target = to_version or ring.active_version
        try:
            result, plan = rekey_dataset(profile, dataset, paths["--out"], ring, the_vault,
                                         from_version=from_version, to_version=target, fmt=fmt,
                                         workers=workers or os.cpu_count() or 1)
        finally:
            the_vault.close()
        if report is not None:
            doc = report_dict(result, plan, input_path=dataset_path, profile_path=str(profile_path),
                              extra={"rekey": {"from": from_version, "to": target}, "scope": scope})
            write_atomic(paths["--report"], (json.dumps(doc, indent=2) + "\n").encode(), kind="report")
    if not quiet:
        click.echo(f"veil: re-keyed {dataset_path} from {from_version} to {target} into {result.output} "
                   f"({result.seconds:.2f}s)", err=True)
