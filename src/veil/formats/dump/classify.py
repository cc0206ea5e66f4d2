"""What a dump statement is, from a quote-aware tokenization: the allow-list of what may pass.

A statement's kind is decided from its tokens, never from a regular
expression over its raw text: a ``;``, ``(``, ``FROM stdin`` or ``INSERT``
inside a quoted identifier, a string or a comment cannot change it. The
tokenizer knows PostgreSQL's and MySQL's quoting: ``'...'`` (``''``, and
backslash escapes in MySQL and in PostgreSQL ``E'...'``), ``"..."``
identifiers (``""``; strings with backslash escapes in MySQL), backtick
identifiers, dollar quotes, ``--``/``#`` comments, nested ``/* */`` comments
in PostgreSQL, and MySQL's executable comments (``/*!NNNNN ... */``,
``/*M!NNNNNN ... */``), whose content is code: MariaDB and MySQL run it.

Kinds:

- ``insert`` (``INSERT``/``REPLACE ... VALUES``) and ``copy`` (``COPY ... FROM
  stdin;`` in text format): rewritten;
- ``setval`` (``SELECT pg_catalog.setval(...)``): rewritten from the output;
- ``create_table``, ``alter_table``, ``sequence``: DDL veil reads for columns, keys and
  the column each sequence feeds;
- ``other``: passed through; only statements on an allow-list of DDL and
  session statements (a statement veil does not know is refused);
- ``unsupported_data``: a statement that can carry row data and that veil
  cannot rewrite (``UPDATE``, ``MERGE``, ``INSERT ... SELECT``, ``LOAD DATA``,
  ``DO``, ``COPY`` with options, data inside a MySQL executable comment, ...).
  The scanner refuses it (exit 5).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

PG, MYSQL = "postgresql", "mysql"


@dataclass(frozen=True)
class Token:
    kind: str  # word, ident, string, number, punct, open (unterminated quote or comment)
    text: str  # the raw text
    start: int
    cond: bool = False  # inside a MySQL executable comment

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """An identifier's name: unquoted, doubled quotes undone (words as written)."""
        t = self.text
        if self.kind == "ident":
            if t.startswith(("U&", "u&")):
                t = t[2:]
            q = t[0]
            return t[1:-1].replace(q + q, q)
        return t


_HIGH = "\u0080-\U0010ffff"  # letters beyond ASCII, and bytes kept as surrogates
_PG_WORD = re.compile(rf"[A-Za-z_{_HIGH}][\w${_HIGH}]*")
_MY_WORD = re.compile(rf"[\w${_HIGH}]+")
_NUMBER = re.compile(r"0[xX][0-9A-Fa-f_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)"
                     r"(?:[eE][-+]?\d+)?")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*)?\$")
_COND = re.compile(r"/\*M?!\d*")
_SPACE = re.compile(r"\s+")


def quote_end(text: str, pos: int, q: str, backslash: bool) -> int:
    """Position after the quote ``q`` that closes a quoted run from ``pos`` (a doubled quote stands
    for itself; with ``backslash``, a backslash escapes the next character); -1 when unterminated."""
    i, n = pos + 1, len(text)
    while True:
        j = text.find(q, i)
        if backslash:
            k = text.find("\\", i)
            if k >= 0 and (j < 0 or k < j):
                i = k + 2
                if i > n:
                    return -1
                continue
        if j < 0:
            return -1
        if text.startswith(q, j + 1):
            i = j + 2
            continue
        return j + 1


def tokenize(text: str, dialect: str) -> Iterator[Token]:
    """The statement's tokens, comments skipped (a MySQL executable comment's content is code).

    An unterminated quote or comment ends the stream with an ``open`` token.
    """
    pos, n = 0, len(text)
    my = dialect == MYSQL
    word = _MY_WORD if my else _PG_WORD
    cond = False  # inside a MySQL executable comment /*!...*/
    while pos < n:
        m = _SPACE.match(text, pos)
        if m:
            pos = m.end()
            continue
        if text[pos] in "-#/*":
            after, cond2 = _skip_comment(text, pos, my, cond)
            if after < 0:
                yield Token("open", text[pos:], pos, cond)
                return
            if after != pos:
                pos, cond = after, cond2
                continue
        end, kind = _token_end(text, pos, my, word)
        if end < 0:
            yield Token("open", text[pos:], pos, cond)
            return
        yield Token(kind, text[pos:end], pos, cond)
        pos = end


def _skip_comment(text: str, pos: int, my: bool, cond: bool) -> tuple[int, bool]:
    """Past the comment (or the start or end of a MySQL executable comment) at ``pos``: (position
    after it, whether inside an executable comment now); ``pos`` when none starts there, -1 when the
    comment is not closed."""
    two = text[pos:pos + 2]
    if (two == "--" and (not my or pos + 2 >= len(text) or text[pos + 2] in " \t\r\n\f\v")) or \
            (my and two[0] == "#"):
        nl = text.find("\n", pos)
        return (len(text) if nl < 0 else nl + 1), cond
    if my and cond and two == "*/":
        return pos + 2, False
    if two != "/*":
        return pos, cond
    if not my:
        return _pg_comment_end(text, pos), cond
    cm = _COND.match(text, pos)
    if cm and not cond:
        return cm.end(), True
    end = text.find("*/", pos + 2)
    return (-1 if end < 0 else end + 2), cond


def _pg_comment_end(text: str, pos: int) -> int:
    """End of the block comment at ``pos`` (PostgreSQL's nest), -1 when it is not closed."""
    depth, i = 1, pos + 2
    while depth:
        o, e = text.find("/*", i), text.find("*/", i)
        if e < 0:
            return -1
        if 0 <= o < e:
            depth, i = depth + 1, o + 2
        else:
            depth, i = depth - 1, e + 2
    return i


def _token_end(text: str, pos: int, my: bool, word: re.Pattern) -> tuple[int, str]:
    """(end, kind) of the token at ``pos`` (not a space or a comment); end -1 when a quote is left open."""
    c = text[pos]
    if c == "'" or (c == '"' and my):
        backslash = my or (pos > 0 and text[pos - 1] in "eE" and _escape_prefix(text, pos - 1))
        return quote_end(text, pos, c, backslash), "string" if c == "'" or my else "ident"
    if c == '"' or (c == "`" and my):
        return quote_end(text, pos, c, False), "ident"
    if c == "$" and not my:
        return _dollar_end(text, pos)
    if c.isdigit() or (c == "." and text[pos + 1:pos + 2].isdigit()):
        end = _NUMBER.match(text, pos).end()
        if my:  # MySQL identifiers may start with digits: 1abc is a name
            wm = _MY_WORD.match(text, pos)
            if wm and wm.end() > end:
                return wm.end(), "word"
        return end, "number"
    m = word.match(text, pos)
    if m is None:
        return pos + 1, "punct"
    end = m.end()
    if not my and m.group().upper() == "U" and text[end:end + 2] in ('&"', "&'"):  # U&'...' / U&"..."
        q = text[end + 1]
        return quote_end(text, end + 1, q, False), "ident" if q == '"' else "string"
    return end, "word"


_PARAM = re.compile(r"\$\d+")


def _dollar_end(text: str, pos: int) -> tuple[int, str]:
    """A PostgreSQL dollar-quoted string, a $1 parameter, or a lone $."""
    dm = _DOLLAR.match(text, pos)
    if dm is None:
        m = _PARAM.match(text, pos)
        return (m.end(), "param") if m else (pos + 1, "punct")
    close = text.find(dm.group(), dm.end())
    return (-1 if close < 0 else close + len(dm.group())), "string"


def _escape_prefix(text: str, i: int) -> bool:
    """Is text[i] (an e or E before a quote) a string prefix rather than the end of a word?"""
    return i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_$")


# -- classification ------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    kind: str
    what: str = ""  # for unsupported_data: the statement kind, e.g. "UPDATE"
    table: str | None = None
    hint: str | None = None


LITERALS = ("string", "number", "open")

# statements that carry no row data into a table whatever literals they hold (schema, session)
_ALLOWED = frozenset("""ALTER DROP SET RESET COMMENT GRANT REVOKE LOCK UNLOCK USE BEGIN START COMMIT END ROLLBACK
SAVEPOINT RELEASE TRUNCATE ANALYZE ANALYSE VACUUM REFRESH SECURITY CLUSTER REINDEX FLUSH SHOW CHECKPOINT
DEALLOCATE DISCARD CHANGE STOP OPTIMIZE REPAIR RENAME INSTALL UNINSTALL ABORT LISTEN UNLISTEN NOTIFY""".split())
# statement kinds that put or change row data and are never rewritten
_DATA = {"UPDATE": "UPDATE", "MERGE": "MERGE", "UPSERT": "UPSERT", "LOAD": "LOAD DATA", "DO": "DO block",
         "CALL": "CALL", "EXEC": "EXECUTE", "EXECUTE": "EXECUTE", "PREPARE": "PREPARE", "HANDLER": "HANDLER",
         "WITH": "WITH"}
_SAFE_SELECT = frozenset({"SET_CONFIG", "LO_CREATE", "LO_OPEN", "LO_CLOSE", "LO_UNLINK", "CURRENT_SETTING"})
_INSERT_MODS = frozenset({"IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"})
_TABLE_MODS = frozenset({"OR", "REPLACE", "GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED"})
_REMOVE = "remove the statement from the dump, or dump the data with COPY (pg_dump) or INSERT ... VALUES"


def name_at(toks: list[Token], i: int) -> tuple[list[str] | None, int]:
    """A (maybe qualified) name starting at toks[i]: (parts, index after it) or (None, i)."""
    parts: list[str] = []
    while i < len(toks) and toks[i].kind in ("word", "ident"):
        parts.append(toks[i].name)
        i += 1
        if i < len(toks) and toks[i].text == ".":
            i += 1
            continue
        break
    return (parts or None), i


def _table(toks: list[Token], i: int) -> str | None:
    parts, _ = name_at(toks, i)
    return ".".join(parts) if parts else None


def _ident_list(toks: list[Token], i: int) -> tuple[list[str] | None, int]:
    """``( a, "b", ... )`` at toks[i]: (names, index after ')') or (None, i)."""
    if i >= len(toks) or toks[i].text != "(":
        return None, i
    names, i = [], i + 1
    while i < len(toks):
        t = toks[i]
        if t.kind not in ("word", "ident"):
            return None, i
        names.append(t.name)
        i += 1
        if i < len(toks) and toks[i].text == ",":
            i += 1
            continue
        if i < len(toks) and toks[i].text == ")":
            return names, i + 1
        return None, i
    return None, i


@dataclass(frozen=True)
class CopyHeader:
    table: list[str]  # name parts
    columns: list[str] | None
    options: bool  # anything after FROM stdin but the ';'


def parse_copy(text: str, dialect: str) -> CopyHeader | None:
    """``COPY name [(cols)] FROM stdin [options];``; None when the statement is not that shape."""
    toks = list(tokenize(text, dialect))
    if not toks or toks[0].upper != "COPY":
        return None
    parts, i = name_at(toks, 1)
    if parts is None:
        return None
    cols, j = _ident_list(toks, i)
    if cols is not None:
        i = j
    if i + 1 >= len(toks) or toks[i].upper != "FROM" or toks[i + 1].upper != "STDIN":
        return None
    rest = toks[i + 2:]
    if rest and rest[-1].text == ";":
        rest = rest[:-1]
    return CopyHeader(parts, cols, bool(rest))


def _copy_kind(toks: list[Token], text: str, dialect: str) -> Kind:
    stdin = any(t.upper == "FROM" and k + 1 < len(toks) and toks[k + 1].upper in ("STDIN", "PSTDIN")
                for k, t in enumerate(toks))
    if not stdin:
        return Kind("other")  # COPY ... TO, or FROM a server file: no data in the dump
    head = parse_copy(text, dialect)
    table = _table(toks, 1)
    if head is None:
        return Kind("unsupported_data", "COPY ... FROM stdin that veil cannot read", table,
                    "dump with pg_dump's default COPY format")
    if head.options:
        return Kind("unsupported_data", "COPY ... FROM stdin with options (CSV, BINARY, ...)", table,
                    "dump with pg_dump's default COPY text format")
    return Kind("copy", table=table)


def _insert_kind(toks: list[Token]) -> Kind:
    verb = toks[0].upper
    i = 1
    while i < len(toks) and toks[i].upper in _INSERT_MODS:
        i += 1
    if i >= len(toks) or toks[i].upper != "INTO":
        return Kind("unsupported_data", f"{verb} without INTO", None, _REMOVE)
    parts, i = name_at(toks, i + 1)
    table = ".".join(parts) if parts else None
    if toks[0].cond:
        return Kind("unsupported_data", f"{verb} inside a MySQL executable comment (/*!...*/)", table,
                    "remove the comment markers around the statement, or the statement")
    if parts is None:
        return Kind("unsupported_data", verb, None, _REMOVE)
    cols, j = _ident_list(toks, i)
    if cols is not None:
        i = j
    if i < len(toks) and toks[i].upper == "OVERRIDING":
        i += 3
    nxt = toks[i].upper if i < len(toks) else ""
    if nxt == "VALUES":
        return Kind("insert", table=table)
    what = {"SELECT": f"{verb} ... SELECT", "WITH": f"{verb} ... SELECT", "TABLE": f"{verb} ... TABLE",
            "SET": f"{verb} ... SET", "DEFAULT": f"{verb} ... DEFAULT VALUES", "VALUE": f"{verb} ... VALUE"}
    return Kind("unsupported_data", what.get(nxt, verb), table, _REMOVE)


def _create_kind(toks: list[Token]) -> Kind:
    i = 1
    while i < len(toks) and toks[i].upper in _TABLE_MODS:
        i += 1
    if i < len(toks) and toks[i].upper == "SEQUENCE":
        return Kind("sequence")
    if i >= len(toks) or toks[i].upper != "TABLE":
        return Kind("other")  # views, functions, triggers, indexes...: schema and code, not rows
    table = _table(toks, i + 1 + (3 if i + 3 < len(toks) and toks[i + 1].upper == "IF" else 0))
    depth, prev = 0, ""
    for t in toks[i + 1:]:
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and (t.upper in ("AS", "SELECT") or (t.upper == "VALUES" and prev != "FOR")):
            return Kind("unsupported_data", "CREATE TABLE ... AS/SELECT", table, _REMOVE)
        prev = t.upper
    if toks[0].cond:
        return Kind("other")  # mysqldump's view placeholders: no data, not a table of the dump
    return Kind("create_table", table=table)


def _select_kind(toks: list[Token], all_toks: Iterator[Token]) -> Kind:
    # SELECT [pg_catalog.]fn(...)
    i = 1
    if i + 1 < len(toks) and toks[i].kind in ("word", "ident") and toks[i + 1].text == ".":
        i += 2
    fn = toks[i].name.upper() if i < len(toks) and toks[i].kind in ("word", "ident") else ""
    if fn == "SETVAL":
        return Kind("setval")
    if fn in _SAFE_SELECT or fn.startswith("BINARY_UPGRADE_"):
        return Kind("other")
    if fn == "LOWRITE":
        return Kind("unsupported_data", "large object data (lowrite)", None,
                    "dump without large objects (pg_dump --no-large-objects)")
    if _has_literal(toks, all_toks):
        return Kind("unsupported_data", "SELECT with literals", None, _REMOVE)
    return Kind("other")


def _has_literal(seen: list[Token], rest: Iterator[Token]) -> bool:
    return any(t.kind in LITERALS for t in seen) or any(t.kind in LITERALS for t in rest)


_BAD_MODES = re.compile(r"NO_BACKSLASH_ESCAPES|ANSI_QUOTES|\bANSI\b", re.I)
_INSERT_BODY = frozenset({"VALUES", "VALUE", "SELECT", "SET", "WITH", "DEFAULT", "TABLE"})
_HEAD = 48  # tokens looked at to classify; the rest of a long statement is read only when needed


def classify(text: str, dialect: str) -> Kind:
    it = tokenize(text, dialect)
    toks: list[Token] = []
    for t in it:
        toks.append(t)
        if len(toks) >= _HEAD:
            break
    if not toks:
        return Kind("other")
    first = toks[0]
    verb = first.upper
    if verb in ("INSERT", "REPLACE"):
        depth, found = 0, False
        for t in toks:
            depth += 1 if t.text == "(" else -1 if t.text == ")" else 0
            found = found or (depth == 0 and t.upper in _INSERT_BODY)
        if not found:
            for t in it:  # a long column list: read on to the VALUES (never into the values)
                toks.append(t)
                depth += 1 if t.text == "(" else -1 if t.text == ")" else 0
                if depth == 0 and t.upper in _INSERT_BODY:
                    break
        return _insert_kind(toks)
    if verb == "COPY":
        toks.extend(it)
        return _copy_kind(toks, text, dialect)
    if verb == "CREATE":
        toks.extend(it)
        return _create_kind(toks)
    if verb == "ALTER":
        if len(toks) > 1 and toks[1].upper == "TABLE" and not first.cond:
            return Kind("alter_table")
        if len(toks) > 1 and toks[1].upper == "SEQUENCE":
            return Kind("sequence")
        return Kind("other")
    if verb == "SELECT":
        return _select_kind(toks, it)
    if verb == "DELETE":
        if _has_literal(toks, it):
            return Kind("unsupported_data", "DELETE with literals", _table(toks, 2), _REMOVE)
        return Kind("other")
    if verb in _DATA:
        table = None
        if verb == "UPDATE":
            k = 1
            while k < len(toks) and toks[k].upper in ("ONLY", "LOW_PRIORITY", "IGNORE"):
                k += 1
            table = _table(toks, k)
        elif verb == "MERGE" and len(toks) > 1 and toks[1].upper == "INTO":
            table = _table(toks, 2)
        elif verb == "LOAD":
            for k, t in enumerate(toks):
                if t.upper == "TABLE" and k > 1 and toks[k - 1].upper == "INTO":
                    table = _table(toks, k + 1)
                    break
        return Kind("unsupported_data", _DATA[verb], table, _REMOVE)
    if verb == "SET":
        toks.extend(it)
        joined = " ".join(t.text for t in toks)
        if dialect == PG and re.search(r"standard_conforming_strings\s*(?:=|TO)\s*'?off", joined, re.I):
            return Kind("unsupported_data", "SET standard_conforming_strings = off", None,
                        "dump with standard_conforming_strings on (pg_dump's default)")
        if dialect == MYSQL and re.search(r"SQL_MODE", joined, re.I) and any(
                t.kind == "string" and _BAD_MODES.search(t.text) for t in toks):
            return Kind("unsupported_data", "SET sql_mode with NO_BACKSLASH_ESCAPES or ANSI_QUOTES", None,
                        "dump without those SQL modes")
        return Kind("other")
    if verb in _ALLOWED or all(t.text == ";" for t in toks):
        return Kind("other")
    # unknown is unsafe: never name the first word, it may be a value
    return Kind("unsupported_data", "a statement veil does not know", None, _REMOVE)
