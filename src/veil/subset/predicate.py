"""``where:`` of a subset target: a SQL predicate, parsed by sqlglot, evaluated over Arrow arrays.

The documented subset of SQL (docs/subset.md): column names; string, number, ``TRUE``/``FALSE``,
``NULL`` and ``DATE '2024-01-31'`` / ``TIMESTAMP '2024-01-31 10:00:00'`` literals; ``= <> != < <=
> >=``; ``AND``, ``OR``, ``NOT``, parentheses; ``IN (..)``, ``NOT IN``; ``BETWEEN .. AND ..``;
``IS NULL``, ``IS NOT NULL``; ``LIKE`` / ``NOT LIKE`` (``%`` and ``_``). Anything else is a profile
problem naming the construct. Logic is SQL's three-valued logic (pyarrow's Kleene kernels): a row
whose predicate is unknown (a comparison with a null) is not selected.

A text column compared with a number or a date literal (a CSV read as text, a dump's values) is
cast to the literal's type first; a value that does not cast is an input error naming the column,
never the value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError


class PredicateError(ValueError):
    """A where clause veil cannot evaluate (the message names the construct, not a value)."""


@dataclass
class Predicate:
    text: str
    tree: Any
    columns: list[str]

    def mask(self, batch: pa.Table | pa.RecordBatch, table: str = "") -> np.ndarray:
        """The rows the predicate selects (unknown is not selected)."""
        try:
            out = _eval(self.tree, batch, table)
        except PredicateError as err:  # a column's type the predicate does not fit: the profile's problem
            raise InputError(f"subset where of table {table}: {err}", table=table or None,
                             hint="fix the where clause (docs/subset.md)") from None
        if isinstance(out, pa.Scalar):
            return np.full(batch.num_rows, bool(out.as_py()), bool)
        out = pc.fill_null(out, False)
        if isinstance(out, pa.ChunkedArray):
            out = out.combine_chunks()
        return out.to_numpy(zero_copy_only=False).astype(bool)


def compile_where(text: str) -> Predicate:
    """Parse ``text`` (raises PredicateError for what the subset of SQL does not hold)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        tree = sqlglot.parse_one(text)
    except (ParseError, ValueError) as err:
        raise PredicateError(f"not a SQL predicate ({type(err).__name__})") from None
    columns: list[str] = []
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise PredicateError(f"'{type(node).__name__}' is not supported in where (see docs/subset.md)")
        if isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null):
            raise PredicateError("IS is supported with NULL only (IS NULL, IS NOT NULL)")
        if node.args.get("negate") and not isinstance(node, exp.Like):
            raise PredicateError(f"negated '{type(node).__name__}' is not supported in where; write NOT (...)")
        if isinstance(node, exp.Column) and node.name not in columns:
            if node.table:
                raise PredicateError("qualified column names (t.c) are not supported in where")
            columns.append(node.name)
    return Predicate(text, tree, columns)


def _allowed() -> tuple[type, ...]:
    from sqlglot import exp

    return (exp.And, exp.Or, exp.Not, exp.Paren, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.In,
            exp.Between, exp.Is, exp.Like, exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Boolean,
            exp.Cast, exp.DataType, exp.Neg, exp.Tuple)


_ALLOWED = _allowed()


def _literal(node: Any) -> pa.Scalar:
    from sqlglot import exp

    if isinstance(node, exp.Null):
        return pa.scalar(None)
    if isinstance(node, exp.Boolean):
        return pa.scalar(bool(node.this))
    if isinstance(node, exp.Neg):
        v = _literal(node.this)
        return pa.scalar(-v.as_py())
    if isinstance(node, exp.Cast):
        text = node.this.name
        kind = node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)
        try:
            if kind == "DATE":
                return pa.scalar(dt.date.fromisoformat(text))
            if kind.startswith("TIMESTAMP") or kind == "DATETIME":
                return pa.scalar(dt.datetime.fromisoformat(text))
        except ValueError:
            raise PredicateError(f"a {kind} literal that is not an ISO date or time") from None
        raise PredicateError(f"CAST to {kind} is not supported in where")
    if isinstance(node, exp.Literal):
        if node.is_string:
            return pa.scalar(node.this)
        text = node.this
        return pa.scalar(float(text)) if any(ch in text for ch in ".eE") else pa.scalar(int(text))
    raise PredicateError(f"'{type(node).__name__}' is not a literal")


def _column(batch, name: str, table: str) -> pa.Array:
    if name not in batch.schema.names:
        raise PredicateError(f"where names column '{name}', which table {table or '?'} does not have")
    col = batch.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _align(col: pa.Array, lit: pa.Scalar, name: str, table: str) -> tuple[pa.Array, pa.Scalar]:
    """The column and the literal in one comparable type."""
    if not lit.is_valid:
        return col, pa.scalar(None, col.type)
    lt, ct = lit.type, col.type
    if pa.types.is_string(ct) or pa.types.is_large_string(ct):
        if pa.types.is_string(lt):
            return col, lit
        target = pa.float64() if pa.types.is_floating(lt) or pa.types.is_integer(lt) else lt
        try:
            return pc.cast(col, target), lit.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"column {name} holds a value that is not a {target}, compared with one in where",
                             table=table or None, column=name,
                             hint="compare it with a quoted string, or fix the value") from None
    if pa.types.is_temporal(ct) and pa.types.is_temporal(lt):
        return col, lit.cast(ct) if not pa.types.is_date(lt) or pa.types.is_date(ct) else \
            pa.scalar(dt.datetime.combine(lit.as_py(), dt.time()), ct)
    if pa.types.is_decimal(ct) and (pa.types.is_integer(lt) or pa.types.is_floating(lt)):
        # a number literal against a decimal column: compared as float64 (exact for the usual money scales)
        return pc.cast(col, pa.float64()), lit.cast(pa.float64())
    try:
        return col, lit.cast(ct)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise PredicateError(f"column {name} ({ct}) cannot be compared with a {lt} literal") from None


def _operand(node, batch, table):
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _operand(node.this, batch, table)
    if isinstance(node, exp.Column):
        return ("col", node.name, _column(batch, node.name, table))
    return ("lit", None, _literal(node))


_COMPARE = {"EQ": "equal", "NEQ": "not_equal", "LT": "less", "LTE": "less_equal", "GT": "greater",
            "GTE": "greater_equal"}
_MIRROR = {"less": "greater", "less_equal": "greater_equal", "greater": "less", "greater_equal": "less_equal",
           "equal": "equal", "not_equal": "not_equal"}


def _compare(fn: str, a, b, table: str):
    if a[0] == "lit" and b[0] == "col":
        a, b, fn = b, a, _MIRROR[fn]
    if a[0] == "col" and b[0] == "lit":
        col, lit = _align(a[2], b[2], a[1], table)
        return getattr(pc, fn)(col, lit)
    if a[0] == "col" and b[0] == "col":
        return getattr(pc, fn)(a[2], b[2])
    return pa.scalar(getattr(pc, fn)(a[2], b[2]).as_py(), pa.bool_())


def _eval(node, batch, table: str):
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _eval(node.this, batch, table)
    if isinstance(node, exp.And):
        return pc.and_kleene(_eval(node.this, batch, table), _eval(node.expression, batch, table))
    if isinstance(node, exp.Or):
        return pc.or_kleene(_eval(node.this, batch, table), _eval(node.expression, batch, table))
    if isinstance(node, exp.Not):
        return pc.invert(_eval(node.this, batch, table))
    name = type(node).__name__
    if name in _COMPARE:
        return _compare(_COMPARE[name], _operand(node.this, batch, table), _operand(node.expression, batch, table),
                        table)
    if node.args.get("negate") and not isinstance(node, exp.Like):
        raise PredicateError(f"negated '{name}' is not supported in where; write NOT (...)")
    if isinstance(node, exp.Between):
        v = _operand(node.this, batch, table)
        lo = _compare("greater_equal", v, _operand(node.args["low"], batch, table), table)
        hi = _compare("less_equal", v, _operand(node.args["high"], batch, table), table)
        return pc.and_kleene(lo, hi)
    if isinstance(node, exp.In):
        v = _operand(node.this, batch, table)
        if v[0] != "col":
            raise PredicateError("IN needs a column on its left")
        lits = [_literal(e) for e in node.expressions]
        if not lits:
            raise PredicateError("IN needs a list of literals")
        col = v[2]
        aligned = [_align(col, lit, v[1], table) for lit in lits if lit.is_valid]
        if not aligned:
            return pa.nulls(len(col), pa.bool_())
        col = aligned[0][0]
        hit = pc.is_in(col, value_set=pa.array([a[1].as_py() for a in aligned], col.type))
        # SQL: x IN (..) is unknown for a null x
        return pc.if_else(pc.is_null(col), pa.scalar(None, pa.bool_()), hit)
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise PredicateError("IS is supported with NULL only (IS NULL, IS NOT NULL)")
        v = _operand(node.this, batch, table)
        return pc.is_null(v[2]) if v[0] == "col" else pa.scalar(not v[2].is_valid)
    if isinstance(node, exp.Like):
        v, pat = _operand(node.this, batch, table), _operand(node.expression, batch, table)
        if v[0] != "col" or pat[0] != "lit" or not pa.types.is_string(pat[2].type):
            raise PredicateError("LIKE needs a column and a string pattern")
        col = v[2] if pa.types.is_string(v[2].type) else pc.cast(v[2], pa.string())
        hit = pc.match_like(col, pat[2].as_py())
        return pc.invert(hit) if node.args.get("negate") else hit
    if isinstance(node, exp.Boolean):
        return pa.scalar(bool(node.this))
    raise PredicateError(f"'{name}' is not a condition")
