"""Integrity: the copy has the original's tables and columns, and its keys hold (``veil verify``,
the "integrity" section).

Per table: whether the copy has it, rows in the original and in the copy, the original's columns
the copy lacks (``missing_columns``: those the profile does not drop), the ones the profile drops
(``dropped_by_profile``: expected to be absent; one still present is listed in ``not_dropped``),
the copy's columns the original lacks (``extra_columns``), the columns whose Arrow type differs
(``type_changes``, information only), and for every foreign key of the table
(declared in the DDL or in the profile) how many of the copy's references resolve to a key of the
copy's parent table (a null reference is no reference). Tables only the copy has are listed by
the runner (the report's ``extra_tables``).

A row count that differs is reported, not judged: subsetting and suppression change counts on
purpose; the gate ``row_count_changes`` counts the tables whose counts differ.

Summary (gates): ``fk`` the lowest resolved share over all foreign keys (1.0 = every reference of
the copy resolves; null when there is no foreign key), ``fk_lost`` the largest drop of a foreign
key's resolved share from ORIGINAL to the copy (0: the copy broke no reference the original had;
the default gate, so that references already dangling in ORIGINAL do not fail every copy),
``missing_tables`` (not counting them when the profile's subset omits the tables outside it:
``others: omit``), ``missing_columns`` (not counting dropped ones), ``row_count_changes``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .base import TableInfo, VerifyContext
from .keys import COPY, ORIGINAL, KeyTracker, references


class IntegrityCheck:
    name = "integrity"

    def __init__(self, ctx: VerifyContext) -> None:
        self.ctx = ctx
        self.keys = KeyTracker.shared(ctx)
        self._rows: dict[tuple[int, str], int] = {}

    def original(self, table: str, batch: pa.RecordBatch) -> None:
        self.keys.feed(self, ORIGINAL, table, batch)
        self._rows[(ORIGINAL, table)] = self._rows.get((ORIGINAL, table), 0) + batch.num_rows

    def copy(self, table: str, batch: pa.RecordBatch, original: pa.RecordBatch | None) -> None:
        self.keys.feed(self, COPY, table, batch)
        self._rows[(COPY, table)] = self._rows.get((COPY, table), 0) + batch.num_rows

    def finish(self) -> dict[str, Any]:
        tables = {name: self._table(info) for name, info in self.ctx.tables.items()}
        shares = [fk["resolved_share"] for t in tables.values() for fk in t["foreign_keys"]
                  if fk["resolved_share"] is not None]
        lost = [t["summary"]["fk_lost"] for t in tables.values() if t["summary"]["fk_lost"] is not None]
        spec = self.ctx.plan.subset_spec if self.ctx.plan is not None else None
        omit = spec is not None and spec.others == "omit"  # tables outside the subset are left out on purpose
        summary = {
            "fk": min(shares) if shares else None,
            "fk_lost": max(lost) if lost else None,
            "missing_tables": sum(not t["in_copy"] and not omit for t in tables.values()),
            "missing_columns": sum(len(t["missing_columns"]) for t in tables.values()),
            "row_count_changes": sum(t["summary"]["row_count_changes"] for t in tables.values()),
        }
        return {"summary": summary, "tables": tables}

    def _table(self, info: TableInfo) -> dict[str, Any]:
        in_copy = info.copy_schema is not None
        original = info.original_schema.names
        copy = info.copy_schema.names if in_copy else []
        dropped = [c.name for c in info.plan.columns if c.dropped] if info.plan is not None else []
        fks = [self._foreign_key(info, fk) for fk in info.foreign_keys] if in_copy else []
        rows_copy = self._rows.get((COPY, info.name), 0) if in_copy else None
        rows_original = self._rows.get((ORIGINAL, info.name), 0)
        missing = [c for c in original if c not in copy and c not in dropped] if in_copy else []
        shares = [fk["resolved_share"] for fk in fks if fk["resolved_share"] is not None]
        lost = [fk["lost"] for fk in fks if fk.get("lost") is not None]
        return {
            "summary": {"fk": min(shares) if shares else None, "fk_lost": max(lost) if lost else None,
                        "missing_columns": len(missing),
                        "row_count_changes": int(in_copy and rows_original != rows_copy)},
            "in_copy": in_copy,
            "rows_original": rows_original,
            "rows_copy": rows_copy,
            "missing_columns": missing,
            "extra_columns": [c for c in copy if c not in original],
            "dropped_by_profile": dropped,
            "not_dropped": [c for c in dropped if c in copy],
            "type_changes": self._type_changes(info),
            "foreign_keys": fks,
        }

    @staticmethod
    def _type_changes(info: TableInfo) -> list[dict[str, str]]:
        """Columns whose Arrow type differs between the sides (information: typed output and
        operators change types on purpose; the utility section compares the values)."""
        if info.copy_schema is None:
            return []
        copy = {f.name: f.type for f in info.copy_schema}
        return [{"column": f.name, "original": str(f.type), "copy": str(copy[f.name])}
                for f in info.original_schema if f.name in copy and copy[f.name] != f.type]

    def _foreign_key(self, info: TableInfo, fk) -> dict[str, Any]:
        res = self.keys.foreign_key(COPY, info.name, fk)
        out = {"columns": list(fk.columns), "references": references(fk)}
        if res is None:  # the copy lacks a column of the key (dropped or missing)
            return {**out, "references_checked": 0, "unresolved": 0, "resolved_share": None,
                    "checked": False}
        parent = self.keys.get(COPY, fk.ref_table, fk.ref_columns)
        before = self.keys.foreign_key(ORIGINAL, info.name, fk)
        share_before = before["share"] if before is not None else None
        lost = None if res["share"] is None or share_before is None else max(0.0, share_before - res["share"])
        return {**out, "references_checked": res["references"], "unresolved": res["unresolved"],
                "resolved_share": res["share"], "checked": True, "parent_in_copy": parent is not None,
                "resolved_share_original": share_before, "lost": None if lost is None else round(lost, 6)}
