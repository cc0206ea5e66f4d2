"""k-anonymity of a subject table reaching the tables about its subjects.

A table whose rows are about people (``subject: {column: customer_id, domain: customer}``) counts
**people**, not rows, towards k: a class needs k distinct subjects (one person's ten orders in one
ZIP are one person). When the subject column is the table's primary key, every row is one person
and nothing changes.

A table with a ``subject`` and no ``privacy`` k/l of its own takes its **subject table's**: the
table the subject column references by a foreign key on its primary key, else the table of the same
subject domain whose subject column is its primary key. Of the subject table's quasi-identifiers
(and sensitive columns) the ones this table also holds, by name, are enforced here too (a history
or snapshot table repeating a customer's ZIP, birth date and gender), at the same k, l and
``max_suppression``, counted in subjects.

Such an inherited quasi-identifier (kept in this table's profile) is first generalized to the level
the subject table chose for it (veil.privacy.enforce: its ``base``), then this table's own search
may coarsen it further: joined to the subject table through the subject key, its values are never
finer than the subject table's.
"""

from __future__ import annotations

from dataclasses import replace

from ..profile import Privacy, TableRule


def subject_table(rules: dict[str, TableRule], name: str) -> str | None:
    """The table whose rows are the subjects of ``name``'s rows (module doc), or None."""
    rule = rules[name]
    s = rule.subject
    if s is None:
        return None
    for fk in rule.foreign_keys:
        ref = rules.get(fk.ref_table)
        if fk.columns == [s.column] and ref is not None and fk.ref_table != name \
                and ref.primary_key == fk.ref_columns:
            return fk.ref_table
    for other, r in rules.items():
        if other != name and r.subject is not None and r.subject.domain == s.domain \
                and r.primary_key == [r.subject.column]:
            return other
    return None


def enforces(p: Privacy | None) -> bool:
    return p is not None and (p.k is not None or p.l is not None)


def inherit(rules: dict[str, TableRule], columns: dict[str, list[str]]) -> dict[str, TableRule]:
    """``rules`` with the subject table's privacy given to each table about its subjects that has
    none of its own and holds some of its quasi-identifiers (``columns``: each table's columns)."""
    out = dict(rules)
    for name, rule in rules.items():
        if enforces(rule.privacy):
            continue
        parent = subject_table(rules, name)
        p = rules[parent].privacy if parent is not None else None
        if parent is None or p is None or not enforces(p):
            continue
        have = set(columns.get(name, ()))
        qis = [q for q in p.quasi_identifiers if q in have]
        if not qis:
            continue
        out[name] = replace(rule, privacy=replace(p, quasi_identifiers=qis, sensitive=[s for s in p.sensitive
                                                                                       if s in have],
                                                   population=None, inherited_from=parent))
    return out
