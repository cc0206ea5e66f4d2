"""Sequences and auto-increment counters: a dump's counters must not tell the original ids.

pg_dump writes ``SELECT pg_catalog.setval('public.t_id_seq', 123456, true);``
after the data: the original maximum id (and often the row count) in clear,
while the ids themselves are pseudonymized. veil learns which column each
sequence feeds (``ALTER SEQUENCE ... OWNED BY``, a column ``DEFAULT
nextval('...')``, ``ADD GENERATED ... AS IDENTITY (SEQUENCE NAME ...)``; in a
data-only dump, pg's serial naming ``<table>_<column>_seq``) and rewrites the
value from the output: the maximum of the transformed column (``true``: the
next id is one above it), or the sequence's start (``false``) when the column
has no value above it. A sequence whose column is kept is left as it is; one
that feeds no column of the dump is left as it is (its value is no row's
value); one veil cannot place is refused (exit 5).

mysqldump writes ``AUTO_INCREMENT=N`` into ``CREATE TABLE``, before the data:
veil removes that table option when the auto-increment column is transformed;
the server then sets the counter above the largest restored id itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .classify import MYSQL, Token, name_at, tokenize
from .ddl import name_parts


@dataclass
class SeqDef:
    name: str
    start: int | None = None
    increment: int = 1
    created: bool = False  # CREATE SEQUENCE or an identity column in this dump
    links: list[tuple[str, str]] = field(default_factory=list)  # (table, column) it feeds

    def link(self, table: str, column: str) -> None:
        if (table, column) not in self.links:
            self.links.append((table, column))


def _int(toks: list[Token], i: int) -> int | None:
    sign = 1
    if i < len(toks) and toks[i].text in ("-", "+"):
        sign = -1 if toks[i].text == "-" else 1
        i += 1
    if i < len(toks) and toks[i].kind == "number" and toks[i].text.isdigit():
        return sign * int(toks[i].text)
    return None


def _regclass(tok: Token) -> str | None:
    """'public.t_id_seq' (a string token) -> public.t_id_seq."""
    if tok.kind != "string" or not tok.text.startswith("'"):
        return None
    return ".".join(name_parts(tok.text[1:-1].replace("''", "'")))


def _qualified(toks: list[Token], i: int) -> tuple[list[str], int]:
    parts, i = name_at(toks, i)
    return parts or [], i


def _options(seq: SeqDef, toks: list[Token], start: int, end: int) -> None:
    """START [WITH] n, INCREMENT [BY] n in toks[start:end]."""
    i = start
    while i < end:
        u = toks[i].upper
        if u in ("START", "INCREMENT"):
            j = i + 1
            if j < end and toks[j].upper in ("WITH", "BY"):
                j += 1
            v = _int(toks, j)
            if v is not None:
                if u == "START":
                    seq.start = v
                else:
                    seq.increment = v
        i += 1


class Sequences:
    """What the first pass learns about a dump's sequences."""

    def __init__(self) -> None:
        self.seqs: dict[str, SeqDef] = {}

    def get(self, name: str) -> SeqDef:
        if name not in self.seqs:
            self.seqs[name] = SeqDef(name)
        return self.seqs[name]

    def find(self, name: str, tables: dict) -> SeqDef | None:
        """The sequence a setval names, or None when veil cannot tell what it feeds."""
        seq = self.seqs.get(name)
        if seq is None and "." not in name:
            found = [s for n, s in self.seqs.items() if n.rsplit(".", 1)[-1] == name]
            seq = found[0] if len(found) == 1 else None
        if seq is not None and (seq.created or seq.links):
            return seq
        # a data-only dump: no DDL, so pg's serial naming <table>_<column>_seq is all there is
        schema, _, bare = name.rpartition(".")
        if not bare.endswith("_seq"):
            return None
        stem = bare[:-4]
        guesses = []
        for tname, td in tables.items():
            tschema, _, tbare = tname.rpartition(".")
            if tschema != schema or not stem.startswith(tbare + "_"):
                continue
            col = stem[len(tbare) + 1:]
            if col in {c for c, _ in td.columns}:
                guesses.append((tname, col))
        if len(guesses) != 1:
            return None
        seq = seq or self.get(name)
        seq.link(*guesses[0])
        return seq

    def statement(self, text: str, kind: str, dialect: str) -> None:
        """Learn from CREATE/ALTER SEQUENCE, CREATE TABLE and ALTER TABLE (PostgreSQL)."""
        if dialect == MYSQL:
            return
        toks = list(tokenize(text, dialect))
        if kind == "sequence":
            i = 1
            while i < len(toks) and toks[i].upper != "SEQUENCE":
                i += 1
            j = i + 1
            if j + 2 < len(toks) and toks[j].upper == "IF":
                j += 3 if toks[j + 1].upper == "NOT" else 2
            parts, k = _qualified(toks, j)
            if not parts:
                return
            seq = self.get(".".join(parts))
            if toks[0].upper == "CREATE":
                seq.created = True
            _options(seq, toks, k, len(toks))
            self._owned_by(seq, toks, k)
        elif kind == "create_table":
            self._create_table(toks)
        elif kind == "alter_table":
            self._alter_table(toks)

    def _owned_by(self, seq: SeqDef, toks: list[Token], k: int) -> None:
        for i in range(k, len(toks) - 1):
            if toks[i].upper == "OWNED" and toks[i + 1].upper == "BY":
                parts, _ = _qualified(toks, i + 2)
                if len(parts) >= 2:
                    seq.link(".".join(parts[:-1]), parts[-1])

    def _nextval(self, toks: list[Token], lo: int, hi: int, table: str, column: str) -> None:
        for i in range(lo, hi - 2):
            if toks[i].upper == "NEXTVAL" and toks[i + 1].text == "(":
                name = _regclass(toks[i + 2])
                if name:
                    self.get(name).link(table, column)

    def _identity(self, toks: list[Token], lo: int, hi: int, table: str, column: str) -> None:
        for i in range(lo, hi - 1):
            if toks[i].upper == "IDENTITY":
                j, name = i + 1, None
                if j < hi and toks[j].text == "(":
                    for k in range(j, hi - 2):
                        if toks[k].upper == "SEQUENCE" and toks[k + 1].upper == "NAME":
                            parts, _ = _qualified(toks, k + 2)
                            name = ".".join(parts) if parts else None
                            break
                if name is None:  # the default name
                    schema, _, bare = table.rpartition(".")
                    name = f"{schema + '.' if schema else ''}{bare}_{column}_seq"
                seq = self.get(name)
                seq.created = True
                seq.link(table, column)
                _options(seq, toks, j, hi)
                return

    def _create_table(self, toks: list[Token]) -> None:
        i = 1
        while i < len(toks) and toks[i].upper != "TABLE":
            i += 1
        j = i + 1
        if j + 2 < len(toks) and toks[j].upper == "IF":
            j += 3
        parts, k = _qualified(toks, j)
        if not parts or k >= len(toks) or toks[k].text != "(":
            return
        table = ".".join(parts)
        depth, seg = 0, k + 1
        for i in range(k, len(toks)):
            t = toks[i].text
            if t == "(":
                depth += 1
            elif t == ")":
                depth -= 1
            if (depth == 1 and t == ",") or (depth == 0 and t == ")"):
                head = toks[seg] if seg < i else None
                if head is not None and head.kind in ("word", "ident") and head.upper not in (
                        "CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "EXCLUDE", "LIKE"):
                    self._nextval(toks, seg, i, table, head.name)
                    self._identity(toks, seg, i, table, head.name)
                    low = {"SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL4", "SERIAL8", "SERIAL2"}
                    if seg + 1 < i and toks[seg + 1].upper in low:
                        schema, _, bare = table.rpartition(".")
                        self.get(f"{schema + '.' if schema else ''}{bare}_{head.name}_seq").link(table, head.name)
                seg = i + 1
            if depth == 0 and t == ")":
                break

    def _alter_table(self, toks: list[Token]) -> None:
        i = 2
        while i < len(toks) and toks[i].upper in ("ONLY", "IF", "EXISTS"):
            i += 1
        parts, k = _qualified(toks, i)
        if not parts:
            return
        table = ".".join(parts)
        while k < len(toks):
            if toks[k].upper == "ALTER":
                j = k + 1
                if j < len(toks) and toks[j].upper == "COLUMN":
                    j += 1
                if j < len(toks) and toks[j].kind in ("word", "ident"):
                    column = toks[j].name
                    end = next((x for x in range(j, len(toks)) if toks[x].text in (",", ";")), len(toks))
                    self._nextval(toks, j, end, table, column)
                    self._identity(toks, j, end, table, column)
                    k = end
            k += 1


@dataclass(frozen=True)
class SetVal:
    sequence: str
    literal: str  # the sequence name as written


def parse_setval(text: str, dialect: str) -> SetVal | None:
    """``SELECT [pg_catalog.]setval('name', n[, bool]);`` and nothing else."""
    toks = list(tokenize(text, dialect))
    if toks and toks[-1].text == ";":
        toks = toks[:-1]
    i = 1
    if len(toks) > 3 and toks[2].text == "." and toks[1].name.lower() == "pg_catalog":
        i = 3
    if len(toks) < i + 5 or toks[i].name.lower() != "setval" or toks[i + 1].text != "(":
        return None
    name = _regclass(toks[i + 2])
    rest = [t.text for t in toks[i + 3:]]
    if name is None or rest[0] != "," or _int(toks, i + 4) is None:
        return None
    j = i + 5 if toks[i + 4].kind == "number" else i + 6
    tail = [t.upper or t.text for t in toks[j:]]
    if tail not in ([")"], [",", "TRUE", ")"], [",", "FALSE", ")"]):
        return None
    return SetVal(name, toks[i + 2].text)


def auto_increment_span(text: str) -> tuple[int, int] | None:
    """The span of the ``AUTO_INCREMENT=N`` table option of a MySQL CREATE TABLE (with the space
    before it), or None."""
    toks = list(tokenize(text, MYSQL))
    depth = 0
    for i, t in enumerate(toks):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.upper == "AUTO_INCREMENT" and i > 0 and not t.cond:
            j = i + 1
            if j < len(toks) and toks[j].text == "=":
                j += 1
            if j < len(toks) and toks[j].kind == "number":
                start = t.start
                while start > 0 and text[start - 1] in " \t":
                    start -= 1
                return start, toks[j].start + len(toks[j].text)
    return None


def auto_increment_column(text: str) -> str | None:
    """The column declared AUTO_INCREMENT in a MySQL CREATE TABLE."""
    toks = list(tokenize(text, MYSQL))
    depth, head = 0, None
    for t in toks:
        if t.text == "(":
            depth += 1
            if depth == 1:
                head = None
            continue
        if t.text == ")":
            depth -= 1
            continue
        if depth == 1 and t.text == ",":
            head = None
            continue
        if depth == 1 and head is None:
            head = t
        elif depth == 1 and t.upper == "AUTO_INCREMENT" and head is not None and head.kind in ("word", "ident"):
            return head.name
    return None
