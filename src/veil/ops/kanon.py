"""k_anonymity: a quasi-identifier at the level ``veil run`` chose for it (veil.privacy).

Never written in a profile: a table's ``privacy: {k: ...}`` makes the run's first pass choose each
quasi-identifier's generalization level and the classes to suppress (veil.privacy.enforce), and
gives those columns this operator with that choice as its parameters. A quasi-identifier whose
profile rule coarsens it (generalize, mask: deterministic, not keyed) keeps that rule as its
``base``: the base runs first, the chosen level applies to its output.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..privacy.hierarchy import fill_suppressed, generalize, tuple_keys
from .registry import OPERATORS, OpContext, Operator, Param, operator


def _check(params: dict) -> list[str]:
    if params.get("levels") is None:
        return ["k_anonymity is set by veil run from a table's privacy section (k), not written in a profile; "
                "give the column keep and list it in privacy.quasi_identifiers"]
    return []


def can_be_base(op: Operator, params: dict) -> bool:
    """Whether a quasi-identifier's own rule can run before its chosen level: an operator whose output
    depends on the value alone (deterministic, not keyed, no other column, no spans in text)."""
    return (op.deterministic and not op.keyed and not op.context_columns(params) and op.span_rules is None
            and not op.drops_column and not op.nulls_column)


def base_output(arr: pa.Array, base: dict | None, table: str, column: str) -> pa.Array:
    """A quasi-identifier through its own rule (``base``: {"op", "params"}; None: kept as it is)."""
    if base is None:
        return arr
    op = OPERATORS[base["op"]]
    out = op.apply(arr, OpContext(None, "", base["params"], table, column))
    want = op.output_type(arr.type, base["params"])
    return out if out.type == want else out.cast(want)


@operator(
    "k_anonymity",
    params=(
        Param("levels", dict, None, help="per quasi-identifier: its chosen level (set by veil run)"),
        Param("qis", list, None, help="the table's quasi-identifiers, in order (set by veil run)"),
        Param("suppressed", list, None, help="the suppressed classes' keys (set by veil run)"),
        Param("base", dict, None, help="per quasi-identifier: its own rule, run first (set by veil run)"),
        Param("fill", dict, None, help="per NOT NULL quasi-identifier: what a suppressed value becomes"),
    ),
    check=_check,
    context_columns=lambda p: tuple(p.get("qis") or ()),
)
def k_anonymity(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """A quasi-identifier generalized to its chosen level; rows of suppressed classes null (a NOT
    NULL column: its placeholder, ``fill``)."""
    p = ctx.params
    base = p.get("base") or {}
    out = generalize(base_output(arr, base.get(ctx.column), ctx.table, ctx.column), p["levels"][ctx.column])
    suppressed = p.get("suppressed") or []
    if suppressed and ctx.batch is not None and len(arr):
        hit = _suppressed_rows(ctx.batch, p, ctx, out)
        out = pc.if_else(hit, pa.scalar(None, out.type), out)
    return fill_suppressed(out, (p.get("fill") or {}).get(ctx.column))


_last: list = [None, None, None]  # (batch, params, mask): the mask is the same for every QI of a batch


def _suppressed_rows(batch: pa.RecordBatch, p: dict, ctx: OpContext, out: pa.Array) -> pa.Array:
    """Rows whose generalized quasi-identifiers form a suppressed class (computed once per batch)."""
    if _last[0] is batch and _last[1] is p:
        return _last[2]
    base = p.get("base") or {}
    parts = [out if q == ctx.column else
             generalize(base_output(batch.column(q), base.get(q), ctx.table, q), p["levels"][q]) for q in p["qis"]]
    hit = pc.is_in(tuple_keys(parts), value_set=pa.array(p["suppressed"], pa.string()))
    _last[:] = [batch, p, hit]
    return hit
