"""The data map (a record of where personal data is): JSON for machines, Markdown for people.

Neither holds a value from the data: table and column names, types, entities,
classes, confidences, row counts and evidence (rule names and shares).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from .findings import ScanResult


def to_json(result: ScanResult) -> str:
    doc = {"generated": datetime.now(UTC).isoformat(timespec="seconds")}
    doc.update(result.to_json())
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _rows(rows: int | None, estimated: bool) -> str:
    if rows is None:
        return "unknown"
    return f"~{rows:,} (estimated)" if estimated else f"{rows:,}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def counts(result: ScanResult) -> dict[str, int]:
    out = {"direct": 0, "quasi": 0, "sensitive": 0, "none": 0}
    for f in result.findings:
        out[f.cls] = out.get(f.cls, 0) + 1
    return out


def to_markdown(result: ScanResult) -> str:
    c = counts(result)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Data map",
        "",
        f"Input: `{result.input}` · scanned {now} by veil scan · "
        f"{len(result.tables)} tables, {len(result.findings)} columns: "
        f"**{c['direct']} direct identifiers**, {c['quasi']} quasi-identifiers, "
        f"{c['sensitive']} sensitive attributes, {c['none']} not personal.",
        "",
        f"Sample: up to {result.sample_rows:,} rows per table, {result.sample:,} distinct values per column. "
        + ("NER on (" + str(result.nlp_model) + "): names and places inside free text are found."
           if result.ner else "NER off: names and places inside free text are not found."),
        "",
        "Classes: *direct* identifies a person alone; *quasi* in combination (postcode + birth date + ...); "
        "*sensitive* must not be learnt about a person (GDPR Art. 9: health, religion ...); "
        "*none* is not personal. Confidence is in [0, 1].",
        "",
    ]
    by_table: dict[str, list] = {}
    for f in result.findings:
        by_table.setdefault(f.table, []).append(f)
    for ts in result.tables:
        findings = by_table.get(ts.name, [])
        personal = sum(1 for f in findings if f.cls != "none")
        lines += [f"## {_cell(ts.name)}", "",
                  f"{_rows(ts.rows, ts.rows_estimated)} rows · format {ts.format} · "
                  f"{personal} of {len(findings)} columns personal"
                  + (f" · primary key {', '.join(ts.primary_key)}" if ts.primary_key else ""), "",
                  "| column | type | entity | class | confidence | key | evidence |",
                  "|---|---|---|---|---|---|---|"]
        for f in findings:
            ev = f.evidence
            bits = []
            if ev.get("name_rules"):
                bits.append("name")
            recs = [f"{k} {round(100 * v)}%" for k, v in list((ev.get("recognizers") or {}).items())[:2] if v >= 0.05]
            bits += recs
            inside = [f"{k} {round(100 * v)}% of texts" for k, v in (ev.get("entities_in_text") or {}).items()
                      if v >= 0.01]
            bits += inside
            if ev.get("note"):
                bits.append(ev["note"])
            key = f.key or ""
            lines.append(f"| {_cell(f.column)} | {f.type} | {f.entity} | {f.cls} | {f.confidence:.2f} | {key} | "
                         f"{_cell('; '.join(bits))} |")
        lines.append("")
    return "\n".join(lines)
