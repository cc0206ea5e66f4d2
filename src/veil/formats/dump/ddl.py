"""Table definitions and keys from the dump's DDL, parsed with sqlglot.

CREATE TABLE gives column names, SQL types, inline and table-level primary
keys, unique constraints and foreign keys; ALTER TABLE ... ADD CONSTRAINT adds
keys (pg_dump writes them after the data), and so does CREATE UNIQUE INDEX on plain columns;
ALTER TABLE ... ATTACH PARTITION
maps a leaf partition to its parent. A column whose type sqlglot cannot parse
(MySQL ``point``, PostgreSQL ``bit varying(n)``, PostGIS ``geometry(Point,4326)``)
is read as text with its declared type kept (veil.sqltypes calls it ``string``;
its own inline constraints are not read); another CREATE TABLE sqlglot cannot
parse is skipped: the table then gets its columns from its COPY or INSERT
column list.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from ...sqltypes import sqlglot_dialect


@dataclass
class FKDef:
    columns: list[str]
    ref_table: str
    ref_columns: list[str]


@dataclass
class TableDef:
    name: str  # as the dump names it, unquoted: "public.customers" or "customers"
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, lower-case SQL type)
    primary_key: list[str] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    foreign_keys: list[FKDef] = field(default_factory=list)
    parent: str | None = None  # partitioned parent, for a leaf partition
    parts: tuple[str, ...] = ()  # the name's parts as the dump quotes them: ("x.y", "z") is not ("x", "y.z")
    not_null: list[str] = field(default_factory=list)  # columns declared NOT NULL in CREATE TABLE


def table_name(t: exp.Table) -> str:
    parts = [p.name for p in (t.args.get("catalog"), t.args.get("db")) if p is not None and p.name]
    return ".".join([*parts, t.name])


def _ids(nodes) -> list[str]:
    out = []
    for n in nodes or []:
        if isinstance(n, exp.Identifier):
            out.append(n.name)
        elif isinstance(n, exp.Column):
            out.append(n.name)
        elif isinstance(n, exp.Ordered) and isinstance(n.this, (exp.Column, exp.Identifier)):
            out.append(n.this.name)
    return out


def _parse(text: str, dialect: str) -> exp.Expression | None:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # sqlglot warns with statement text: never let it reach a log
    try:
        return sqlglot.parse_one(text.strip().rstrip(";"), read=sqlglot_dialect(dialect))
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError, RecursionError):
        return None
    finally:
        logger.setLevel(level)


def _fk(node: exp.ForeignKey) -> FKDef | None:
    ref = node.args.get("reference")
    if ref is None or not isinstance(ref.this, exp.Schema) or not isinstance(ref.this.this, exp.Table):
        return None
    return FKDef(_ids(node.expressions), table_name(ref.this.this), _ids(ref.this.expressions))


def _constraint(td: TableDef, node: exp.Expression) -> None:
    if isinstance(node, exp.Constraint):
        for sub in node.expressions:
            _constraint(td, sub)
    elif isinstance(node, exp.PrimaryKey):
        td.primary_key = _ids(node.expressions)
    elif isinstance(node, exp.UniqueColumnConstraint) and isinstance(node.this, exp.Schema):
        td.unique.append(_ids(node.this.expressions))
    elif isinstance(node, exp.ForeignKey):
        fk = _fk(node)
        if fk:
            td.foreign_keys.append(fk)


def parse_create(text: str, dialect: str) -> TableDef | None:
    tree = _parse(text, dialect)
    odd: dict[int, str] = {}  # column position -> declared type sqlglot cannot read
    if tree is None:
        tree, odd = _parse_odd_columns(text, dialect)
    if not isinstance(tree, exp.Create) or not isinstance(tree.this, exp.Schema):
        return None
    schema = tree.this
    if not isinstance(schema.this, exp.Table):
        return None
    t = schema.this
    td = TableDef(table_name(t), parts=tuple(p.name for p in (t.args.get("catalog"), t.args.get("db"), t.this)
                                              if p is not None and p.name))
    for e in schema.expressions:
        if isinstance(e, exp.ColumnDef):
            kind = e.args.get("kind")
            if len(td.columns) in odd:
                td.columns.append((e.name, odd[len(td.columns)]))
                continue
            td.columns.append((e.name, kind.sql(dialect=sqlglot_dialect(dialect)).lower() if kind is not None else ""))
            for c in e.constraints:
                k = c.args.get("kind")
                if isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null"):
                    td.not_null.append(e.name)
                if isinstance(k, exp.PrimaryKeyColumnConstraint):
                    td.primary_key = [e.name]
                elif isinstance(k, exp.UniqueColumnConstraint):
                    td.unique.append([e.name])
                elif isinstance(k, exp.Reference) and isinstance(k.this, exp.Schema):
                    ref = k.this
                    if isinstance(ref.this, exp.Table):
                        td.foreign_keys.append(FKDef([e.name], table_name(ref.this), _ids(ref.expressions)))
        else:
            _constraint(td, e)
    return td


_NOT_COLUMN = re.compile(r"(?:CONSTRAINT|PRIMARY|UNIQUE|FOREIGN|KEY|INDEX|CHECK|FULLTEXT|SPATIAL|EXCLUDE|LIKE|"
                         r"PERIOD)\b", re.I)
# words that end a column's type in its definition
_TYPE_END = re.compile(r"\s(?:NOT|NULL|DEFAULT|PRIMARY|UNIQUE|REFERENCES|CHECK|COLLATE|CONSTRAINT|GENERATED|"
                       r"AUTO_INCREMENT|COMMENT|CHARACTER|CHARSET|ON|INVISIBLE|VISIBLE|AS|SRID|STORAGE|"
                       r"COMPRESSION)\b", re.I)


def _split_top(text: str, start: int) -> tuple[list[str], int] | None:
    """The comma-separated parts of the parenthesized list opening at ``text[start]`` (quotes and
    nested parentheses respected), and the position after its closing parenthesis."""
    parts, depth, quote, i, begin = [], 0, "", start, start + 1
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == "'":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                parts.append(text[begin:i])
                return parts, i + 1
        elif ch == "," and depth == 1:
            parts.append(text[begin:i])
            begin = i + 1
        i += 1
    return None


def _open_paren(text: str) -> int:
    """Position of the first parenthesis outside quotes (the column list of a CREATE TABLE)."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"`":
            quote = ch
        elif ch == "(":
            return i
    return -1


def _parse_odd_columns(text: str, dialect: str) -> tuple[exp.Expression | None, dict[int, str]]:
    """A CREATE TABLE sqlglot could not parse, parsed again with every column definition it cannot
    read on its own replaced by ``<name> text``: (tree, column position -> its declared type)."""
    start = _open_paren(text)
    split = _split_top(text, start) if start >= 0 else None
    if split is None:
        return None, {}
    parts, end = split
    head = text[:start]
    odd: dict[int, str] = {}
    column = 0
    for n, part in enumerate(parts):
        if _NOT_COLUMN.match(part.strip()):
            continue
        if _parse(f"{head}({part})", dialect) is None:
            m = re.match(r"\s*((?:\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|[^\s\"`]+))\s+(.*)$", part, re.S)
            if m is None:
                return None, {}
            declared = _TYPE_END.split(" " + m.group(2), maxsplit=1)[0]
            odd[column] = " ".join(declared.split()).lower()
            parts[n] = f"{m.group(1)} text"
        column += 1
    if not odd:
        return None, {}
    body = f"{head}({','.join(parts)})"
    return _parse(body + text[end:], dialect) or _parse(body, dialect), odd


_ATTACH = re.compile(r"ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<parent>\S+)\s+ATTACH\s+PARTITION\s+(?P<leaf>\S+)", re.I)


def name_parts(raw: str) -> tuple[str, ...]:
    """'public."a.b"' -> ('public', 'a.b'): the parts of a qualified name, unquoted."""
    parts = re.findall(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^."`]+)', raw)
    out = []
    for dq, bq, plain in parts:
        out.append(dq.replace('""', '"') if dq else bq.replace("``", "`") if bq else plain.strip())
    return tuple(p for p in out if p)


def unquote_name(raw: str) -> str:
    """'public."Kunde"' -> 'public.Kunde'; '`db`.`t`' -> 'db.t'."""
    return ".".join(name_parts(raw))


def parse_alter(text: str, dialect: str, tables: dict[str, TableDef]) -> None:
    """Apply ADD CONSTRAINT (PK, UNIQUE, FK) and ATTACH PARTITION to known tables."""
    m = _ATTACH.search(text)
    if m:
        leaf = tables.get(unquote_name(m.group("leaf")))
        if leaf is not None:
            leaf.parent = unquote_name(m.group("parent"))
        return
    if not re.search(r"\bADD\s+(?:CONSTRAINT\b|PRIMARY\b|UNIQUE\b|FOREIGN\b)", text, re.I):
        return
    tree = _parse(text, dialect)
    if not isinstance(tree, exp.Alter) or not isinstance(tree.this, exp.Table):
        return
    td = tables.get(table_name(tree.this))
    if td is None:
        return
    for action in tree.args.get("actions") or []:
        for node in action.expressions if isinstance(action, exp.AddConstraint) else [action]:
            _constraint(td, node)


_UNIQUE_INDEX = re.compile(r"\s*CREATE\s+UNIQUE\s+INDEX\b", re.I)


def parse_unique_index(text: str, dialect: str, tables: dict[str, TableDef]) -> None:
    """``CREATE UNIQUE INDEX ... ON [ONLY] t (a, b)`` adds a unique key of plain columns to a known
    table (Rails and hand-written schemas declare uniqueness so, not as a constraint): faking such a
    column would collide and break the index on restore. An index on expressions (``lower(email)``)
    is no key of a column."""
    if not _UNIQUE_INDEX.match(text):
        return
    tree = _parse(re.sub(r"\bON\s+ONLY\b", "ON", text, count=1, flags=re.I), dialect)
    if not isinstance(tree, exp.Create) or not isinstance(tree.this, exp.Index):
        return
    table, params = tree.this.args.get("table"), tree.this.args.get("params")
    td = tables.get(table_name(table)) if isinstance(table, exp.Table) else None
    items = params.args.get("columns") if params is not None else None
    if td is None or not items:
        return
    cols = [i.this.name if isinstance(i, exp.Ordered) else i.name for i in items
            if isinstance(i.this if isinstance(i, exp.Ordered) else i, exp.Column)]
    if len(cols) == len(items) and cols not in td.unique:
        td.unique.append(cols)


def table_foreign_keys(tables: dict[str, TableDef], name: str) -> list[FKDef]:
    """The foreign keys of ``name`` and of every partition under it (pg_dump declares a partitioned
    table's foreign keys on each leaf when they were created there: its rows follow the parent's
    rules, so the keys are lifted to the parent), each once."""

    def root(n: str) -> str:
        seen: set[str] = set()
        while n in tables and tables[n].parent and n not in seen:
            seen.add(n)
            n = tables[n].parent or n
        return n

    out: list[FKDef] = []
    have: set[tuple] = set()
    for tname, td in tables.items():
        if tname != name and root(tname) != name:
            continue
        for fk in td.foreign_keys:
            k = (tuple(fk.columns), root(fk.ref_table), tuple(fk.ref_columns))
            if k not in have:
                have.add(k)
                out.append(fk)
    return out
