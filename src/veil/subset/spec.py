"""The profile's ``subset:`` section (docs/subset.md).

```yaml
subset:
  targets:
    - {table: customers, fraction: 0.05}          # keyed by primary key: the same rows every run
    - {table: stores, where: "country = 'DE'"}    # a SQL predicate (veil.subset.predicate)
    - {table: products, limit: 100}               # the 100 rows of smallest keyed hash (with where: of those)
    - {table: accounts, keys_file: ids.txt}       # primary key values, one a line (tab between columns)
  include_children: [orders, payments]            # rows that reference kept rows (to a fixpoint)
  null_references: [employees.manager_id]         # nullable FKs nulled, not followed (or: all)
  others: empty                                   # tables outside the closure: empty (default), all, omit
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .predicate import Predicate, PredicateError, compile_where

TARGET_KEYS = ("table", "fraction", "limit", "where", "keys_file")
EXCLUDE_KEYS = ("table", "where", "keys_file", "older_than")
SUBSET_KEYS = ("targets", "include_children", "null_references", "others")
OTHERS = ("empty", "all", "omit")


class Checker(Protocol):
    def add(self, path: str, message: str, hint: str | None = None) -> None: ...
    def unknown_keys(self, data: dict, allowed, path: str, what: str) -> None: ...


@dataclass
class Target:
    table: str
    fraction: float | None = None
    limit: int | None = None
    where: Predicate | None = None
    keys_file: Path | None = None
    path: str = ""


@dataclass
class Exclude:
    """Rows no copy may hold (retention, restriction, withdrawn consent): a ``where``, listed keys,
    or ``older_than`` (a date or timestamp column before the run's day minus ``days``); the rows
    that reference them go too (as forget cascades)."""
    table: str
    where: Predicate | None = None
    keys_file: Path | None = None
    older_than: tuple[str, int] | None = None  # (column, days)
    path: str = ""

    def predicate(self, today: Any) -> Predicate | None:
        """``where`` and ``older_than`` as one predicate (``today``: the run's date)."""
        import datetime as dt

        parts = [f"({self.where.text})"] if self.where is not None else []
        if self.older_than is not None:
            column, days = self.older_than
            cutoff = today - dt.timedelta(days=days)
            parts.append(f'"{column}" < TIMESTAMP \'{cutoff.isoformat()} 00:00:00\'')
        return compile_where(" AND ".join(parts)) if parts else None


@dataclass
class Subset:
    targets: list[Target]
    include_children: list[str] = field(default_factory=list)
    others: str = "empty"
    path: str = "subset"
    # foreign keys a kept row need not follow: their value is nulled when the parent row is left
    # out ("all": every nullable one; else "table.column" names, resolved to (table, column))
    null_references: str | list[Any] = field(default_factory=list)


def parse_excludes(chk: Checker, raw: Any, base: Path | None) -> list[Exclude]:
    """The profile's ``exclude:`` list (applied in every run, with or without a subset)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        chk.add("exclude", "exclude must be a list of {table: ..., where|keys_file|older_than: ...}")
        return []
    out = []
    for i, r in enumerate(raw):
        path = f"exclude.{i}"
        if not isinstance(r, dict) or not isinstance(r.get("table"), str):
            chk.add(path, "an exclude rule is a mapping with a table name",
                    "e.g. {table: customers, older_than: {column: last_activity, days: 1095}}")
            continue
        chk.unknown_keys(r, EXCLUDE_KEYS, path, "exclude key")
        rule = Exclude(r["table"], path=path)
        probe = Target(r["table"], path=path)
        _where_and_keys(chk, r, probe, path, base)
        rule.where, rule.keys_file = probe.where, probe.keys_file
        if "older_than" in r:
            o = r["older_than"]
            days = o.get("days") if isinstance(o, dict) else None
            if not isinstance(o, dict) or not isinstance(o.get("column"), str) or isinstance(days, bool) \
                    or not isinstance(days, int) or days < 0:
                chk.add(f"{path}.older_than", "older_than must be {column: NAME, days: N} (N >= 0)",
                        "e.g. older_than: {column: last_activity, days: 1095}")
            else:
                rule.older_than = (o["column"], days)
        if rule.where is None and rule.keys_file is None and rule.older_than is None \
                and not any(k in r for k in ("where", "keys_file", "older_than")):
            chk.add(path, f"exclude rule of {rule.table} excludes nothing: give where, keys_file or older_than")
        out.append(rule)
    return out


def _where_and_keys(chk: Checker, t: dict, target: Target, path: str, base: Path | None) -> None:
    if "where" in t:
        w = t["where"]
        if not isinstance(w, str) or not w.strip():
            chk.add(f"{path}.where", "where must be a SQL predicate in a string", "e.g. where: \"country = 'DE'\"")
        else:
            try:
                target.where = compile_where(w)
            except PredicateError as err:
                chk.add(f"{path}.where", f"where: {err}", "see docs/subset.md for what where may hold")
    if "keys_file" in t:
        kf = t["keys_file"]
        if not isinstance(kf, str) or not kf:
            chk.add(f"{path}.keys_file", "keys_file must be a path")
        else:
            p = Path(kf)
            target.keys_file = p if p.is_absolute() or base is None else base / p


def parse_subset(chk: Checker, raw: Any, base: Path | None) -> Subset | None:
    """The section, or None (its problems reported through ``chk``); ``base``: where a relative
    keys_file is found (the profile's directory)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        chk.add("subset", "subset must be a mapping with targets (and include_children, others)")
        return None
    chk.unknown_keys(raw, SUBSET_KEYS, "subset", "subset key")
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, list) or not targets_raw:
        chk.add("subset.targets", "subset.targets must be a non-empty list of {table: ..., fraction|limit|where|"
                "keys_file: ...}", "e.g. targets: [{table: customers, fraction: 0.05}]")
        return None
    targets = []
    for i, t in enumerate(targets_raw):
        path = f"subset.targets.{i}"
        if not isinstance(t, dict) or not isinstance(t.get("table"), str):
            chk.add(path, "a target is a mapping with a table name", "e.g. {table: customers, fraction: 0.05}")
            continue
        chk.unknown_keys(t, TARGET_KEYS, path, "target key")
        target = Target(t["table"], path=path)
        if "fraction" in t:
            f = t["fraction"]
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) or not 0 < f <= 1:
                chk.add(f"{path}.fraction", "fraction must be a number in (0, 1]", "e.g. fraction: 0.05")
            else:
                target.fraction = float(f)
        if "limit" in t:
            n = t["limit"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                chk.add(f"{path}.limit", "limit must be a whole number of rows, 0 or more")
            else:
                target.limit = n
        _where_and_keys(chk, t, target, path, base)
        if target.fraction is None and target.limit is None and target.where is None and target.keys_file is None \
                and not any(k in t for k in ("fraction", "limit", "where", "keys_file")):
            chk.add(path, f"target {target.table} selects nothing: give fraction, limit, where or keys_file")
        targets.append(target)
    children = raw.get("include_children", [])
    if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
        chk.add("subset.include_children", "include_children must be a list of table names")
        children = []
    others = raw.get("others", "empty")
    if others not in OTHERS:
        chk.add("subset.others", "others must be empty, all or omit",
                "empty: tables outside the closure keep no rows; all: they are copied whole; omit: not written")
        others = "empty"
    nulls = raw.get("null_references", [])
    if nulls != "all" and (not isinstance(nulls, list) or not all(isinstance(c, str) and "." in c for c in nulls)):
        chk.add("subset.null_references", "null_references must be all or a list of table.column names",
                "e.g. null_references: [employees.manager_id]")
        nulls = []
    return Subset(targets, list(children), others, null_references=nulls)


def resolve(subset: Subset | None, excludes: list[Exclude], tables: Any) -> list:
    """Target and include_children tables named as the input names them (a bare name matches one
    schema-qualified name); problems for names that match nothing or more than one table."""
    from ..errors import Problem

    names = list(tables)
    problems = []

    def find(name: str, path: str) -> str:
        if name in names:
            return name
        hits = [n for n in names if n.rsplit(".", 1)[-1] == name]
        if len(hits) == 1:
            return hits[0]
        msg = f"subset names table {name}, which the input does not have" if not hits else \
            f"subset names table {name}, which is ambiguous ({', '.join(hits)})"
        problems.append(Problem(msg, path, None, "use the table's name as the input gives it"))
        return name

    for t in subset.targets if subset is not None else []:
        t.table = find(t.table, t.path)
    if subset is not None:
        subset.include_children = [find(c, "subset.include_children") for c in subset.include_children]
        if subset.null_references != "all":
            resolved = []
            for i, ref in enumerate(subset.null_references):
                path = f"subset.null_references.{i}"
                table, column = (ref if isinstance(ref, tuple) else tuple(ref.rsplit(".", 1)))
                table = find(table, path)
                tp = tables.get(table)
                if tp is not None and not any(column in fk.columns for fk in tp.foreign_keys):
                    problems.append(Problem(f"null_references names {table}.{column}, which is in no foreign key",
                                            path, None, "name a column of one of the table's foreign keys"))
                resolved.append((table, column))
            subset.null_references = resolved
    for e in excludes:
        e.table = find(e.table, e.path)
    return problems
