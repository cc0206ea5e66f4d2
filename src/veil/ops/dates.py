"""date_shift, and the text-date handling shared with generalize.

CSV columns arrive as text; a date operator parses them (ISO 8601 date or
date-time), works on Arrow temporal types and writes text of the same shape
back. Parquet date/timestamp columns are used as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .arrays import DigestKey, digests, first_bad_row, is_text, map_distinct, u64
from .registry import REKEY_UNDO, OpContext, Param, operator

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
                         hint="store dates as ISO 8601 text (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)")
    if len(first) == 19 and first[10] == "T":
        fmt = "%Y-%m-%dT%H:%M:%S"
    return fmt


def parse_text_dates(arr: pa.Array, ctx: OpContext) -> tuple[pa.Array, str]:
    """Parse ISO text dates; a value that is not a real date in the column's format fails (exit 5).

    strptime alone rolls invalid days over (2020-02-30 would become 2020-03-01) and accepts
    unpadded fields, so each parsed value must also print back to exactly its text.
    """
    fmt = text_format(arr, ctx)
    parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    same = pc.equal(pc.strftime(parsed, format=fmt), pc.cast(arr, pa.string()))
    ok = pc.or_(pc.fill_null(same, False), pc.is_null(arr))
    if not pc.all(ok).as_py():
        raise InputError(f"a value is not a valid date in the column's format ({fmt})",
                         row=first_bad_row(ok, ctx.row_offset), table=ctx.table,
                         column=ctx.column, hint="fix the value, or nullify this column")
    return parsed, fmt


def is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_date(t) or pa.types.is_timestamp(t)


#: ``resolution``: ``day`` moves every value by whole days (time of day kept); ``second`` moves
#: timestamps (and date-time text) by whole seconds, so their time of day moves too.
RESOLUTIONS = ("day", "second")
#: ``scope``: ``subject`` gives a subject one offset in every table of the domain; ``table`` mixes
#: the table's name into the key, so a subject's offsets differ from table to table.
SCOPES = ("subject", "table")
#: The HKDF purpose of per-table offset keys (both the blind-index key and the version's subkey),
#: apart from every domain's keys: a per-table key can never equal a per-subject one.
TABLE_PURPOSE = "date_shift-table"
SECONDS_PER_DAY = 86_400


def _offset_digests(ctx: OpContext, uniques: pa.Array) -> np.ndarray:
    """The keyed digest of each distinct subject, in the offset domain (per table with ``scope: table``)."""
    domain = ctx.params["domain"] or "date_shift"
    if ctx.params.get("scope", "subject") != "table":
        return ctx.digests(uniques, domain=domain)
    if ctx.keys is None:
        raise RuntimeError("a keyed operator ran without a key provider")
    # JSON of [domain, table]: unambiguous whatever either name holds
    dom = json.dumps([domain, ctx.table], ensure_ascii=False)
    key = DigestKey(ctx.keys.index_key(TABLE_PURPOSE, dom), ctx.keys.subkey(TABLE_PURPOSE, dom, ctx.key_version))
    return digests(key, uniques)


def _subject_offsets(ctx: OpContext, n: int, unit: str = "day") -> pa.Array:
    """Each row's offset, in days or (``unit="second"``) seconds, keyed by the raw value of the
    subject column.

    With d the subject's digest and M = max_days: r = word0(d) mod 2M gives the day offset
    k = r - M (r < M) or r - M + 1, in [-M, -1] or [1, M]. In seconds the offset is
    sign(k) * (|k| * 86400 - word1(d) mod 86400), in [-86400 M, -1] or [1, 86400 M]: never 0,
    uniform, and always within the same whole day k as the day offset (a date column and a
    timestamp column of one subject keep their interval to within a day).
    """
    subject = ctx.batch.column(ctx.params["subject"]) if ctx.batch is not None else None
    if subject is None:
        raise RuntimeError("date_shift ran without its batch")
    max_days = ctx.params["max_days"]

    def offsets(uniques: pa.Array) -> pa.Array:
        d = _offset_digests(ctx, uniques)
        r = (u64(d, 0) % np.uint64(2 * max_days)).astype(np.int64)
        # [-max, -1] and [1, max]: never 0, so every date really moves
        k = np.where(r < max_days, r - max_days, r - max_days + 1)
        if unit == "second":
            within = (u64(d, 1) % np.uint64(SECONDS_PER_DAY)).astype(np.int64)
            k = np.sign(k) * (np.abs(k) * SECONDS_PER_DAY - within)
        return pa.array(k, type=pa.int64())

    if subject.null_count == len(subject):
        return pa.nulls(n, pa.int64())
    return map_distinct(subject, offsets)


#: The largest offset date_shift accepts: 100 years.
MAX_SHIFT_DAYS = 36_500


def _check_shift(params: dict) -> list[str]:
    if 1 <= params.get("max_days", 1) <= MAX_SHIFT_DAYS:
        return []
    return [f"max_days must be between 1 and {MAX_SHIFT_DAYS} (100 years)"]


@operator(
    "date_shift",
    params=(
        Param("subject", str, help="column whose raw value keys the offset (e.g. customer_id)"),
        Param("max_days", int, 365, help="offsets lie in [-max_days, max_days], never 0"),
        Param("domain", str, "", help="offset domain; tables sharing it shift a subject alike"),
        Param("resolution", str, "day", choices=RESOLUTIONS,
              help="day: whole days, time of day kept; second: timestamps move by seconds (time of day too)"),
        Param("scope", str, "subject", choices=SCOPES,
              help="subject: one offset per subject in every table; table: a subject's offset differs per table"),
    ),
    keyed=True,
    check=_check_shift,
    accepts=lambda t, params: None if is_text(t) or is_temporal(t) else
    f"date_shift needs a date, timestamp or text column, not {t}",
    span_problem="date_shift needs a subject column and a date; it cannot replace an entity inside text",
    context_columns=lambda params: (params["subject"],),
    parses_dates=True,
    rekey=REKEY_UNDO,
    undo=lambda arr, ctx: unshift(arr, ctx),
)
def date_shift(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Shift dates by one keyed offset per subject, so intervals between one
    person's dates survive while the dates themselves do not."""
    return _move(arr, ctx, 1)


def unshift(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Undo :func:`date_shift` for the key version in ``ctx`` (the subject column must hold originals)."""
    return _move(arr, ctx, -1)


def _move(arr: pa.Array, ctx: OpContext, sign: int) -> pa.Array:
    """Shift (``sign`` 1) or unshift (-1) by each row's offset, at the resolution the column holds."""
    if arr.null_count == len(arr):
        return arr
    resolution = ctx.params.get("resolution", "day")

    def offsets(timed: bool) -> tuple[pa.Array, str]:
        # seconds only where the values hold a time of day and the rule asks for them
        unit = "second" if timed and resolution == "second" else "day"
        off = _subject_offsets(ctx, len(arr), unit)
        return (off if sign > 0 else pc.negate(off)), unit

    t = arr.type
    if is_text(t):
        return shift_text(arr, offsets, ctx)
    if not is_temporal(t):
        raise InputError("date_shift needs a date, timestamp or ISO date text column",
                         table=ctx.table, column=ctx.column)
    return _shift(arr, *offsets(pa.types.is_timestamp(t)))


# Shifted dates stay within 0001-01-01 .. 9999-12-31 (what ISO text, Python, and SQL
# databases can hold), and within the int64 range of the column's unit (timestamp[ns]: 1677..2262).
FIRST_DAY = -719_162  # 0001-01-01, days since 1970-01-01
LAST_DAY = 2_932_896  # 9999-12-31
_TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _shift(arr: pa.Array, offsets: pa.Array, unit: str = "day") -> pa.Array:
    """Add whole days (``unit="day"``) or seconds (``"second"``, timestamps only); a result outside
    the type's range (or 0001..9999) is clamped to its edge."""
    t = arr.type
    offsets = pc.fill_null(offsets, 0).to_numpy(zero_copy_only=False).astype(np.int64)  # no subject: unchanged
    if pa.types.is_date32(t):
        storage, per_day = pa.int32(), 1
    elif pa.types.is_date64(t):
        storage, per_day = pa.int64(), 86_400_000
    else:
        storage, per_day = pa.int64(), _TICKS_PER_DAY[t.unit]
    sec = max(per_day // 86_400, 1)
    top = np.iinfo(np.int64).max // sec * sec  # whole seconds (timestamp[ns] reaches int64's end)
    lo = max(FIRST_DAY * per_day, -top)
    hi = min((LAST_DAY + 1) * per_day - 1, top)
    vals = pc.fill_null(arr.view(storage), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if unit == "second" and not pa.types.is_timestamp(t):
        raise ValueError("a shift in seconds needs a timestamp")
    # |offset| <= MAX_SHIFT_DAYS days: no overflow
    delta = offsets * (sec if unit == "second" else per_day)
    with np.errstate(over="ignore"):
        moved = vals + delta  # may wrap where it is out of range: those rows are clamped below
    moved = np.where((delta > 0) & (vals > hi - delta), hi, moved)
    moved = np.where((delta < 0) & (vals < lo - delta), lo, moved)
    moved = np.clip(moved, lo, hi)
    out = pa.array(moved.astype(np.int32 if storage == pa.int32() else np.int64), storage,
                   mask=pc.is_null(arr).to_numpy(zero_copy_only=False))
    return out.view(t)


#: A date-time with fractional seconds and/or a UTC offset, as PostgreSQL writes ``timestamptz``
#: (and ``timestamp(n)``) values in a dump: "2020-01-02 03:04:05.123456+02", "...-03:30", "...Z".
ZONED_TEXT = (r"^(?P<core>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})"
              r"(?P<rest>(?:\.\d{1,9})?(?:[+-]\d{2}(?::?\d{2}(?::\d{2})?)?|Z)?)$")


def shift_text(arr: pa.Array, offsets: Callable[[bool], tuple[pa.Array, str]], ctx: OpContext) -> pa.Array:
    """Shift ISO date text by each row's offset: ``offsets(timed)`` gives the offsets and their unit
    (``"day"`` or ``"second"``), ``timed`` telling whether the text holds a time of day. A value with
    fractional seconds or a UTC offset keeps them as written: its wall time moves under the same
    offset, which moves the instant by as much."""
    sample = arr.drop_null()
    if len(sample) == 0 or len(sample[0].as_py()) in TEXT_FORMATS:
        parsed, fmt = parse_text_dates(arr, ctx)
        return pc.cast(pc.strftime(_shift(parsed, *offsets(fmt != TEXT_FORMATS[10])), format=fmt), arr.type)
    parts = pc.extract_regex(pc.cast(arr, pa.string()), ZONED_TEXT)
    ok = pc.or_(pc.is_valid(parts), pc.is_null(arr))
    if not pc.all(ok).as_py():
        raise InputError("unsupported date text (expected YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS with optional "
                         "fractional seconds and UTC offset)", row=first_bad_row(ok, ctx.row_offset),
                         table=ctx.table, column=ctx.column, hint="fix the value, or nullify this column")
    parsed, fmt = parse_text_dates(pc.struct_field(parts, "core"), ctx)
    shifted = pc.strftime(_shift(parsed, *offsets(True)), format=fmt)
    return pc.cast(pc.binary_join_element_wise(shifted, pc.struct_field(parts, "rest"), ""), arr.type)
