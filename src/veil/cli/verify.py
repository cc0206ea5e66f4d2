"""``veil verify``: is a copy safe and useful enough to publish?"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from ..errors import EXIT_GATE, UsageError, VeilError
from ..output import Target, check_targets, looks_like_verify_report, never, write_atomic
from ..profile import load_profile
from ..progress import Progress
from .options import input_options


class GateFailed(VeilError):
    exit_code = EXIT_GATE


@click.command("verify")
@click.argument("original", metavar="ORIGINAL", type=click.Path(path_type=Path))
@click.argument("copy", metavar="COPY", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_path", required=True, type=click.Path(path_type=Path),
              help="The profile COPY was made with (its privacy sections name the quasi-identifiers).")
@click.option("--report", "--json", "report_path", default=None, type=click.Path(path_type=Path),
              help="Write the JSON report here ('-': standard output).")
@click.option("--html", "html_path", default=None, type=click.Path(path_type=Path),
              help="Write a self-contained HTML report here ('-': standard output; no network needed to read it).")
@click.option("--fail-on", "fail_on", default=None, metavar="GATES",
              help="Comma-separated gates that fail the check, e.g. 'k<5,leaks>0,risk>0.2,utility<0.8,fk<1' "
              "(TABLE.METRIC for one table). Default: leaks>0, fk_lost>0, missing_tables>0 and each table's "
              "privacy k and l.")
@input_options()
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="spark: two directories of Parquet tables, integrity, risk, leaks and utility counted by "
              "Spark aggregations (no linkage, inference, or leaks that need rows paired; docs/spark-verify.md).")
@click.option("--force", is_flag=True, help="Replace a --report or --html file that veil did not write.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
def verify(original: Path, copy: Path, profile_path: Path, report_path: Path | None, html_path: Path | None,
           fail_on: str | None, dialect: str | None, delimiter: str | None, engine: str, force: bool,
           quiet: bool) -> None:
    """Check that COPY (the output of veil run on ORIGINAL) is safe and useful.

    Leaks: no original value of a transformed column left anywhere in the copy
    (its column, another column or table, inside free text). Risk: k-anonymity,
    l-diversity, prosecutor risk and a linkage attack over each table's
    privacy quasi-identifiers. Utility: per-column distances, foreign keys and
    join cardinalities before and after. Integrity: tables, columns, rows, and
    every foreign key of the copy resolves. One streaming pass over each side;
    the reports hold counts, shares, distances and names, never a value.

    \b
    Examples:
      veil verify prod.sql out.sql --profile shop.yaml
      veil verify samples/shop out/shop -p profiles/shop.yaml --html verify.html --fail-on 'k<5,leaks>0'
      veil verify in/ out/ -p p.yaml --json - --quiet | jq .risk.summary
      veil verify lake/ safe/ -p p.yaml --engine spark --report verify.json
    """
    from ..verify import default_checks
    from ..verify.gates import default_gates, judged, parse_gates
    from ..verify.runner import refuse_same, verify_paths

    gates = parse_gates(fail_on) if fail_on is not None else None
    if engine == "spark" and html_path is not None:
        raise UsageError("--html needs the local engine's sections (linkage, inference, paired leaks)",
                         hint="write --report with --engine spark, or run without it for the HTML page")
    if str(report_path) == "-" and str(html_path) == "-":
        raise UsageError("--report and --html cannot both be '-' (standard output)",
                         hint="write one of them to a file")
    paths = check_targets([
        Target("--report", report_path, kind="verify-report", recognise=looks_like_verify_report),
        Target("--html", html_path, kind="verify-html", recognise=never),
    ], reads={"the original": original, "the copy": copy, "the profile": profile_path}, force=force,
        input_error=False)
    refuse_same(original, copy)
    profile = load_profile(profile_path)
    started = time.monotonic()
    if engine == "spark":  # veil.spark.verify: the report with its gates, from Spark aggregations
        from ..spark.run import session
        from ..spark.verify import verify as spark_verify

        report = spark_verify(original, copy, profile, fail_on=fail_on, spark=session(quiet=quiet))
        failed = [g for g in report["gates"] if g["failed"]]
    else:
        progress = Progress(quiet=quiet)
        try:
            report = verify_paths(original, copy, profile, default_checks(), dialect=dialect, delimiter=delimiter,
                                  progress=progress.step)
        finally:
            progress.finish()
        report = judged(report, gates if gates is not None else default_gates(profile))
        failed = [g for g in report["gates"] if g["failed"]]
    text = json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"
    if report_path is not None:
        if str(report_path) == "-":
            click.echo(text, nl=False)
        else:
            write_atomic(paths["--report"], text.encode(), kind="verify-report")
    if html_path is not None:
        from ..verify.html import render_html

        if str(html_path) == "-":
            click.echo(render_html(report), nl=False)
        else:
            write_atomic(paths["--html"], render_html(report).encode(), kind="verify-html")
    if not quiet:
        _summary(report, failed, time.monotonic() - started)
    if failed:
        names = ", ".join(f"{g['gate']} ({_shown(g['value'])})" for g in failed)
        raise GateFailed(f"{len(failed)} gate{'s' if len(failed) > 1 else ''} failed: {names}",
                         hint="see the report's gates; change the profile (privacy, generalize) and run again")


def _shown(value) -> str:
    if value is None:
        return "not measured"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary(report: dict, failed: list[dict], seconds: float) -> None:
    """A readable summary for people on stderr, then the one line a CI log shows."""
    out = sys.stderr
    for g in report["gates"]:
        mark = "FAIL" if g["failed"] else ("pass" if g["measured"] else "skip")
        click.echo(f"  {mark:4}  {g['gate']:<28} value {_shown(g['value'])}", file=out)
    parts = []
    for section, metric in (("leaks", "leaks"), ("risk", "k"), ("risk", "risk"), ("risk", "linkage"),
                            ("utility", "utility"), ("integrity", "fk")):
        value = ((report.get(section) or {}).get("summary") or {}).get(metric)
        if value is not None:
            parts.append(f"{metric} {_shown(value)}")
    verdict = "FAIL" if failed else "PASS"
    click.echo(f"veil verify: {verdict}: {len(report['tables'])} tables; " + ", ".join(parts)
               + f" ({seconds:.1f}s)", file=out)
