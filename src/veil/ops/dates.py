"""date_shift, and the text-date handling shared with generalize.

CSV columns arrive as text; a date operator parses them (ISO 8601 date or
date-time), works on Arrow temporal types and writes text of the same shape
back. Parquet date/timestamp columns are used as they are.
"""

from __future__ import annotations

import json

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
#: timestamps (and date-time text) by whole seconds, so their time of day moves too (a fraction of
#: a second is kept); ``column`` moves them at the column's own unit (timestamp[ms|us|ns]: by ms, us,
#: ns; text: by as many decimals as each value's fraction has), so the fraction moves too.
RESOLUTIONS = ("day", "second", "column")
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


class _Offsets:
    """Each row's offset, keyed by the raw value of the subject column (one digest per distinct
    subject of the batch), at any resolution: :meth:`at`.

    With d the subject's digest and M = max_days: r = word0(d) mod 2M gives the day offset
    k = r - M (r < M) or r - M + 1, in [-M, -1] or [1, M]. In seconds the offset is
    s = sign(k) * (|k| * 86400 - word1(d) mod 86400), in [-86400 M, -1] or [1, 86400 M]; in
    1/P seconds (P = 1000 for ms...) it is sign(k) * (|s| * P - word2(d) mod P). Each is never 0,
    uniform, and nests in the coarser one (|s| lies in (|k| - 1, |k|] days): a subject's date,
    timestamp and timestamp[us] columns keep their intervals to within a day, or a second.
    A row whose subject is null gets 0 (its date is kept).
    """

    def __init__(self, ctx: OpContext, n: int, sign: int) -> None:
        subject = ctx.batch.column(ctx.params["subject"]) if ctx.batch is not None else None
        if subject is None:
            raise RuntimeError("date_shift ran without its batch")
        max_days = ctx.params["max_days"]

        def words(uniques: pa.Array) -> pa.Array:
            d = _offset_digests(ctx, uniques)
            r = (u64(d, 0) % np.uint64(2 * max_days)).astype(np.int64)
            # [-max, -1] and [1, max]: never 0, so every date really moves
            k = np.where(r < max_days, r - max_days, r - max_days + 1)
            within = (u64(d, 1) % np.uint64(SECONDS_PER_DAY)).astype(np.int64)
            return pa.StructArray.from_arrays([pa.array(k), pa.array(within), pa.array(u64(d, 2))],
                                              ["k", "within", "fraction"])

        self.sign = sign
        if subject.null_count == len(subject):
            self.k = self.within = np.zeros(n, np.int64)
            self.fraction = np.zeros(n, np.uint64)
            return
        rows = map_distinct(subject, words)
        self.k = pc.fill_null(pc.struct_field(rows, "k"), 0).to_numpy(zero_copy_only=False)
        self.within = pc.fill_null(pc.struct_field(rows, "within"), 0).to_numpy(zero_copy_only=False)
        self.fraction = pc.fill_null(pc.struct_field(rows, "fraction"), 0).to_numpy(zero_copy_only=False)

    def at(self, per_second: int | np.ndarray | None) -> np.ndarray:
        """Each row's offset (negated to undo), in days (``None``), or in 1/``per_second`` seconds
        (1: seconds; an array: per row)."""
        if per_second is None:
            return self.sign * self.k
        sign = np.sign(self.k)  # 0 where the subject is null
        s = np.abs(self.k) * SECONDS_PER_DAY - self.within
        p = np.asarray(per_second, np.int64)
        ticks = s * p - (self.fraction % p.astype(np.uint64)).astype(np.int64)
        return self.sign * sign * ticks


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
    """Shift (``sign`` 1) or unshift (-1) by each row's offset, at the resolution the rule asks for
    and the column holds."""
    if arr.null_count == len(arr):
        return arr
    t = arr.type
    if not is_text(t) and not is_temporal(t):
        raise InputError("date_shift needs a date, timestamp or ISO date text column",
                         table=ctx.table, column=ctx.column)
    offsets = _Offsets(ctx, len(arr), sign)
    resolution = ctx.params.get("resolution", "day")
    if is_text(t):
        return shift_text(arr, offsets, resolution, ctx)
    per_day = _ticks_per_day(t)
    if not pa.types.is_timestamp(t) or resolution == "day":
        return _shift(arr, offsets.at(None), per_day)
    per_second = per_day // SECONDS_PER_DAY
    if resolution == "second":
        return _shift(arr, offsets.at(1), per_second)
    return _shift(arr, offsets.at(per_second), 1)


# Shifted dates stay within 0001-01-01 .. 9999-12-31 (what ISO text, Python, and SQL
# databases can hold), and within the int64 range of the column's unit (timestamp[ns]: 1677..2262).
FIRST_DAY = -719_162  # 0001-01-01, days since 1970-01-01
LAST_DAY = 2_932_896  # 9999-12-31
_TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _ticks_per_day(t: pa.DataType) -> int:
    if pa.types.is_date32(t):
        return 1
    if pa.types.is_date64(t):
        return 86_400_000
    return _TICKS_PER_DAY[t.unit]


def _shift(arr: pa.Array, offsets: np.ndarray, step: int) -> pa.Array:
    """Add ``offsets * step`` ticks of the column's type to each value (``offsets``: int64, one per
    row, 0 for a null); a result outside the type's range (or 0001..9999) is clamped to its edge."""
    t = arr.type
    storage = pa.int32() if pa.types.is_date32(t) else pa.int64()
    per_day = _ticks_per_day(t)
    sec = max(per_day // SECONDS_PER_DAY, 1)
    top = np.iinfo(np.int64).max // sec * sec  # whole seconds (timestamp[ns] reaches int64's end)
    lo = max(FIRST_DAY * per_day, -top)
    hi = min((LAST_DAY + 1) * per_day - 1, top)
    vals = pc.fill_null(arr.view(storage), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    # |offset| <= MAX_SHIFT_DAYS days in any unit: no overflow
    delta = np.asarray(offsets, np.int64) * step
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
ZONED_TEXT = (r"^(?P<core>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?P<fraction>(?:\.\d{1,9})?)"
              r"(?P<zone>(?:[+-]\d{2}(?::?\d{2}(?::\d{2})?)?|Z)?)$")


def shift_text(arr: pa.Array, offsets: _Offsets, resolution: str, ctx: OpContext) -> pa.Array:
    """Shift ISO date text by each row's offset: date text by days, date-time text at the rule's
    resolution. A UTC offset is kept as written: the wall time moves under the same offset, which
    moves the instant by as much. A fraction of a second is kept as written, except with
    ``resolution: column``, which moves it in units of its last decimal (and keeps its width)."""
    sample = arr.drop_null()
    if len(sample) == 0 or len(sample[0].as_py()) in TEXT_FORMATS:
        parsed, fmt = parse_text_dates(arr, ctx)
        if fmt == TEXT_FORMATS[10] or resolution == "day":
            moved = _shift(parsed, offsets.at(None), SECONDS_PER_DAY)
        else:
            moved = _shift(parsed, offsets.at(1), 1)
        return pc.cast(pc.strftime(moved, format=fmt), arr.type)
    parts = pc.extract_regex(pc.cast(arr, pa.string()), ZONED_TEXT)
    ok = pc.or_(pc.is_valid(parts), pc.is_null(arr))
    if not pc.all(ok).as_py():
        raise InputError("unsupported date text (expected YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS with optional "
                         "fractional seconds and UTC offset)", row=first_bad_row(ok, ctx.row_offset),
                         table=ctx.table, column=ctx.column, hint="fix the value, or nullify this column")
    parsed, fmt = parse_text_dates(pc.struct_field(parts, "core"), ctx)
    fraction = pc.struct_field(parts, "fraction")
    if resolution == "day":
        moved = _shift(parsed, offsets.at(None), SECONDS_PER_DAY)
    elif resolution == "second":
        moved = _shift(parsed, offsets.at(1), 1)
    else:
        moved, fraction = _shift_fraction(parsed, fraction, offsets)
    return pc.cast(pc.binary_join_element_wise(pc.strftime(moved, format=fmt), fraction,
                                               pc.struct_field(parts, "zone"), ""), arr.type)


def _shift_fraction(parsed: pa.Array, fraction: pa.Array, offsets: _Offsets) -> tuple[pa.Array, pa.Array]:
    """Shift whole seconds (``parsed``, timestamp[s]) and their written fraction (".25", "" for none)
    together, by each row's offset in units of the fraction's last decimal; the fraction keeps its
    width. Returns the moved seconds and the new fraction text."""
    digits = np.maximum(pc.fill_null(pc.utf8_length(fraction), 0).to_numpy(zero_copy_only=False) - 1, 0)
    scale = (10 ** digits.astype(np.int64)).astype(np.int64)
    value = pc.cast(pc.if_else(pc.greater(pc.utf8_length(fraction), 0),
                               pc.utf8_slice_codeunits(fraction, 1), "0"), pa.int64())
    value = pc.fill_null(value, 0).to_numpy(zero_copy_only=False)
    off = offsets.at(scale)
    total = value + off % scale  # the offset's part below a second, carried into the seconds
    moved = _shift(parsed, off // scale + total // scale, 1)
    text = pc.cast(pa.array(total % scale), pa.string())
    out = pa.array([""] * len(parsed), pa.string())
    for width in np.unique(digits[digits > 0]):
        padded = pc.binary_join_element_wise(".", pc.utf8_lpad(text, int(width), "0"), "")
        out = pc.if_else(pa.array(digits == width), padded, out)
    return moved, out
