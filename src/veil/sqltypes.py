"""SQL column types, read by sqlglot: what kind of value a declared type holds.

One place for the question "what is a ``varchar(20)`` / ``tinyint(1)`` /
``timestamp with time zone`` column?", asked by scan (the type category that
decides which entities a column can hold) and by the dump reader (the Arrow
type veil works with). The type text is parsed with ``sqlglot.exp.DataType``
in the dump's dialect, so spellings (``int4``, ``character varying``,
``double precision``, ``int(10) unsigned``, ``integer[]``) are sqlglot's
business, not a list of regular expressions here.

Categories: ``boolean``, ``integer``, ``float``, ``decimal``, ``date``,
``timestamp``, ``time``, ``binary``, ``uuid``, ``json``, ``nested`` (arrays)
and ``string`` (text, and anything veil does not know: domains, enums, sets,
geometry, ranges, bit strings, network addresses).

Two readings are veil's, not sqlglot's:

- a timestamp *with* a time zone is ``string``: in a dump its values are text
  with an offset, which date operators do not read. MySQL's ``TIMESTAMP`` is
  not one: mysqldump writes it as a plain UTC date-time (sqlglot calls it
  TIMESTAMPTZ in the MySQL dialect);
- ``tinyint(1)`` is MySQL's boolean; ``bit(n)`` is a bit string (``string``),
  although sqlglot counts BIT among its integer types.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import SqlglotError

T = exp.DataType.Type

# dump dialect (veil's names) -> sqlglot dialect
_DIALECTS = {"postgresql": "postgres", "postgres": "postgres", "pg": "postgres", "mysql": "mysql",
             "mariadb": "mysql"}


def sqlglot_dialect(dialect: str | None) -> str | None:
    """sqlglot's name for a dump dialect (veil's ``postgresql``/``mysql``, or an alias)."""
    return _DIALECTS.get(dialect or "", dialect)

_INTEGER = (exp.DataType.INTEGER_TYPES - {T.BIT}) | {T.SERIAL, T.SMALLSERIAL, T.BIGSERIAL}
_FLOAT = exp.DataType.FLOAT_TYPES | {T.UDOUBLE}
_DECIMAL = exp.DataType.REAL_TYPES - _FLOAT
_ZONED = {T.TIMESTAMPTZ, T.TIMESTAMPLTZ}
_TIMESTAMP = {T.TIMESTAMP, T.TIMESTAMPNTZ, T.DATETIME, T.DATETIME2, T.DATETIME64, T.SMALLDATETIME,
              T.TIMESTAMP_S, T.TIMESTAMP_MS, T.TIMESTAMP_NS}
_CATEGORY: dict[exp.DataType.Type, str] = {
    **{t: "integer" for t in _INTEGER},
    **{t: "float" for t in _FLOAT},
    **{t: "decimal" for t in _DECIMAL},
    **{t: "timestamp" for t in _TIMESTAMP},
    **{t: "nested" for t in exp.DataType.NESTED_TYPES},
    T.BOOLEAN: "boolean",
    T.DATE: "date", T.DATE32: "date",
    T.TIME: "time", T.TIMETZ: "time", T.INTERVAL: "time",
    T.BINARY: "binary", T.VARBINARY: "binary", T.BLOB: "binary", T.TINYBLOB: "binary",
    T.MEDIUMBLOB: "binary", T.LONGBLOB: "binary",
    T.UUID: "uuid",
    T.JSON: "json", T.JSONB: "json",
}
# bits of the non-negative values an integer type holds (a keyed permutation's output must fit the column);
# the others get 31 (INTEGER)
_BITS = {T.BIGINT: 63, T.UBIGINT: 63, T.BIGSERIAL: 63, T.MEDIUMINT: 23, T.UMEDIUMINT: 24, T.SMALLINT: 15,
         T.USMALLINT: 16, T.SMALLSERIAL: 15, T.TINYINT: 7, T.UTINYINT: 8}


@lru_cache(maxsize=4096)
def _parse(sql_type: str, dialect: str | None) -> exp.DataType | None:
    text = sql_type.strip()
    if not text:
        return None
    try:
        return exp.DataType.build(text, dialect=sqlglot_dialect(dialect), udt=True)
    except (SqlglotError, ValueError, TypeError, AttributeError):
        return None  # not a type sqlglot can read: veil treats its values as text


def _kind(dt: exp.DataType | None) -> exp.DataType.Type | None:
    if dt is None:
        return None
    if isinstance(dt.this, exp.Interval):  # interval day to second
        return T.INTERVAL
    return dt.this if isinstance(dt.this, exp.DataType.Type) else None


def sql_type_category(sql_type: str, dialect: str | None = None) -> str:
    """The category of values a column declared ``sql_type`` holds (``string`` when unknown).

    ``dialect``: ``postgresql`` or ``mysql`` (the dump's), or None for sqlglot's default reading.
    """
    dt = _parse(sql_type, dialect)
    kind = _kind(dt)
    if kind in (None, T.USERDEFINED):
        # PostgreSQL's internal array names (_int4, _text) are arrays too
        if _DIALECTS.get(dialect or "") != "mysql" and sql_type.strip().startswith("_"):
            return "nested"
        return "string"
    if kind in _ZONED:
        return "timestamp" if _DIALECTS.get(dialect or "") == "mysql" else "string"
    if kind in (T.TINYINT, T.UTINYINT) and _size(dt) == 1:
        return "boolean"  # MySQL's BOOLEAN is TINYINT(1)
    return _CATEGORY.get(kind, "string")


def _size(dt: exp.DataType) -> int | None:
    if len(dt.expressions) != 1:
        return None
    param = dt.expressions[0]
    value = param.this if isinstance(param, exp.DataTypeParam) else param
    return int(value.name) if isinstance(value, exp.Literal) and value.name.isdigit() else None


def sql_int_bits(sql_type: str, dialect: str | None = None) -> int:
    """Bits a keyed integer permutation of an integer column may use so its output fits the column:
    63 for BIGINT, 23 MEDIUMINT, 15 SMALLINT, 7 TINYINT (one more when unsigned), else 31 (INTEGER)."""
    return _BITS.get(_kind(_parse(sql_type, dialect)), 31)


def sql_arrow_type(sql_type: str, dialect: str | None = None) -> pa.DataType:
    """The Arrow type veil works with for a dump column (text when in doubt): every integer type
    (``tinyint(1)`` too: its values are 0 and 1) -> int64, date -> date32, a timestamp without a
    zone -> timestamp[us]; anything else is read as text."""
    kind = _kind(_parse(sql_type, dialect))
    if kind in _INTEGER:
        return pa.int64()
    category = sql_type_category(sql_type, dialect)
    if category == "date":
        return pa.date32()
    if category == "timestamp":
        return pa.timestamp("us")
    return pa.string()


def sql_is_numeric(sql_type: str, dialect: str | None = None) -> bool:
    """True for the integer, float and decimal types whose literals a dump writes unquoted
    (``money`` is not one: PostgreSQL writes it with a currency sign)."""
    kind = _kind(_parse(sql_type, dialect))
    return kind in _INTEGER or kind in _FLOAT or (kind in _DECIMAL and kind not in (T.MONEY, T.SMALLMONEY))


_TEXT_SIZED = {T.CHAR, T.NCHAR, T.VARCHAR, T.NVARCHAR}


def sql_text_length(sql_type: str, dialect: str | None = None) -> int | None:
    """The most characters a ``char(n)`` / ``varchar(n)`` column holds (None: no declared limit)."""
    dt = _parse(sql_type, dialect)
    return _size(dt) if _kind(dt) in _TEXT_SIZED else None


def sql_integer_digits(sql_type: str, dialect: str | None = None) -> int | None:
    """Digits before the decimal point a ``numeric(p, s)`` / ``decimal(p, s)`` column holds (p - s;
    None: not such a column, or no declared precision)."""
    dt = _parse(sql_type, dialect)
    if _kind(dt) not in _DECIMAL or _kind(dt) in (T.MONEY, T.SMALLMONEY):
        return None
    params = _decimal_params(dt)
    return None if params is None else params[0] - params[1]


def sql_is_zoned(sql_type: str, dialect: str | None = None) -> bool:
    """Whether the column is a timestamp with a time zone (text to veil in a PostgreSQL dump, yet it
    takes only date-times)."""
    return _kind(_parse(sql_type, dialect)) in _ZONED


# the integer width written to Parquet (typed output) by SQL integer type; other integer types: int64
_OUT_INT = {T.TINYINT: pa.int8(), T.UTINYINT: pa.uint8(), T.SMALLINT: pa.int16(), T.SMALLSERIAL: pa.int16(),
            T.USMALLINT: pa.uint16(), T.MEDIUMINT: pa.int32(), T.UMEDIUMINT: pa.uint32(), T.INT: pa.int32(),
            T.SERIAL: pa.int32(), T.UINT: pa.uint32(), T.UBIGINT: pa.uint64()}


def _decimal_params(dt: exp.DataType) -> tuple[int, int] | None:
    nums = []
    for param in dt.expressions:
        value = param.this if isinstance(param, exp.DataTypeParam) else param
        if not (isinstance(value, exp.Literal) and value.name.isdigit()):
            return None
        nums.append(int(value.name))
    if not nums or len(nums) > 2:
        return None
    return nums[0], nums[1] if len(nums) > 1 else 0


def sql_output_type(sql_type: str, dialect: str | None = None) -> pa.DataType | None:
    """The Arrow type a dump column is written as in Parquet (typed output; None: the type veil works
    with, text for anything not below). Integers by width (smallint int16, integer int32, bigint int64,
    unsigned ones unsigned), ``numeric(p, s)`` decimal128(p, s) (decimal256 above 38 digits; without a
    precision, or above 76: text), boolean and MySQL's ``tinyint(1)`` bool, real float32, double
    float64, date date32, a timestamp timestamp[us] (PostgreSQL's timestamptz: timestamp[us, UTC]),
    bytea and MySQL's binary types binary."""
    dt = _parse(sql_type, dialect)
    kind = _kind(dt)
    category = sql_type_category(sql_type, dialect)
    if category == "boolean":
        return pa.bool_()
    if category == "integer":
        return _OUT_INT.get(kind, pa.int64())
    if category == "float":
        return pa.float32() if kind == T.FLOAT else pa.float64()
    if category == "decimal" and kind not in (T.MONEY, T.SMALLMONEY) and dt is not None:
        ps = _decimal_params(dt)
        if ps is None or not (1 <= ps[0] <= 76 and ps[1] <= ps[0]):
            return None
        return pa.decimal128(*ps) if ps[0] <= 38 else pa.decimal256(*ps)
    if category == "date":
        return pa.date32()
    if category == "timestamp":
        return pa.timestamp("us")
    if kind in _ZONED:  # PostgreSQL's timestamptz (text to veil): every value has its offset
        return pa.timestamp("us", tz="UTC")
    if category == "binary":
        return pa.binary()
    return None
