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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ...errors import InputError
from .blocks import TextSource, copy_chunks
from .classify import MYSQL, PG, Kind, classify, quote_end, tokenize

__all__ = ["MYSQL", "PG", "CopyData", "Scanner", "Statement", "Text", "kind_of"]


@dataclass
class Text:
    text: str
    line: int


@dataclass
class Statement:
    text: str
    line: int
    kind: str
    info: Kind | None = None  # what classify() said: for refusals, the statement kind and table


@dataclass
class CopyData:
    """A COPY block's rows, read through ``lines`` or through ``chunks`` (one of the two, to the end)."""
    statement: Statement
    lines: Iterator[tuple[int, str]]  # (line number, raw line incl. newline), up to but excluding "\\."
    end: list[str]  # filled with the terminator line once the data is consumed
    #: ``chunks(max_rows)``: (first row's line number, the rows' bytes, how many rows), in blocks
    #: (veil.formats.dump.blocks): no per-line work; every chunk ends with a whole row
    chunks: Callable[[int], Iterator[tuple[int, bytes, int]]] = field(default=None, repr=False)

    def skip(self) -> int:
        """Read the block to its end without looking at its rows; returns how many there were."""
        return sum(n for _, _, n in self.chunks(1 << 16))


# a dollar quote never starts inside a word: foo$bar$ is an identifier
_PG_NORMAL = re.compile(r"""'|"|(?<![\w$\u0080-\U0010ffff])\$(?:[A-Za-z_\u0080-\U0010ffff]"""
                        r"""[\w\u0080-\U0010ffff]*)?\$|--|/\*|;""")
_MY_NORMAL = re.compile(r"""'|"|`|--(?=\s)|#|/\*|;""")
_MY_COND = re.compile(r"/\*M?!\d*")
_SANDBOX = "/*M!999999\\-"  # mariadb-dump's first line: a client command (sandbox mode), not SQL


def kind_of(text: str, dialect: str = PG) -> str:
    return classify(text, dialect).kind


class Scanner:
    def __init__(self, lines: Iterator[str], dialect: str, file: str):
        self._lines = lines if isinstance(lines, TextSource) else TextSource(lines)
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
                self.dialect == MYSQL and (stripped.startswith(("#", _SANDBOX)) or
                                           stripped.upper().startswith("DELIMITER ")))
            if self.dialect == PG and stripped[:5].lower() == "\\copy":
                raise InputError("a psql \\copy command: veil cannot rewrite its data; refusing to copy its "
                                 "values through", file=self.file, line=self.line_no,
                                 hint="dump with pg_dump (COPY ... FROM stdin)")
            if self.dialect == PG and stripped == "\\.":
                raise InputError("a COPY data terminator (\\.) outside a COPY block: the statement before it "
                                 "was not read as COPY ... FROM stdin; refusing to copy its rows through",
                                 file=self.file, line=self.line_no,
                                 hint="check the COPY statement above that line (dump with pg_dump's plain COPY)")
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
                info = stmt.info
                on = f" (table {info.table})" if info.table else ""
                raise InputError(f"{info.what}{on}: a statement that can carry row data and that veil cannot "
                                 "rewrite; refusing to copy its values through",
                                 file=self.file, line=stmt.line, hint=info.hint)
            if stmt.kind == "copy":
                rest = self._pushback
                if stmt.text.endswith("\r") or (rest is not None and rest.strip() and rest.rstrip("\r\n") != "\\."):
                    raise InputError("text after COPY ... FROM stdin; on the same line (psql runs it as SQL after "
                                     "the rows, it is no row); refusing to copy it through", file=self.file,
                                     line=stmt.line, hint="put the COPY statement alone on its line, as pg_dump does")
                if rest is not None and not rest.strip():
                    self._pushback = None  # only the line's end
            if stmt.kind in ("insert", "create_table", "alter_table", "copy", "setval", "sequence"):
                yield stmt
            else:
                yield Text(stmt.text, stmt.line)
            if stmt.kind == "copy":
                end: list[str] = []
                yield CopyData(stmt, self._copy_lines(stmt, end), end,
                               lambda max_rows, stmt=stmt, end=end: self._copy_chunks(stmt, end, max_rows))
        if pending_text:
            yield Text("".join(pending_text), text_line)

    def _copy_lines(self, stmt: Statement, end: list[str]) -> Iterator[tuple[int, str]]:
        """The block's lines with their numbers, up to its ``\\.`` (put in ``end``). The file's lines
        are iterated directly (no per-line method call): a dump is mostly COPY lines."""
        if self._pushback is not None:  # the rest of the COPY statement's line (never row data)
            line = self._next_line()
            if line is not None and line.rstrip("\r\n") == "\\.":
                end.append(line)
                return
            if line is not None:
                yield self.line_no, line
        n = self.line_no
        try:
            for line in self._lines.lines():
                n += 1
                if line.startswith("\\.") and line.rstrip("\r\n") == "\\.":
                    end.append(line)
                    return
                yield n, line
        finally:
            self.line_no = n
        raise InputError("the dump ends inside a COPY data block (no \\. terminator)",
                         file=self.file, line=stmt.line, hint="the dump is truncated")

    def _copy_chunks(self, stmt: Statement, end: list[str], max_rows: int) -> Iterator[tuple[int, bytes, int]]:
        """The block's rows in chunks (veil.formats.dump.blocks.copy_chunks); the terminator into ``end``."""
        first = self.line_no + 1
        if self._pushback is not None:  # the rest of the COPY statement's line: only ever its terminator
            self._lines.hand_back(self._pushback.encode("utf-8", "surrogateescape"))
            self._pushback, first = None, self.line_no
        last = first - 1
        chunks = copy_chunks(self._lines, max_rows, first)
        while True:
            try:
                line, data, rows = next(chunks)
            except StopIteration as stop:
                term = stop.value
                break
            last = line + rows - 1
            self.line_no = last
            yield line, data, rows
        if term is None:
            raise InputError("the dump ends inside a COPY data block (no \\. terminator)",
                             file=self.file, line=stmt.line, hint="the dump is truncated")
        end.append(term)
        self.line_no = last + 1

    def _statement(self, first: str) -> Statement:
        start = self.line_no
        parts = [first]
        # mysqldump never writes a raw newline inside a string: an INSERT ends on the first
        # line that ends with the delimiter, without scanning its quotes
        if self.dialect == MYSQL and _plain_insert(first):
            line = first
            while not self._mysql_insert_ends(line):
                line = self._next_line()
                if line is None:
                    raise InputError("the dump ends inside an INSERT statement", file=self.file, line=start,
                                     hint="the dump is truncated")
                parts.append(line)
            text = "".join(parts)
            info = classify(text, self.dialect)
            return Statement(text, start, info.kind, info)
        state = _State()
        line = first
        while True:
            if self._ends_in(line, state):
                if state.split_at is not None:
                    parts[-1], self._pushback = line[:state.split_at], line[state.split_at:]
                break
            line = self._next_line()
            if line is None:
                what = kind_of("".join(parts), self.dialect).replace("_", " ").upper()
                raise InputError(f"the dump ends inside a statement ({what if what != 'OTHER' else 'SQL'})",
                                 file=self.file, line=start,
                                 hint="the dump is truncated, or a quote is not closed")
            parts.append(line)
        text = "".join(parts)
        info = classify(text, self.dialect)
        return Statement(text, start, info.kind, info)

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
            if st.quote is not None:
                pos = self._in_quote(line, pos, st)
                continue
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
            if tok == ";":
                if delim == ";":
                    return self._ends_at(line, pos, st)
                continue
            if tok in ("--", "#"):
                return False  # comment to end of line
            pos = self._open_quote(line, m, st)
        return False

    def _ends_at(self, line: str, pos: int, st: _State) -> bool:
        """A ';' ends the statement before ``pos``; marks where another statement follows on the line."""
        rest = line[pos:]
        stripped = rest.strip()
        if stripped == "" or stripped.startswith("--") or (self.dialect == MYSQL and stripped[0] == "#"):
            return True
        if not (stripped.startswith("/*") and self._only_comments(rest)):
            st.split_at = pos  # another statement follows on the same line
        return True

    def _open_quote(self, line: str, m: re.Match, st: _State) -> int:
        """A quote, comment or dollar tag ``m`` opens (or a MySQL executable comment, whose content is
        code): the state inside it, and where to go on."""
        tok, start = m.group(), m.start()
        if tok == "/*":
            if self.dialect == MYSQL:
                cm = _MY_COND.match(line, start)
                if cm is not None:  # an executable comment: its content is code
                    return cm.end()
            st.quote, st.depth = "*/", 1
        elif tok == "'":
            st.quote = "'"
            st.backslash = self.dialect == MYSQL or (start > 0 and line[start - 1] in "eE" and (
                start < 2 or not (line[start - 2].isalnum() or line[start - 2] == "_")))
        elif tok == '"':
            st.quote, st.backslash = '"', self.dialect == MYSQL
        elif tok == "`":
            st.quote, st.backslash = "`", False
        else:  # a dollar quote tag
            st.quote, st.backslash = tok, False
        return m.end()

    def _in_quote(self, line: str, pos: int, st: _State) -> int:
        """Inside a quote or comment from ``pos``: where it closes (the state updated), else the line's end."""
        q = st.quote
        if q in ("'", '"', "`"):
            end = quote_end(line, pos - 1, q, st.backslash)  # quote_end starts on the opening quote
        elif q == "*/" and self.dialect == PG:  # PostgreSQL block comments nest
            o, e = line.find("/*", pos), line.find("*/", pos)
            if e < 0 and o < 0:
                return len(line)
            if 0 <= o and (e < 0 or o < e):
                st.depth += 1
                return o + 2
            st.depth -= 1
            if st.depth == 0:
                st.quote = None
            return e + 2
        else:
            j = line.find(q, pos)
            end = -1 if j < 0 else j + len(q)
        if end < 0:
            return len(line)
        st.quote = None
        return end

    def _only_comments(self, rest: str) -> bool:
        """Is this rest of a line (after a ';') nothing but closed comments and spaces?"""
        return next(tokenize(rest, self.dialect), None) is None  # an open comment is a token


def _plain_insert(first: str) -> bool:
    """Does a mysqldump INSERT start on this line (not inside an executable comment)?"""
    for t in tokenize(first, MYSQL):
        return t.upper in ("INSERT", "REPLACE") and not t.cond
    return False


class _State:
    __slots__ = ("quote", "backslash", "split_at", "depth")

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None
        self.backslash = False
        self.split_at: int | None = None
