"""The veil command line: parse options, call the library, render. No logic here.

Library errors (VeilError) become one line on stderr and a documented exit
code in one place, :class:`_Group.invoke`; a traceback only with --debug.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import click

from . import __version__
from .errors import EXIT_CODES, EXIT_INTERNAL, VaultError, VeilError
from .formats import open_dataset
from .formats.dump import DumpDataset
from .formats.dump.sinks import output_path
from .keys import ENV_KEYRING, Keyring, init_keyring, load_keyring, refuse_inside
from .ops import OPERATORS, load_plugins
from .output import (
    Target,
    check_targets,
    is_no_space,
    looks_like_data_map,
    looks_like_report,
    looks_like_scan_json,
    never,
    no_space,
    target_lock,
    write_atomic,
)
from .pipeline import output_name, report_dict, run_plan
from .plan import compile_plan
from .profile import load_profile
from .progress import Progress
from .rekey import rekey as rekey_dataset
from .vault import ENV_VAULT, Vault, check_purpose, destroy_version, open_vault

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {text.replace('`', '')}" for code, text in EXIT_CODES.items())


def keyring_option(f):
    return click.option("--keyring", envvar=ENV_KEYRING, default=None, metavar="PATH|env:NAME",
                        help=f"Keyring file, or env:NAME for a raw base64 key in a variable (env {ENV_KEYRING}).")(f)


def passphrase_option(f):
    return click.option("--passphrase-env", metavar="NAME", default=None,
                        help="Read the keyring passphrase from this environment variable "
                        "(otherwise prompted on a terminal).")(f)


def vault_option(required: bool = False):
    def deco(f):
        return click.option("--vault", envvar=ENV_VAULT, default=None, required=required, metavar="PATH|URL",
                            help=f"Vault: a SQLite file, or a postgresql:// URL (env {ENV_VAULT}).")(f)
    return deco


def _passphrase_source(env_name: str | None):
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


def _keys(keyring: str | None, passphrase_env: str | None, forbidden=()) -> Keyring:
    return load_keyring(keyring, forbidden_dirs=forbidden, passphrase=_passphrase_source(passphrase_env))


def _vault(spec: str | None, keys: Keyring | None, forbidden=(), required: bool = True,
           create: bool = False, pending_ok: bool = False) -> Vault | None:
    v = open_vault(spec, keys, forbidden_dirs=forbidden, create=create, pending_ok=pending_ok)
    if v is None and required:
        raise click.UsageError(f"this command needs a vault: pass --vault PATH|URL or set {ENV_VAULT}")
    return v


ENV_DEBUG_UNSAFE = "VEIL_DEBUG_UNSAFE"
SCRUBBED = "<message hidden: it may quote input values; set VEIL_DEBUG_UNSAFE=1 to show it>"


def debug_traceback(err: BaseException, unsafe: bool | None = None) -> str:
    """The traceback --debug prints: every frame (file, line, function, source line) of the
    exception and of its causes, with each exception's type; the message of a VeilError (built
    from names and positions only) is shown, any other exception's message is replaced by
    SCRUBBED unless VEIL_DEBUG_UNSAFE=1, since it may quote a value (Arrow's "Float value
    1234.5 was truncated"). Notes and locals are never shown."""
    if unsafe is None:
        unsafe = os.environ.get(ENV_DEBUG_UNSAFE) == "1"
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    e: BaseException | None = err
    link: str | None = None
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append((e, link))
        if e.__cause__ is not None:
            e, link = e.__cause__, "The above exception was the direct cause of the following exception:"
        elif e.__context__ is not None and not e.__suppress_context__:
            e, link = e.__context__, "During handling of the above exception, another exception occurred:"
        else:
            e = None
    parts: list[str] = []
    for exc, link in reversed(chain):
        name = type(exc).__module__ + "." + type(exc).__qualname__
        if name.startswith("builtins."):
            name = name[len("builtins."):]
        text = str(exc) if unsafe or isinstance(exc, VeilError) else SCRUBBED
        block = "Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__))
        block += f"{name}: {text}\n"
        parts.append(block)
        if link:
            parts.append(f"\n{link}\n\n")
    return "".join(parts)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug")) or os.environ.get("VEIL_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except VeilError as err:
            if debug:
                click.echo(debug_traceback(err), err=True, nl=False)
            click.echo(f"veil: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as err:  # anything else is a bug; its text may quote data, so hide it
            if debug:
                click.echo(debug_traceback(err), err=True, nl=False)
            if is_no_space(err):  # a full disk met outside an output's own handling
                nospace = no_space("<unknown file>")
                nospace.file = None
                click.echo(f"veil: error: {nospace}", err=True)
                ctx.exit(nospace.exit_code)
            click.echo(f"veil: internal error ({type(err).__name__}); rerun with --debug for a "
                       "traceback and report it", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veil")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors (frames and exception types; the "
              "message of an unexpected exception is hidden unless VEIL_DEBUG_UNSAFE=1, as it may quote data).")
def main(debug: bool) -> None:
    """veil turns production extracts into data safe for development, staging and ML.

    \b
    Quick start:
      veil keys init ~/.veil/keyring.json
      veil validate profiles/shop.yaml samples/shop
      veil run samples/shop --profile profiles/shop.yaml \\
          --keyring ~/.veil/keyring.json --out out/shop --report out/shop-report.json
    """
    if hasattr(signal, "SIGXFSZ"):
        # past `ulimit -f` a write then fails (EFBIG) and is reported as exit 9, temporary files
        # removed, instead of the signal killing veil mid-write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _final_output(dataset, out: Path, as_dir: bool, fmt: str | None) -> tuple[Path, bool]:
    """Where a run or re-key writes (the path AtomicOutput receives) and whether it is a directory:
    a one-file input or a dump given a directory writes a file of its own name into it."""
    if isinstance(dataset, DumpDataset):
        if as_dir and fmt is None:  # "out/" (maybe not there yet): the dump under its own name
            info = dataset.dump
            return out / (info.path.name if not info.custom else info.path.stem + ".sql"), False
        return output_path(dataset.dump, out, fmt), fmt is not None
    if not dataset.is_dir and (as_dir or out.is_dir()):
        return out / output_name(dataset.tables[0], fmt), False
    return out, dataset.is_dir


def _reads(**paths) -> dict[str, Path | str | None]:
    """The paths a command reads, by description, for check_targets (a vault's SQLite side files too)."""
    reads: dict[str, Path | str | None] = {}
    for what, p in paths.items():
        reads[f"the {what.replace('_', ' ')}"] = p
        if what == "vault" and p is not None and "://" not in str(p):
            for suffix in ("-wal", "-shm", "-journal"):
                reads[f"the vault's {suffix[1:]} file"] = str(p) + suffix
    return reads


def _report_target(report: Path | None) -> Target:
    return Target("--report", report, kind="report", recognise=looks_like_report)


def _refuse_vault_inside(vault: str | None, dirs: tuple[Path, ...]) -> None:
    if vault and "://" not in vault:
        refuse_inside(Path(vault).expanduser(), dirs, "vault", VaultError)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_path", required=True, type=click.Path(path_type=Path),
              help="YAML profile with the rules per table and column.")
@click.option("--out", "-o", "out_raw", required=True, type=click.Path(),
              help="Output directory (or file, for a one-file input or a dump; a path ending in / is a "
              "directory that receives the dump under its own name). Replaced atomically.")
@click.option("--dialect", type=click.Choice(["postgresql", "mysql"]), default=None,
              help="SQL dialect of a dump (default: detected).")
@keyring_option
@passphrase_option
@vault_option()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: the input's).")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="Write the JSON run report here ('-' for stdout).")
@click.option("--force", is_flag=True, help="Replace an existing --out or --report file that veil did not write.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: the number of CPUs).")
@click.option("--batch-size", type=click.IntRange(1, 10_000_000), default=65_536, show_default=True,
              help="Rows per batch.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
def run(input_path: Path, profile_path: Path, out_raw: str, dialect: str | None, keyring: str | None,
        passphrase_env: str | None,
        vault: str | None, fmt: str | None, report: Path | None, force: bool, workers: int | None,
        batch_size: int, quiet: bool) -> None:
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
    out = Path(out_raw)
    profile = load_profile(profile_path, strict=False)
    dataset = open_dataset(input_path, dialect=dialect)
    keys = _keys(keyring, passphrase_env, (dataset.root, out))
    _refuse_vault_inside(vault, (dataset.root, out))
    # every path written is checked before anything is written (a refused --report never
    # comes after a committed output), and the output is locked for the whole run
    final, is_dir = _final_output(dataset, out, out_raw.endswith(("/", os.sep)), fmt)
    paths = check_targets([Target("--out", final, is_dir), _report_target(report)],
                          reads=_reads(input=input_path, profile=profile_path, keyring=keyring, vault=vault),
                          force=force)
    final = paths["--out"]
    plan = compile_plan(profile, dataset, keys.active_version)
    with target_lock(final):
        the_vault = _vault(vault, keys, (dataset.root, out), required=False, create=True)
        progress = Progress({t.name: t.num_rows for t in dataset.tables}, quiet=quiet)
        try:
            result = run_plan(plan, dataset, final, keys, fmt=fmt, batch_size=batch_size,
                              workers=workers or os.cpu_count() or 1, progress=progress, vault=the_vault,
                              purpose=f"run {input_path}")
        finally:
            if the_vault is not None:
                the_vault.close()
        progress.finish()
        doc = report_dict(result, plan, input_path=input_path, profile_path=str(profile_path))
        if report is not None:
            text = json.dumps(doc, indent=2) + "\n"
            if str(report) == "-":
                click.echo(text, nl=False)
            else:
                write_atomic(paths["--report"], text.encode(), kind="report")
    if not quiet:
        for t in result.tables:
            changed = sum(1 for c in plan.tables[t.name].columns if c.transformed)
            dropped = t.rows_forgotten + t.rows_dropped_by_reference
            click.echo(f"  {t.name}: {t.rows_in:,} rows in, {t.rows_out:,} out, "
                       f"{changed} of {len(plan.tables[t.name].columns)} columns transformed"
                       + (f", {dropped:,} rows of forgotten subjects dropped" if dropped else ""), err=True)
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
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--out", "-o", "profile_out", type=click.Path(path_type=Path), default=None,
              help="Write a draft profile here (covers every column; veil run accepts it as written).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Write the findings as JSON here ('-' for stdout).")
@click.option("--markdown", "md_out", type=click.Path(path_type=Path), default=None,
              help="Write a readable data map (Markdown) here.")
@click.option("--force", is_flag=True, help="Overwrite an existing draft profile, or an existing --json or "
              "--markdown file veil did not write.")
@click.option("--sample", type=click.IntRange(10, 1_000_000), default=2000, show_default=True,
              help="Distinct non-null values analysed per column, at most.")
@click.option("--sample-rows", type=click.IntRange(10, 100_000_000), default=20_000, show_default=True,
              help="Rows read per table, at most (Parquet: spread over the row groups).")
@click.option("--nlp-model", default=None, metavar="NAME",
              help="An installed spaCy pipeline for names and places in free text "
              "(default: the [ner] extra's, when installed). Never downloaded.")
@click.option("--no-ner", is_flag=True, help="Pattern recognizers only, even when a spaCy pipeline is installed.")
@click.option("--dialect", type=click.Choice(["postgresql", "mysql"]), default=None,
              help="SQL dialect of a dump (default: detected).")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
def scan(input_path: Path, profile_out: Path | None, json_out: Path | None, md_out: Path | None, force: bool,
         sample: int, sample_rows: int, nlp_model: str | None, no_ner: bool, dialect: str | None,
         quiet: bool) -> None:
    """Find personal data in INPUT: one finding per table.column, a draft profile, a data map.

    Each column gets an entity (EMAIL, PHONE, FIRST_NAME, ... or NONE), a
    class (direct, quasi, none), a confidence and its evidence: the column-name
    rule that matched and the share of sampled values each recognizer
    (Presidio's, offline, with checksums; word lists; patterns) matched. Only a
    bounded sample is read, so scan time does not grow with table size. No
    value from the data is printed or written.

    \b
    Examples:
      veil scan samples/shop
      veil scan prod.sql.gz -o shop.yaml --json findings.json --markdown datamap.md
      veil scan samples/shop-parquet --json - --quiet | jq '.columns[] | select(.class == "direct")'
    """
    from .detect.datamap import counts, to_json, to_markdown
    from .detect.draft import draft_profile
    from .detect.engine import NER_HINT
    from .detect.scan import scan_dataset

    if no_ner and nlp_model:
        raise click.UsageError("--no-ner and --nlp-model contradict each other")
    paths = check_targets([
        Target("--out", profile_out, recognise=never,
               needs_force="a file (a draft would replace a profile someone may have edited)"),
        Target("--json", json_out, kind="scan-json", recognise=looks_like_scan_json),
        Target("--markdown", md_out, kind="data-map", recognise=looks_like_data_map),
    ], reads=_reads(input=input_path), force=force, input_error=False)
    dataset = open_dataset(input_path, dialect=dialect)
    progress = Progress(quiet=quiet)
    started = time.monotonic()
    result = scan_dataset(dataset, sample=sample, sample_rows=sample_rows, nlp_model=nlp_model,
                          use_ner=not no_ner, progress=lambda where: progress.step(f"scanning {where}"))
    progress.finish()
    if not result.ner and not quiet and any(f.entity == "FREE_TEXT" or f.evidence.get("note", "").startswith("free")
                                            for f in result.findings):
        click.echo(f"veil: note: {NER_HINT}", err=True)
    if profile_out is not None:
        write_atomic(paths["--out"], draft_profile(result).encode(), kind="profile")
    if md_out is not None:
        write_atomic(paths["--markdown"], to_markdown(result).encode(), kind="data-map")
    if json_out is not None:
        text = to_json(result)
        if str(json_out) == "-":
            click.echo(text, nl=False)
        else:
            write_atomic(paths["--json"], text.encode(), kind="scan-json")
    if quiet:
        return
    out = sys.stderr if str(json_out) == "-" else sys.stdout
    by_table: dict[str, list] = {}
    for f in result.findings:
        by_table.setdefault(f.table, []).append(f)
    for ts in result.tables:
        rows = "?" if ts.rows is None else (f"~{ts.rows:,}" if ts.rows_estimated else f"{ts.rows:,}")
        click.echo(f"{ts.name} ({rows} rows)", file=out)
        for f in by_table.get(ts.name, []):
            if f.cls == "none" and not f.key:
                continue
            key = f" [{f.key} key]" if f.key else ""
            click.echo(f"  {f.column:<28} {f.entity:<15} {f.cls:<6} {f.confidence:.2f}{key}", file=out)
    c = counts(result)
    wrote = [str(p) for p in (profile_out, json_out, md_out) if p is not None and str(p) != "-"]
    click.echo(f"veil: scanned {len(result.tables)} tables, {len(result.findings)} columns in "
               f"{time.monotonic() - started:.1f}s: {c['direct']} direct, {c['quasi']} quasi, {c['none']} none"
               + (f"; wrote {', '.join(wrote)}" if wrote else ""), err=True)


@main.command()
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


@main.group()
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
        passphrase = _passphrase_source(passphrase_env)()
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
    ring = _keys(keyring, passphrase_env)
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
    ring = _keys(keyring, passphrase_env)
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
    ring = _keys(keyring, passphrase_env)
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
    ring = _keys(keyring, passphrase_env)
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


@main.group()
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
      veil vault reveal --domain email --purpose "GDPR request 42" \
          --keyring k.json --vault v.db 4fzq2k...@example.com
    """
    items = _tokens_from(tokens, from_file)
    check_purpose(purpose)  # before the keyring is opened (or its passphrase asked)
    ring = _keys(keyring, passphrase_env)
    the_vault = _vault(vault, ring)
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
@vault_option()
def vault_forget(values: tuple[str, ...], domain: str, from_file: Path | None, actor: str | None,
                 keyring: str | None, passphrase_env: str | None, vault: str | None) -> None:
    """Forget subjects by their original VALUES: delete their vault records, add them to the forget list.

    Their pseudonyms can no longer be reversed, and every later run drops the
    rows of tables whose subject column holds them (and rows referencing those).
    Only a keyed blind index of each value is stored, never the value.

    \b
    Example:
      veil vault forget --domain email --keyring k.json --vault v.db alice@example.org
    """
    items = _tokens_from(values, from_file)
    ring = _keys(keyring, passphrase_env)
    the_vault = _vault(vault, ring, create=True)
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
    ring = _keys(keyring, passphrase_env)
    the_vault = _vault(vault, ring, pending_ok=True)
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


@main.command("rekey")
@click.argument("dataset_path", metavar="DATASET", type=click.Path(path_type=Path))
@click.option("--from", "from_version", required=True, help="The key version DATASET was pseudonymized with.")
@click.option("--to", "to_version", default=None, help="The new version (default: the active one).")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Output (replaced atomically).")
@click.option("--profile", "-p", "profile_path", required=True, type=click.Path(path_type=Path),
              help="The profile DATASET was produced with.")
@keyring_option
@passphrase_option
@vault_option()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: the input's).")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Write the JSON run report here.")
@click.option("--force", is_flag=True, help="Replace an existing --out or --report file that veil did not write.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Worker processes (default: CPUs).")
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
def rekey_cmd(dataset_path: Path, from_version: str, to_version: str | None, out: Path, profile_path: Path,
              keyring: str | None, passphrase_env: str | None, vault: str | None, fmt: str | None,
              report: Path | None, force: bool, workers: int | None, quiet: bool) -> None:
    """Re-key DATASET (a veil output) from one key version to another, without the extract.

    Keyed columns go back to their originals through the vault and forward
    under the new version; the result equals a fresh run under the new
    version, byte for byte. Needs every keyed column to be reversible.

    \b
    Example:
      veil rekey out/shop --from k-1a2b3c4d --to k-5e6f7a8b --profile profiles/shop.yaml \
          --keyring k.json --vault v.db --out out/shop-v2
    """
    profile = load_profile(profile_path, strict=False)
    dataset = open_dataset(dataset_path)
    ring = _keys(keyring, passphrase_env, (dataset.root, out))
    _refuse_vault_inside(vault, (dataset.root, out))
    final, is_dir = _final_output(dataset, out, False, fmt)
    paths = check_targets([Target("--out", final, is_dir), _report_target(report)],
                          reads=_reads(input=dataset_path, profile=profile_path, keyring=keyring, vault=vault),
                          force=force)
    with target_lock(paths["--out"]):
        the_vault = _vault(vault, ring, (dataset.root, out))
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
                              extra={"rekey": {"from": from_version, "to": target}})
            write_atomic(paths["--report"], (json.dumps(doc, indent=2) + "\n").encode(), kind="report")
    if not quiet:
        click.echo(f"veil: re-keyed {dataset_path} from {from_version} to {target} into {result.output} "
                   f"({result.seconds:.2f}s)", err=True)
