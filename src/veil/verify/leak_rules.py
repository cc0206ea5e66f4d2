"""What the leak check (veil.verify.leaks) judges by: its thresholds, and how a column's own cells
and its cells as a place other columns' values may be found in are judged, from the operator's
capabilities (never the column's name)."""

from __future__ import annotations

from .base import TableInfo

#: Defaults of the thresholds (``ctx.options["leaks"]`` may override each).
RULES = {
    "min_chars": 4,  # characters (in words) of a value sought elsewhere or in text
    "min_digits": 9,  # digits of a value made of digits only (dates have 8: found by the risk check)
    "specific_share": 0.001,  # a value held by more than this share of its column's rows ...
    "specific_min": 2,  # ... and by more than this many rows is too common to be sought elsewhere
    "vocabulary_share": 0.01,  # a word in more than this share of a scanned column's cells ...
    "vocabulary_min": 2,  # ... and in more than this many is that column's vocabulary, not a leak
    "max_words": 8,  # longest word sequence sought inside text
    "text_min_words": 3,  # words per cell (on average) of a column searched for single words inside
    "chance_alpha": 1e-6,  # the same-row chance bound of overlap columns
}
TREATMENTS = ("strict", "overlap", "coarsening", "free_text", "removed")


def treatment(info: TableInfo, column: str) -> str:
    """How the column's own cells are judged, from its operator's capabilities."""
    cp = info.column_plan(column)
    op = cp.operator
    params = op.with_defaults(cp.params)
    if op.drops_column or op.nulls_column:
        return "removed"
    if op.span_rules is not None:
        return "free_text"
    if op.collision_checked(params):
        return "strict"
    if not op.keyed and not op.injective(params) and op.deterministic:
        return "coarsening"
    return "overlap"


def passes_text(info: TableInfo | None, column: str) -> str | None:
    """How a copy column is searched for other columns' values: "kept" (its values pass through),
    "free_text" (text around replaced spans passes through), "coarse" (its operator writes coarse or
    constant values, which hold nobody's value: one found there is a leak), or None (its operator
    writes tokens or values of the input's domain, judged against its own originals only)."""
    cp = info.column_plan(column) if info is not None else None
    if cp is None or cp.operator.keeps_value:
        return "kept"
    if cp.operator.span_rules is not None:
        return "free_text"
    return "coarse" if treatment(info, column) == "coarsening" else None
