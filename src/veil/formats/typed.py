"""Typed output: the Arrow type of each output column of a Parquet file, decided before its table's
first row is written, and the cast of every batch to it (docs/formats/parquet.md).

veil works on CSV values (and on some dump columns) as text, so operators, keys and pseudonyms do
not depend on the output format. Typing is an output concern only: a column's *source type* says
what its values are (a profile ``type:``, else the DDL of a dump, else inference from the first
:data:`SAMPLE_ROWS` rows of a CSV file), and :func:`output_types` decides from it, and from the
column's operator, the type written:

- a kept column, or one the operator nulls: the source type;
- a column the operator writes integers into (``pseudonymize format: int``: the operator tells
  its range): the source's integer type when the range fits it, else int64 (uint64 when the
  range only fits that);
- a column an operator moves dates in, keeping their shape (``date_shift``: it parses dates and
  writes its input type with no length limit of its own): the source's date or timestamp type;
- any other transformed column: the operator's own type (a token is text whatever the source).

A declared ``type:`` the rule cannot honour (``type: int64`` on a tokenized column) is refused
before the table is written. A value that does not fit its column's type (a late ``N/A`` in a
column inferred as int64) fails the run with an InputError naming the file, row and column,
never the value: the output's schema does not change with the data, and nothing is lost silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..ops.arrays import is_text
from .parquet import output_metadata

#: rows of a CSV file the inference reads (its first ones): the rule is in docs/formats/csv.md
SAMPLE_ROWS = 10_000

# -- type names (profile ``type:``) -------------------------------------------------------

_NAMED = {
    "string": pa.string(), "bool": pa.bool_(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "float32": pa.float32(), "float64": pa.float64(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
TYPE_NAMES = (*_NAMED, "decimal(p,s)")
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")


def parse_type(name: str) -> pa.DataType | None:
    """The Arrow type of a profile ``type:`` (None: not a type name). ``decimal(p,s)``: 1 <= p <= 76,
    0 <= s <= p (decimal128 up to 38 digits, decimal256 beyond)."""
    if not isinstance(name, str):
        return None
    text = name.strip().lower()
    if text in _NAMED:
        return _NAMED[text]
    m = _DECIMAL.match(text)
    if m is None:
        return None
    p, s = int(m.group(1)), int(m.group(2) or 0)
    if not (1 <= p <= 76 and s <= p):
        return None
    return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)


def type_name(t: pa.DataType) -> str:
    """A type as the profile writes it (``decimal(10,2)``, ``timestamptz``), else Arrow's name."""
    for name, known in _NAMED.items():
        if t == known:
            return name
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    return str(t)


# -- inference from a sample ---------------------------------------------------------------

# the literals inferred columns accept (and, once inferred, every later value must be one)
_INT = r"^-?(0|[1-9][0-9]*)$"  # no leading zeros: ZIP codes and phone-like numbers stay text
_DEC = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_STAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
_NAIVE = _STAMP + "$"
_ZONED = _STAMP + r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_BOOL_WORDS = ("true", "false")
_MAX_SCALE = 18


def _all(arr: pa.Array, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(arr, pattern)).as_py())


def _casts(arr: pa.Array, to: pa.DataType) -> bool:
    try:
        pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def infer_type(arr: pa.Array) -> pa.DataType:
    """The type of a text column from a sample of its values, by the documented rule (first match;
    nulls and empty values are left out; no value at all: string): bool (every value true/false, any
    case), int64 (integer literals without leading zeros, in range), decimal(38, s) (decimal literals
    without leading zeros or exponent; s the most decimals seen, at most 18), date (YYYY-MM-DD),
    timestamp (ISO date-time without an offset) or timestamptz (every value with an offset or Z),
    else string."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not is_text(arr.type):
        return arr.type
    arr = pc.drop_null(arr)
    arr = arr.filter(pc.not_equal(arr, ""))
    if len(arr) == 0:
        return pa.string()
    arr = pc.unique(arr)
    if pc.all(pc.is_in(pc.utf8_lower(arr), pa.array(_BOOL_WORDS))).as_py():
        return pa.bool_()
    if _all(arr, _INT) and _casts(arr, pa.int64()):
        return pa.int64()
    if _all(arr, _DEC):
        point = pc.find_substring(arr, ".")
        scale = pc.max(pc.if_else(pc.less(point, 0), 0, pc.subtract(pc.utf8_length(arr), pc.add(point, 1))))
        s = scale.as_py() or 0
        if s <= _MAX_SCALE and _casts(arr, pa.decimal128(38, s)):
            return pa.decimal128(38, s)
        return pa.string()
    if _all(arr, _DATE) and _casts(arr, pa.date32()):
        return pa.date32()
    if _all(arr, _NAIVE) and _casts(arr, pa.timestamp("us")):
        return pa.timestamp("us")
    if _all(arr, _ZONED) and _casts(arr, pa.timestamp("us", tz="UTC")):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def infer_types(sample: pa.RecordBatch | None) -> dict[str, Source]:
    """Each text column's inferred type (:func:`infer_type`) from a sample batch, read strictly:
    every later value must read as that type, and a number with a leading zero or ``+`` does not."""
    if sample is None:
        return {}
    return {name: Source(infer_type(sample.column(i)), STRICT)
            for i, name in enumerate(sample.schema.names)}


# -- how text becomes a typed value --------------------------------------------------------

STRICT = "strict"  # inferred: Arrow's parsing, but no number with a leading zero or +
DECLARED = "declared"  # profile type: Arrow's parsing, and true/false/t/f/yes/no/1/0 for bool
SQL_PG = "postgresql"  # a dump's values: PostgreSQL's text forms (t/f, bytea \x hex)
SQL_MYSQL = "mysql"


@dataclass(frozen=True)
class Source:
    """What a column's values are: its type, and which text forms of it are read (STRICT...)."""

    type: pa.DataType
    how: str


class _Misfit(Exception):
    """A value (at ``index`` of the array, when known) does not fit the column's type."""

    def __init__(self, index: int | None) -> None:
        super().__init__("misfit")
        self.index = index


Misfit = _Misfit  # what convert() raises, for callers outside this module


def _first_false(mask: pa.Array) -> int | None:
    bad = np.flatnonzero(~pc.fill_null(mask, True).to_numpy(zero_copy_only=False))
    return int(bad[0]) if len(bad) else None


def _require(arr: pa.Array, ok: pa.Array) -> None:
    idx = _first_false(ok)
    if idx is not None:
        raise _Misfit(idx)


def _cast(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """Arrow's safe cast; on failure, the first value that does not cast (error path only)."""
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for i in range(len(arr)):
        if arr[i].is_valid and not _casts(arr.slice(i, 1), to):
            raise _Misfit(i) from None
    raise _Misfit(None)


_TRUE = {STRICT: ("true",), DECLARED: ("true", "t", "yes", "y", "1"), SQL_PG: ("t", "true"),
         SQL_MYSQL: ("1", "true")}
_FALSE = {STRICT: ("false",), DECLARED: ("false", "f", "no", "n", "0"), SQL_PG: ("f", "false"),
          SQL_MYSQL: ("0", "false")}
_LOST_TEXT = r"^(\+|-?0[0-9])"  # a number whose text a typed value would not keep


def _from_text(arr: pa.Array, to: pa.DataType, how: str) -> pa.Array:
    if how in (STRICT, DECLARED):  # an empty CSV value is null in a typed column (a quoted "" too)
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    if pa.types.is_boolean(to):
        low = pc.utf8_lower(arr)
        yes, no = pc.is_in(low, pa.array(_TRUE[how])), pc.is_in(low, pa.array(_FALSE[how]))
        _require(arr, pc.or_(pc.is_null(arr), pc.or_(yes, no)))
        return pc.if_else(pc.is_null(arr), pa.scalar(None, pa.bool_()), yes)
    if pa.types.is_binary(to) and how == SQL_PG:
        return pg_bytea(arr)
    if pa.types.is_timestamp(to) and to.tz is not None and how == SQL_PG:
        try:
            return pc.cast(arr, to)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pg_timestamptz(arr, to)
    if how == STRICT and (pa.types.is_integer(to) or pa.types.is_decimal(to)):
        # Arrow reads 007 and +7 as 7: an inferred number column takes neither (its text would be
        # lost); dates and date-times Arrow reads exactly, or not at all
        _require(arr, pc.invert(pc.match_substring_regex(arr, _LOST_TEXT)))
    return _cast(arr, to)


_PG_ZONED = (r"^(?P<base>[0-9]{4,}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)"
             r"(?P<sign>[+-])(?P<h>[0-9]{2})(?::(?P<m>[0-9]{2}))?(?::(?P<s>[0-9]{2}))?$")


def pg_timestamptz(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """PostgreSQL's timestamptz text -> UTC, offsets with seconds included (``+05:21:10``: a zone's
    local mean time before 1900, which Arrow's parser refuses); vectorised. ``infinity`` and BC
    dates do not fit."""
    parts = pc.extract_regex(arr, _PG_ZONED)
    _require(arr, pc.or_(pc.is_null(arr), pc.is_valid(parts)))

    def num(name: str) -> pa.Array:
        text = pc.struct_field(parts, name)
        return pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64())

    local = _cast(pc.struct_field(parts, "base"), pa.timestamp(to.unit))
    offset = pc.add(pc.add(pc.multiply(num("h"), 3600), pc.multiply(num("m"), 60)), num("s"))
    offset = pc.multiply(offset, {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[to.unit])
    offset = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), pc.negate(offset), offset)
    utc = pc.subtract(local.view(pa.int64()), offset)
    return pc.if_else(pc.is_valid(arr), utc, pa.scalar(None, pa.int64())).view(to)


def pg_bytea(arr: pa.Array) -> pa.Array:
    """PostgreSQL's hex form of bytea (``\\x0aff``) -> binary, vectorised (numpy over the bytes)."""
    arr = pc.cast(arr, pa.string())
    _require(arr, pc.match_substring_regex(arr, r"^\\x([0-9a-fA-F]{2})*$"))
    valid = pc.is_valid(arr)
    filled = pc.fill_null(arr, "\\x")
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)[filled.offset:filled.offset + len(filled) + 1]
    data = np.frombuffer(filled.buffers()[2], dtype=np.uint8) if filled.buffers()[2] else np.zeros(0, np.uint8)
    keep = np.ones(offsets[-1] - offsets[0], dtype=bool)
    keep[offsets[:-1] - offsets[0]] = False  # the backslash
    keep[offsets[:-1] - offsets[0] + 1] = False  # the x
    hexes = data[offsets[0]:offsets[-1]][keep]
    nib = np.zeros(256, dtype=np.uint8)
    for i, c in enumerate(b"0123456789abcdef"):
        nib[c] = i
    for i, c in enumerate(b"ABCDEF"):
        nib[c] = 10 + i
    out = (nib[hexes[0::2]] << 4) | nib[hexes[1::2]]
    new_offsets = ((offsets - offsets[0]) - 2 * np.arange(len(offsets))) // 2
    binary = pa.Array.from_buffers(pa.binary(), len(filled), [None, pa.py_buffer(new_offsets.astype(np.int32)),
                                                               pa.py_buffer(out.tobytes())])
    return pc.if_else(valid, binary, pa.scalar(None, pa.binary()))


def convert(arr: pa.Array, to: pa.DataType, how: str) -> pa.Array:
    """``arr`` as type ``to``, its text read by ``how``; raises _Misfit for a value that does not fit."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type) and arr.type != to:  # a dictionary-encoded Parquet column
        arr = arr.dictionary_decode()
    if arr.type == to:
        return arr
    if is_text(to):
        return _cast(arr, to)
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), to)
    if is_text(arr.type):
        return _from_text(arr, to, how)
    if pa.types.is_integer(arr.type) and pa.types.is_boolean(to):  # MySQL's tinyint(1)
        _require(arr, pc.or_(pc.is_null(arr), pc.is_in(arr, pa.array([0, 1], arr.type))))
    return _cast(arr, to)


# -- the output types of a table -------------------------------------------------------------

def _int_target(rng: tuple[int, int], want: pa.DataType | None) -> pa.DataType | None:
    """The integer type an operator's outputs [lo, hi] are written as: ``want`` when it holds them,
    else int64, else uint64; None when neither does."""
    for t in ([want] if want is not None and pa.types.is_integer(want) else []) + [pa.int64(), pa.uint64()]:
        info = np.iinfo(t.to_pandas_dtype())
        if info.min <= rng[0] and rng[1] <= info.max:
            return t
    return None


def _column_type(c, source: Source | None) -> tuple[pa.DataType, str | None]:
    """(output type, why a declared type cannot be used or None) of one column (the module's rule)."""
    op, working = c.operator, c.out_type
    want = source.type if source is not None else None
    declared = c.type is not None
    if not c.transformed or op.nulls_column:
        return (want or working), None
    if declared and is_text(want):
        return want, None  # anything is written as text
    rng = op.value_range(c.in_type, c.params)
    if rng is not None:
        target = _int_target(rng, want)
        if declared and target != want:
            return working, f"operator {c.op} writes integers {rng[0]}..{rng[1]}, which {c.type} cannot hold"
        return target or working, None
    keeps_dates = (op.parses_dates(c.params) and c.out_type == c.in_type
                   and op.max_output_length(c.in_type, c.params) is None)
    if want is not None and keeps_dates and (pa.types.is_date(want) or pa.types.is_timestamp(want)):
        return want, None
    if declared and want != working:
        return working, f"operator {c.op} writes {type_name(working)}, not {c.type}"
    return working, None


@dataclass
class OutputTypes:
    """A table's typed output: the schema written, and how each batch is cast to it."""

    schema: pa.Schema
    casts: dict[str, tuple[pa.DataType, str]]  # column -> (type, how its text is read)
    file: str | None
    table: str
    hint: str

    @property
    def identity(self) -> bool:
        return not self.casts

    def cast(self, batch: pa.RecordBatch, first_row: int = 0, kept: pa.Array | None = None) -> pa.RecordBatch:
        """``batch`` (rows ``first_row``... of the table's input; ``kept``: which of them it holds)
        in the typed schema; a value that does not fit is an InputError without the value."""
        if not self.casts:
            return batch
        cols = []
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            target = self.casts.get(name)
            if target is None:
                cols.append(col)
                continue
            try:
                cols.append(convert(col, *target))
            except _Misfit as exc:
                raise self._misfit(name, target[0], exc.index, first_row, kept) from None
        return pa.RecordBatch.from_arrays(cols, schema=self.schema)

    def _misfit(self, column: str, to: pa.DataType, index: int | None, first_row: int,
                kept: pa.Array | None) -> InputError:
        row = None
        if index is not None:
            if kept is not None:
                index = int(np.flatnonzero(kept.to_numpy(zero_copy_only=False))[index])
            row = first_row + index + 1
        return InputError(f"a value does not fit the column's output type {type_name(to)}", file=self.file,
                          row=row, table=self.table, column=column, hint=self.hint)


def output_types(tplan, sources: dict[str, Source], file: str | None = None,
                 hint: str = "declare `type: string` for this column in the profile") -> OutputTypes:
    """The typed output of a table of the plan: each kept column's type by the module's rule, from
    ``sources`` (inferred or DDL types) and the profile's ``type:`` (ColumnPlan.type, which wins).
    A declared type the rule cannot honour is an InputError (raised before any row is written)."""
    out = tplan.out_schema
    fields, casts = [], {}
    for c in tplan.columns:
        if c.dropped:
            continue
        f = out.field(c.name)
        declared = parse_type(c.type) if c.type is not None else None
        source = Source(declared, DECLARED) if declared is not None else sources.get(c.name)
        target, problem = _column_type(c, source)
        if problem is not None:
            raise InputError(f"type: {c.type} cannot be written: {problem}", file=file, table=tplan.name,
                             column=c.name, hint="remove the column's type, or use type: string")
        if target != f.type:
            casts[c.name] = (target, source.how if source is not None else DECLARED)
            f = f.with_type(target)
        fields.append(f)
    meta = output_metadata(out.metadata, set(casts), True) if casts else out.metadata
    return OutputTypes(pa.schema(fields, metadata=meta), casts, file, tplan.name, hint)


#: a function giving a table's source types when its writer opens (reads a CSV sample then)
Sources = Callable[[], dict[str, Source]]
