"""Profiles: YAML rules per table and column, loaded with line numbers.

A profile is parsed into plain dataclasses; every problem found while loading
or checking it is collected as a :class:`~veil.errors.Problem` carrying the
file line and YAML path, and all of them are reported at once.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Problem, ProfileError, did_you_mean
from .formats.typed import TYPE_NAMES, parse_type
from .ops import OPERATORS, PLUGINS, lookup, plugin_problem
from .profile_yaml import MAX_BYTES, load_yaml  # noqa: F401 - load_yaml: part of this module's API
from .scope import SCOPE_HINT, valid_scope
from .subset.spec import Exclude, Subset, parse_excludes, parse_subset

UNKNOWN_POLICIES = ("fail", "keep", "drop", "nullify")
TOP_KEYS = ("version", "defaults", "tables", "scope", "row_order", "subset", "exclude")
ROW_ORDERS = ("keep", "shuffle")
DEFAULT_KEYS = ("unknown_columns", "reversible")
TABLE_KEYS = ("primary_key", "unique", "foreign_keys", "columns", "unknown_columns", "subject", "privacy")
PRIVACY_KEYS = ("quasi_identifiers", "sensitive", "k", "l", "max_suppression", "population")
SUBJECT_KEYS = ("column", "domain")
FK_KEYS = ("columns", "references")
REF_KEYS = ("table", "columns")
COMMON_COLUMN_KEYS = ("op", "domain", "reversible", "blank", "type")
BLANK_CHOICES = ("keep", "transform")  # a rule's blank: what happens to empty/whitespace-only text


def reversible_operators() -> list[str]:
    """The operators that can write originals to the vault (with some parameters)."""
    return [op.name for op in OPERATORS.values() if op.reversible(op.with_defaults({}))]


@dataclass
class ColumnRule:
    op: str
    params: dict[str, Any]
    domain: str | None
    path: str
    line: int | None
    reversible: bool = False  # write (domain, version, pseudonym) -> original to the vault
    given: tuple[str, ...] = ()  # the parameters the profile names (the others are defaults)
    blank: str = "keep"  # empty/whitespace-only text: kept as it is, or transformed like any value
    type: str | None = None  # the column's type in typed (Parquet) output; None: inferred or from the DDL


@dataclass
class Subject:
    """The column naming the person a table's rows are about (for forget lists)."""

    column: str
    domain: str
    path: str


@dataclass
class ForeignKey:
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    path: str
    line: int | None


@dataclass
class Privacy:
    """A table's ``privacy:`` section: the columns an attacker may know (quasi-identifiers), the
    attributes to protect (sensitive), and the targets ``veil verify`` checks (and ``veil run``
    enforces, where it can): k-anonymity, l-diversity, the share of rows that may be suppressed;
    ``population``: how many people the extract is drawn from (for journalist risk)."""

    quasi_identifiers: list[str]
    sensitive: list[str] = field(default_factory=list)
    k: int | None = None
    l: int | None = None  # noqa: E741 - the l of l-diversity
    max_suppression: float | None = None
    population: int | None = None
    path: str = ""
    inherited_from: str | None = None  # the subject table whose privacy this is (veil.privacy.subjects)


@dataclass
class TableRule:
    name: str
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    unknown_columns: str | None = None
    subject: Subject | None = None
    path: str = ""
    line: int | None = None
    privacy: Privacy | None = None

    def key_columns(self) -> set[str]:
        cols = set(self.primary_key)
        for u in self.unique:
            cols.update(u)
        return cols


@dataclass
class Profile:
    tables: dict[str, TableRule]
    unknown_columns: str = "fail"
    reversible: bool = False
    file: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    # Problems found while parsing, kept so that validation against an input can
    # report them together with its own; and the columns whose rule was unusable
    # (so they are not reported a second time as unclassified).
    problems: list[Problem] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)
    scope: str | None = None  # the key scope (veil.scope): None derives the unscoped keys
    # keep: rows in the input's order; shuffle: a keyed pseudo-random order (veil.formats.order)
    row_order: str = "keep"
    subset: Subset | None = None  # a small, closed copy (veil.subset)
    excludes: list[Exclude] = field(default_factory=list)  # rows no copy may hold (veil.subset)

    def line(self, path: str) -> int | None:
        return self.lines.get(path)


# -- parsing and static checks --------------------------------------------

class _Checker:
    def __init__(self, lines: dict[str, int]):
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, hint: str | None = None) -> None:
        line = self.lines.get(path)
        probe = path
        while line is None and "." in probe:
            probe = probe.rsplit(".", 1)[0]
            line = self.lines.get(probe)
        self.problems.append(Problem(message, path, line, hint))

    def unknown_keys(self, data: dict, allowed, path: str, what: str) -> None:
        for key in data:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else key, f"unknown {what} '{key}'",
                         did_you_mean(key, allowed) or f"expected one of: {', '.join(allowed)}")

    def str_list(self, value: Any, path: str) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            self.add(path, "expected a list of column names")
            return []
        return list(value)


def parse_profile(data: Any, lines: dict[str, int], file: str | None = None, *,
                  strict: bool = True) -> Profile:
    """Build a Profile; with ``strict`` raise on any problem, else keep them in ``.problems``."""
    chk = _Checker(lines)
    if not isinstance(data, dict):
        raise ProfileError([Problem("the profile must be a mapping with version and tables", "", 1)],
                           file=file)
    chk.unknown_keys(data, TOP_KEYS, "", "top-level key")
    if data.get("version") != 1 or isinstance(data.get("version"), bool):  # true == 1 in Python
        chk.add("version", "version must be 1", "start the profile with 'version: 1'")
    defaults = data.get("defaults") or {}
    unknown = "fail"
    if not isinstance(defaults, dict):
        chk.add("defaults", "defaults must be a mapping")
    else:
        chk.unknown_keys(defaults, DEFAULT_KEYS, "defaults", "default")
        unknown = defaults.get("unknown_columns", "fail")
        if unknown not in UNKNOWN_POLICIES:
            chk.add("defaults.unknown_columns", f"unknown policy '{unknown}'",
                    did_you_mean(unknown, UNKNOWN_POLICIES) or "use fail, keep, drop or nullify")
    tables: dict[str, TableRule] = {}
    raw_tables = data.get("tables")
    if not isinstance(raw_tables, dict):
        chk.add("tables", "tables must be a mapping of table name to rules")
        raw_tables = {}
    reversible = defaults.get("reversible", False) if isinstance(defaults, dict) else False
    if not isinstance(reversible, bool):
        chk.add("defaults.reversible", "reversible must be true or false")
        reversible = False
    broken: set[tuple[str, str]] = set()
    for tname, traw in raw_tables.items():
        tables[tname] = _parse_table(chk, tname, traw, broken, reversible)
    profile = Profile(tables, unknown if unknown in UNKNOWN_POLICIES else "fail", reversible, file, lines)
    row_order = data.get("row_order", "keep")
    if row_order in ROW_ORDERS:
        profile.row_order = row_order
    else:
        chk.add("row_order", "row_order must be keep or shuffle", "row_order: shuffle writes rows in a keyed order")
    scope = data.get("scope")
    if valid_scope(scope):
        profile.scope = scope
    elif scope is not None:
        chk.add("scope", "scope must be 1 to 64 characters of a-z, 0-9, _ and -", SCOPE_HINT)
    profile.subset = parse_subset(chk, data.get("subset"), Path(file).parent if file else None)
    profile.excludes = parse_excludes(chk, data.get("exclude"), Path(file).parent if file else None)
    _check_references(chk, profile)
    if chk.problems and strict:
        raise ProfileError(chk.problems, file=file)
    profile.problems, profile.broken = chk.problems, broken
    return profile


def _list_of(chk: _Checker, value: Any, path: str, what: str) -> list:
    """A list-valued key (unique, foreign_keys): anything else is a problem, not a crash."""
    if value is None:
        return []
    if not isinstance(value, list):
        chk.add(path, f"{what} must be a list")
        return []
    return value


def _parse_table(chk: _Checker, tname: str, traw: Any, broken: set[tuple[str, str]],
                 reversible: bool = False) -> TableRule:
    tpath = f"tables.{tname}"
    rule = TableRule(tname, path=tpath, line=chk.lines.get(tpath))
    if traw is None:
        return rule
    if not isinstance(traw, dict):
        chk.add(tpath, "a table's rules must be a mapping (columns, primary_key, ...)")
        return rule
    chk.unknown_keys(traw, TABLE_KEYS, tpath, "table key")
    if "primary_key" in traw:
        rule.primary_key = chk.str_list(traw["primary_key"], f"{tpath}.primary_key")
    for i, u in enumerate(_list_of(chk, traw.get("unique"), f"{tpath}.unique", "unique")):
        rule.unique.append(chk.str_list(u, f"{tpath}.unique[{i}]"))
    pol = traw.get("unknown_columns")
    if pol is not None and pol not in UNKNOWN_POLICIES:
        chk.add(f"{tpath}.unknown_columns", f"unknown policy '{pol}'", did_you_mean(pol, UNKNOWN_POLICIES))
        pol = None  # reported; the plan must not use it
    rule.unknown_columns = pol
    subj = traw.get("subject")
    if subj is not None:
        spath = f"{tpath}.subject"
        if not isinstance(subj, dict) or not isinstance(subj.get("column"), str):
            chk.add(spath, "subject must be a mapping {column: NAME, domain: NAME}",
                    "e.g. subject: {column: email, domain: email}")
        else:
            chk.unknown_keys(subj, SUBJECT_KEYS, spath, "subject field")
            rule.subject = Subject(subj["column"], str(subj.get("domain") or subj["column"]), spath)
    if traw.get("privacy") is not None:
        rule.privacy = _parse_privacy(chk, f"{tpath}.privacy", traw["privacy"])
    for i, fk in enumerate(_list_of(chk, traw.get("foreign_keys"), f"{tpath}.foreign_keys", "foreign_keys")):
        fpath = f"{tpath}.foreign_keys[{i}]"
        if not isinstance(fk, dict) or not isinstance(fk.get("references"), dict):
            chk.add(fpath, "a foreign key needs columns and references: {table, columns}")
            continue
        chk.unknown_keys(fk, FK_KEYS, fpath, "foreign key field")
        chk.unknown_keys(fk["references"], REF_KEYS, f"{fpath}.references", "reference field")
        cols = chk.str_list(fk.get("columns"), f"{fpath}.columns")
        ref_cols = chk.str_list(fk["references"].get("columns"), f"{fpath}.references.columns")
        if cols and ref_cols and len(cols) != len(ref_cols):
            chk.add(fpath, "a foreign key must list as many columns as it references")
        rule.foreign_keys.append(ForeignKey(cols, str(fk["references"].get("table")), ref_cols, fpath,
                                            chk.lines.get(fpath)))
    columns = traw.get("columns") or {}
    if not isinstance(columns, dict):
        chk.add(f"{tpath}.columns", "columns must be a mapping of column name to rule")
        columns = {}
    for cname, craw in columns.items():
        before = len(chk.problems)
        col = _parse_column(chk, f"{tpath}.columns.{cname}", craw, reversible)
        if col is not None and len(chk.problems) == before:
            rule.columns[cname] = col
        else:
            broken.add((tname, cname))
    return rule


def _parse_privacy(chk: _Checker, ppath: str, raw: Any) -> Privacy | None:
    if not isinstance(raw, dict):
        chk.add(ppath, "privacy must be a mapping", "e.g. privacy: {quasi_identifiers: [zip, birth_date], k: 5}")
        return None
    chk.unknown_keys(raw, PRIVACY_KEYS, ppath, "privacy field")
    qis = chk.str_list(raw["quasi_identifiers"], f"{ppath}.quasi_identifiers") if "quasi_identifiers" in raw else []
    sensitive = chk.str_list(raw["sensitive"], f"{ppath}.sensitive") if "sensitive" in raw else []
    if not qis and not sensitive:
        chk.add(ppath, "privacy names no quasi_identifiers or sensitive columns",
                "e.g. privacy: {quasi_identifiers: [zip, birth_date], sensitive: [diagnosis], k: 5}")
    numbers: dict[str, Any] = {}
    for name, low in (("k", 1), ("l", 1), ("population", 1)):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            chk.add(f"{ppath}.{name}", f"{name} must be a whole number of at least {low}")
            value = None
        numbers[name] = value
    share = raw.get("max_suppression")
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1):
        chk.add(f"{ppath}.max_suppression", "max_suppression must be a share between 0 and 1", "e.g. 0.05")
        share = None
    return Privacy(qis, sensitive, numbers["k"], numbers["l"], share, numbers["population"], ppath)


def _parse_column(chk: _Checker, cpath: str, craw: Any, default_reversible: bool = False) -> ColumnRule | None:
    if isinstance(craw, str):
        craw = {"op": craw}
    if not isinstance(craw, dict) or "op" not in craw:
        chk.add(cpath, "a column rule is an operator name or a mapping with 'op'",
                "e.g. {op: pseudonymize, domain: email}")
        return None
    opname = craw["op"]
    if not isinstance(opname, str):
        chk.add(f"{cpath}.op", "op must be an operator name", "run `veil operators` for the list")
        return None
    op = lookup(opname)
    problem = plugin_problem(opname)
    if problem is not None:  # a plugin of this name failed to load or clashes with another name
        chk.add(f"{cpath}.op", problem, "run `veil operators` to see every plugin's state")
        return None
    if op is None:
        chk.add(f"{cpath}.op", f"unknown operator '{opname}'",
                did_you_mean(opname, [*OPERATORS, *PLUGINS.names()]) or "run `veil operators` for the list")
        return None
    params = {k: v for k, v in craw.items() if k not in COMMON_COLUMN_KEYS}
    domain = craw.get("domain")
    reversible = craw.get("reversible")
    if reversible is not None and not isinstance(reversible, bool):
        chk.add(f"{cpath}.reversible", "reversible must be true or false")
    elif reversible and not op.reversible(op.with_defaults(params)):
        chk.add(f"{cpath}.reversible", f"operator {opname} cannot be reversible",
                f"only {' and '.join(reversible_operators())} write to the vault")
    reversible = (default_reversible if reversible is None else bool(reversible)) and \
        op.reversible(op.with_defaults(params))
    if domain is not None and not isinstance(domain, str):
        chk.add(f"{cpath}.domain", "domain must be a name")
    blank = craw.get("blank", "keep")
    if blank not in BLANK_CHOICES:
        chk.add(f"{cpath}.blank", "blank must be keep or transform",
                "keep (the default) leaves empty and whitespace-only text as it is")
        blank = "keep"
    out_type = craw.get("type")
    if out_type is not None and parse_type(out_type) is None:
        chk.add(f"{cpath}.type", "type must be a type name of typed output",
                did_you_mean(str(out_type), TYPE_NAMES) or f"one of: {', '.join(TYPE_NAMES)}")
        out_type = None
    if op.own_domain:  # date_shift has its own 'domain' param
        params["domain"] = domain or ""
    names = [p.name for p in op.params]
    ok = True
    for key, value in params.items():
        param = op.param(key)
        if param is None:
            chk.add(f"{cpath}.{key}", f"unknown parameter '{key}' for operator {opname}",
                    did_you_mean(key, names) or (f"{opname} takes: {', '.join(names)}" if names
                                                 else f"{opname} takes no parameters"))
            ok = False
            continue
        if value is None and param.default is None:
            continue
        if isinstance(value, bool) or not isinstance(value, param.type):
            tname = param.type.__name__ if isinstance(param.type, type) else "number"
            chk.add(f"{cpath}.{key}", f"{key} must be {tname}")
            ok = False
        elif param.choices and value not in param.choices:
            chk.add(f"{cpath}.{key}", f"'{value}' is not a valid {key}",
                    did_you_mean(value, param.choices)
                    or f"choose one of: {', '.join(map(str, param.choices))}")
            ok = False
    for param in op.params:
        if param.required and param.name not in params:
            chk.add(cpath, f"operator {opname} needs parameter '{param.name}'",
                    f"choices: {', '.join(map(str, param.choices))}" if param.choices else None)
            ok = False
    full = op.with_defaults(params)
    if ok:
        for msg in op.check(full):
            if isinstance(msg, Problem):  # a problem below the rule (scrub's entities.X.kind)
                chk.add(f"{cpath}.{msg.path}" if msg.path else cpath, msg.message, msg.hint)
            else:
                chk.add(cpath, msg)
        if op.span_rules is not None:
            for sub, entry in op.span_rules(full).items():
                _check_span_rule(chk, f"{cpath}.{sub}", entry)
    return ColumnRule(opname, full, domain if op.keyed and not op.own_domain else None, cpath,
                      chk.lines.get(cpath), reversible, tuple(params), blank=blank,
                      type=None if out_type is None else str(out_type))


def _check_span_rule(chk: _Checker, where: str, entry: Any) -> None:
    """A rule that replaces spans found inside text (scrub's inline entity rules): valid as a column
    rule, not reversible (replacements are not written to the vault), and able to write text."""
    value = {"op": entry} if isinstance(entry, str) else entry
    if "reversible" in value:
        chk.add(f"{where}.reversible", "replacements inside text are not written to the vault",
                "remove reversible here")
        return
    before = len(chk.problems)
    rule = _parse_column(chk, where, value)
    if rule is not None and len(chk.problems) == before:
        msg = OPERATORS[rule.op].span_problem(rule.params)
        if msg:
            chk.add(f"{where}.op" if isinstance(entry, dict) else where, msg)


def _check_references(chk: _Checker, profile: Profile) -> None:
    """Every foreign key references a table of the profile: by its name, or by the bare name of
    exactly one schema-qualified table (``customer`` for ``public.customer``)."""
    for t in profile.tables.values():
        for fk in t.foreign_keys:
            if fk.ref_table in profile.tables:
                continue
            bare = [name for name in profile.tables if name.rsplit(".", 1)[-1] == fk.ref_table]
            if len(bare) == 1:
                continue
            where = f"{fk.path}.references.table"
            if bare:
                chk.add(where, f"table name '{fk.ref_table}' is ambiguous in the profile",
                        f"use the schema-qualified name: {' or '.join(bare)}")
            else:
                chk.add(where, f"references unknown table '{fk.ref_table}'",
                        did_you_mean(fk.ref_table, profile.tables)
                        or f"name a table of the profile: {', '.join(list(profile.tables)[:10])}")


def problem_record(problem: Problem, file: str | None, columns: dict[str, list[str]],
                   severity: str = "error") -> dict[str, Any]:
    """One problem as plain data for ``veil validate --json``: file, line, path, table, column,
    message, hint, severity. ``columns``: each known table's columns (the profile's and the
    input's), to tell a table or column name holding dots from the path around it."""
    table = column = None
    for name in sorted(columns, key=len, reverse=True):
        if problem.path == f"tables.{name}" or problem.path.startswith(f"tables.{name}."):
            table = name
            rest = problem.path[len(f"tables.{name}."):]
            if rest.startswith("columns.") and rest[8:]:
                cols = sorted(columns[name], key=len, reverse=True)
                column = next((c for c in cols if rest[8:] == c or rest[8:].startswith(c + ".")),
                              rest[8:].split(".")[0])
            break
    else:  # no table known (the profile did not load): read the path, up to a table key
        m = re.match(rf"^tables\.(.+?)(?:\.({'|'.join(TABLE_KEYS)})(?:[.\[](.*))?)?$", problem.path)
        if m:
            table = m.group(1)
            column = m.group(3).split(".")[0] if m.group(2) == "columns" and m.group(3) else None
    return {"file": file, "line": problem.line, "path": problem.path, "table": table, "column": column,
            "message": problem.message, "hint": problem.hint, "severity": severity,
            "kind": problem.kind}


def _read_profile(p: Path) -> str:
    """The profile's text: a regular file only (a directory, fifo or device is refused before it
    is read, so a fifo cannot block and /dev/zero cannot fill memory), at most MAX_BYTES, UTF-8."""
    def refuse(message: str, hint: str | None = None) -> ProfileError:
        return ProfileError([Problem(message, "", None, hint)], file=str(p))

    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise refuse("profile file not found") from None
    except PermissionError:
        raise refuse("the profile cannot be read (permission denied)") from None
    except OSError as exc:
        raise refuse(f"the profile cannot be opened ({exc.strerror or type(exc).__name__})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise refuse("the profile is a directory, not a file", "give the path of a YAML file")
        raise refuse("the profile is not a regular file (a fifo, socket or device)",
                     "give the path of a YAML file")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise refuse(f"the profile cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_BYTES:
        raise refuse(f"the profile is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("the profile is not UTF-8 text") from None


def load_profile(path: str | Path, *, strict: bool = True) -> Profile:
    p = Path(path)
    data, lines = load_yaml(_read_profile(p), str(p))
    return parse_profile(data, lines, str(p), strict=strict)
