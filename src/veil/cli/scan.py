"""veil scan: find the personal data of an input, write a draft profile (or merge into one)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from ..db.cli import DataPath
from ..detect.sampling import DEFAULT_SAMPLE, DEFAULT_SAMPLE_ROWS
from ..errors import Problem, ProfileError
from ..formats import open_dataset
from ..output import (
    Target,
    check_targets,
    looks_like_data_map,
    looks_like_scan_json,
    never,
    target_lock,
    write_atomic,
)
from ..profile import load_profile
from ..progress import Progress
from .data import reads
from .options import input_options


def _print_findings(result, out) -> None:
    """Scan's table: each table with its row count, then its columns that hold personal data or a key."""
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
            click.echo(f"  {f.column:<28} {f.entity:<16} {f.cls:<9} {f.confidence:.2f}{key}", file=out)


@click.command()
@click.argument("input_path", metavar="INPUT", type=DataPath())
@click.option("--out", "-o", "profile_out", type=click.Path(path_type=Path), default=None,
              help="Write a draft profile here (covers every column; veil run accepts it as written).")
@click.option("--update", "update_path", type=click.Path(path_type=Path), default=None, metavar="PROFILE",
              help="Merge this scan into an existing profile, in place and atomically: new tables and columns "
              "added with the draft's rules and comments, vanished ones marked with a comment, every rule and "
              "comment already there kept as written (not with -o).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Write the findings as JSON here ('-' for stdout).")
@click.option("--markdown", "md_out", type=click.Path(path_type=Path), default=None,
              help="Write a readable data map (Markdown) here.")
@click.option("--force", is_flag=True, help="Overwrite an existing draft profile, or an existing --json or "
              "--markdown file veil did not write.")
@click.option("--sample", type=click.IntRange(10, 1_000_000), default=DEFAULT_SAMPLE, show_default=True,
              help="Distinct non-null values analysed per column, at most.")
@click.option("--sample-rows", type=click.IntRange(10, 100_000_000), default=DEFAULT_SAMPLE_ROWS, show_default=True,
              help="Rows read per table, at most (Parquet: spread over the row groups).")
@click.option("--nlp-model", default=None, metavar="NAME",
              help="An installed spaCy pipeline for names and places in free text "
              "(default: the [ner] extra's, when installed). Never downloaded.")
@click.option("--no-ner", is_flag=True, help="Pattern recognizers only, even when a spaCy pipeline is installed.")
@input_options()
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
def scan(input_path: Path, profile_out: Path | None, update_path: Path | None, json_out: Path | None,
         md_out: Path | None, force: bool, sample: int, sample_rows: int, nlp_model: str | None, no_ner: bool,
         dialect: str | None, delimiter: str | None, quiet: bool) -> None:
    """Find personal data in INPUT: one finding per table.column, a draft profile, a data map.

    Each column gets an entity (EMAIL, PHONE, FIRST_NAME, ... or NONE), a
    class (direct, quasi, sensitive, none), a confidence and its evidence: the column-name
    rule that matched and the share of sampled values each recognizer
    (Presidio's, offline, with checksums; word lists; patterns) matched. Only a
    bounded sample is read, so scan time does not grow with table size. No
    value from the data is printed or written.

    \b
    Examples:
      veil scan samples/shop
      veil scan prod.sql.gz -o shop.yaml --json findings.json --markdown datamap.md
      veil scan samples/shop-parquet --json - --quiet | jq '.columns[] | select(.class == "direct")'

    With --update PROFILE (a profile in CI, kept up to date with the schema):
    tables and columns the profile lacks are added with the draft's rules and
    evidence; rules for tables and columns no longer in INPUT are kept and
    marked "# veil scan --update: not in the input on DATE"; nothing already
    there changes, and a second update with the same input changes nothing.
    Exit 0 whether the profile changed or not (stderr says which); exit 3,
    nothing written, when PROFILE does not parse.

    \b
    In CI (commit the profile back, or fail the job, when the schema moved):
      veil scan prod.sql.gz --update profiles/shop.yaml --no-ner
      git diff --exit-code profiles/shop.yaml
    """
    # imported here, not at module level, on purpose: veil.detect loads Presidio (and spaCy), which
    # every other command and `import veil.cli` must not pay for (tests/test_layers.py checks it)
    from ..detect.datamap import counts, to_json, to_markdown
    from ..detect.draft import draft_profile
    from ..detect.engine import NER_HINT
    from ..detect.scan import scan_dataset

    if no_ner and nlp_model:
        raise click.UsageError("--no-ner and --nlp-model contradict each other")
    if profile_out is not None and update_path is not None:
        raise click.UsageError("-o writes a new draft and --update merges into an existing profile: give one")
    paths = check_targets([
        Target("--out", profile_out, recognise=never,
               needs_force="a file (a draft would replace a profile someone may have edited)"),
        Target("--update", update_path, kind="profile", recognise=_updatable),
        Target("--json", json_out, kind="scan-json", recognise=looks_like_scan_json),
        Target("--markdown", md_out, kind="data-map", recognise=looks_like_data_map),
    ], reads=reads(input=input_path), force=force, input_error=False)
    if update_path is not None:
        load_profile(update_path, strict=False)  # it must exist and parse (exit 3, file:line) before the scan
    dataset = open_dataset(input_path, dialect=dialect, delimiter=delimiter)
    progress = Progress(quiet=quiet)
    started = time.monotonic()
    try:
        result = scan_dataset(dataset, sample=sample, sample_rows=sample_rows, nlp_model=nlp_model,
                              use_ner=not no_ner, progress=lambda where: progress.step(f"scanning {where}"))
    finally:
        progress.finish()
    if not result.ner and not quiet and any(f.entity == "FREE_TEXT" or f.evidence.get("note", "").startswith("free")
                                            for f in result.findings):
        click.echo(f"veil: note: {NER_HINT}", err=True)
    if profile_out is not None:
        write_atomic(paths["--out"], draft_profile(result).encode(), kind="profile")
    updated = None
    if update_path is not None:
        updated = _update(paths["--update"], str(update_path), result, dataset.aliases)
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
    _print_findings(result, sys.stderr if str(json_out) == "-" else sys.stdout)
    c = counts(result)
    wrote = [str(p) for p in (profile_out, json_out, md_out) if p is not None and str(p) != "-"]
    click.echo(f"veil: scanned {len(result.tables)} tables, {len(result.findings)} columns in "
               f"{time.monotonic() - started:.1f}s: {c['direct']} direct, {c['quasi']} quasi, "
               f"{c['sensitive']} sensitive, {c['none']} none"
               + (f"; wrote {', '.join(wrote)}" if wrote else ""), err=True)
    if updated is not None:
        click.echo("".join(f"  {line}\n" for line in updated.listing())
                   + f"veil: {'updated' if updated.changed else 'unchanged'} {update_path}: {updated.describe()}",
                   err=True)


def _updatable(path: Path) -> bool:
    """scan --update rewrites the profile it is given (it keeps every edit): no --force needed."""
    return True


def _update(path: Path, shown: str, result, aliases: dict[str, str]):
    """scan --update: merge RESULT into the profile at PATH, under the output lock, written only if changed."""
    from ..detect.update import update_profile

    with target_lock(path):
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProfileError([Problem("the profile is not UTF-8 text", "", None)], file=shown) from None
        new_text, summary = update_profile(text, result, shown, aliases=aliases)
        if new_text != text:
            mode = path.stat().st_mode & 0o7777
            # written 0600, then given the profile's own mode back: never readable by more, even for a moment
            write_atomic(path, new_text.encode("utf-8"), private=True, kind="profile")
            os.chmod(path, mode)
    return summary
