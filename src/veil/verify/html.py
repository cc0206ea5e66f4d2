"""The HTML report of ``veil verify``: one self-contained page a privacy officer can read.

:func:`render_html` turns the JSON report (the dict ``veil verify --report`` writes) into a page,
and reads nothing else: the page can hold nothing the JSON does not, so nothing of the data but
table and column names and the numbers the checks report. Every string of the report is escaped
(table and column names come from the data's schema). The page has no script, no external file
and no URL: inline CSS, SVG charts drawn in Python (:mod:`veil.verify.html_charts`), and a
Content-Security-Policy that forbids every fetch, so a browser opening it offline shows it whole.

The page: a verdict banner (PASS/FAIL and the gates that failed), one card per gate with a
traffic light (``data-gate``, ``data-table``, ``data-verdict``), then four panels, each with a
plain-language heading and a one-line explanation: re-identification risk (k, unique rows,
prosecutor risk, linkage, ℓ-diversity, inference flags, class-size chart), leaks (one row per
checked column), utility (score per table, distance per column, before/after histograms) and
integrity (tables, columns, row counts, foreign keys). A section missing from the report, or a
key missing from a section, shows as "not measured", never as an error.

``python -m veil.verify.html render verify.json verify.html`` re-renders a saved report;
``python -m veil.verify.html screenshot verify.html verify.png`` photographs one (headless
Chromium through playwright).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .html_charts import esc, gauge, number, seq
from .html_panels import METRICS, PANELS, d, names, num
from .html_style import CSP, CSS

SECTIONS = [
    ("risk", "Re-identification risk",
     "Could someone single out a person from the columns an attacker may already know (the quasi-identifiers)?"),
    ("leaks", "Leaks",
     "Do original values of the columns the profile changes still appear anywhere in the copy?"),
    ("utility", "Utility",
     "Is the copy still statistically like the original, so tests and models trained on it stay meaningful?"),
    ("integrity", "Integrity and foreign keys",
     "Are all tables, columns and rows there, and do references between tables still resolve?"),
]


def _state(gate: dict) -> str:
    """"pass", "fail" or "unmeasured" (not measured and not failed: a default gate skipped). A gate
    the user asked for fails when unmeasured ("failed" with no value): it shows as a failure."""
    if gate.get("failed"):
        return "fail"
    measured = gate.get("measured", gate.get("value") is not None)
    return "pass" if measured else "unmeasured"


def _gate_text(gate: dict) -> str:
    if gate.get("gate"):
        return str(gate["gate"])
    where = f"{gate['table']}." if gate.get("table") is not None else ""
    return f"{where}{gate.get('metric', '?')}{gate.get('op', '?')}{number(gate.get('threshold'))}"


def _measured(gate: dict) -> str:
    return "not measured" if gate.get("value") is None else f"measured {number(gate.get('value'))}"


def _banner(report: dict, gates: list[dict]) -> str:
    failed = [g for g in gates if _state(g) == "fail"]
    verdict = str(report.get("verdict") or ("fail" if failed else "pass")).lower()
    if verdict not in ("pass", "fail"):
        verdict = "unknown"
    if failed:
        detail = (f"{len(failed)} of {len(gates)} gates failed: "
                  + "; ".join(f"{_gate_text(g)} ({_measured(g)})" for g in failed))
    elif gates:
        detail = f"All {len(gates)} gates passed." if all(_state(g) == "pass" for g in gates) else \
            f"No gate failed ({sum(_state(g) == 'pass' for g in gates)} of {len(gates)} passed, the others unmeasured)."
    else:
        detail = "No gate was set (--fail-on): the figures below are for reading, nothing was judged."
    paired = report.get("paired")
    return (f'<header class="banner {verdict}" id="verdict" data-verdict="{verdict}"><h1>{verdict.upper()}</h1>'
            f'<p>{esc(detail)}</p><p class="sub">veil verify · report version {esc(report.get("version", "?"))} · '
            f'{len(seq(report.get("tables")))} tables'
            + ("" if paired is None else " · copy rows paired with the original rows: " + ("yes" if paired else "no"))
            + "</p></header>")


def _gates(gates: list[dict]) -> str:
    out = ['<section id="gates" data-section="gates"><h2>Gates</h2>'
           '<p class="why">The thresholds this copy was checked against (<code>--fail-on</code>, or the defaults): '
           'green passed, red failed, grey not measured. The black tick marks the threshold.</p>'
           '<div class="gates">']
    for g in gates:
        metric = str(g.get("metric", "?"))
        _, name, share = METRICS.get(metric, ("", metric, False))
        state = _state(g)
        table = g.get("table")
        table_attr = "" if table is None else f' data-table="{esc(table)}"'
        why = " (a gate asked for fails when it cannot be measured)" if state == "fail" and g.get("value") is None \
            else ""
        out.append(f'<div class="gate {state}" data-gate="{esc(metric)}" data-verdict="{state}"{table_attr}>'
                   + gauge(g.get("value"), g.get("threshold"), share=share,
                           failed=None if state == "unmeasured" else state == "fail",
                           title=f"{state}: {_gate_text(g)}, {_measured(g)}")
                   + f'<div><b>{state.upper()}</b> {esc(name)}'
                   f'{"" if table is None else f" — table <code>{esc(table)}</code>"}<br>'
                   f'<span class="sub">fails when <code>{esc(_gate_text(g))}</code>; '
                   + ("not measured" if g.get("value") is None else f'measured {num(g.get("value"), share)}')
                   + f'{esc(why)}</span></div></div>')
    if not gates:
        out.append('<p class="na">No gate was set.</p>')
    out.append("</div></section>")
    return "".join(out)


def render_html(report: dict) -> str:
    """The HTML page of a ``veil verify`` report (the JSON dict), self-contained and offline."""
    report = d(report)
    gates = [d(g) for g in seq(report.get("gates"))]
    verdict = str(report.get("verdict") or "").upper() or "REPORT"
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>veil verify — {esc(verdict)}</title><style>{CSS}</style></head><body>",
             _banner(report, gates),
             '<nav><a href="#gates">Gates</a>' + "".join(f'<a href="#{key}">{esc(title)}</a>'
                                                         for key, title, _ in SECTIONS) + "</nav><main>",
             _gates(gates)]
    for key, title, why in SECTIONS:
        section = report.get(key)
        failed = [g for g in gates if METRICS.get(str(g.get("metric")), ("",))[0] == key and _state(g) == "fail"]
        state = "absent" if not isinstance(section, dict) else ("fail" if failed else "ok")
        parts.append(f'<section id="{key}" data-section="{key}" data-state="{state}"><h2>{esc(title)}</h2>'
                     f'<p class="why">{esc(why)}</p>')
        parts.append('<p class="na">Not measured in this report.</p>' if state == "absent"
                     else PANELS[key](section))
        if key == "integrity" and report.get("extra_tables"):
            parts.append(f'<p class="sub">Tables in the copy that the original lacks: '
                         f'{names(report["extra_tables"])}</p>')
        parts.append("</section>")
    seconds = d(report.get("seconds"))
    parts.append('</main><footer>Drawn from the JSON report only: table and column names and figures, never a '
                 'value of the data.' + (" Time: " + ", ".join(f"{esc(k)} {esc(number(v))} s"
                                                               for k, v in seconds.items()) if seconds else "")
                 + "</footer></body></html>")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    """``render REPORT.json OUT.html`` or ``screenshot PAGE.html OUT.png [WIDTH]``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 3 and args[0] == "render":
        from ..output import write_atomic

        report = json.loads(Path(args[1]).read_text(encoding="utf-8"))
        write_atomic(Path(args[2]), render_html(report).encode("utf-8"), kind="verify-html")
        return 0
    if len(args) >= 3 and args[0] == "screenshot":
        from .html_style import screenshot

        screenshot(Path(args[1]), Path(args[2]), width=int(args[3]) if len(args) > 3 else 1200)
        return 0
    print("usage: python -m veil.verify.html render REPORT.json OUT.html\n"
          "       python -m veil.verify.html screenshot PAGE.html OUT.png [WIDTH]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
