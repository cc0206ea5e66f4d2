"""The four panels of the HTML report of ``veil verify`` (:mod:`veil.verify.html`): risk, leaks,
utility, integrity. Each takes its section of the JSON report and returns HTML.

Tolerant by design: a key may be missing or null (the check could not measure it, or an older
report lacks it) and then shows as a dash marked "not measured". Every string is escaped (``esc``),
every number formatted by :func:`~veil.verify.html_charts.number`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .html_charts import bar_chart, bin_labels, esc, number, paired_histogram, score_bar, seq
from .html_style import DATE_KINDS, edge_format

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
TILES = {"columns_checked": "Columns checked (the ones the profile changes or drops)",
         "columns_leaking": "Columns with a leak",
         "inference": "Kept columns that give a changed one back (inference flags)"}
SOURCES = {"population": "as the profile declares it (privacy.population)",
           "original": "the original's rows (the copy is a subset)"}
SHARE_KEYS = ("risk", "linkage", "utility", "fk", "highest", "average", "top_k_overlap", "null_share")


def d(value: Any) -> dict:
    """VALUE if it is a dict, else an empty one (a missing or null part of the report)."""
    return value if isinstance(value, dict) else {}


def get(table: dict, key: str) -> Any:
    """A per-table figure, from the table or its "summary"."""
    return table[key] if key in table else d(table.get("summary")).get(key)


def is_share(key: str) -> bool:
    return key.endswith("share") or key in SHARE_KEYS


def num(value: Any, share: bool = False, fmt: Callable[[Any], str] | None = None) -> str:
    """A number as a cell's HTML; a missing one as a dash marked "not measured"."""
    if value is None:
        return '<span class="na" title="not measured">—</span>'
    return esc(fmt(value) if fmt else number(value, share=share))


def names(value: Any) -> str:
    """A list of table/column names (or one name) as escaped text."""
    if isinstance(value, list | tuple):
        return ", ".join(esc(v) for v in value) or "—"
    return "—" if value is None else esc(value)


def yes(value: Any) -> str:
    return "—" if value is None else ("yes" if value else "NO")


def table(headers: list[str], rows: Iterable[tuple[list[str], dict[str, Any]]], cls: str = "") -> str:
    """An HTML table: headers are plain text, cells already HTML; a row's attrs become data-*
    attributes (``bad=True`` marks the row red instead)."""
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


def tiles(summary: dict, keys: list[str]) -> str:
    out = ['<div class="tiles">']
    for key in keys:
        if key not in summary and key not in METRICS:
            continue
        _, name, share = METRICS.get(key, ("", TILES.get(key, key), is_share(key)))
        out.append(f'<div class="tile" data-metric="{esc(key)}"><div class="v">{num(summary.get(key), share)}</div>'
                   f'<div class="k">{esc(name)}</div></div>')
    out.append("</div>")
    return "".join(out)


# -- risk -----------------------------------------------------------------------------------------

def risk(section: dict) -> str:
    out = [tiles(d(section.get("summary")), ["k", "risk", "linkage", "l", "unique_share", "inference"])]
    skipped = []
    for tname, t in d(section.get("tables")).items():
        t = d(t)
        if not t or ("privacy" in t and t["privacy"] is None and "k" not in t):
            skipped.append(tname)
            continue
        out.append(_risk_table(tname, t))
    if skipped:
        out.append(f'<p class="sub">Not assessed (no <code>privacy:</code> section in the profile): '
                   f'{names(skipped)}</p>')
    return "".join(out)


def _risk_table(tname: str, t: dict) -> str:
    target = d(t.get("privacy"))
    pros, link = d(t.get("prosecutor")), d(t.get("linkage"))
    paired = link.get("paired")
    out = [f'<div class="table-block" data-table="{esc(tname)}"><h3>Table <code>{esc(tname)}</code>'
           + (' <span class="flag">missing from the copy</span>' if t.get("missing") else "") + "</h3>"
           f'<p class="sub">Quasi-identifiers: {names(t.get("quasi_identifiers"))} · '
           f'sensitive: {names(t.get("sensitive"))}'
           + (f' · dropped from the copy: {names(t["quasi_identifiers_absent"])}'
              if t.get("quasi_identifiers_absent") else "")
           + (f' · target k = {num(target.get("k"))}' if target.get("k") is not None else "")
           + (f', ℓ = {num(target.get("l"))}' if target.get("l") is not None else "") + "</p>"]
    below_k = "the profile's k" if target.get("k") is None else f"k = {number(target['k'])}"
    facts = [
        ("Rows in the copy", num(get(t, "rows"))), ("Groups of look-alike rows", num(get(t, "classes"))),
        ("Smallest group (k)", num(get(t, "k"))),
        (f"Rows in groups smaller than {below_k}",
         f'{num(get(t, "rows_below_k"))} ({num(get(t, "share_below_k"), True)})'),
        ("Rows unique on their quasi-identifiers",
         (f'{num(t["unique_rows"])} (' if "unique_rows" in t else "(") + f'{num(get(t, "unique_share"), True)})'),
        ("Prosecutor risk: highest / average",
         f'{num(pros.get("highest"), True)} / {num(pros.get("average"), True)}'
         + (f'<br><span class="sub">{num(pros["rows_at_highest"])} rows at the highest</span>'
            if pros.get("rows_at_highest") is not None else "")),
    ]
    journalist = t.get("journalist")
    if isinstance(journalist, dict):
        facts.append(("Journalist risk: highest / average",
                      f'{num(journalist.get("highest"), True)} / {num(journalist.get("average"), True)}'
                      f'<br><span class="sub">population: {num(journalist.get("population"))} people, '
                      f'{esc(SOURCES.get(str(journalist.get("source")), journalist.get("source") or "?"))}</span>'))
    facts.append(("Linkage attack: copy rows re-identified uniquely and correctly",
                  f'{num(link.get("reidentified"))} ({num(link.get("share"), True)})'
                  + ("" if paired is None else " — rows paired" if paired else " — an upper bound (rows not paired)")
                  + f'<br><span class="sub">the attacker joins on: {names(link.get("attacker_columns"))}'
                  + (f'; cannot reproduce: {names(link["left_out"])}' if link.get("left_out") else "")
                  + "</span>"))
    out.append(table(["Measure", "Value"], ((list(f), {}) for f in facts), "facts"))
    ldiv, lent, below_l = d(t.get("l_diversity")), d(t.get("l_entropy")), d(t.get("rows_below_l"))
    if ldiv:
        out.append("<h4>ℓ-diversity: how many different sensitive values each group holds (fewest)</h4>" + table(
            ["Sensitive column", "ℓ (distinct)", "ℓ (entropy)", "Rows in groups below the target ℓ"],
            (([f"<code>{esc(c)}</code>", num(v), num(lent.get(c)), num(below_l.get(c))],
              {"column": c}) for c, v in ldiv.items()), "ldiv"))
    flags = [d(f) for f in seq(t.get("inference"))]
    if flags:
        out.append("<h4>Inference: a kept column that gives a changed one back</h4>" + table(
            ["Kept column", "Gives back", "Score (1 = always)"],
            (([f"<code>{esc(f.get('kept'))}</code>", f"<code>{esc(f.get('transformed'))}</code>",
               num(f.get("score"))], {"inference": f.get("kept"), "bad": True}) for f in flags), "inference"))
    sizes = d(t.get("class_sizes"))
    rows = seq(sizes.get("rows"))
    if rows:
        edges = [e for e in seq(sizes.get("edges")) if isinstance(e, int | float) and not isinstance(e, bool)]
        k = target.get("k")
        # a bin wholly below the target k: every row in it sits in a group smaller than k
        alarm = [isinstance(k, int | float) and i + 1 < len(edges) and edges[i + 1] <= k for i in range(len(rows))]
        labels = bin_labels(sizes.get("edges"), len(rows), integer=True)
        out.append("<h4>How many rows sit in groups of each size (small groups are easy to single out)</h4>"
                   + bar_chart(labels, rows, title=f"Rows by size of their group of look-alike rows, table {tname}",
                               chart="class-sizes", alarm=alarm)
                   + (f'<p class="sub">Red: groups smaller than the target k = {esc(number(k))}.</p>'
                      if any(alarm) else ""))
    out.append("</div>")
    return "".join(out)


# -- leaks ----------------------------------------------------------------------------------------

LEAK_COLUMNS = [("checked", "Values checked"), ("kept_same_row", "Unchanged in place"),
                ("same_column", "In the same column"), ("elsewhere", "Elsewhere"), ("in_text", "Inside text"),
                ("expected_overlap", "Expected overlap")]
FOUND = ("kept_same_row", "same_column", "elsewhere", "in_text")
TREATMENT = {"strict": "keyed token: any match is a leak",
             "overlap": "may write values of the same domain: matches at other rows are expected",
             "coarsening": "a value may be its own coarse form",
             "free_text": "text rewritten in spans", "removed": "dropped or emptied"}


def _count(value: Any) -> int | float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def leaks(section: dict) -> str:
    out = [tiles(d(section.get("summary")), ["leaks", "leaked_share", "columns_checked", "columns_leaking"])]
    rows = []
    for tname, t in d(section.get("tables")).items():
        for cname, col in d(d(t).get("columns")).items():
            col = d(col)
            # a column's own count of leaks when the check gives it (expected overlaps are not leaks)
            found = col["leaks"] if "leaks" in col else sum(_count(col.get(k)) for k in FOUND)
            kind = col.get("treatment")
            how = (f'<br><span class="sub" title="{esc(TREATMENT.get(str(kind), kind))}">{esc(kind)}</span>'
                   if kind else "")
            rows.append(([f"<code>{esc(tname)}</code>", f"<code>{esc(cname)}</code>{how}",
                          *(num(col.get(k)) for k, _ in LEAK_COLUMNS), f"<b>{num(found)}</b>",
                          num(col.get("leaked_share", col.get("kept_share")), True), names(col.get("found_in"))],
                         {"table": tname, "column": cname, "leaks": number(found), "bad": _count(found) > 0}))
    out.append(table(["Table", "Column", *(h for _, h in LEAK_COLUMNS), "Leaks", "Leaked share", "Found in"],
                     rows, "leaks"))
    out.append('<p class="sub">Each count is a number of copy cells holding an original value of the column: '
               '"unchanged in place" at its own row, "in the same column" at another row, "elsewhere" as a whole '
               'cell of another column or table, "inside text" within a longer text. An expected overlap is a '
               'match the column\'s operator produces by design (a permuted id equals another row\'s id): '
               'not a leak.</p>')
    scanned = [(t, c, d(v)) for t, cols in d(section.get("scanned")).items() for c, v in d(cols).items()]
    hits = [(t, c, v) for t, c, v in scanned if _count(v.get("leaking_cells")) > 0]
    if hits:
        out.append("<h4>Copy columns holding leaked values</h4>" + table(
            ["Table", "Column", "Read as", "Cells", "Cells with a leak"],
            (([f"<code>{esc(t)}</code>", f"<code>{esc(c)}</code>", esc(v.get("as") or "—"), num(v.get("cells")),
               num(v.get("leaking_cells"))], {"table": t, "column": c, "bad": True}) for t, c, v in hits),
            "scanned"))
    return "".join(out)


# -- utility --------------------------------------------------------------------------------------

def _flat(side: dict) -> dict[str, Any]:
    """The scalars of a before/after summary, one level of nesting flattened ("length.mean")."""
    out: dict[str, Any] = {}
    for k, v in side.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items() if not isinstance(vv, dict | list)})
        elif not isinstance(v, list):
            out[k] = v
    return out


def _stat(key: str, value: Any, dates: Callable[[Any], str] | None) -> str:
    if dates is not None and (key == "mean" or key.startswith("quantiles.")):
        return num(value, fmt=dates)
    if dates is not None and key == "std" and isinstance(value, int | float):
        return esc(f"{number(value * getattr(dates, 'seconds', 1) / 86400)} days")
    return num(value, is_share(key))


def _histogram_card(tname: str, cname: str, col: dict, date_unit: Any) -> str:
    hist = d(col.get("histogram"))
    before, after = seq(hist.get("before")), seq(hist.get("after"))
    kind, of = str(col.get("kind") or ""), str(hist.get("of") or "")
    n = max(len(before), len(after))
    dates = edge_format(kind, hist.get("unit") or date_unit, hist.get("edges")) if kind in DATE_KINDS else None
    axis = None
    edges = seq(hist.get("edges"))
    if kind == "category" or "ranks" in hist or not edges:
        ranks = seq(hist.get("ranks")) or range(1, n + 1)
        labels = [f"rank {r}" for r in ranks]
        what = "shares of the most frequent values, by rank (no labels)"
    else:
        fmt = dates or number
        labels = bin_labels(edges, n, integer=of == "length" or kind == "text", fmt=fmt)
        if len(edges) == n + 1 and all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges):
            axis = (fmt(edges[0]), fmt(edges[-1]))
        what = {"length": "length of the text (characters)",
                "sample": "values, from a uniform sample"}.get(of, of or "values")
    chart = paired_histogram(labels, before, after, axis=axis,
                             title=f"Original and copy, {what}, column {tname}.{cname}")
    b, a = _flat(d(col.get("before"))), _flat(d(col.get("after")))
    stats = "".join(f"<tr><th>{esc(k)}</th><td>{_stat(k, b.get(k), dates)}</td><td>{_stat(k, a.get(k), dates)}</td>"
                    "</tr>" for k in dict.fromkeys([*b, *a]))
    return (f'<figure class="hist" data-table="{esc(tname)}" data-column="{esc(cname)}">{chart}'
            f'<figcaption><code>{esc(tname)}.{esc(cname)}</code> · {esc(kind or "?")} · {esc(what)}</figcaption>'
            + (f'<details><summary>figures, original and copy</summary><table class="stats"><thead><tr><th></th>'
               f'<th>original</th><th>copy</th></tr></thead><tbody>{stats}</tbody></table></details>'
               if stats else "") + "</figure>")


def utility(section: dict) -> str:
    out = [tiles(d(section.get("summary")), ["utility"])]
    date_unit = d(section.get("method")).get("date_unit")
    for tname, t in d(section.get("tables")).items():
        t = d(t)
        score = t.get("score", get(t, "utility"))
        out.append(f'<div class="table-block" data-table="{esc(tname)}"><h3>Table <code>{esc(tname)}</code> — '
                   f'score {num(score)} {score_bar(score, title=f"utility score of table {tname}")}</h3>')
        cols = {str(c): d(v) for c, v in d(t.get("columns")).items()}
        rows = []
        for cname, col in cols.items():
            b, a = d(col.get("before")), d(col.get("after"))
            dist, scored = col.get("distance"), col.get("scored")
            rows.append(([f"<code>{esc(cname)}</code>", esc(col.get("kind") or "—"), esc(col.get("role") or "—"),
                          num(dist) + (f' <span class="sub">{esc(col["distance_name"])}</span>'
                                       if col.get("distance_name") else "")
                          + (' <span class="sub">(not scored)</span>' if scored is False else ""),
                          num(col.get("top_k_overlap"), True),
                          f'{num(b.get("null_share"), True)} → {num(a.get("null_share"), True)}',
                          f'{num(b.get("distinct"))} → {num(a.get("distinct"))}'],
                         {"column": cname, "distance": None if dist is None else number(dist),
                          "bad": isinstance(dist, int | float) and dist >= 0.5 and scored is not False}))
        out.append(table(["Column", "Kind", "Role", "Distance (0 = same, 1 = unrelated)", "Top-10 overlap", "Nulls",
                          "Distinct"], rows, "columns"))
        out.append(_utility_keys(tname, t))
        hists = [_histogram_card(tname, c, col, date_unit) for c, col in cols.items() if d(col.get("histogram"))]
        if hists:
            out.append('<h4>Distributions, original and copy</h4><div class="hists">' + "".join(hists) + "</div>")
        out.append("</div>")
    return "".join(out)


def _utility_keys(tname: str, t: dict) -> str:
    out = []
    fks = [d(f) for f in seq(t.get("foreign_keys"))]
    if fks:
        out.append("<h4>Foreign keys: references that resolve, and children per parent</h4>")
        out.append(table(["Columns", "References", "Resolved before", "Resolved after", "Distance"],
                         (([names(fk.get("columns")), esc(fk.get("references") or "—"),
                            num(fk.get("resolved_before"), True), num(fk.get("resolved_after"), True),
                            num(fk.get("distance"))], {"fk": fk.get("references")}) for fk in fks), "fks"))
        charts = []
        for fk in fks:
            cpp = d(fk.get("children_per_parent"))
            n = max(len(seq(cpp.get("before"))), len(seq(cpp.get("after"))))
            if n:
                charts.append(f'<figure class="hist" data-fk="{esc(fk.get("references"))}">' + paired_histogram(
                    bin_labels(cpp.get("edges"), n, integer=True), cpp.get("before"), cpp.get("after"),
                    chart="children-per-parent",
                    title=f"Children per parent, original and copy, {tname} → {fk.get('references')}")
                    + f'<figcaption>children per parent: <code>{esc(tname)}</code> '
                    f'({names(fk.get("columns"))}) → <code>{esc(fk.get("references"))}</code></figcaption></figure>')
        if charts:
            out.append('<div class="hists">' + "".join(charts) + "</div>")
    uks = [d(u) for u in seq(t.get("unique_keys"))]
    if uks:
        out.append("<h4>Unique keys: still unique?</h4>" + table(
            ["Columns", "Unique before", "Unique after", "Duplicates after"],
            (([names(u.get("columns")), esc(yes(u.get("unique_before"))), esc(yes(u.get("unique_after"))),
               num(u.get("duplicates_after"))], {"bad": u.get("unique_after") is False}) for u in uks), "uks"))
    return "".join(out)


# -- integrity ------------------------------------------------------------------------------------

def integrity(section: dict) -> str:
    out = [tiles(d(section.get("summary")), ["fk", "missing_tables", "missing_columns", "row_count_changes"])]
    rows, fk_rows = [], []
    for tname, t in d(section.get("tables")).items():
        t = d(t)
        ro, rc = t.get("rows_original"), t.get("rows_copy")
        change = rc - ro if isinstance(ro, int) and isinstance(rc, int) else None
        kept = seq(t.get("not_dropped"))
        rows.append(([f"<code>{esc(tname)}</code>", esc(yes(t.get("in_copy"))), num(ro), num(rc),
                      "—" if change is None else esc(f"{change:+,}"), names(t.get("missing_columns")),
                      names(t.get("extra_columns")),
                      names(t.get("dropped_by_profile"))
                      + (f'<br><span class="flag">still in the copy: {names(kept)}</span>' if kept else "")],
                     {"table": tname,
                      "bad": t.get("in_copy") is False or bool(t.get("missing_columns")) or bool(kept)}))
        for fk in seq(t.get("foreign_keys")):
            fk = d(fk)
            unresolved = fk.get("unresolved")
            checked = fk.get("checked", True) is not False
            fk_rows.append(([f"<code>{esc(tname)}</code>", names(fk.get("columns")), esc(fk.get("references") or "—"),
                             num(fk.get("references_checked")) if checked else "not checked (a key column is gone)",
                             num(unresolved), num(fk.get("resolved_share"), True)],
                            {"table": tname, "fk": fk.get("references"),
                             "bad": isinstance(unresolved, int | float) and unresolved > 0}))
    out.append(table(["Table", "In the copy", "Rows (original)", "Rows (copy)", "Change", "Missing columns",
                      "Extra columns", "Dropped by the profile"], rows, "tables"))
    out.append("<h4>Foreign keys of the copy: does every reference find its parent?</h4>")
    out.append(table(["Table", "Columns", "References", "References checked", "Unresolved", "Resolved"],
                     fk_rows, "fks"))
    return "".join(out)


PANELS: dict[str, Callable[[dict], str]] = {"risk": risk, "leaks": leaks, "utility": utility,
                                            "integrity": integrity}
