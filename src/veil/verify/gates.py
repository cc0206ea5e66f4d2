"""Gates: thresholds a copy must meet (``--fail-on``), read from the report's summaries.

A gate is ``[TABLE.]METRIC OP NUMBER``; it *fails* when the comparison holds, as in
``--fail-on "k<5,leaks>0,risk>0.2"``. Without TABLE it reads the section's summary (the worst
table); with it, that table's summary. A metric that was not measured (no table declares
quasi-identifiers, say) fails a gate the user asked for: an unverified copy is not a safe one.
Without ``--fail-on`` the default gates apply (:data:`DEFAULT_GATES`, skipped when unmeasured, and
each table's privacy ``k`` and ``l``, which fail when unmeasured).
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..profile import Profile

#: metric -> the report section holding it
METRICS = {
    "leaks": "leaks", "leaked_share": "leaks",
    "k": "risk", "risk": "risk", "linkage": "risk", "l": "risk", "unique_share": "risk",
    "utility": "utility",
    "fk": "integrity", "fk_lost": "integrity", "missing_tables": "integrity", "missing_columns": "integrity",
    "row_count_changes": "integrity",
}
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
        "!=": operator.ne}
_GATE = re.compile(r"^\s*(?:(?P<table>.+)\.)?(?P<metric>[a-z_]+)\s*(?P<op><=|>=|==|!=|<|>)\s*"
                   r"(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
#: the gates without --fail-on (plus each table's privacy k and l)
DEFAULT_GATES = "leaks>0,fk_lost>0,missing_tables>0"


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float
    table: str | None = None
    required: bool = True  # unmeasured fails; a default gate (not asked for) is then skipped

    def __str__(self) -> str:
        where = f"{self.table}." if self.table else ""
        number = int(self.threshold) if float(self.threshold).is_integer() else self.threshold
        return f"{where}{self.metric}{self.op}{number}"


def parse_gates(text: str) -> list[Gate]:
    gates = []
    for part in (p for p in text.split(",") if p.strip()):
        m = _GATE.match(part)
        if m is None:
            raise UsageError(f"--fail-on: cannot read the gate '{part.strip()}'",
                             hint="write METRIC<NUMBER or TABLE.METRIC>NUMBER, e.g. k<5,leaks>0,risk>0.2")
        if m["metric"] not in METRICS:
            raise UsageError(f"--fail-on: unknown metric '{m['metric']}'",
                             hint="one of " + ", ".join(sorted(METRICS)))
        gates.append(Gate(m["metric"], m["op"], float(m["num"]), m["table"]))
    if not gates:  # an empty CI variable would switch every gate off, the defaults too
        raise UsageError("--fail-on: no gate given",
                         hint="omit --fail-on for the default gates, or write e.g. k<5,leaks>0")
    return gates


def default_gates(profile: Profile) -> list[Gate]:
    """leaks>0, fk_lost>0, missing_tables>0, and for each table with a privacy section its k and l."""
    gates = [Gate(g.metric, g.op, g.threshold, g.table, required=False) for g in parse_gates(DEFAULT_GATES)]
    for name, rule in profile.tables.items():
        p = rule.privacy
        if p is None:
            continue
        if p.quasi_identifiers and p.k:
            gates.append(Gate("k", "<", float(p.k), name))
        if p.sensitive and p.l:
            gates.append(Gate("l", "<", float(p.l), name))
    return gates


def _value(report: dict[str, Any], gate: Gate) -> Any:
    section = report.get(METRICS[gate.metric]) or {}
    if gate.table is None:
        return (section.get("summary") or {}).get(gate.metric)
    tables = section.get("tables") or {}
    entry = tables.get(gate.table)
    if entry is None:  # a bare name for a schema-qualified table
        matches = [v for k, v in tables.items() if k.rsplit(".", 1)[-1] == gate.table]
        entry = matches[0] if len(matches) == 1 else None
    return ((entry or {}).get("summary") or {}).get(gate.metric)


def evaluate(report: dict[str, Any], gates: list[Gate]) -> list[dict[str, Any]]:
    """One record per gate: the value read and whether it failed (unmeasured: failed)."""
    out = []
    for gate in gates:
        value = _value(report, gate)
        measured = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
        failed = _OPS[gate.op](value, gate.threshold) if measured else gate.required
        out.append({"gate": str(gate), "metric": gate.metric, "table": gate.table, "op": gate.op,
                    "threshold": gate.threshold, "value": value if measured else None,
                    "measured": measured, "failed": failed})
    return out


def judged(report: dict[str, Any], gates: list[Gate]) -> dict[str, Any]:
    """The report with its gates evaluated and its verdict ("fail" when a gate failed, else
    "pass") after its kind and version, as ``veil verify`` writes it."""
    results = evaluate(report, gates)
    verdict = "fail" if any(g["failed"] for g in results) else "pass"
    return {"report": report["report"], "version": report["version"], "verdict": verdict, "gates": results,
            **{k: v for k, v in report.items() if k not in ("report", "version")}}
