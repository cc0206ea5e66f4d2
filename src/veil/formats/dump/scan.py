"""Split a SQL dump into statements and data, as a stream, keeping every byte.

The scanner reads lines (decoded as UTF-8 with ``surrogateescape``, so any
byte, even inside a MySQL BLOB literal, is written back unchanged) and yields:

- :class:`Text`: bytes to copy verbatim (comments, blank lines, psql meta
  commands, statements veil does not need to change);
- :class:`Statement`: a complete SQL statement with its kind (create_table,
  alter_table, insert, copy, other) and first line number;
- after a ``COPY ... FROM stdin;`` statement, a :class:`CopyData` whose
  ``lines`` iterator yields the data lines up to ``\\.``.

It knows the quoting rules that decide where a statement ends: single quotes
('' doubled; backslash escapes in MySQL and in PostgreSQL E'' strings),
double quotes, MySQL backticks, PostgreSQL dollar quotes, -- and /* */
comments, and mysql's DELIMITER command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ...errors import InputError

PG, MYSQL = "postgresql", "mysql"


@dataclass
class Text:
    text: str
    line: int


@dataclass
class Statement:
    text: str
    line: int
    kind: str


@dataclass
class CopyData:
    statement: Statement
    lines: Iterator[tuple[int, str]]  # (line number, raw line incl. newline), up to but excluding "\\."
    end: list[str]  # filled with the terminator line once the data is consumed


_KIND = [
    (re.compile(r"\s*CREATE\s+(?:UNLOGGED\s+|TEMP(?:ORARY)?\s+)?TABLE\b", re.I), "create_table"),
    (re.compile(r"\s*ALTER\s+TABLE\b", re.I), "alter_table"),
    (re.compile(r"\s*(?:INSERT|REPLACE)(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*\s+INTO\b", re.I),
     "insert"),
    (re.compile(r"\s*COPY\s+[^;]*?\bFROM\s+stdin\s*;", re.I | re.S), "copy"),
    # data veil cannot rewrite: refused rather than copied through with its values
    (re.compile(r"\s*(?:COPY\b[^;]*\bFROM\s+stdin\b|\\copy\b|(?:INSERT|REPLACE|UPSERT)\b)", re.I | re.S),
     "unsupported_data"),
]

_PG_NORMAL = re.compile(r"""'|"|\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$|--|/\*|;""")
_MY_NORMAL = re.compile(r"""'|"|`|--(?=\s)|#|/\*|;""")


def kind_of(text: str) -> str:
    body = _strip_leading_comments(text)
    for rx, kind in _KIND:
        if rx.match(body):
            return kind
    return "other"


def _strip_leading_comments(text: str) -> str:
    while True:
        s = text.lstrip()
        if s.startswith("--"):
            nl = s.find("\n")
            text = s[nl + 1:] if nl >= 0 else ""
        elif s.startswith("/*") and not s.startswith("/*!"):
            end = s.find("*/")
            text = s[end + 2:] if end >= 0 else ""
        else:
            return s


class Scanner:
    def __init__(self, lines: Iterator[str], dialect: str, file: str):
        self._lines = lines
        self.dialect = dialect
        self.file = file
        self.line_no = 0
        self.delimiter = ";"
        self._pushback: str | None = None

    def _next_line(self) -> str | None:
        if self._pushback is not None:
            line, self._pushback = self._pushback, None
            return line  # the rest of a line that held two statements: same line number
        line = next(self._lines, None)
        if line is not None:
            self.line_no += 1
        return line

    def items(self) -> Iterator[Text | Statement | CopyData]:
        pending_text: list[str] = []
        text_line = 1
        while True:
            line = self._next_line()
            if line is None:
                break
            stripped = line.strip()
            starts_stmt = bool(stripped) and not stripped.startswith("--") and not (
                self.dialect == PG and stripped.startswith("\\")) and not (
                self.dialect == MYSQL and (stripped.startswith("#") or stripped.upper().startswith("DELIMITER ")))
            if self.dialect == PG and stripped[:5].lower() == "\\copy":
                raise InputError("a psql \\copy command: veil cannot rewrite its data; refusing to copy its "
                                 "values through", file=self.file, line=self.line_no,
                                 hint="dump with pg_dump (COPY ... FROM stdin)")
            if self.dialect == MYSQL and stripped.upper().startswith("DELIMITER "):
                self.delimiter = stripped.split(None, 1)[1]
            if not starts_stmt:
                if not pending_text:
                    text_line = self.line_no
                pending_text.append(line)
                continue
            if pending_text:
                yield Text("".join(pending_text), text_line)
                pending_text = []
            stmt = self._statement(line)
            if stmt.kind == "unsupported_data":
                raise InputError("a data statement veil cannot rewrite (only INSERT ... VALUES and COPY ... FROM "
                                 "stdin in text format are read); refusing to copy its values through",
                                 file=self.file, line=stmt.line,
                                 hint="dump with plain COPY (pg_dump) or extended INSERTs (mysqldump)")
            if stmt.kind in ("insert", "create_table", "alter_table", "copy"):
                yield stmt
            else:
                yield Text(stmt.text, stmt.line)
            if stmt.kind == "copy":
                end: list[str] = []
                yield CopyData(stmt, self._copy_lines(stmt, end), end)
        if pending_text:
            yield Text("".join(pending_text), text_line)

    def _copy_lines(self, stmt: Statement, end: list[str]) -> Iterator[tuple[int, str]]:
        while True:
            line = self._next_line()
            if line is None:
                raise InputError("the dump ends inside a COPY data block (no \\. terminator)",
                                 file=self.file, line=stmt.line, hint="the dump is truncated")
            if line.rstrip("\r\n") == "\\.":
                end.append(line)
                return
            yield self.line_no, line

    def _statement(self, first: str) -> Statement:
        start = self.line_no
        parts = [first]
        # mysqldump never writes a raw newline inside a string: an INSERT ends on the first
        # line that ends with the delimiter, without scanning its quotes
        if self.dialect == MYSQL and kind_of(first) == "insert":
            line = first
            while not self._mysql_insert_ends(line):
                line = self._next_line()
                if line is None:
                    raise InputError("the dump ends inside an INSERT statement", file=self.file, line=start,
                                     hint="the dump is truncated")
                parts.append(line)
            text = "".join(parts)
            return Statement(text, start, "insert")
        state = _State()
        line = first
        while True:
            if self._ends_in(line, state):
                if state.split_at is not None:
                    parts[-1], self._pushback = line[:state.split_at], line[state.split_at:]
                break
            line = self._next_line()
            if line is None:
                what = kind_of("".join(parts)).replace("_", " ").upper()
                raise InputError(f"the dump ends inside a statement ({what if what != 'OTHER' else 'SQL'})",
                                 file=self.file, line=start,
                                 hint="the dump is truncated, or a quote is not closed")
            parts.append(line)
        text = "".join(parts)
        return Statement(text, start, kind_of(text))

    def _mysql_insert_ends(self, line: str) -> bool:
        """Does this line end an INSERT? Every mysqldump line starts outside any string, so a line
        with a comment after its delimiter can be scanned on its own, exactly."""
        if line.rstrip().endswith(self.delimiter):
            return True
        if "--" in line or "#" in line:
            st = _State()
            return self._ends_in(line, st) and st.split_at is None
        return False

    def _ends_in(self, line: str, st: _State) -> bool:
        """Advance the quote state over one line; True when the statement ends on it."""
        pos, n = 0, len(line)
        normal = _PG_NORMAL if self.dialect == PG else _MY_NORMAL
        delim = self.delimiter
        while pos < n:
            if st.quote is None:
                m = normal.search(line, pos)
                if delim != ";":
                    nxt = line.find(delim, pos)
                    if nxt >= 0 and (m is None or nxt <= m.start()):
                        if not line[nxt + len(delim):].strip():
                            return True
                        pos = nxt + len(delim)
                        continue
                if m is None:
                    return False
                tok, pos = m.group(), m.end()
                if tok == ";" and delim == ";":
                    rest = line[pos:]
                    stripped = rest.strip()
                    if stripped == "" or stripped.startswith("--") or (self.dialect == MYSQL and stripped[0] == "#"):
                        return True
                    if not stripped.startswith("/*"):
                        st.split_at = pos  # another statement follows on the same line
                        return True
                    continue
                if tok == ";":
                    continue
                if tok in ("--", "#"):
                    return False  # comment to end of line
                if tok == "/*":
                    st.quote = "*/"
                elif tok == "'":
                    st.quote = "'"
                    st.backslash = self.dialect == MYSQL or (m.start() > 0 and line[m.start() - 1] in "eE"
                                                             and (m.start() < 2 or not (line[m.start() - 2].isalnum()
                                                                                        or line[m.start() - 2] == "_")))
                elif tok == '"':
                    st.quote = '"'
                    st.backslash = self.dialect == MYSQL
                elif tok == "`":
                    st.quote, st.backslash = "`", False
                else:  # a dollar quote tag
                    st.quote, st.backslash = tok, False
            else:
                q = st.quote
                if q in ("'", '"', "`"):
                    i = pos
                    while True:
                        j = line.find(q, i)
                        k = line.find("\\", i) if st.backslash else -1
                        if k >= 0 and (j < 0 or k < j):
                            i = k + 2
                            if i > n:
                                pos = n
                                break
                            continue
                        if j < 0:
                            pos = n
                            break
                        if line.startswith(q, j + 1):
                            i = j + 2  # a doubled quote stands for itself
                            continue
                        pos = j + 1
                        st.quote = None
                        break
                else:
                    j = line.find(q, pos)
                    if j < 0:
                        pos = n
                    else:
                        pos = j + len(q)
                        st.quote = None
        return False


class _State:
    __slots__ = ("quote", "backslash", "split_at")

    def __init__(self) -> None:
        self.quote: str | None = None
        self.backslash = False
        self.split_at: int | None = None
