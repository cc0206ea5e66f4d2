"""date_shift, and the text-date handling shared with generalize.

CSV columns arrive as text; a date operator parses them (ISO 8601 date or
date-time), works on Arrow temporal types and writes text of the same shape
back. Parquet date/timestamp columns are used as they are.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .arrays import first_bad_row, is_text, map_distinct, u64
from .registry import OpContext, Param, operator

TEXT_FORMATS = {10: "%Y-%m-%d", 19: "%Y-%m-%d %H:%M:%S"}


def text_format(arr: pa.Array, ctx: OpContext) -> str:
    """The strptime format of a text date column, from the shape of its first value."""
    sample = arr.drop_null()
    if len(sample) == 0:
        return TEXT_FORMATS[10]
    first = sample[0].as_py()
    fmt = TEXT_FORMATS.get(len(first))
    if fmt is None:
        raise InputError("unsupported date text (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
                         row=first_bad_row(pc.is_null(arr), ctx.row_offset),
                         table=ctx.table, column=ctx.column,
                         hint="store dates in ISO 8601, or use Parquet with a date type")
    if len(first) == 19 and first[10] == "T":
        fmt = "%Y-%m-%dT%H:%M:%S"
    return fmt


def parse_text_dates(arr: pa.Array, ctx: OpContext) -> tuple[pa.Array, str]:
    fmt = text_format(arr, ctx)
    parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    if parsed.null_count != arr.null_count:
        ok = pc.or_(pc.is_valid(parsed), pc.is_null(arr))
        raise InputError(f"a value is not a date in the column's format ({fmt})",
                         row=first_bad_row(ok, ctx.row_offset), table=ctx.table,
                         column=ctx.column, hint="fix the value, or nullify this column")
    return parsed, fmt


def is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_date(t) or pa.types.is_timestamp(t)


def _subject_offsets(ctx: OpContext, n: int) -> pa.Array:
    """Days to shift each row by: keyed by the raw value of the subject column."""
    subject = ctx.batch.column(ctx.params["subject"]) if ctx.batch is not None else None
    if subject is None:
        raise RuntimeError("date_shift ran without its batch")
    max_days = ctx.params["max_days"]
    domain = ctx.params["domain"] or "date_shift"

    def offsets(uniques: pa.Array) -> pa.Array:
        r = (u64(ctx.digests(uniques, domain=domain), 0) % np.uint64(2 * max_days)).astype(np.int64)
        # [-max, -1] and [1, max]: never 0, so every date really moves
        return pa.array(np.where(r < max_days, r - max_days, r - max_days + 1), type=pa.int64())

    if subject.null_count == len(subject):
        return pa.nulls(n, pa.int64())
    return map_distinct(subject, offsets)


def _check_shift(params: dict) -> list[str]:
    return [] if params.get("max_days", 1) >= 1 else ["max_days must be 1 or more"]


@operator(
    "date_shift",
    params=(
        Param("subject", str, help="column whose raw value keys the offset (e.g. customer_id)"),
        Param("max_days", int, 365, help="offsets lie in [-max_days, max_days], never 0"),
        Param("domain", str, "", help="offset domain; tables sharing it shift a subject alike"),
    ),
    keyed=True,
    check=_check_shift,
)
def date_shift(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Shift dates by one keyed offset per subject, so intervals between one
    person's dates survive while the dates themselves do not."""
    if arr.null_count == len(arr):
        return arr
    days = _subject_offsets(ctx, len(arr))
    t = arr.type
    if is_text(t):
        parsed, fmt = parse_text_dates(arr, ctx)
        shifted = _shift(parsed, days)
        return pc.cast(pc.strftime(shifted, format=fmt), t)
    if not is_temporal(t):
        raise InputError("date_shift needs a date, timestamp or ISO date text column",
                         table=ctx.table, column=ctx.column)
    return _shift(arr, days)


def _shift(arr: pa.Array, days: pa.Array) -> pa.Array:
    t = arr.type
    days = pc.fill_null(days, 0)  # a row without subject keeps its date
    if pa.types.is_date32(t):
        return pc.add(arr.view(pa.int32()), pc.cast(days, pa.int32())).view(pa.date32())
    if pa.types.is_date64(t):
        ms = pc.multiply(days, 86_400_000)
        return pc.add(arr.view(pa.int64()), ms).view(pa.date64())
    per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[t.unit]
    delta = pc.multiply(days, per_day)
    return pc.add(arr.view(pa.int64()), delta).view(t)


def unshift(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Undo :func:`date_shift` for the key version in ``ctx`` (the subject column must hold originals)."""
    if arr.null_count == len(arr):
        return arr
    days = pc.negate(_subject_offsets(ctx, len(arr)))
    if is_text(arr.type):
        parsed, fmt = parse_text_dates(arr, ctx)
        return pc.cast(pc.strftime(_shift(parsed, days), format=fmt), arr.type)
    return _shift(arr, days)
