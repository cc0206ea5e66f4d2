"""Generalization hierarchies of quasi-identifiers: level -> a coarser array, vectorised.

A hierarchy is a list of *levels*, each a small dict of plain data (a "spec": it travels to the
worker processes inside the operator's parameters). Level 0 is the value itself, the last level
is ``suppressed`` (every value null). Each level is a function of the one below it (a month
determines its quarter, a 3-digit prefix its 2-digit prefix, a bucket of width 2w holds whole
buckets of width w), so generalizing never splits an equivalence class.

Built-in hierarchies, chosen from the column's type and values (:func:`build`):

- ``date``: a date or timestamp column: (timestamp: day ->) month -> quarter -> year -> 5 years
  -> decade. A typed column keeps its type (the first day of the period, as ``generalize``
  does); ISO text dates become text ("1984-03", "1984-Q1", "1984", "1980-1984", "1980-1989").
- ``number``: integer, float and decimal columns: buckets whose width doubles, from a base width
  (a power of ten near 1/256 of the values' span) until one bucket holds them all; a value becomes
  its bucket's lower bound (the column keeps its type; buckets start at 0, so negative and
  positive values stay apart until suppressed).
- ``number`` as text too: text of numbers of varying length without leading zeros (a CSV's age,
  salary): buckets as above, the bound written as text.
- ``prefix``: short codes (postcodes, ZIP: text of at most 10 letters, digits, spaces, dashes or
  "*", at least half of them with a digit; digits all of one length of 4 or more, or with a leading
  zero, are codes, not numbers): the first n characters then "*", n = longest - 1 .. 1.
- ``category``: other text: the values held by at least k, 2k, 4k ... rows are kept, the others
  become "other" ("*" when every value is shorter than that: it must fit the column).
- ``any``: any other type (boolean, binary): the value, or suppressed.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Spec = dict[str, Any]

SUPPRESSED: Spec = {"kind": "any", "name": "suppressed"}
OTHER = "other"
SHORT_OTHER = "*"
#: a number hierarchy's base width: the power of ten nearest above span / this
NUMBER_STEPS = 256
#: prefix hierarchies: codes of at most this many characters
PREFIX_MAX_LEN = 10
_CODE = r"^[0-9A-Za-z][0-9A-Za-z \-*]*$"  # * too: a code its own rule masked (021**)
_NUMBER = r"^-?\d+(\.\d+)?$"
_INTEGER = r"^-?\d+$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
DATE_UNITS = ("day", "month", "quarter", "year", "5 years", "decade")
_NS_PER = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DAY_S = 86_400


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_date(t) or pa.types.is_timestamp(t)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def build(values: pa.Array, counts: np.ndarray, k: int) -> list[Spec]:
    """The levels of a quasi-identifier, from its distinct ``values`` (nulls included or not) and
    how many rows hold each (``counts``, for the category thresholds). Deterministic."""
    t = values.type
    present = values.filter(pc.is_valid(values)) if values.null_count else values
    value: Spec = {"kind": "value", "name": "value"}
    if _is_temporal(t):
        units = DATE_UNITS if pa.types.is_timestamp(t) else DATE_UNITS[1:]
        return [value] + [{"kind": "date", "name": u, "unit": u} for u in units] + [SUPPRESSED]
    if _is_numeric(t):
        return [value] + _number_levels(present) + [SUPPRESSED]
    if not _is_text(t) or len(present) == 0:
        return [value, SUPPRESSED]
    if pc.all(pc.match_substring_regex(present, _ISO_DATE)).as_py():
        return [value] + [{"kind": "date_text", "name": u, "unit": u} for u in DATE_UNITS] + [SUPPRESSED]
    lengths = pc.utf8_length(present)
    if pc.all(pc.match_substring_regex(present, _NUMBER)).as_py() and not _fixed_code(present, lengths):
        integral = pc.all(pc.match_substring_regex(present, _INTEGER)).as_py()
        return [value] + _number_levels(pc.cast(present, pa.float64()), integral) + [SUPPRESSED]
    if (pc.max(lengths).as_py() <= PREFIX_MAX_LEN and pc.all(pc.match_substring_regex(present, _CODE)).as_py()
            and pc.mean(pc.cast(pc.match_substring_regex(present, r"\d"), pa.int8())).as_py() >= 0.5):
        longest = pc.max(lengths).as_py()
        return [value] + [{"kind": "prefix", "name": f"prefix {n}", "n": n}
                          for n in range(longest - 1, 0, -1)] + [SUPPRESSED]
    return [value] + _category_levels(values, counts, k) + [SUPPRESSED]


def _fixed_code(present: pa.Array, lengths: pa.Array) -> bool:
    """Digits that are a code, not a number: every value as long (4 or more), or a leading zero."""
    mm = pc.min_max(lengths)
    same = mm["min"].as_py() == mm["max"].as_py() and mm["min"].as_py() >= 4
    return same or pc.any(pc.match_substring_regex(present, r"^-?0\d")).as_py()


def _number_levels(present: pa.Array, integral: bool | None = None) -> list[Spec]:
    if len(present) == 0:
        return []
    mm = pc.min_max(pc.cast(present, pa.float64(), safe=False))
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    span = max(hi - lo, 0.0)
    if span == 0:
        return []
    base = 10.0 ** math.ceil(math.log10(span / NUMBER_STEPS))
    if integral if integral is not None else pa.types.is_integer(present.type):
        base = max(base, 1.0)
    levels, width = [], base
    while True:
        levels.append({"kind": "bucket", "name": f"bucket {_num(width)}", "width": width,
                       "decimals": max(0, -round(math.log10(base)))})
        # one bucket holds every value, or two do ([-w, 0) and [0, w): buckets start at 0)
        if math.floor(lo / width) == math.floor(hi / width) or width > max(abs(lo), abs(hi)):
            return levels
        width *= 2


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _category_levels(values: pa.Array, counts: np.ndarray, k: int) -> list[Spec]:
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    vals = np.array(values.to_pylist(), dtype=object)[valid]
    cnt = np.asarray(counts)[valid]
    order = np.lexsort((vals.astype(str), -cnt))  # most frequent first, ties by value: deterministic
    vals, cnt = vals[order], cnt[order]
    # "other", or "*" where every value is shorter (a char(1) column must still hold it)
    label = OTHER if max((len(str(v)) for v in vals), default=0) >= len(OTHER) else SHORT_OTHER
    levels: list[Spec] = []
    kept_before = len(vals) + 1
    threshold = max(int(k), 1)
    while True:
        n = int((cnt >= threshold).sum())
        if n < kept_before and n < len(vals):
            levels.append({"kind": "category", "name": f"values of {threshold}+ rows" if n else "all other",
                           "min_rows": threshold, "label": label,
                           "keep": [str(v) for v in vals[:n]]})
            kept_before = n
        if n == 0:
            return levels
        threshold *= 2


# -- applying a level ----------------------------------------------------------------------------


def generalize(arr: pa.Array, spec: Spec) -> pa.Array:
    """``arr`` at the level ``spec``: same length; nulls stay null."""
    kind = spec["kind"]
    if kind == "value":
        return arr
    if kind == "any":
        return pa.nulls(len(arr), arr.type)
    if kind == "date":
        return _date(arr, spec["unit"])
    if kind == "date_text":
        return _date_text(arr, spec["unit"])
    if kind == "bucket":
        return _bucket(arr, float(spec["width"]), int(spec.get("decimals", 0)))
    if kind == "prefix":
        n = int(spec["n"])
        head = pc.utf8_slice_codeunits(arr, 0, n)
        longer = pc.greater(pc.utf8_length(arr), n)
        star, sep = pa.scalar("*", arr.type), pa.scalar("", arr.type)  # large_string too (pandas 3's text)
        return pc.if_else(longer, pc.binary_join_element_wise(head, star, sep), arr)
    if kind == "category":
        keep = pa.array(spec["keep"], arr.type)
        return pc.if_else(pc.is_in(arr, value_set=keep), arr, pa.scalar(spec.get("label", OTHER), arr.type))
    raise ValueError(f"unknown generalization level kind {kind!r}")


def _floor_days(days: np.ndarray, unit: str) -> np.ndarray:
    """Days since 1970-01-01 -> the first day of their period."""
    d = days.astype("datetime64[D]")
    if unit == "day":
        return days
    if unit in ("month", "quarter"):
        m = d.astype("datetime64[M]").astype(np.int64)
        if unit == "quarter":
            m = m - m % 3
        return m.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    y = y - y % {"year": 1, "5 years": 5, "decade": 10}[unit]
    return (y - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _days(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970-01-01, valid mask) of a date or timestamp array (timestamps by UTC day)."""
    t = arr.type
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    if pa.types.is_date32(t):
        raw = pc.fill_null(arr.view(pa.int32()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return raw, valid
    raw = pc.fill_null(arr.view(pa.int64()), 0).to_numpy(zero_copy_only=False)
    per_day = _DAY_S * 1000 if pa.types.is_date64(t) else _DAY_S * _NS_PER[t.unit]
    return np.floor_divide(raw, per_day), valid


def _date(arr: pa.Array, unit: str) -> pa.Array:
    t = arr.type
    days, valid = _days(arr)
    out = _floor_days(days, unit)
    if pa.types.is_date32(t):
        return pa.array(out.astype(np.int32), pa.int32(), mask=~valid).view(t)
    per_day = _DAY_S * 1000 if pa.types.is_date64(t) else _DAY_S * _NS_PER[t.unit]
    return pa.array(out * per_day, pa.int64(), mask=~valid).view(t)


def _date_text(arr: pa.Array, unit: str) -> pa.Array:
    """ISO text dates at a level, as text; a value that is no real date becomes null."""
    parsed = pc.strptime(pc.utf8_slice_codeunits(arr, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True)
    days, valid = _days(parsed)
    out = pa.array(_floor_days(days, unit).astype(np.int32), pa.int32(), mask=~valid).view(pa.date32())
    year = pc.strftime(out, format="%Y")
    if unit == "day":
        text = pc.strftime(out, format="%Y-%m-%d")
    elif unit == "month":
        text = pc.strftime(out, format="%Y-%m")
    elif unit == "quarter":
        q = pc.cast(pc.add(pc.divide(pc.subtract(pc.month(out), 1), 3), 1), pa.string())
        text = pc.binary_join_element_wise(year, q, "-Q")
    elif unit == "year":
        text = year
    else:
        span = 4 if unit == "5 years" else 9
        last = pc.cast(pc.add(pc.year(out), span), pa.string())
        text = pc.binary_join_element_wise(year, last, "-")
    return text.cast(arr.type)


def _bucket(arr: pa.Array, width: float, decimals: int = 0) -> pa.Array:
    """Each number -> the lower bound of its bucket of ``width`` (buckets start at 0)."""
    t = arr.type
    if _is_text(t):  # numbers written as text: their bucket's bound, as text (integers without ".0")
        nums = pc.cast(arr, pa.float64())
        whole = width.is_integer() and pc.all(pc.match_substring_regex(arr, _INTEGER)).as_py() is not False
        out = _bucket(pc.cast(nums, pa.int64()) if whole else nums, width, decimals)
        return pc.cast(out, pa.string()).cast(t)
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(t) and width.is_integer():
        x = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        w = np.int64(width)
        out = np.floor_divide(x, w) * w
        if pa.types.is_signed_integer(t):  # a bucket's bound below the type's least value (int8: -130)
            out = np.maximum(out, np.iinfo(t.to_pandas_dtype()).min)
        return pc.cast(pa.array(out, pa.int64(), mask=~valid), t, safe=False)
    x = pc.fill_null(pc.cast(arr, pa.float64(), safe=False), 0.0).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.floor(x / width) * width
        if decimals:  # 7 * 0.2 is 1.4000000000000001: the bound as the width writes it
            out = np.round(out, decimals)
    ok = valid & np.isfinite(out)
    floored = pa.array(np.where(ok, out, 0.0), pa.float64(), mask=~ok)
    if pa.types.is_decimal(t):
        floored = pc.round(floored, ndigits=t.scale)
    return pc.cast(floored, t, safe=False)


def placeholder(t: pa.DataType) -> object | None:
    """What a NOT NULL column holds where its value is suppressed (null elsewhere): "*" for text,
    0 for numbers, 0001-01-01 for dates and timestamps (1970-01-01 for nanoseconds), false; None
    when the type has no such value. It may equal a real generalized value: classes only merge."""
    if _is_text(t):
        return "*"
    if _is_numeric(t):
        return 0
    if pa.types.is_date(t) or pa.types.is_timestamp(t) and t.unit != "ns":
        return datetime.date(1, 1, 1) if pa.types.is_date(t) else datetime.datetime(1, 1, 1)
    if pa.types.is_timestamp(t):
        return datetime.datetime(1970, 1, 1)
    if pa.types.is_boolean(t):
        return False
    return None


def fill_suppressed(arr: pa.Array, value: object | None) -> pa.Array:
    """``arr`` with its nulls replaced by ``value`` (a NOT NULL column's placeholder), or as it is."""
    if value is None or arr.null_count == 0:
        return arr
    t = arr.type
    if pa.types.is_timestamp(t) and t.tz is not None:
        scalar = pa.scalar(value, pa.timestamp(t.unit)).cast(pa.int64())
        return pc.fill_null(arr.view(pa.int64()), scalar).view(t)
    return pc.fill_null(arr, pa.scalar(value, t))


# -- the key of a row's generalized tuple ----------------------------------------------------------


def tuple_keys(arrays: list[pa.Array]) -> pa.Array:
    """One text key per row of the generalized quasi-identifiers (each part length-prefixed, a null
    its own mark), the same in the search and in the workers: how suppressed classes are matched."""
    parts = []
    for a in arrays:
        text = a if _is_text(a.type) else pc.cast(a, pa.string())
        text = text.cast(pa.string())
        size = pc.cast(pc.utf8_length(text), pa.string())
        part = pc.binary_join_element_wise(size, text, ":")
        parts.append(pc.fill_null(part, "-"))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "|")
