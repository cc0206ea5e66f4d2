"""What a compiled plan holds (veil.plan compiles it): one :class:`ColumnPlan` per column, a
:class:`TablePlan` per table, the :class:`Plan` of a run. The pipeline, the formats and the
workers read these; only veil.plan builds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .errors import Problem
from .formats.parquet import output_metadata
from .ops import OPERATORS, Operator
from .ops.arrays import is_text
from .profile import ForeignKey, Privacy, Subject


@dataclass
class ColumnPlan:
    name: str
    op: str
    params: dict[str, Any]
    domain: str | None
    source: str  # "rule", "foreign_key" or "default" (the unknown_columns policy)
    in_type: pa.DataType
    out_type: pa.DataType
    key_version: str | None = None
    check_unique: bool = False  # a key column whose op is injective only with high probability
    reversible: bool = False  # originals go to the vault
    # for a reversible operator that is not injective (fake): the column whose output
    # in the same row binds the vault record (the primary key), so it stays unambiguous
    vault_context: str | None = None
    field: pa.Field | None = None  # the input field (metadata, nullability)
    blank: str = "keep"  # the rule's blank: "keep" leaves empty/whitespace-only text as it is
    type: str | None = None  # the profile's type: of the column in typed output (veil.formats.typed)

    @property
    def operator(self) -> Operator:
        """The column's operator: ask it (keeps_value, reads_values, context_columns, batch_size, ...)."""
        return OPERATORS[self.op]

    @property
    def dropped(self) -> bool:
        return self.operator.drops_column

    @property
    def transformed(self) -> bool:
        """Whether the column's values change (every operator but keep)."""
        return self.operator.transforms

    @property
    def keeps_blanks(self) -> bool:
        """Whether blank text (empty or whitespace only) passes through unchanged: rule ``blank: keep``
        (the default), a text column written as text, and an operator that reads values (redact and
        nullify replace every non-null value: a dump reader does not even parse them)."""
        op = self.operator
        return (self.blank == "keep" and op.reads_values and not op.keeps_value and not op.drops_column
                and is_text(self.in_type) and is_text(self.out_type))

    @property
    def context_columns(self) -> tuple[str, ...]:
        """Other columns of the row the operator reads (date_shift's subject)."""
        return self.operator.context_columns(self.params)


@dataclass
class TablePlan:
    name: str
    columns: list[ColumnPlan]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    subject: Subject | None = None
    # column sets other tables reference: when rows are dropped here (forgotten
    # subjects), their values in these columns are passed on to drop the referencing rows
    referenced: list[tuple[str, ...]] = field(default_factory=list)
    # filled during a run: (fk columns, canonical values of dropped parent keys)
    drop_refs: list[tuple[tuple[str, ...], frozenset]] = field(default_factory=list)
    # set by a subset run: foreign key columns some of whose rows it nulls (veil.subset.dangling)
    nulled: tuple[str, ...] = ()
    metadata: dict | None = None  # the input schema's metadata
    privacy: Privacy | None = None  # the profile's privacy section (veil.privacy enforces its k and l)
    privacy_report: dict | None = None  # what the enforcement chose (levels, classes, suppressed rows)

    @property
    def out_schema(self) -> pa.Schema:
        """The input's fields (names, metadata, nullability) with each operator's output type.

        Only kept columns keep a NOT NULL flag: any other operator may write nulls.
        """
        fields = []
        for c in self.columns:
            if c.dropped:
                continue
            f = c.field if c.field is not None else pa.field(c.name, c.in_type)
            if c.transformed:  # field metadata may describe the values (samples, stats): not carried over
                f = f.remove_metadata()
            fields.append(f.with_type(c.out_type).with_nullable(f.nullable or c.transformed))
        meta = output_metadata(self.metadata, {c.name for c in self.columns if c.transformed},
                               any(c.dropped or c.in_type != c.out_type for c in self.columns))
        return pa.schema(fields, metadata=meta)


@dataclass
class Plan:
    tables: dict[str, TablePlan]
    key_version: str | None
    # what validate warns about (an error with --strict): an operator writing text into a typed column
    warnings: list[Problem] = field(default_factory=list)
    subset_spec: Any = None  # the profile's subset section (veil.subset.spec.Subset)
    excludes: list[Any] = field(default_factory=list)  # the profile's exclude rules (veil.subset.spec.Exclude)
    subset: dict[str, Any] | None = None  # set by a run: kept row positions per table (veil.subset.run)
    subset_report: dict[str, Any] | None = None  # the closure's figures (veil.subset.closure)
    # set by a run: per table, (foreign key columns, sorted row positions) written as NULL
    subset_nulls: dict[str, Any] | None = None
    omitted: set[str] = field(default_factory=set)  # set by a run: tables not written (subset others: omit)

    def order(self) -> list[str]:
        """Tables with referenced (parent) tables first, so dropped parents cascade to children."""
        done: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in done or name in visiting:
                return
            visiting.add(name)
            for fk in self.tables[name].foreign_keys:
                if fk.ref_table in self.tables and fk.ref_table != name:
                    visit(fk.ref_table)
            visiting.discard(name)
            done.append(name)

        for name in self.tables:
            visit(name)
        return done
