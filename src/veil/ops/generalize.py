"""generalize: coarser values (date -> year or month, number -> bucket, text -> prefix)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .arrays import cast_checked, char_view, is_text, masked_bytes, restore_type
from .basic import MAX_CHARS
from .dates import is_temporal, parse_text_dates
from .registry import OpContext, Param, operator

MAX_BUCKET = 1e18

MODES = ("to", "bucket", "prefix")


def _check(params: dict) -> list[str]:
    given = [m for m in MODES if params.get(m) is not None]
    if len(given) != 1:
        return ["give exactly one of to (year|month), bucket (a number) or prefix (characters)"]
    bucket = params.get("bucket")
    if bucket is not None and not (math.isfinite(bucket) and 0 < bucket <= MAX_BUCKET):
        return [f"bucket must be a finite number above 0 and at most {MAX_BUCKET:.0e}"]
    if params.get("prefix") is not None and not 0 <= params["prefix"] <= MAX_CHARS:
        return [f"prefix must be between 0 and {MAX_CHARS}"]
    return []


def _accepts(t: pa.DataType, params: dict) -> str | None:
    text, temporal = is_text(t), is_temporal(t)
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if params.get("to") and not (text or temporal):
        return f"generalize to {params['to']} needs a date, timestamp or text column, not {t}"
    if params.get("bucket") is not None and not (text or numeric):
        return f"generalize bucket needs a numeric or text column, not {t}"
    if params.get("bucket") is not None and pa.types.is_integer(t) and not float(params["bucket"]).is_integer():
        return f"generalize bucket on an integer column ({t}) needs a whole number"
    return None


def _max_length(t: pa.DataType, params: dict) -> int | None:
    if params.get("to") and is_text(t):
        return 4 if params["to"] == "year" else 7
    return None


@operator(
    "generalize",
    params=(
        Param("to", str, None, ("year", "month"), "dates: keep only the year or the month"),
        Param("bucket", (int, float), None, help="numbers: round down to a multiple of this"),
        Param("prefix", int, None, help="text (postcodes): keep this many characters, mask the rest"),
    ),
    check=_check,
    out_type=lambda t, p: pa.string() if p.get("prefix") is not None and not is_text(t) else None,
    accepts=_accepts,
    span_problem=lambda p: None if p.get("prefix") is not None else
    "generalize works on spans of text only with prefix",
    parses_dates=lambda p: bool(p.get("to")),
    max_output_length=_max_length,
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
    out = pc.floor_temporal(arr, unit=unit)
    # the first day of the year may lie before the type's range (timestamp[ns] starts in
    # September 1677), where Arrow wraps around: such values get the type's first instant
    storage = pa.int32() if pa.types.is_date32(t) else pa.int64()
    before, after = arr.view(storage), out.view(storage)
    wrapped = pc.fill_null(pc.greater(after, before), False)
    if pc.any(wrapped).as_py():
        first = pa.scalar(-(np.iinfo(np.int32).max if storage == pa.int32() else
                            np.iinfo(np.int64).max // 1_000_000_000 * 1_000_000_000), storage)
        out = pc.if_else(wrapped, first, after).view(t)
    return out


def _bucket(arr: pa.Array, ctx: OpContext, size: float) -> pa.Array:
    """Round down to a multiple of ``size``. Values that are not finite numbers (NaN, infinities,
    text such as "inf" or "1e400") become null; a result below the smallest value of the column's
    type (int8 -128 with bucket 10 gives -130) becomes that smallest value."""
    t = arr.type
    if pa.types.is_integer(t) and float(size).is_integer():
        return _bucket_int(arr, int(size))
    if is_text(t):
        nums = cast_checked(arr, pa.float64(), ctx, "a number", "fix the value, or nullify this column")
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        nums = pc.cast(arr, pa.float64(), safe=False)  # large integers round, as floats do
    else:
        raise InputError("generalize bucket needs a numeric column", table=ctx.table,
                         column=ctx.column, hint="use prefix for text")
    x = pc.fill_null(nums, 0.0).to_numpy(zero_copy_only=False).astype(np.float64)
    valid = np.isfinite(x) & ~pc.is_null(nums).to_numpy(zero_copy_only=False)
    x = np.where(valid, x, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.floor(x / size) * size
        # x / size overflows for a tiny bucket: the remainder gives the same floor without it
        far = ~np.isfinite(out)
        if far.any():
            rem = np.fmod(x, size)
            out = np.where(far, x - np.where(rem < 0, rem + size, rem), out)
    lo, hi = _float_range(t)
    out = np.clip(np.nan_to_num(out, nan=0.0, posinf=hi, neginf=lo), lo, hi)
    floored = pa.array(out, pa.float64(), mask=~valid)
    if is_text(t):
        return restore_type(_number_text(floored, out, valid, float(size).is_integer()), t)
    if pa.types.is_decimal(t):
        floored = pc.round(floored, ndigits=t.scale)
    try:
        return pc.cast(floored, t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError("a value cannot be bucketed in this column's type", table=ctx.table,
                         column=ctx.column, hint="use a bucket size that fits the column's precision") from None


def _bucket_int(arr: pa.Array, size: int) -> pa.Array:
    """Exact integer arithmetic (floats would round large ids); the floor never goes below the
    type's minimum."""
    t = arr.type
    info = np.iinfo(t.to_pandas_dtype())
    wide = np.int64 if pa.types.is_signed_integer(t) else np.uint64
    vals = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(wide)
    step = wide(size)  # size <= MAX_BUCKET < 2**63
    rem = vals % step  # 0 <= rem < step, also for negative values
    # vals - rem is the floor; it can only fall below the minimum, where it is clamped
    below = vals < wide(info.min) + rem if wide is np.int64 else np.zeros(len(vals), bool)
    with np.errstate(over="ignore"):
        out = np.where(below, wide(info.min), vals - rem)
    return pc.cast(pa.array(out, mask=pc.is_null(arr).to_numpy(zero_copy_only=False)), t)


def _float_range(t: pa.DataType) -> tuple[float, float]:
    """The finite range a bucketed value must stay in to fit the column's type."""
    if pa.types.is_floating(t) and t.bit_width < 64:
        info = np.finfo(np.float16 if t.bit_width == 16 else np.float32)
        return float(info.min), float(info.max)
    if pa.types.is_decimal(t):
        top = float(10 ** (t.precision - t.scale)) - 10.0 ** -t.scale
        return -top, top
    if pa.types.is_integer(t):
        info = np.iinfo(t.to_pandas_dtype())
        return float(info.min), float(info.max)
    return float(np.finfo(np.float64).min), float(np.finfo(np.float64).max)


def _number_text(floored: pa.Array, out: np.ndarray, valid: np.ndarray, whole: bool) -> pa.Array:
    """Bucketed numbers as text: integer text for a whole bucket (exact, also beyond 64 bits)."""
    if not whole:
        return pc.cast(floored, pa.string())
    if not (np.abs(out[valid]) < 2.0 ** 63).all():
        return pa.array([str(int(v)) if ok else None for v, ok in zip(out.tolist(), valid.tolist(), strict=True)],
                        pa.string())
    return pc.cast(pc.cast(floored, pa.int64()), pa.string())


def _prefix(arr: pa.Array, n: int) -> pa.Array:
    text, undecodable = char_view(arr)  # binary values that are not UTF-8 are masked whole
    head = pc.utf8_slice_codeunits(text, 0, n)
    rest = pc.max_element_wise(pc.subtract(pc.utf8_length(text), n), 0)
    out = pc.binary_join_element_wise(head, pc.binary_repeat(pa.scalar("*", text.type), rest), "")
    return restore_type(masked_bytes(out, arr, undecodable, "*"), arr.type)
