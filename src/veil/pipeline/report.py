"""What a run produced, and its JSON report: counts, operators, domains, key versions, timings; never data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..plan import Plan


@dataclass
class ColumnStats:
    transformed: int = 0
    nulls: int = 0


@dataclass
class TableResult:
    name: str
    rows_in: int = 0
    rows_out: int = 0
    rows_forgotten: int = 0  # rows of forgotten subjects
    rows_dropped_by_reference: int = 0  # rows referencing dropped rows through a foreign key
    rows_subset: int = 0  # rows outside the profile's subset (veil.subset)
    vault_records: int = 0
    seconds: float = 0.0
    columns: dict[str, ColumnStats] = field(default_factory=dict)


@dataclass
class RunResult:
    tables: list[TableResult]
    output: Path
    started: str
    seconds: float
    key_version: str | None
    vault_records: int = 0
    forget_applied: bool = False


def report_dict(result: RunResult, plan: Plan, *, input_path: Path, profile_path: str | None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON run report: counts, operators, domains, key versions, timings; never data."""
    tables = {}
    for tr in result.tables:
        tplan = plan.tables[tr.name]
        tables[tr.name] = {
            "rows_in": tr.rows_in,
            "rows_out": tr.rows_out,
            "rows_dropped": {"forgotten_subject": tr.rows_forgotten, "by_reference": tr.rows_dropped_by_reference,
                             **({"outside_subset": tr.rows_subset} if plan.subset is not None else {})},
            "vault_records_written": tr.vault_records,
            "seconds": round(tr.seconds, 4),
            "columns": {
                c.name: {
                    "op": c.op,
                    "domain": c.domain,
                    "key_version": c.key_version,
                    "source": c.source,
                    "reversible": c.reversible,
                    "transformed": tr.columns[c.name].transformed,
                    "nulls": tr.columns[c.name].nulls,
                }
                for c in tplan.columns
            },
        }
        if tplan.privacy_report is not None:  # k-anonymity enforced (veil.privacy): levels and counts
            tables[tr.name]["privacy"] = tplan.privacy_report
        if plan.subset_report is not None and tr.name in plan.subset_report["tables"]:
            tables[tr.name]["subset"] = plan.subset_report["tables"][tr.name]
    doc = {
        "veil_version": __version__,
        "started": result.started,
        "seconds": round(result.seconds, 4),
        "input": str(input_path),
        "output": str(result.output),
        "profile": profile_path,
        "key_version": result.key_version,
        "totals": {
            "tables": len(result.tables),
            "rows_in": sum(t.rows_in for t in result.tables),
            "rows_out": sum(t.rows_out for t in result.tables),
            "vault_records_written": result.vault_records,
        },
        "forget_list_applied": result.forget_applied,
        "tables": tables,
    }
    if plan.subset_report is not None:  # the subset's rounds and unresolved references (veil.subset)
        doc["subset"] = {k: v for k, v in plan.subset_report.items() if k != "tables"}
    if extra:
        doc.update(extra)
    return doc
