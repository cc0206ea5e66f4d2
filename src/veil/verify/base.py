"""What every check of ``veil verify`` sees, and the one interface they share.

``veil verify ORIGINAL COPY --profile P`` reads ORIGINAL once (phase 1) and COPY once (phase 2),
streaming RecordBatches into every :class:`Check`:

- phase 1: ``check.original(table, batch)`` for every batch of every table of ORIGINAL (tables in
  the input's order; a dump's blocks of one table may come interleaved with other tables');
- phase 2: ``check.copy(table, batch, original)`` for every batch of every table of COPY; ``original``
  holds the ORIGINAL's rows at the same positions of that table (same length, same row order as
  the copy was written), or None when they cannot be paired (row counts differ, the copy is a
  subset, or the pairing gave up to bound memory); a table only COPY has comes under its copy name
  with ``original`` None (the leak check searches it; the others pass over a name they do not know);
- ``check.finish()`` returns the check's section of the report.

A section holds counts, shares, distances and names of tables and columns only: never a value of
the data (nor a category label, a quantile of a text column, a token). Numbers that summarise a
numeric or date column (quantiles, mean) are allowed: the report documents them.

Values are compared through keyed fingerprints (``veil.verify.keys``: 8 bytes of a keyed function
of each value's canonical text, under ``fingerprint_key``, drawn at random for this verification
and never stored), so no structure a check keeps holds a value, and memory is 8 bytes per
distinct value.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from ..plan import Plan, TablePlan
from ..profile import ForeignKey, Privacy


@dataclass
class TableInfo:
    """One table as verify sees it."""

    name: str
    original_schema: pa.Schema
    copy_schema: pa.Schema | None  # None: the copy lacks the table
    plan: TablePlan | None  # the profile's plan for it (None: the profile has no rule for it)
    primary_key: list[str] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)  # declared (DDL) or in the profile
    privacy: Privacy | None = None
    # how ORIGINAL's text reads as a typed value (a dump's DDL types in its dialect: t/f booleans,
    # \\x bytea, timestamptz offsets), for comparing it with a typed copy; empty for files
    text_sources: dict[str, Any] = field(default_factory=dict)

    def transformed(self) -> list[str]:
        """Columns whose values the profile changes (everything but keep), dropped ones included."""
        if self.plan is None:
            return []
        return [c.name for c in self.plan.columns if c.transformed]

    def column_plan(self, column: str):
        if self.plan is None:
            return None
        return next((c for c in self.plan.columns if c.name == column), None)


@dataclass
class VerifyContext:
    tables: dict[str, TableInfo]  # by name, in ORIGINAL's order
    plan: Plan | None
    fingerprint_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    # what checks share within one verification (derived keys, key sets counted once for several checks)
    shared: dict[str, Any] = field(default_factory=dict, repr=False)


class Check(Protocol):
    """One part of the verification; ``name`` is its key in the report."""

    name: str

    def original(self, table: str, batch: pa.RecordBatch) -> None: ...

    def copy(self, table: str, batch: pa.RecordBatch, original: pa.RecordBatch | None) -> None: ...

    def finish(self) -> dict[str, Any]: ...
