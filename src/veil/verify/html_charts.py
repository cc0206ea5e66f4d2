"""Inline SVG charts for the HTML report of ``veil verify`` (:mod:`veil.verify.html`).

Every chart is a string of SVG markup, drawn in Python from numbers of the JSON report: no script,
no external file, no font download, so the page renders offline under a Content-Security-Policy
that forbids every fetch. The SVGs carry no ``xmlns`` (inline SVG in HTML5 needs none; the page
then holds no URL at all), a ``<title>`` (their accessible name) and ``data-*`` attributes that
tests and readers can query: ``data-chart`` names the chart, every bar has ``data-bin`` (its
index) and ``data-series`` (``before``/``after`` in paired histograms).

Labels are escaped here (``esc``); callers pass plain text.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

PASS, FAIL, UNMEASURED = "#1a7f37", "#cf222e", "#6e7781"
BEFORE, AFTER, BARS = "#4e79a7", "#e15759", "#59a14f"


def seq(value: Any) -> list:
    """VALUE if it is a list (or tuple), else an empty list: the report's lists, read defensively."""
    return list(value) if isinstance(value, list | tuple) else []


def esc(value: Any) -> str:
    """A value as HTML text, quotes included (safe in element text and in quoted attributes)."""
    return escape("" if value is None else str(value), quote=True)


def number(value: Any, *, share: bool = False, digits: int = 3) -> str:
    """A report number as text: a share as a percentage, an integer with thousands separators,
    None (not measured) as an em dash."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "∞" if value > 0 else ("−∞" if value < 0 else "—")
    if share:  # one decimal, more when it would round a non-zero share to 0 % or a partial one to 100 %
        pct = 100.0 * value
        for places in range(1, 5):
            text = f"{pct:.{places}f}"
            if (pct == 0 or float(text) != 0) and (pct == 100 or float(text) != 100):
                break
        return f"{text} %"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1e9 or abs(value) < 1e-3:
        return f"{value:.{digits}g}"
    places = min(max(1, digits - 1 - math.floor(math.log10(abs(value)))), 6)  # ~digits significant, ≥ 1 place
    return f"{value:,.{places}f}".rstrip("0").rstrip(".")


def _counts(values: Any) -> list[float]:
    out = []
    for v in seq(values):
        out.append(float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else 0.0)
    return out


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def bin_labels(edges: Any, bins: int, *, integer: bool = False, fmt=None) -> list[str]:
    """A label per bin from the edges: ``len(edges) == bins + 1`` (closed bins) or ``bins``
    (the last bin open: "≥ last edge"; a trailing "+" marks it too). Integer edges (class sizes)
    give "5–9" style labels. Without usable edges, bins are numbered ("#1", "#2", ...)."""
    fmt = fmt or (lambda v: number(v))
    edges = seq(edges)
    while edges and not _real(edges[-1]):  # a trailing "+" (or null): the last bin is open
        edges.pop()
    if not edges or not all(_real(e) for e in edges):
        return [f"#{i + 1}" for i in range(bins)]
    labels = []
    for i in range(bins):
        lo = edges[i] if i < len(edges) else None
        hi = edges[i + 1] if i + 1 < len(edges) else None
        if lo is None:
            labels.append(f"#{i + 1}")
        elif hi is None:
            labels.append(f"≥ {fmt(lo)}")
        elif integer and float(lo).is_integer() and float(hi).is_integer():
            labels.append(fmt(lo) if hi - lo <= 1 else f"{fmt(lo)}–{fmt(hi - 1)}")
        else:
            labels.append(f"{fmt(lo)} – {fmt(hi)}")
    return labels


def _svg_open(width: int, height: int, title: str, chart: str, extra: str = "") -> str:
    return (f'<svg class="chart" data-chart="{esc(chart)}" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" preserveAspectRatio="xMinYMin meet"{extra}><title>{esc(title)}</title>')


def bar_chart(labels: list[str], values: Any, *, title: str, chart: str, unit: str = "rows",
              color: str = BARS, alarm: list[bool] | None = None, width: int = 520, height: int = 220) -> str:
    """One bar per bin, every bin drawn (a zero bin is a bar of height 0), the count on top; a bin
    whose ``alarm`` is true is drawn red and marked ``data-alarm``."""
    counts = _counts(values)
    n = len(counts)
    left, right, top, bottom = 44, 8, 18, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts, default=0.0) or 1.0
    slot = plot_w / max(n, 1)
    bar_w = max(slot * 0.72, 1.0)
    parts = [_svg_open(width, height, title, chart),
             f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
             f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end">{esc(number(peak))}</text>',
             f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>']
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * slot + (slot - bar_w) / 2
        label = labels[i] if i < len(labels) else f"#{i + 1}"
        bad = bool(alarm and i < len(alarm) and alarm[i])
        parts.append(f'<rect class="bar" data-bin="{i}" data-value="{esc(number(c))}"{" data-alarm" if bad else ""} '
                     f'x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                     f'fill="{FAIL if bad else color}">'
                     f'<title>{esc(label)}: {esc(number(c))} {esc(unit)}</title></rect>')
        if c:
            parts.append(f'<text class="val" x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                         f'text-anchor="middle">{esc(number(c))}</text>')
        parts.append(f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" '
                     f'text-anchor="middle">{esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def paired_histogram(labels: list[str], before: Any, after: Any, *, title: str, chart: str = "histogram",
                     axis: tuple[str, str] | None = None, width: int = 360, height: int = 170) -> str:
    """Before/after side by side per bin, each side as its share of its own total (the copy may
    hold fewer rows than the original); the raw counts are in each bar's tooltip. Under the axis:
    ``axis`` (the range's ends), else the first and last bin's labels."""
    b, a = _counts(before), _counts(after)
    n = max(len(b), len(a))
    b += [0.0] * (n - len(b))
    a += [0.0] * (n - len(a))
    tb, ta = sum(b) or 1.0, sum(a) or 1.0
    sb, sa = [v / tb for v in b], [v / ta for v in a]
    peak = max(sb + sa, default=0.0) or 1.0
    left, right, top, bottom = 48, 6, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(n, 1)
    bar_w = max(slot * 0.4, 0.8)
    parts = [_svg_open(width, height, title, chart, f' data-bins="{n}"'),
             f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
             f'<text class="tick" x="{left - 3}" y="{top + 8}" text-anchor="end">'
             f'{esc(number(peak, share=True))}</text>',
             f'<text class="tick" x="{left - 3}" y="{top + plot_h}" text-anchor="end">0</text>']
    for i in range(n):
        label = labels[i] if i < len(labels) else f"#{i + 1}"
        for j, (series, shares, counts, color) in enumerate((("before", sb, b, BEFORE), ("after", sa, a, AFTER))):
            h = plot_h * shares[i] / peak
            x = left + i * slot + slot * 0.1 + j * bar_w
            parts.append(f'<rect class="bar {series}" data-series="{series}" data-bin="{i}" x="{x:.1f}" '
                         f'y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
                         f'<title>{series}, {esc(label)}: {esc(number(counts[i]))} '
                         f'({esc(number(shares[i], share=True))})</title></rect>')
    if n:  # the two ends only: 20 bins of numbers do not fit under the axis
        first, last = axis or (labels[0] if labels else "", labels[n - 1] if len(labels) >= n > 1 else "")
        parts.append(f'<text class="tick" x="{left}" y="{top + plot_h + 13}">{esc(first)}</text>'
                     f'<text class="tick" x="{left + plot_w}" y="{top + plot_h + 13}" '
                     f'text-anchor="end">{esc(last)}</text>')
    parts.append(f'<rect x="{left}" y="{height - 12}" width="9" height="9" fill="{BEFORE}"/>'
                 f'<text class="tick" x="{left + 12}" y="{height - 4}">original</text>'
                 f'<rect x="{left + 70}" y="{height - 12}" width="9" height="9" fill="{AFTER}"/>'
                 f'<text class="tick" x="{left + 82}" y="{height - 4}">copy</text></svg>')
    return "".join(parts)


def gauge(value: Any, threshold: Any, *, failed: bool | None, share: bool, title: str,
          width: int = 220, height: int = 38) -> str:
    """A traffic light (green pass, red fail, grey not measured) and a bar showing the measured
    value against the gate's threshold (the black tick). Shares are drawn on [0, 1], counts on
    [0, 1.25 × the larger of value and threshold]."""
    color = UNMEASURED if failed is None else (FAIL if failed else PASS)
    v = value if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) else None
    t = threshold if isinstance(threshold, int | float) and not isinstance(threshold, bool) else None
    top = 1.0 if share else max(1.0, 1.25 * max(abs(v or 0), abs(t or 0)))
    x0, bar = 34, width - 40
    parts = [_svg_open(width, height, title, "gauge"),
             f'<circle class="light" cx="14" cy="{height / 2}" r="11" fill="{color}"/>',
             f'<rect x="{x0}" y="{height / 2 - 6}" width="{bar}" height="12" rx="3" fill="#eaeef2"/>']
    if v is not None:
        w = bar * min(max(v / top, 0.0), 1.0)
        parts.append(f'<rect class="value" x="{x0}" y="{height / 2 - 6}" width="{w:.1f}" height="12" rx="3" '
                     f'fill="{color}"/>')
    if t is not None:
        tx = x0 + bar * min(max(t / top, 0.0), 1.0)
        parts.append(f'<line class="threshold" x1="{tx:.1f}" y1="{height / 2 - 10}" x2="{tx:.1f}" '
                     f'y2="{height / 2 + 10}" stroke="#24292f" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def score_bar(score: Any, *, title: str, width: int = 120, height: int = 14) -> str:
    """A score in [0, 1] as a filled bar (utility per table, shares of resolved references)."""
    s = score if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score) else None
    parts = [_svg_open(width, height, title, "score"),
             f'<rect x="0" y="1" width="{width}" height="{height - 2}" rx="3" fill="#eaeef2"/>']
    if s is not None:
        color = PASS if s >= 0.9 else ("#bf8700" if s >= 0.7 else FAIL)
        parts.append(f'<rect class="value" x="0" y="1" width="{width * min(max(s, 0.0), 1.0):.1f}" '
                     f'height="{height - 2}" rx="3" fill="{color}"/>')
    parts.append("</svg>")
    return "".join(parts)
