"""The look of the HTML report of ``veil verify`` (:mod:`veil.verify.html`): its inline CSS, its
Content-Security-Policy, how histogram edges of dates read, and a screenshot helper.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
from pathlib import Path
from typing import Any

from .html_charts import number, seq

# No script, no fetch of any kind: styles are inline, images only data: URIs (there are none).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--grey:#6e7781;--ink:#1f2328;--line:#d0d7de;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:var(--ink);background:#fff}
main{max-width:1180px;margin:0 auto;padding:0 20px 24px}
.banner{padding:18px 24px;color:#fff}
.banner h1{margin:0;font-size:34px;letter-spacing:.04em}
.banner p{margin:4px 0 0;max-width:1100px}
.banner.pass{background:var(--pass)}.banner.fail{background:var(--fail)}.banner.unknown{background:var(--grey)}
.banner .sub{color:#ffffffcc}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:8px 24px;z-index:1}
nav a{margin-right:18px;color:#0969da;text-decoration:none}
section{margin-top:26px;border-top:3px solid var(--line);padding-top:6px}
section[data-state=fail]{border-top-color:var(--fail)}section[data-state=ok]{border-top-color:var(--pass)}
h2{margin:6px 0 2px;font-size:22px}h3{margin:18px 0 4px;font-size:17px}h4{margin:14px 0 4px;font-size:14px}
.why{margin:0 0 10px;color:#424a53;font-style:italic}
.sub{color:#57606a;font-size:12px}.na{color:var(--grey)}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);padding:0 3px;
 border-radius:3px;overflow-wrap:break-word}
.gates{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:10px}
.gate{display:flex;gap:10px;align-items:center;border:1px solid var(--line);border-left:6px solid var(--grey);
 border-radius:6px;padding:8px 10px}
.gate.pass{border-left-color:var(--pass)}.gate.fail{border-left-color:var(--fail);background:#fff5f5}
.gate svg{flex:none;width:150px;height:auto}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.tile{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:150px;max-width:230px;
 background:var(--soft)}
.tile .v{font-size:22px;font-weight:600}.tile .k{font-size:12px;color:#57606a}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px 4px 0;text-align:left;vertical-align:top}
thead th{font-size:12px;color:#57606a;border-bottom:2px solid var(--line)}
td:not(:first-child){font-variant-numeric:tabular-nums}
tr.bad td{background:#fff5f5}tr.bad td:first-child{box-shadow:inset 4px 0 var(--fail)}
.table-block{border:1px solid var(--line);border-radius:8px;padding:4px 14px 10px;margin:12px 0}
.table-block h3 svg{display:inline-block;vertical-align:middle;margin-left:8px}
svg.chart{max-width:100%;height:auto;display:block}
svg .tick{font-size:10px;fill:#57606a}svg .val{font-size:10px;fill:#24292f}svg .axis{stroke:#8c959f}
.hists{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
figure.hist{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px}
figure.hist figcaption{font-size:12px;color:#57606a;margin:2px 0}
table.stats{font-size:11.5px;margin:2px 0}table.stats th{font-weight:normal;color:#57606a}
footer{max-width:1180px;margin:20px auto;padding:10px 20px;color:#57606a;font-size:12px;
 border-top:1px solid var(--line)}
@media print{nav{display:none}section{break-inside:avoid-page}.banner{print-color-adjust:exact;
 -webkit-print-color-adjust:exact}}
"""

_UNITS = {"d": 86400, "day": 86400, "days": 86400, "s": 1, "second": 1, "seconds": 1,
          "ms": 1e-3, "milliseconds": 1e-3, "us": 1e-6, "microseconds": 1e-6, "ns": 1e-9, "nanoseconds": 1e-9}
DATE_KINDS = ("date", "timestamp", "datetime")


def edge_format(kind: str, unit: Any = None, span: Any = None):
    """How a number of a column reads: a date column's (an epoch number, in ``unit``: "days",
    "seconds since 1970-01-01 UTC"...; seconds when not said, as the utility check reports dates)
    as an ISO date, with the time when ``span`` (the edges it is one of) covers under 5 days;
    other columns' as plain numbers."""
    if kind not in DATE_KINDS:
        return number
    words = str(unit or "seconds").lower().split()
    seconds = _UNITS.get(words[0] if words else "seconds")
    if seconds is None:
        return number
    reals = [v for v in seq(span) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    with_time = bool(reals) and (max(reals) - min(reals)) * seconds < 5 * 86400

    def fmt(v: Any) -> str:
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            return number(v)
        try:
            when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(v) * seconds)
        except OverflowError:
            return number(v)
        return when.isoformat(" ", "minutes") if with_time else when.date().isoformat()

    fmt.seconds = seconds  # type: ignore[attr-defined]  # lets a caller show a spread (std) in days
    return fmt


def chromium() -> str | None:
    """The Chromium to drive: $VEIL_CHROMIUM, else the first of chromium/chromium-browser on PATH."""
    return os.environ.get("VEIL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, *, width: int = 1200) -> None:
    """A full-page PNG of an HTML report, through headless Chromium driven by playwright (the
    system's Chromium: no browser is downloaded)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("the screenshot needs playwright: pip install -e '.[dev]' (it drives the system's "
                         "chromium; no browser download)") from None
    exe = chromium()
    if exe is None:
        raise SystemExit("no chromium on PATH: install Debian's chromium package or set VEIL_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.goto(Path(page).resolve().as_uri())
            tab.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
