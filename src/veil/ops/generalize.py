"""generalize: coarser values (date -> year or month, number -> bucket, text -> prefix)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .arrays import cast_checked, is_text, restore_type
from .dates import is_temporal, parse_text_dates
from .registry import OpContext, Param, operator

MODES = ("to", "bucket", "prefix")


def _check(params: dict) -> list[str]:
    given = [m for m in MODES if params.get(m) is not None]
    if len(given) != 1:
        return ["give exactly one of to (year|month), bucket (a number) or prefix (characters)"]
    if params.get("bucket") is not None and not params["bucket"] > 0:
        return ["bucket must be a positive number"]
    if params.get("prefix") is not None and params["prefix"] < 0:
        return ["prefix must be 0 or more"]
    return []


@operator(
    "generalize",
    params=(
        Param("to", str, None, ("year", "month"), "dates: keep only the year or the month"),
        Param("bucket", (int, float), None, help="numbers: round down to a multiple of this"),
        Param("prefix", int, None, help="text (postcodes): keep this many characters, mask the rest"),
    ),
    check=_check,
    out_type=lambda t, p: pa.string() if p.get("prefix") is not None and not is_text(t) else None,
)
def generalize(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Make values coarser. Typed dates keep their type (the first day of the
    year or month); text dates become 'YYYY' or 'YYYY-MM'."""
    p = ctx.params
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), generalize.output_type(arr.type, p))
    if p.get("to"):
        return _dates(arr, ctx, p["to"])
    if p.get("bucket") is not None:
        return _bucket(arr, ctx, p["bucket"])
    return _prefix(arr, p["prefix"])


def _dates(arr: pa.Array, ctx: OpContext, unit: str) -> pa.Array:
    t = arr.type
    if is_text(t):
        parsed, _ = parse_text_dates(arr, ctx)
        return pc.cast(pc.strftime(parsed, format="%Y" if unit == "year" else "%Y-%m"), t)
    if not is_temporal(t):
        raise InputError("generalize to year/month needs a date, timestamp or ISO date text column",
                         table=ctx.table, column=ctx.column, hint="use bucket or prefix instead")
    return pc.floor_temporal(arr, unit=unit)


def _bucket(arr: pa.Array, ctx: OpContext, size: float) -> pa.Array:
    t = arr.type
    nums = arr
    if is_text(t):
        nums = cast_checked(arr, pa.float64(), ctx, "a number", "fix the value, or nullify this column")
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        raise InputError("generalize bucket needs a numeric column", table=ctx.table,
                         column=ctx.column, hint="use prefix for text")
    if pa.types.is_integer(t) and float(size).is_integer():
        # exact integer arithmetic: floats would round large ids and overflow the cast
        vals = pc.fill_null(arr, 0).to_numpy().astype(np.int64 if pa.types.is_signed_integer(t) else np.uint64)
        step = vals.dtype.type(int(size))
        out = pa.array((vals // step) * step, mask=pc.is_null(arr).to_numpy(zero_copy_only=False))
        return pc.cast(out, t, safe=False)
    try:
        floored = pc.multiply(pc.floor(pc.divide(pc.cast(nums, pa.float64()), float(size))), float(size))
        if not is_text(t):
            return pc.cast(floored, t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError("a value cannot be bucketed in this column's type", table=ctx.table,
                         column=ctx.column, hint="use a bucket size that fits the column's precision") from None
    if is_text(t):
        text = pc.cast(pc.cast(floored, pa.int64()), pa.string()) if float(size).is_integer() \
            else pc.cast(floored, pa.string())
        return restore_type(text, t)
    return floored


def _prefix(arr: pa.Array, n: int) -> pa.Array:
    text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
    head = pc.utf8_slice_codeunits(text, 0, n)
    rest = pc.max_element_wise(pc.subtract(pc.utf8_length(text), n), 0)
    out = pc.binary_join_element_wise(head, pc.binary_repeat(pa.scalar("*", text.type), rest), "")
    return restore_type(out, arr.type)
