"""Column type categories: from the Arrow type, a dump's declared SQL type, or (CSV) the values' text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pyarrow as pa

from ..sqltypes import sql_int_bits, sql_text_length, sql_type_category

_CATEGORIES = [
    ("boolean", (pa.types.is_boolean,)),
    ("integer", (pa.types.is_integer,)),
    ("float", (pa.types.is_floating,)),
    ("decimal", (pa.types.is_decimal,)),
    ("date", (pa.types.is_date,)),
    ("timestamp", (pa.types.is_timestamp,)),
    ("time", (pa.types.is_time, pa.types.is_duration, pa.types.is_interval)),
    ("string", (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)),
    ("binary", (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)),
    ("nested", (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list, pa.types.is_struct,
                pa.types.is_map)),
]


def type_category(t: pa.DataType) -> str:
    for name, tests in _CATEGORIES:
        if any(test(t) for test in tests):
            return name
    if pa.types.is_dictionary(t):
        return type_category(t.value_type)
    return "other"


def declared_type(field_: pa.Field, dialect: str | None) -> str | None:
    """The category of a dump column's declared SQL type (None: no declared type)."""
    sql = (field_.metadata or {}).get(b"veil.sql_type")
    if not sql:
        return None
    return sql_type_category(sql.decode(), dialect)

_INT_TEXT = re.compile(r"^-?\d+$")  # "+4915112345678" is a phone number, not an integer
PLAIN_INT = re.compile(r"^(0|[1-9]\d*)$")
_FLOAT_TEXT = re.compile(r"^[+-]?(\d+[.,]\d*|\d*[.,]\d+)([eE][+-]?\d+)?$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # ISO only: veil's date operators read ISO dates
_TS_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_BOOL_TEXT = {"true", "false", "t", "f", "yes", "no", "y", "n", "0", "1"}


def text_type(values: list[str]) -> str:
    """The type a text column's values have (CSV, SQL literals): a share of 98% decides."""
    if not values:
        return "string"
    n = len(values)

    def share(pred: Callable[[str], bool]) -> float:
        return sum(1 for v in values if pred(v)) / n

    if len(values) <= 10 and all(v.lower() in _BOOL_TEXT for v in values):
        return "boolean"
    if share(_INT_TEXT.match) >= 0.98:
        return "integer"
    if share(lambda v: bool(_INT_TEXT.match(v) or _FLOAT_TEXT.match(v))) >= 0.98:
        return "float"
    if share(_DATE_TEXT.match) >= 0.98:
        return "date"
    if share(_TS_TEXT.match) >= 0.98:
        return "timestamp"
    return "string"


def holds_json(values: list[str]) -> bool:
    """Every sampled value is a JSON object or array: a JSON column stored as text (MariaDB's JSON is
    LONGTEXT with a json_valid CHECK; PostgreSQL text columns holding documents), whose entities are
    inside, as in a json column."""
    if not values:
        return False
    for v in values:
        text = v.strip()
        if not (text[:1] == "{" and text[-1:] == "}" or text[:1] == "[" and text[-1:] == "]"):
            return False
        try:
            json.loads(text)
        except ValueError:
            return False
    return True


def plain_ints(values: list[str]) -> bool:
    """Non-negative integers without leading zeros (what pseudonymize format: int takes)."""
    return all(PLAIN_INT.match(v) for v in values)


def int_bits(f: pa.Field, dialect: str | None) -> int:
    """Bits a keyed integer permutation of this column may use: 31 fits INTEGER, 63 BIGINT."""
    sql = ((f.metadata or {}).get(b"veil.sql_type") or b"").decode()
    if sql:
        return sql_int_bits(sql, dialect)
    if f.type in (pa.int64(), pa.uint64(), pa.uint32()):
        return 63
    if pa.types.is_integer(f.type):
        return 31
    return 63  # text (CSV): no declared width, and the sample may not hold the largest value


def text_length(f: pa.Field, dialect: str | None) -> int | None:
    """The most characters a dump's char(n)/varchar(n) column holds (None: no declared limit)."""
    sql = ((f.metadata or {}).get(b"veil.sql_type") or b"").decode()
    return sql_text_length(sql, dialect) if sql else None
