"""The HTML report of ``veil verify``: escaped, offline, and readable in a real browser.

The pure-Python tests check the markup; the browser tests open the page in headless Chromium
(Debian's package, driven by playwright with no browser download) and read the rendered DOM, the
console, the network log and a screenshot. Without Chromium or playwright they skip, unless
VEIL_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import copy
import os
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.verify.html import render_html
from veil.verify.html_style import CSP, chromium

T1 = "patients"
T2 = 'visits<script>alert("x")</script>'
COL_AMP = "zip&code"
COL_QUOTE = "o'brien\"col"
NAMES = [T2, COL_AMP, COL_QUOTE]
DAY0 = 1640995200  # 2022-01-01 in seconds since 1970 (the utility check's date unit)


def _report() -> dict:
    """A report as the runner assembles it: every section, one failing gate, passing ones, one
    gate that could not be measured, and names that need escaping."""
    hist_num = {"edges": [1950 + 2.5 * i for i in range(21)], "before": [i % 5 + 1 for i in range(20)],
                "after": [(i + 1) % 5 + 1 for i in range(20)]}
    return {
        "report": "veil-verify", "version": 1, "verdict": "fail",
        "gates": [  # as veil.verify.gates.evaluate writes them
            {"gate": "k<5", "metric": "k", "table": None, "op": "<", "threshold": 5.0, "value": 3,
             "measured": True, "failed": True},
            {"gate": "leaks>5", "metric": "leaks", "table": None, "op": ">", "threshold": 5.0, "value": 2,
             "measured": True, "failed": False},
            {"gate": f"{T2}.utility<0.8", "metric": "utility", "table": T2, "op": "<", "threshold": 0.8,
             "value": 0.93, "measured": True, "failed": False},
            {"gate": "linkage>0.2", "metric": "linkage", "table": None, "op": ">", "threshold": 0.2, "value": None,
             "measured": False, "failed": False},  # a default gate, skipped when unmeasured
            {"gate": "l<2", "metric": "l", "table": None, "op": "<", "threshold": 2.0, "value": None,
             "measured": False, "failed": True},  # asked for and unmeasured: fails
        ],
        "tables": [T1, T2],
        "risk": {
            "summary": {"k": 3, "risk": 0.333333, "linkage": 0.1, "l": 2, "unique_share": 0.0},
            "tables": {
                T1: {"summary": {"k": 3, "risk": 0.333333, "linkage": 0.1, "l": 2, "unique_share": 0.0},
                     "privacy": {"k": 5, "l": 2, "population": None, "max_suppression": None},
                     "quasi_identifiers": [COL_AMP, "birth_year"], "quasi_identifiers_absent": [],
                     "sensitive": ["diagnosis"], "rows": 20, "original_rows": 20, "missing": False,
                     "classes": 5, "k": 3, "rows_below_k": 3, "share_below_k": 0.15, "unique_rows": 0,
                     "unique_share": 0.0,
                     "class_sizes": {"edges": [1, 2, 3, 4, 5, 10, 20, 50, 100, 1000],
                                     "rows": [0, 0, 3, 4, 5, 8, 0, 0, 0, 0],
                                     "classes": [0, 0, 1, 1, 1, 2, 0, 0, 0, 0]},
                     "prosecutor": {"highest": 0.333333, "average": 0.25, "rows_at_highest": 3},
                     "journalist": None, "l_diversity": {"diagnosis": 2}, "l_entropy": {"diagnosis": 1.9},
                     "rows_below_l": {"diagnosis": 0},
                     "linkage": {"attacker_columns": ["birth_year"], "left_out": [COL_AMP], "reidentified": 2,
                                 "share": 0.1, "paired": True, "bound": None},
                     "inference": [{"kept": "age", "transformed": "birth_date", "score": 0.97}]},
                T2: {"privacy": None},
            },
        },
        "leaks": {
            "summary": {"leaks": 2, "leaked_share": 0.025, "columns_checked": 3, "values_checked": 80,
                        "columns_leaking": 1},
            "tables": {
                T1: {"summary": {"leaks": 2, "leaked_share": 0.05},
                     "columns": {
                         "name": {"treatment": "strict", "checked": 20, "distinct": 20, "compared": 20,
                                  "kept_same_row": 0, "expected_same_row": 0.0, "same_column": 0, "elsewhere": 0,
                                  "in_text": 2, "expected_overlap": 0, "leaks": 2, "kept_share": 0.0,
                                  "leaked_share": 0.1, "found_in": [f"{T2}.note"]},
                         # a permuted id equals other rows' ids by construction: an expected overlap, no leak
                         COL_AMP: {"treatment": "overlap", "checked": 20, "distinct": 12, "compared": 20,
                                   "kept_same_row": 0, "expected_same_row": 0.4, "same_column": 5, "elsewhere": 0,
                                   "in_text": 0, "expected_overlap": 5, "leaks": 0, "kept_share": 0.0,
                                   "leaked_share": 0.0, "found_in": []}}},
                T2: {"summary": {"leaks": 0, "leaked_share": 0.0},
                     "columns": {COL_QUOTE: {"treatment": "removed", "checked": 40, "distinct": 30, "compared": 0,
                                             "kept_same_row": 0, "same_column": 0, "elsewhere": 0, "in_text": 0,
                                             "expected_overlap": 0, "leaks": 0, "kept_share": None,
                                             "leaked_share": 0.0, "found_in": []}}},
            },
            "scanned": {T2: {"note": {"as": "kept", "cells": 40, "leaking_cells": 2},
                             "id": {"as": "kept", "cells": 40, "leaking_cells": 0}}},
            "rules": {"min_chars": 4, "min_digits": 9},
        },
        "utility": {
            "summary": {"utility": 0.93},
            "tables": {
                T1: {"summary": {"utility": 0.95}, "score": 0.95,
                     "columns": {
                         "birth_year": {"kind": "number", "role": "kept", "distance": 0.05, "distance_name": "ks",
                                        "scored": True,
                                        "before": {"type": "int64", "null_share": 0.0, "distinct": 15, "mean": 1975.2,
                                                   "std": 12.1, "quantiles": {"p01": 1950.0, "p50": 1975.0}},
                                        "after": {"type": "int64", "null_share": 0.0, "distinct": 15, "mean": 1975.9,
                                                  "std": 12.4, "quantiles": {"p01": 1951.0, "p50": 1976.0}},
                                        "histogram": hist_num},
                         "visit_date": {"kind": "date", "role": "transformed", "distance": 0.12,
                                        "distance_name": "ks", "scored": True,
                                        "before": {"null_share": 0.05, "distinct": 18, "mean": DAY0 + 60 * 86400},
                                        "after": {"null_share": 0.05, "distinct": 18, "mean": DAY0 + 61 * 86400},
                                        "histogram": {"edges": [DAY0 + 30 * 86400 * i for i in range(6)],
                                                      "before": [3, 4, 5, 4, 3], "after": [2, 5, 5, 4, 3],
                                                      "of": "sample"}},
                         "name": {"kind": "text", "role": "transformed", "distance": None, "scored": False,
                                  "before": {"null_share": 0.0, "distinct": 20, "length": {"mean": 11.2, "blank": 0}},
                                  "after": {"null_share": 0.0, "distinct": 20, "length": {"mean": 10.7, "blank": 0}},
                                  "histogram": {"of": "length", "edges": [0, 1, 2, 4, 8, 16, 32, "+"],
                                                "before": [0, 0, 0, 2, 10, 8, 0], "after": [0, 0, 0, 3, 9, 8, 0]}},
                         COL_AMP: {"kind": "category", "role": "kept", "distance": 0.1, "distance_name": "tvd",
                                   "scored": True, "top_k_overlap": 0.8,
                                   "before": {"null_share": 0.0, "distinct": 12},
                                   "after": {"null_share": 0.0, "distinct": 6},
                                   "histogram": {"ranks": list(range(1, 11)),
                                                 "before": [0.25, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.0],
                                                 "after": [0.4, 0.3, 0.15, 0.1, 0.05, 0, 0, 0, 0, 0]}}},
                     "foreign_keys": [],
                     "unique_keys": [{"columns": ["id"], "unique_before": True, "unique_after": True,
                                      "duplicates_after": 0}]},
                T2: {"summary": {"utility": 0.93}, "score": 0.93,
                     "columns": {COL_QUOTE: {"kind": "text", "distance": 0.07, "distance_name": "ks",
                                             "before": {"null_share": 0.1, "distinct": 30},
                                             "after": {"null_share": 0.1, "distinct": 30}}},
                     "foreign_keys": [{"columns": ["patient_id"], "references": "patients(id)",
                                       "resolved_before": 1.0, "resolved_after": 0.947368,
                                       "children_per_parent": {"edges": [0, 1, 2, 3, 5, 10, 20, 50, 100, "+"],
                                                               "before": [2, 6, 8, 4, 0, 0, 0, 0, 0],
                                                               "after": [3, 6, 7, 4, 0, 0, 0, 0, 0]},
                                       "distance": 0.05}],
                     "unique_keys": []},
            },
            "method": {"top_k": 10, "date_unit": "seconds since 1970-01-01 UTC"},
        },
        "integrity": {
            "summary": {"fk": 0.947368, "missing_tables": 0, "missing_columns": 1, "row_count_changes": 1},
            "tables": {
                T1: {"in_copy": True, "rows_original": 20, "rows_copy": 20, "missing_columns": [],
                     "extra_columns": [], "dropped_by_profile": ["ssn"], "not_dropped": [], "foreign_keys": []},
                T2: {"in_copy": True, "rows_original": 40, "rows_copy": 38, "missing_columns": [COL_QUOTE],
                     "extra_columns": [], "dropped_by_profile": [], "not_dropped": [],
                     "foreign_keys": [{"columns": ["patient_id"], "references": "patients(id)",
                                       "references_checked": 38, "unresolved": 2, "resolved_share": 0.947368,
                                       "checked": True, "parent_in_copy": True}]},
            },
        },
        "seconds": {"original": 0.41, "total": 0.83},
        "paired": True, "extra_tables": [],
    }


HISTOGRAMS = 4 + 1  # four columns of patients with a histogram, one children-per-parent chart


class _Tags(HTMLParser):
    """Every start tag with its attributes (unescaped by the parser, as a browser reads them)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


# -- markup, no browser -------------------------------------------------------------------------------

def test_every_name_is_escaped():
    page = render_html(_report())
    assert "<script" not in page and "</script>" not in page  # the table named <script>... is text
    assert 'alert("x")' not in page  # its quotes are escaped too
    assert "zip&code" not in page and "o'brien" not in page
    for name in NAMES:
        assert page.count(__import__("html").escape(name, quote=True)) >= 2, name
    tags = _tags(page)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "link", "img", "base")]
    # the parser reads the escaped attributes back as the exact names
    assert {a.get("data-table") for _, a in tags} >= {T1, T2}
    assert {a.get("data-column") for _, a in tags} >= {COL_AMP, COL_QUOTE}


def test_no_external_reference_and_a_strict_policy():
    page = render_html(_report())
    body = page.replace(CSP, "")  # the policy names the data: scheme, to allow nothing else
    assert not re.search(r"(https?|ftp|file|data|javascript):|//[a-z0-9]", body, re.I)  # no URL, not even xmlns
    assert "url(" not in page and "@import" not in page
    tags = _tags(page)
    assert not [a for _, a in tags if "src" in a or "srcset" in a or "action" in a]
    assert all(a["href"].startswith("#") for _, a in tags if "href" in a)
    policy = [a for t, a in tags if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert [p["content"] for p in policy] == [CSP]
    assert "default-src 'none'" in CSP and "script-src" not in CSP


def test_gates_and_verdict_in_the_markup():
    page = render_html(_report())
    tags = _tags(page)
    gates = [(a["data-gate"], a["data-verdict"], a.get("data-table")) for _, a in tags if "data-gate" in a]
    assert gates == [("k", "fail", None), ("leaks", "pass", None), ("utility", "pass", T2),
                     ("linkage", "unmeasured", None), ("l", "fail", None)]
    banner = next(a for t, a in tags if t == "header")
    assert banner["data-verdict"] == "fail"
    assert "2 of 5 gates failed: k&lt;5 (measured 3); l&lt;2 (not measured)" in page
    sections = {a["data-section"]: a.get("data-state") for t, a in tags if t == "section"}
    assert sections == {"gates": None, "risk": "fail", "leaks": "ok", "utility": "ok", "integrity": "ok"}


def test_passing_report_and_no_gates():
    report = _report()
    report["verdict"] = "pass"
    report["gates"] = [g for g in report["gates"] if not g["failed"]]
    page = render_html(report)
    assert 'data-verdict="pass"' in page and "No gate failed (2 of 3 passed, the others unmeasured)." in page
    report["gates"] = [g for g in report["gates"] if g["measured"]]
    assert "All 2 gates passed." in render_html(report)
    report["gates"] = []
    assert "No gate was set" in render_html(report)


def test_missing_sections_and_keys_render():
    """A section may be absent and any key missing or null: the page says "not measured"."""
    empty = render_html({})
    assert empty.count("Not measured in this report.") == 4 and "No gate was set" in empty
    report = _report()
    wrong = [None, float("nan"), True, "x<y>", [1, "a"], {"a": 1}]  # one of each kind a key should not hold
    paths = []  # every key at every depth under the sections and the gates

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*path, k))
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:1]):
                paths.append((*path, i))
                walk(v, (*path, i))

    for section in ("risk", "leaks", "utility", "integrity", "gates"):
        walk(report[section], (section,))
    for path in paths:
        for value in wrong:
            cut = copy.deepcopy(report)
            node = cut
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = value
            render_html(cut)
            if isinstance(node, dict):
                del node[path[-1]]
                render_html(cut)
    assert len(paths) > 200
    for section in ("risk", "leaks", "utility", "integrity"):
        cut = copy.deepcopy(report)
        cut[section] = {"summary": {}, "tables": {T1: {}}}
        assert "not measured" in render_html(cut)
    odd = _report()
    odd["risk"]["tables"][T1]["class_sizes"] = {"edges": None, "rows": [1, 2]}  # no edges: bins numbered
    odd["utility"]["tables"][T1]["columns"]["birth_year"]["histogram"] = {"edges": [0, 1], "before": [1, 2, 3]}
    odd["gates"].append({"metric": "future_metric", "op": ">", "threshold": 1, "value": float("nan"),
                         "failed": True})
    assert 'data-gate="future_metric"' in render_html(odd)


def _keys(report: dict) -> list[str]:
    out: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            out.update(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(report)
    return sorted(out)


_HOSTILE = st.sampled_from(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "&amp;", "+", ""])
_LEAF = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | _HOSTILE | st.text(
    max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_report_shape_renders_and_stays_inert(data):
    """Known keys holding wrong types, nulls, NaN, hostile strings: the page renders, and no
    string of the report becomes markup."""
    keys = st.sampled_from(_keys(_report())) | _HOSTILE
    tree = st.recursive(_LEAF, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=5),
                        max_leaves=40)
    report = copy.deepcopy(_report())
    for section in ("risk", "leaks", "utility", "integrity"):
        choice = data.draw(st.sampled_from(["keep", "fuzz-table", "fuzz"]))
        if choice == "fuzz":
            report[section] = data.draw(tree)
        elif choice == "fuzz-table":
            report[section]["tables"][T1] = data.draw(tree)
    if data.draw(st.booleans()):
        report["gates"] = data.draw(st.lists(st.dictionaries(keys, _LEAF, max_size=8), max_size=3))
    page = render_html(report)
    assert not [t for t, _ in _tags(page) if t in ("script", "img", "iframe", "object", "embed", "link")]


def test_charts_have_one_bar_per_bin():
    tags = _tags(render_html(_report()))
    svgs, current = {}, None
    for tag, attrs in tags:
        if tag == "svg":
            current = len(svgs)
            svgs[current] = (attrs.get("data-chart"), [])
        elif tag == "rect" and current is not None and "data-bin" in attrs:
            svgs[current][1].append(attrs)
    class_sizes = [bars for chart, bars in svgs.values() if chart == "class-sizes"]
    assert [len(b) for b in class_sizes] == [10]
    paired = [bars for chart, bars in svgs.values() if chart in ("histogram", "children-per-parent")]
    assert sorted(len(b) for b in paired) == sorted([40, 10, 14, 20, 18])
    for bars in paired:
        assert sum(a["data-series"] == "before" for a in bars) == sum(a["data-series"] == "after" for a in bars)


def test_shares_never_round_to_a_verdict():
    from veil.verify.html_charts import number

    assert [number(v, share=True) for v in (0, 1, 0.947368, 0.99996, 0.00004, 0.5)] == [
        "0.0 %", "100.0 %", "94.7 %", "99.996 %", "0.004 %", "50.0 %"]


def test_date_edges_read_as_dates():
    page = render_html(_report())
    assert "2022-01-01" in page and "2022-05-31" in page  # visit_date's first and last edges, in seconds
    assert "(not scored)" in page  # name: a column the utility score leaves out


# -- in a real browser ----------------------------------------------------------------------------

def _browser_or_skip():
    required = os.environ.get("VEIL_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("VEIL_REQUIRE_BROWSER=1 but playwright is not installed (pip install -e '.[dev]')")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    exe = chromium()
    if exe is None:
        if required:
            pytest.fail("VEIL_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return sync_playwright, exe


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The fixture report opened in headless Chromium: the DOM facts, console, errors, requests."""
    sync_playwright, exe = _browser_or_skip()
    folder = tmp_path_factory.mktemp("verify_html")
    page_file = folder / "verify.html"
    page_file.write_text(render_html(_report()), encoding="utf-8")
    png = folder / "verify.png"
    console, errors, requests, blocked = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})

            def route(r):
                if r.request.url == page_file.as_uri():
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            tab = context.new_page()
            tab.on("console", lambda m: console.append((m.type, m.text)))
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(page_file.as_uri(), wait_until="load")
            dom = tab.evaluate("""() => {
                const q = (s) => Array.from(document.querySelectorAll(s));
                const text = (e) => e ? e.textContent : null;
                return {
                  banner: text(document.querySelector('header.banner h1')),
                  bannerVerdict: document.querySelector('header.banner').dataset.verdict,
                  bannerText: text(document.querySelector('header.banner')),
                  gates: q('[data-gate]').map(e => [e.dataset.gate, e.dataset.verdict, e.dataset.table || null,
                                                    e.querySelector('svg title') ? 1 : 0]),
                  scripts: document.scripts.length,
                  classBars: q('#risk svg[data-chart="class-sizes"] rect[data-bin]').length,
                  classAlarms: q('#risk svg[data-chart="class-sizes"] rect[data-alarm]').map(r => +r.dataset.bin),
                  classBarHeights: q('#risk svg[data-chart="class-sizes"] rect[data-bin]')
                                     .map(r => r.getBoundingClientRect().height),
                  fkCharts: q('#utility figure[data-fk] svg[data-chart="children-per-parent"]').map(s =>
                              s.querySelectorAll('rect[data-bin]').length),
                  hists: q('#utility figure.hist[data-column]').map(f => [f.dataset.column,
                           f.querySelectorAll('rect[data-series="before"]').length,
                           f.querySelectorAll('rect[data-series="after"]').length]),
                  leakRows: q('#leaks table.leaks tbody tr').map(r => [r.dataset.table, r.dataset.column,
                              r.dataset.leaks, r.classList.contains('bad')]),
                  scannedRows: q('#leaks table.scanned tbody tr').map(r => [r.dataset.table, r.dataset.column]),
                  fkRows: q('#integrity table.fks tbody tr').map(r => Array.from(r.cells).map(c => c.innerText)),
                  tableNames: q('#integrity table.tables tbody tr').map(r => r.dataset.table),
                  svgWidths: q('svg.chart').map(s => s.getBoundingClientRect().width),
                  bodyText: document.body.innerText,
                };
            }""")
            tab.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    return {"dom": dom, "console": console, "errors": errors, "requests": requests, "blocked": blocked,
            "png": png, "uri": page_file.as_uri()}


def test_browser_shows_the_verdict_and_gates(rendered):
    dom = rendered["dom"]
    assert dom["banner"] == "FAIL" and dom["bannerVerdict"] == "fail"
    assert "k<5 (measured 3)" in dom["bannerText"] and "l<2 (not measured)" in dom["bannerText"]
    assert dom["gates"] == [["k", "fail", None, 1], ["leaks", "pass", None, 1], ["utility", "pass", T2, 1],
                            ["linkage", "unmeasured", None, 1], ["l", "fail", None, 1]]
    assert dom["scripts"] == 0  # the table named <script>... stayed text
    assert T2 in dom["bodyText"] and COL_QUOTE in dom["bodyText"] and COL_AMP in dom["bodyText"]


def test_browser_draws_the_charts(rendered):
    dom = rendered["dom"]
    assert dom["classBars"] == 10
    heights = dom["classBarHeights"]  # rows 0,0,3,4,5,8,0,...: the tallest bar is the 5–9 bin
    assert heights.index(max(heights)) == 5 and heights[0] == 0 and heights[2] > 0
    assert dom["classAlarms"] == [0, 1, 2, 3]  # groups of 1 to 4 rows: below the target k = 5
    assert sorted(dom["hists"]) == sorted([["birth_year", 20, 20], ["visit_date", 5, 5], ["name", 7, 7],
                                           [COL_AMP, 10, 10]])
    assert dom["fkCharts"] == [18]  # 9 bins of children per parent, before and after
    assert all(w > 50 for w in dom["svgWidths"])  # every chart laid out, none collapsed


def test_browser_shows_the_leak_and_fk_tables(rendered):
    dom = rendered["dom"]
    # the expected overlap of COL_AMP (5 same-column matches) is not flagged: the check's own count says 0
    assert dom["leakRows"] == [[T1, "name", "2", True], [T1, COL_AMP, "0", False], [T2, COL_QUOTE, "0", False]]
    assert dom["scannedRows"] == [[T2, "note"]]  # the copy column holding the leak; the clean one is left out
    assert len(dom["fkRows"]) == 1
    assert dom["fkRows"][0][0] == T2 and dom["fkRows"][0][2:] == ["patients(id)", "38", "2", "94.7 %"]
    assert dom["tableNames"] == [T1, T2]


def test_browser_console_is_clean_and_nothing_is_fetched(rendered):
    assert rendered["errors"] == []
    assert [m for m in rendered["console"] if m[0] in ("error", "warning")] == []
    assert rendered["requests"] == [rendered["uri"]] and rendered["blocked"] == []


def test_browser_screenshot(rendered):
    png = rendered["png"]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1200 and height > 900  # the full page, longer than one screen
    if os.environ.get("VEIL_HTML_SCREENSHOT"):  # keep a copy to look at
        with open(os.environ["VEIL_HTML_SCREENSHOT"], "wb") as out:
            out.write(data)


def test_screenshot_helper(tmp_path):
    _browser_or_skip()
    from veil.verify.html import main

    page = tmp_path / "r.html"
    assert main(["render", str(_write_json(tmp_path)), str(page)]) == 0
    assert main(["screenshot", str(page), str(tmp_path / "r.png"), "900"]) == 0
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert re.search(r'data-verdict="fail"', page.read_text())


def _write_json(folder):
    import json

    path = folder / "verify.json"
    path.write_text(json.dumps(_report()))
    return path
