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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .html_charts import bar_chart, bin_labels, esc, gauge, number, paired_histogram, score_bar
from .html_style import CSP, CSS, edge_format

# metric -> (section, plain-language name, drawn as a share in [0, 1])
METRICS: dict[str, tuple[str, str, bool]] = {
    "leaks": ("leaks", "Original values found in the copy", False),
    "leaked_share": ("leaks", "Share of checked original values found in the copy", True),
    "k": ("risk", "Smallest group of look-alike rows (k)", False),
    "risk": ("risk", "Highest chance to re-identify a row (prosecutor risk)", True),
    "linkage": ("risk", "Copy rows re-identified by linking them to the original", True),
    "l": ("risk", "Fewest distinct sensitive values in a group (ℓ)", False),
    "unique_share": ("risk", "Rows unique on their quasi-identifiers", True),
    "utility": ("utility", "Lowest table utility score (1 = same distributions)", True),
    "fk": ("integrity", "Lowest share of references that still resolve", True),
    "missing_tables": ("integrity", "Tables missing from the copy", False),
    "missing_columns": ("integrity", "Columns missing from the copy", False),
    "row_count_changes": ("integrity", "Tables whose row count changed", False),
}
TILES = {"columns_checked": "Columns checked (the ones the profile changes or drops)"}
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


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _get(table: dict, key: str) -> Any:
    """A per-table figure, from the table or its "summary"."""
    return table[key] if key in table else _d(table.get("summary")).get(key)


def _columns(table: dict) -> dict[str, dict]:
    cols = table.get("columns")
    if isinstance(cols, dict):
        return {str(k): _d(v) for k, v in cols.items()}
    return {}


def _is_share(key: str) -> bool:
    return key.endswith("share") or key in ("risk", "linkage", "utility", "fk", "score", "distance", "highest",
                                             "average", "top_k_overlap")


def _num(value: Any, share: bool = False) -> str:
    """A number as a table cell's text; a missing one as a dash marked "not measured"."""
    if value is None:
        return '<span class="na" title="not measured">—</span>'
    return esc(number(value, share=share))


def _names(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(esc(v) for v in value) or "—"
    return "—" if value is None else esc(value)


def _table(headers: list[str], rows: Iterable[tuple[list[str], dict[str, Any]]], cls: str = "") -> str:
    """An HTML table: headers are plain text, cells already HTML; a row's attrs become data-*."""
    out = [f'<table class="{esc(cls)}"><thead><tr>', *(f"<th>{esc(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    n = 0
    for cells, attrs in rows:
        n += 1
        bad = attrs.pop("bad", False)
        at = "".join(f' data-{k}="{esc(v)}"' for k, v in attrs.items() if v is not None)
        cls_attr = ' class="bad"' if bad else ""
        out.append(f"<tr{cls_attr}{at}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not n:
        out.append(f'<tr><td colspan="{len(headers)}" class="na">nothing to show</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _tiles(summary: dict, keys: list[str]) -> str:
    out = ['<div class="tiles">']
    for key in keys:
        section, name, share = METRICS.get(key, ("", TILES.get(key, key), _is_share(key)))
        out.append(f'<div class="tile" data-metric="{esc(key)}"><div class="v">{_num(summary.get(key), share)}</div>'
                   f'<div class="k">{esc(name)}</div></div>')
    out.append("</div>")
    return "".join(out)


def _gate_failed(gate: dict) -> bool | None:
    if gate.get("value") is None and not gate.get("failed"):
        return None  # not measured
    return bool(gate.get("failed"))


def _gate_text(gate: dict) -> str:
    metric = str(gate.get("metric", "?"))
    where = f" on table {gate['table']}" if gate.get("table") is not None else ""
    return f"{metric} {gate.get('op', '?')} {number(gate.get('threshold'))}{where}"


def _banner(report: dict, gates: list[dict]) -> str:
    failed = [g for g in gates if _gate_failed(g)]
    verdict = str(report.get("verdict") or ("fail" if failed else "pass")).lower()
    if verdict not in ("pass", "fail"):
        verdict = "unknown"
    if failed:
        detail = (f"{len(failed)} of {len(gates)} gates failed: "
                  + "; ".join(f"{_gate_text(g)} (measured {number(g.get('value'))})" for g in failed))
    elif gates:
        detail = f"All {len(gates)} gates passed."
    else:
        detail = "No gate was set (--fail-on): the figures below are for reading, nothing was judged."
    return (f'<header class="banner {verdict}" id="verdict" data-verdict="{verdict}"><h1>{verdict.upper()}</h1>'
            f'<p>{esc(detail)}</p><p class="sub">veil verify · report version {esc(report.get("version", "?"))} · '
            f'{len(report.get("tables") or [])} tables</p></header>')


def _gates(gates: list[dict]) -> str:
    out = ['<section id="gates" data-section="gates"><h2>Gates</h2>'
           '<p class="why">The thresholds this copy was checked against (<code>--fail-on</code>): '
           'green passed, red failed, grey could not be measured. The black tick marks the threshold.</p>'
           '<div class="gates">']
    for g in gates:
        metric = str(g.get("metric", "?"))
        _, name, share = METRICS.get(metric, ("", metric, False))
        failed = _gate_failed(g)
        verdict = "unmeasured" if failed is None else ("fail" if failed else "pass")
        text = _gate_text(g)
        table = g.get("table")
        table_attr = "" if table is None else f' data-table="{esc(table)}"'
        out.append(f'<div class="gate {verdict}" data-gate="{esc(metric)}" data-verdict="{verdict}"{table_attr}>'
                   + gauge(g.get("value"), g.get("threshold"), failed=failed, share=share,
                           title=f"{verdict}: {text}, measured {number(g.get('value'))}")
                   + f'<div><b>{verdict.upper()}</b> {esc(name)}'
                   f'{"" if table is None else f" — table <code>{esc(table)}</code>"}<br>'
                   f'<span class="sub">fails when {esc(metric)} {esc(g.get("op", "?"))} '
                   f'{esc(number(g.get("threshold"), share=share))}; measured '
                   f'{_num(g.get("value"), share)}</span></div></div>')
    if not gates:
        out.append('<p class="na">No gate was set.</p>')
    out.append("</div></section>")
    return "".join(out)


# -- panels -----------------------------------------------------------------------------------------

def _risk(section: dict) -> str:
    out = [_tiles(_d(section.get("summary")), ["k", "risk", "linkage", "l", "unique_share"])]
    skipped = []
    for tname, table in _d(section.get("tables")).items():
        table = _d(table)
        if not table or ("privacy" in table and table["privacy"] is None and "k" not in table):
            skipped.append(tname)
            continue
        pros, link = _d(table.get("prosecutor")), _d(table.get("linkage"))
        paired = link.get("paired")
        out.append(f'<div class="table-block" data-table="{esc(tname)}"><h3>Table <code>{esc(tname)}</code></h3>'
                   f'<p class="sub">Quasi-identifiers: {_names(table.get("quasi_identifiers"))} · '
                   f'sensitive: {_names(table.get("sensitive"))}</p>')
        facts = [
            ("Rows", _num(_get(table, "rows"))), ("Groups of look-alike rows", _num(_get(table, "classes"))),
            ("Smallest group (k)", _num(_get(table, "k"))),
            ("Rows in groups smaller than the profile's k", _num(_get(table, "rows_below_k"))
             + f' ({_num(_get(table, "share_below_k"), True)})'),
            ("Rows unique on their quasi-identifiers", _num(_get(table, "unique_share"), True)),
            ("Prosecutor risk: highest / average", f'{_num(pros.get("highest"), True)} / '
             f'{_num(pros.get("average"), True)}'),
        ]
        journalist = table.get("journalist")
        if isinstance(journalist, dict):
            facts.append(("Journalist risk (against the population)", " · ".join(
                f"{esc(k)} {_num(v, _is_share(k) or k in ('highest', 'average'))}"
                for k, v in journalist.items() if not isinstance(v, dict | list))))
        facts.append(("Linkage attack: rows re-identified uniquely and correctly",
                      f'{_num(link.get("reidentified"))} ({_num(link.get("share"), True)})'
                      + ("" if paired is None else " — rows paired" if paired else " — upper bound (rows not paired)")
                      + f'<br><span class="sub">attacker joins on: {_names(link.get("attacker_columns"))}</span>'))
        out.append(_table(["Measure", "Value"], ((list(f), {}) for f in facts), "facts"))
        ldiv = _d(table.get("l_diversity"))
        if ldiv:
            out.append("<h4>ℓ-diversity: fewest distinct sensitive values in a group</h4>"
                       + _table(["Sensitive column", "ℓ"], (([f"<code>{esc(c)}</code>", _num(v)], {"column": c})
                                                            for c, v in ldiv.items()), "ldiv"))
        flags = [_d(f) for f in table.get("inference") or []]
        if flags:
            out.append("<h4>Inference: a kept column that gives a changed one back</h4>" + _table(
                ["Kept column", "Gives back", "Score"],
                (([f"<code>{esc(f.get('kept'))}</code>", f"<code>{esc(f.get('transformed'))}</code>",
                   _num(f.get("score"))], {"inference": f.get("kept"), "bad": True}) for f in flags), "inference"))
        sizes = _d(table.get("class_sizes"))
        rows = sizes.get("rows") or []
        if rows:
            labels = bin_labels(sizes.get("edges"), len(rows), integer=True)
            out.append("<h4>How many rows sit in groups of each size</h4>"
                       + bar_chart(labels, rows, title=f"Rows by size of their group of look-alike rows, table {tname}",
                                   chart="class-sizes"))
        out.append("</div>")
    if skipped:
        out.append(f'<p class="sub">Not assessed (no <code>privacy:</code> section in the profile): '
                   f'{_names(skipped)}</p>')
    return "".join(out)


LEAK_COLUMNS = [("checked", "Values checked"), ("distinct", "Distinct"), ("kept_same_row", "Unchanged in place"),
                ("same_column", "In the same column"), ("elsewhere", "Elsewhere"), ("in_text", "Inside text")]


def _leaks(section: dict) -> str:
    out = [_tiles(_d(section.get("summary")), ["leaks", "leaked_share", "columns_checked"])]
    rows = []
    for tname, table in _d(section.get("tables")).items():
        for cname, col in _columns(_d(table)).items():
            found = sum(v for k in ("kept_same_row", "same_column", "elsewhere", "in_text")
                        if isinstance(v := col.get(k), int | float))
            rows.append(([f"<code>{esc(tname)}</code>", f"<code>{esc(cname)}</code>",
                          *(_num(col.get(k)) for k, _ in LEAK_COLUMNS), _num(col.get("kept_share"), True),
                          _names(col.get("found_in"))],
                         {"table": tname, "column": cname, "leaks": number(found), "bad": found > 0}))
    out.append(_table(["Table", "Column", *(h for _, h in LEAK_COLUMNS), "Kept share", "Found in"], rows, "leaks"))
    out.append('<p class="sub">A count is a number of copy cells holding an original value of the column; '
               '"elsewhere" is another column or table.</p>')
    return "".join(out)


def _stats(before: dict, after: dict) -> str:
    keys = [k for k in dict.fromkeys([*before, *after])
            if not isinstance(before.get(k, after.get(k)), dict | list)]
    return "".join(f"<tr><th>{esc(k)}</th><td>{_num(before.get(k), _is_share(k)) if k in before else '—'}</td>"
                   f"<td>{_num(after.get(k), _is_share(k)) if k in after else '—'}</td></tr>" for k in keys)


def _histogram_card(tname: str, cname: str, col: dict) -> str:
    hist = _d(col.get("histogram"))
    before, after = hist.get("before") or [], hist.get("after") or []
    kind = str(col.get("kind") or "")
    n = max(len(before), len(after))
    if kind == "category" or not hist.get("edges"):
        labels, what = [f"rank {i + 1}" for i in range(n)], "frequencies of the most frequent values, by rank"
        axis = None
    else:
        fmt = edge_format(kind, hist)
        labels = bin_labels(hist.get("edges"), n, integer=kind == "text", fmt=fmt)
        edges = hist["edges"]
        axis = (fmt(edges[0]), fmt(edges[-1])) if len(edges) == n + 1 else None
        what = "length of the text (characters)" if kind == "text" else "values"
    what = str(hist.get("of") or what)
    chart = paired_histogram(labels, before, after, axis=axis,
                             title=f"Original and copy, {what}, column {tname}.{cname}")
    b, a = _d(col.get("before")), _d(col.get("after"))
    return (f'<figure class="hist" data-table="{esc(tname)}" data-column="{esc(cname)}">{chart}'
            f'<figcaption><code>{esc(tname)}.{esc(cname)}</code> · {esc(kind or "?")} · {esc(what)}</figcaption>'
            + (f'<table class="stats"><thead><tr><th></th><th>original</th><th>copy</th></tr></thead>'
               f'<tbody>{_stats(b, a)}</tbody></table>' if b or a else "") + "</figure>")


def _utility(section: dict) -> str:
    out = [_tiles(_d(section.get("summary")), ["utility"])]
    for tname, table in _d(section.get("tables")).items():
        table = _d(table)
        score = table.get("score", _get(table, "utility"))
        out.append(f'<div class="table-block" data-table="{esc(tname)}"><h3>Table <code>{esc(tname)}</code> — '
                   f'score {_num(score)} {score_bar(score, title=f"utility score of table {tname}")}</h3>')
        cols = _columns(table)
        rows = []
        for cname, col in cols.items():
            b, a = _d(col.get("before")), _d(col.get("after"))
            dist = col.get("distance")
            rows.append(([f"<code>{esc(cname)}</code>", esc(col.get("kind") or "—"),
                          _num(dist) + (f' <span class="sub">{esc(col["distance_name"])}</span>'
                                        if col.get("distance_name") else ""),
                          _num(col.get("top_k_overlap"), True),
                          f'{_num(b.get("null_share"), True)} → {_num(a.get("null_share"), True)}',
                          f'{_num(b.get("distinct"))} → {_num(a.get("distinct"))}'],
                         {"column": cname, "distance": None if dist is None else number(dist)}))
        out.append(_table(["Column", "Kind", "Distance (0 = same)", "Top-10 overlap", "Nulls", "Distinct"], rows,
                          "columns"))
        fks = [_d(f) for f in table.get("foreign_keys") or []]
        if fks:
            out.append("<h4>Foreign keys: references that resolve, children per parent</h4>")
            for fk in fks:
                cpp = _d(fk.get("children_per_parent"))
                n = max(len(cpp.get("before") or []), len(cpp.get("after") or []))
                out.append(_table(["Columns", "References", "Resolved before", "Resolved after", "Distance"],
                                  [([_names(fk.get("columns")), esc(fk.get("references") or "—"),
                                     _num(fk.get("resolved_before"), True), _num(fk.get("resolved_after"), True),
                                     _num(fk.get("distance"))], {"fk": fk.get("references")})], "fks"))
                if n:
                    out.append(paired_histogram(bin_labels(cpp.get("edges"), n, integer=True), cpp.get("before"),
                                                cpp.get("after"), chart="children-per-parent",
                                                title=f"Children per parent, original and copy, {tname} → "
                                                      f"{fk.get('references')}"))
        uks = [_d(u) for u in table.get("unique_keys") or []]
        if uks:
            out.append("<h4>Unique keys: still unique?</h4>" + _table(
                ["Columns", "Unique before", "Unique after", "Duplicates after"],
                (([_names(u.get("columns")), esc(_yes(u.get("unique_before"))), esc(_yes(u.get("unique_after"))),
                   _num(u.get("duplicates_after"))], {"bad": u.get("unique_after") is False}) for u in uks), "uks"))
        hists = [_histogram_card(tname, c, col) for c, col in cols.items() if _d(col.get("histogram"))]
        if hists:
            out.append('<h4>Distributions, original and copy</h4><div class="hists">' + "".join(hists) + "</div>")
        out.append("</div>")
    return "".join(out)


def _yes(value: Any) -> str:
    return "—" if value is None else ("yes" if value else "NO")


def _integrity(section: dict) -> str:
    out = [_tiles(_d(section.get("summary")), ["fk", "missing_tables", "missing_columns", "row_count_changes"])]
    rows, fk_rows = [], []
    for tname, table in _d(section.get("tables")).items():
        table = _d(table)
        ro, rc = table.get("rows_original"), table.get("rows_copy")
        change = rc - ro if isinstance(ro, int) and isinstance(rc, int) else None
        rows.append(([f"<code>{esc(tname)}</code>", esc(_yes(table.get("in_copy"))), _num(ro), _num(rc),
                      "—" if change is None else esc(f"{change:+,}"), _names(table.get("missing_columns")),
                      _names(table.get("extra_columns")), _names(table.get("dropped_by_profile"))],
                     {"table": tname, "bad": table.get("in_copy") is False or bool(table.get("missing_columns"))}))
        for fk in table.get("foreign_keys") or []:
            fk = _d(fk)
            unresolved = fk.get("unresolved")
            fk_rows.append(([f"<code>{esc(tname)}</code>", _names(fk.get("columns")), esc(fk.get("references") or "—"),
                             _num(fk.get("references_checked")), _num(unresolved),
                             _num(fk.get("resolved_share"), True)],
                            {"table": tname, "fk": fk.get("references"),
                             "bad": isinstance(unresolved, int | float) and unresolved > 0}))
    out.append(_table(["Table", "In the copy", "Rows (original)", "Rows (copy)", "Change", "Missing columns",
                       "Extra columns", "Dropped by the profile"], rows, "tables"))
    out.append("<h4>Foreign keys of the copy: does every reference find its parent?</h4>")
    out.append(_table(["Table", "Columns", "References", "References checked", "Unresolved", "Resolved"],
                      fk_rows, "fks"))
    return "".join(out)


PANELS = {"risk": _risk, "leaks": _leaks, "utility": _utility, "integrity": _integrity}


def render_html(report: dict) -> str:
    """The HTML page of a ``veil verify`` report (the JSON dict), self-contained and offline."""
    report = _d(report)
    gates = [_d(g) for g in report.get("gates") or []]
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
        failed = [g for g in gates if METRICS.get(str(g.get("metric")), ("",))[0] == key and _gate_failed(g)]
        state = "absent" if not isinstance(section, dict) else ("fail" if failed else "ok")
        parts.append(f'<section id="{key}" data-section="{key}" data-state="{state}"><h2>{esc(title)}</h2>'
                     f'<p class="why">{esc(why)}</p>')
        parts.append('<p class="na">Not measured in this report.</p>' if state == "absent"
                     else PANELS[key](section))
        parts.append("</section>")
    seconds = _d(report.get("seconds"))
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
        write_atomic(Path(args[2]), render_html(report).encode("utf-8"), kind="report")
        return 0
    if len(args) >= 3 and args[0] == "screenshot":
        from .html_style import screenshot

        screenshot(Path(args[1]), Path(args[2]), width=int(args[3]) if len(args) > 3 else 1200)
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
