"""Table definitions and keys from the dump's DDL, parsed with sqlglot.

CREATE TABLE gives column names, SQL types, inline and table-level primary
keys, unique constraints and foreign keys; ALTER TABLE ... ADD CONSTRAINT adds
keys (pg_dump writes them after the data); ALTER TABLE ... ATTACH PARTITION
maps a leaf partition to its parent. A statement sqlglot cannot parse is
skipped: the table then gets its columns from its COPY or INSERT column list.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from .lexer import MYSQL, PG

_READ = {PG: "postgres", MYSQL: "mysql"}


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
        return sqlglot.parse_one(text.strip().rstrip(";"), read=_READ[dialect])
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
            td.columns.append((e.name, kind.sql(dialect=_READ[dialect]).lower() if kind is not None else ""))
            for c in e.constraints:
                k = c.args.get("kind")
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
