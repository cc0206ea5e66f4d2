"""Data values in dumps: PostgreSQL COPY text rows, and INSERT ... VALUES literals.

Reading keeps each field's raw text so that a column nobody transforms is
written back byte for byte; only transformed values are decoded and encoded.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ...errors import InputError
from .ddl import unquote_name
from .lexer import MYSQL, PG

# -- COPY text format ------------------------------------------------------------------

NULL_COPY = b"\\N"
_COPY_UNESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.S)
_COPY_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _copy_char(m: re.Match) -> str:
    if m.group(1) is not None:
        code = int(m.group(1), 8) & 0xFF
    elif m.group(2) is not None:
        code = int(m.group(2), 16)
    else:
        c = m.group(3)
        return _COPY_SIMPLE.get(c, c)
    return chr(code) if code < 0x80 else chr(0xDC00 + code)  # a raw byte: surrogateescape


def copy_rows(data: bytes, rows: int, columns: list[str], first_line: int, file: str) -> pa.Table:
    """Split ``rows`` COPY rows (``data``: whole lines) into raw (still escaped) binary columns, vectorised.

    A dummy first row shields the data from the CSV reader's byte-order-mark
    stripping (a kept value must come back byte for byte); it is dropped after.
    """
    dummy = b"\t" * (len(columns) - 1) + b"\n"
    data = dummy + data
    opts = pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(columns))], use_threads=False,
                             block_size=max(1 << 20, len(data) + 1))
    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False,
                               newlines_in_values=False, ignore_empty_lines=False)
    conv = pacsv.ConvertOptions(column_types={f"c{i}": pa.binary() for i in range(len(columns))},
                                strings_can_be_null=False, null_values=[], check_utf8=False)
    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=opts, parse_options=parse, convert_options=conv)
    except pa.ArrowInvalid:
        # Arrow's message quotes the row: find the line ourselves, never pass the text on
        lines = data.split(b"\n")[1:rows + 1]
        bad = next((i for i, ln in enumerate(lines) if ln.count(b"\t") != len(columns) - 1), 0)
        raise InputError(f"a COPY row does not have {len(columns)} fields", file=file, line=first_line + bad,
                         hint="the dump was edited or cut") from None
    return table.slice(1)


def joined_lines(lines: pa.Array) -> bytes:
    """Binary values -> the bytes of them as lines, each ended by a newline (no value is null)."""
    ended = pc.binary_join_element_wise(lines, pa.scalar(b"", pa.binary()), pa.scalar(b"\n", pa.binary()))
    if ended.null_count:
        raise ValueError("a line is null")
    offsets = np.frombuffer(ended.buffers()[1], np.int32, count=len(ended) + 1, offset=ended.offset * 4)
    return ended.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes() if len(ended) else b""


def copy_decode(raw: pa.Array) -> pa.Array:
    """Raw COPY fields -> text values (\\N -> null, escapes resolved)."""
    is_null = pc.equal(raw, pa.scalar(NULL_COPY, pa.binary()))
    needs = pc.match_substring(raw, "\\")
    vals = raw
    if pc.any(needs).as_py():
        py = raw.to_pylist()
        mask = needs.to_pylist()
        vals = pa.array([_COPY_UNESCAPE.sub(_copy_char, v.decode("utf-8", "surrogateescape"))
                         .encode("utf-8", "surrogateescape") if m else v for v, m in zip(py, mask, strict=True)],
                        pa.binary())
    return pc.if_else(is_null, pa.scalar(None, pa.binary()), vals)


def copy_encode(text: pa.Array) -> pa.Array:
    """Text values -> raw COPY fields (binary)."""
    s = text if pa.types.is_string(text.type) else pc.cast(text, pa.string())
    if pc.any(pc.match_substring_regex(s, r"[\\\t\n\r]")).as_py():  # one scan; most values need nothing
        for a, b in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            s = pc.replace_substring(s, a, b)
    return pc.fill_null(s.cast(pa.binary()), pa.scalar(NULL_COPY, pa.binary()))


# -- INSERT ... VALUES ----------------------------------------------------------------------

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_CAST = r"""(?:::(?:"[^"]*"|[A-Za-z_][\w.]*(?:\s+(?:varying|precision|without|with|time|zone))*)(?:\[\])*)?"""
_PG_VALUE = (rf"""(?:[Ee]'(?:[^'\\]|\\.|'')*'|[Bb]'[01]*'|'(?:[^']|'')*'){_CAST}"""
             rf"""|{_NUM}|NULL\b|true\b|false\b|DEFAULT\b""")
_MY_VALUE = (rf"""(?:_[A-Za-z0-9]+\s*)?'(?:[^'\\]|\\.|'')*'|0x[0-9A-Fa-f]+|[Xx]'[0-9A-Fa-f]*'|b'[01]*'"""
             rf"""|{_NUM}|NULL\b|DEFAULT\b""")
_TOKEN = {
    d: re.compile(rf"""\s*(?:(?P<v>{v})|(?P<p>[(),;]))""", re.S | re.I)
    for d, v in ((PG, _PG_VALUE), (MYSQL, _MY_VALUE))
}
INSERT_HEADER = re.compile(
    r"""\s*(?:INSERT|REPLACE)(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*\s+INTO\s+(?P<table>(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s(.]+)(?:\.(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s(.]+))*)"""
    r"""\s*(?:\((?P<cols>(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^)"`])*)\))?"""
    r"""\s*(?:OVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+)?VALUES\s*""", re.I | re.S)
_ON_CONFLICT = re.compile(r"\s*ON\s+CONFLICT\s+DO\s+NOTHING", re.I)
_NUMBER = re.compile(rf"^{_NUM}$")
_IDENT = re.compile(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^\s,]+)')


@lru_cache(maxsize=64)
def _row_pattern(dialect: str, values: int) -> re.Pattern:
    """A row of ``values`` values in one match, each value a group: the spans the token loop finds
    (the same value syntax, the same spaces skipped); a row it does not match goes to the loop."""
    v = _PG_VALUE if dialect == PG else _MY_VALUE
    # each value atomic: the token loop takes a value's first match and never another; so does this
    inner = r"\s*,".join([rf"\s*((?>{v}))"] * values)
    return re.compile(rf"\s*(?P<row>\(){inner}\s*\)", re.S | re.I)


def split_identifiers(text: str) -> list[str]:
    return [dq.replace('""', '"') if dq else bq.replace("``", "`") if bq else plain
            for dq, bq, plain in _IDENT.findall(text)]


class InsertStatement:
    """One INSERT statement: table, column list, and the span of every value."""

    def __init__(self, text: str, line: int, dialect: str, file: str):
        self.text, self.line, self.dialect, self.file = text, line, dialect, file
        m = INSERT_HEADER.match(text)
        if m is None:
            raise self._error("not an INSERT ... VALUES statement veil can read")
        self.table = unquote_name(m.group("table"))
        self.columns = split_identifiers(m.group("cols")) if m.group("cols") else None
        self.rows: list[list[tuple[int, int]]] = []  # value spans per row
        self.row_spans: list[tuple[int, int]] = []  # "(...)" span per row
        self._parse(m.end())

    def _error(self, what: str) -> InputError:
        return InputError(f"malformed INSERT statement: {what}", file=self.file, line=self.line,
                          hint="check the dump around that statement (was it cut or edited?)")

    def _parse(self, pos: int) -> None:
        tok = _TOKEN[self.dialect]
        text, n = self.text, len(self.text)
        row_re = None  # once a row is read: the whole row of that many values in one match
        while True:
            if row_re is not None and (m := row_re.match(text, pos)) is not None:
                self.row_spans.append((m.start("row"), m.end()))
                self.rows.append([m.span(i) for i in range(2, row_re.groups + 1)])
                pos = m.end()
            else:
                pos = self._row(tok, text, pos)
                if row_re is None:
                    row_re = _row_pattern(self.dialect, len(self.rows[-1]))
            m = tok.match(text, pos)
            if m is None:
                tail = _ON_CONFLICT.match(text, pos)
                if tail is not None:  # pg_dump --on-conflict-do-nothing
                    m = tok.match(text, tail.end())
            if m is None or m.group("p") not in (",", ";"):
                raise self._error("expected ',' or ';' after a row")
            pos = m.end()
            if m.group("p") == ";":
                tail = text[pos:].strip()
                if tail and not (tail.startswith(("--", "/*")) or (self.dialect == MYSQL and tail[0] == "#")):
                    raise self._error("another statement follows on the same line; put each on its own line")
                self.end = m.start("p")
                return
            if pos >= n:
                raise self._error("the statement ends inside its values")

    def _row(self, tok: re.Pattern, text: str, pos: int) -> int:
        """One row, a token at a time (the first of a statement, and any the row pattern did not take)."""
        m = tok.match(text, pos)
        if m is None or m.group("p") != "(":
            raise self._error("expected '(' to start a row")
        row_start, pos = m.start("p"), m.end()
        spans = []
        while True:
            m = tok.match(text, pos)
            if m is None or m.group("v") is None:
                raise self._error(f"unreadable value in row {len(self.rows) + 1}")
            spans.append((m.start("v"), m.end("v")))
            pos = m.end()
            m = tok.match(text, pos)
            if m is None or m.group("p") not in (",", ")"):
                raise self._error(f"expected ',' or ')' in row {len(self.rows) + 1}")
            pos = m.end()
            if m.group("p") == ")":
                break
        self.rows.append(spans)
        self.row_spans.append((row_start, pos))
        return pos

    def raw(self, col: int) -> list[str]:
        t = self.text
        return [t[r[col][0]:r[col][1]] for r in self.rows]


_MY_ESC = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_MY_UNESCAPE = re.compile(r"\\(.)", re.S)
_MY_ESCAPE = re.compile(r"[\0\n\r\\'\"\x1a]")
_MY_ESCAPED = {"\0": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'", '"': '\\"', "\x1a": "\\Z"}


def decode_literal(raw: str, dialect: str) -> str | None:
    """The text value of one literal (None for NULL)."""
    up = raw[:7].upper()
    if up.startswith(("NULL", "DEFAULT")):
        return None
    if raw[0] in "-+.0123456789" and not up.startswith("0X"):
        return raw
    if up in ("TRUE", "FALSE"):
        return raw.lower()
    if dialect == PG:
        if raw[0] in "Ee" and raw[1:2] == "'":
            body = raw[2:raw.rindex("'")].replace("''", "'")
            return _COPY_UNESCAPE.sub(_copy_char, body)
        if raw[0] in "Bb" and raw[1:2] == "'":  # a bit string (pg_dump --inserts writes B'0101')
            return raw[2:raw.rindex("'")]
        return raw[1:raw.rindex("'")].replace("''", "'")
    if up.startswith("0X"):
        return bytes.fromhex(raw[2:]).decode("utf-8", "surrogateescape")
    if raw[0] in "Xx" and raw[1:2] == "'":
        return bytes.fromhex(raw[2:-1]).decode("utf-8", "surrogateescape")
    start = raw.index("'")
    body = raw[start + 1:-1].replace("''", "'")
    return _MY_UNESCAPE.sub(lambda m: _MY_ESC.get(m.group(1), m.group(1)
                                                   if m.group(1) not in "%_" else "\\" + m.group(1)), body)


def encode_literal(value: str | None, dialect: str, numeric: bool) -> str:
    if value is None:
        return "NULL"
    if numeric and _NUMBER.match(value):
        return value
    if dialect == PG:
        return "'" + value.replace("'", "''") + "'"
    return "'" + _MY_ESCAPE.sub(lambda m: _MY_ESCAPED[m.group(0)], value) + "'"
