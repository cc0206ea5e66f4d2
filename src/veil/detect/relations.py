"""Primary and foreign keys of the scanned tables: from a dump's DDL, else inferred from column names
(``id``, ``<table>_id``) confirmed by uniqueness in the sample; then foreign keys nobody declared,
inferred from a column's name and the containment of its sampled values in a key's sampled values
(``manager_staff_id`` -> ``staff.staff_id``, ``reports_to`` -> ``employee.employee_id``).

Containment rule: a column is a candidate when it is not its table's own single key, has the key's
type family (integer or text), and its name points at a relation (it equals or ends with the key's
name, or names the key's table, or holds a relation word such as ``manager``, ``parent``,
``reports``, ``rep``, ``owner``); it is inferred to reference the key when at least 90% of its
distinct sampled values are among the key's sampled values (50% when its name is, or ends with, a
key name of two words or more and the key's sample is partial). When an integer key's sample is
partial, only the values inside the span of its sampled ids are measured (a sample holds a
table's first rows, hence its lowest ids; references spread over all of them); when too few fall
inside, a column named like the key itself is taken when 90% of its values lie inside the ids the
whole table likely holds (the span extrapolated by the row count). A foreign key inferred from names
(``customer_id``) is dropped when its values are not borne out by the same rule. Among several keys, the best
name wins, then the higher containment, then a person word pointing at a table of people
(``support_rep_id`` -> employee) or a self-reference word at its own table (``parent_id``,
``reports_to``), then the key its values cover most (the smallest key set)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from ..dataset import Dataset, Table
from ..formats.dump import DumpDataset, ddl_keys
from . import names as name_rules
from .coltypes import type_category
from .findings import TableScan
from .sampling import Sample

if TYPE_CHECKING:
    from ..plan import Plan


def _singular(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ses", "s"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + repl
    return word


def _unique(col: pa.ChunkedArray | pa.Array) -> bool:
    col = col.drop_null() if isinstance(col, pa.Array) else col.combine_chunks().drop_null()
    return len(col) > 0 and len(pc.unique(col)) == len(col)


def infer_keys(dataset: Dataset, samples: dict[str, Sample]) -> dict[str, TableScan]:
    """Primary and foreign keys: from the DDL for dumps, else from names (``id``, ``<table>_id``)
    confirmed by uniqueness in the sample."""
    if isinstance(dataset, DumpDataset):
        return _dump_keys(dataset, samples)
    scans: dict[str, TableScan] = {}
    pk_of: dict[str, str] = {}
    for t in dataset.tables:
        sample, rows, est = samples[t.name]
        scans[t.name] = ts = TableScan(t.name, t.format, rows, est, sample.num_rows)
        pk = _name_primary_key(t.name, t.schema.names, sample)
        if pk is not None:
            ts.primary_key = [pk]
            pk_of[t.name] = pk
    for t in dataset.tables:
        _name_foreign_keys(scans[t.name], t.schema.names, pk_of)
    _confirm_named(dataset.tables, samples, scans)
    infer_contained(dataset.tables, samples, scans)
    return scans


def _dump_keys(dataset: DumpDataset, samples: dict[str, Sample]) -> dict[str, TableScan]:
    scans: dict[str, TableScan] = {}
    parents = {td.parent for td in dataset.dump.tables.values() if td.parent}
    for t in dataset.tables:
        pk, unique_keys, fks = ddl_keys(dataset.dump, t.name)
        sample, rows, est = samples[t.name]
        scans[t.name] = TableScan(t.name, "dump", rows, est, sample.num_rows, list(pk), [
            {"columns": list(fk.columns), "references": {"table": fk.ref_table, "columns": list(fk.ref_columns)},
             "source": "ddl"} for fk in fks], [list(u) for u in unique_keys], partitioned=t.name in parents)
    infer_contained(dataset.tables, samples, scans)
    return scans


def _name_primary_key(table: str, columns: list[str], sample: pa.Table) -> str | None:
    """The first column named like the table's own id whose sampled values are unique; else one
    named like its own code or number (``country.country_code``, ``store_no``: lookup tables keyed
    by a code, which other tables' ``country_code`` then reference)."""
    singular = _singular(table.lower())
    last = _singular(name_rules.tokens(table)[-1]) if name_rules.tokens(table) else singular
    stems = {singular, table.lower(), last}
    for suffixes in (("id",), ("code", "key", "no", "nr")):
        names = {f"{stem}_{suffix}" for stem in stems for suffix in suffixes} | {f"{singular}{suffixes[0]}"}
        if suffixes == ("id",):
            names.add("id")
        for c in columns:
            if c.lower() in names and sample.num_rows and _unique(sample.column(c)):
                return c
    return None


def _name_foreign_keys(ts: TableScan, columns: list[str], pk_of: dict[str, str]) -> None:
    """``customer_id`` references the table ``customer(s)`` whose key is ``id`` (or is ``customer_id``)."""
    for c in columns:
        if ts.primary_key == [c]:
            continue
        low = c.lower()
        if low == "id" or (not low.endswith("_id") and not low.endswith("id")):
            continue  # a bare "id" is a table's own key, never a reference
        base = low[:-3] if low.endswith("_id") else low[:-2]
        for other, pk in pk_of.items():
            if other == ts.name:
                continue
            o = other.lower()
            if pk.lower() == low or (pk.lower() == "id" and base and base in (o, _singular(o))):
                ts.foreign_keys.append({"columns": [c], "references": {"table": other, "columns": [pk]},
                                        "source": "names"})
                break


# name tokens that say a column points at another row (a manager, a parent, who a row reports to)
PERSON_WORDS = {"manager", "supervisor", "boss", "rep", "owner", "mentor", "reports", "report", "referrer",
                "referred", "assigned", "assignee", "created", "updated", "by"}
SELF_WORDS = {"parent", "reports", "manager", "supervisor", "boss", "mentor", "referrer", "referred"}
RELATION_WORDS = PERSON_WORDS | SELF_WORDS | {"to", "ref", "fk"}
# tables whose rows are people who manage, own or serve other rows
PERSON_TABLES = {"employee", "staff", "user", "person", "people", "member", "agent", "worker", "account", "emp"}
# words that make a column named after a table a reference to it (store_no, customer_key)
KEY_WORDS = {"id", "ids", "no", "nr", "num", "number", "key", "code", "uuid", "guid", "fk", "ref"}
MIN_CONTAINED = 0.9  # share of a column's distinct sampled values found among the key's sampled values
MIN_CONTAINED_NAMED = 0.5  # when the column's name ends with the key's name


def _family(t: Table, column: str) -> str | None:
    category = type_category(t.schema.field(column).type)
    return category if category in ("integer", "string") else None


def _name_score(column: str, ref_table: str, ref_column: str) -> int:
    """3: the column is (or ends with) the key's name; 2: it names the key's table and its other
    words are key words (``store_no``, ``customer_email`` -> customer.email); 1: a relation word;
    0: nothing in the name points at the key (``rental_duration`` names a table, holds a quantity)."""
    low, ref = column.lower(), ref_column.lower()
    if ref != "id" and (low == ref or (low.endswith("_" + ref) and len(name_rules.tokens(ref)) >= 2)):
        return 3  # customer_id; manager_staff_id (a one-word key like "code" only by its exact name)
    toks = [w.lower() for w in name_rules.tokens(column)]
    table_toks = [_singular(w.lower()) for w in name_rules.tokens(ref_table.rsplit(".", 1)[-1])]
    singular = [_singular(x) for x in toks]
    if table_toks and all(w in singular for w in table_toks):
        # the other words must say "reference" (id, no, key, the key's own words, a relation word):
        # rental_duration and customer_count name a table but hold a quantity
        allowed = KEY_WORDS | RELATION_WORDS | {w.lower() for w in name_rules.tokens(ref_column)}
        if all(w in allowed for w, sw in zip(toks, singular, strict=True) if sw not in table_toks):
            return 2
    return 1 if any(w in RELATION_WORDS for w in toks) else 0


def _affinity(column: str, table: str, ref_table: str) -> int:
    """1 when a person word points at a table of people (``support_rep_id`` -> employee), or a
    self-reference word at the column's own table (``parent_id``, ``reports_to``)."""
    toks = {w.lower() for w in name_rules.tokens(column)}
    ref_toks = {_singular(w) for w in name_rules.tokens(ref_table.rsplit(".", 1)[-1])}
    return int(bool(toks & PERSON_WORDS and ref_toks & PERSON_TABLES) or bool(toks & SELF_WORDS and ref_table == table))


def _text_values(col: pa.ChunkedArray) -> set[str]:
    arr = col.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    arr = arr.drop_null()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        try:
            arr = arr.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return set()
    return {v.strip() for v in pc.unique(arr).to_pylist() if v is not None and v.strip()}


MIN_IN_SPAN = 10  # distinct values inside a partial integer key sample's span, to judge by them alone


class Key(NamedTuple):
    table: str
    column: str
    values: set[str]  # its sampled values
    family: str  # "integer" or "string"
    complete: bool  # the sample holds the whole table
    span: tuple[int, int] | None  # the lowest and highest sampled integer key
    top: int | None  # partial sample: the highest id the whole table likely holds (extrapolated by rows)


def _int_span(values: set[str]) -> tuple[int, int] | None:
    try:
        ints = [int(v) for v in values]
    except ValueError:
        return None
    return (min(ints), max(ints)) if ints else None


def _ints(values: set[str]) -> dict[str, int]:
    out = {}
    for v in values:
        try:
            out[v] = int(v)
        except ValueError:
            continue
    return out


def _contained(values: set[str], key: Key) -> tuple[float, int, float | None]:
    """(share of a column's distinct sampled values found among the key's sampled values, how many
    values it was measured on, share inside the key's estimated range or None).

    When the key's sample is partial and its values are integers (integer columns, or text holding
    integers only), only the values inside the span of the key's sample count (at least MIN_IN_SPAN
    of them): a sample holds a table's first rows, so its lowest ids, while references spread over
    every id; a reference above the sampled ids says nothing either way. When too few fall inside
    to measure (a small sample of a big table), the third figure is the share of the values inside
    the ids the whole table likely holds ([lowest, top]): weaker evidence, taken only for a column
    named like the key itself."""
    if key.complete or key.span is None:
        return len(values & key.values) / len(values), len(values), None
    lo, hi = key.span
    ints = _ints(values)
    inside = {v for v, n in ints.items() if lo <= n <= hi}
    if len(inside) >= MIN_IN_SPAN:
        return len(inside & key.values) / len(inside), len(inside), None
    within = None if key.top is None else sum(lo <= n <= key.top for n in ints.values()) / len(values)
    return len(values & key.values) / len(values), len(values), within


def _accepted(score: int, key: Key, share: float, within: float | None) -> tuple[float, bool] | None:
    """(share, whether by range) when the values bear the reference out, else None."""
    if share >= _threshold(score, key.complete):
        return share, False
    if score == 3 and within is not None and within >= MIN_CONTAINED:
        return within, True
    return None


def _best_key(column: str, table: str, fam: str, values: set[str], keys: list[Key]) -> tuple | None:
    """The key a column's name and sampled values point at: (table, column, share found, values it was
    measured on, whether by the key's estimated range), or None."""
    best: tuple | None = None
    for key in keys:
        if key.family != fam or (key.table == table and key.column == column) or not values:
            continue
        score = _name_score(column, key.table, key.column)
        if score == 0:
            continue
        share, counted, within = _contained(values, key)
        accepted = _accepted(score, key, share, within)
        if accepted is None:
            continue
        share, by_range = accepted
        rank = (score, share, _affinity(column, table, key.table), len(values) / len(key.values))
        if best is None or rank > best[0]:
            best = (rank, key.table, key.column, share, counted, by_range)
    return None if best is None else best[1:]


def _threshold(score: int, complete: bool) -> float:
    """The share of a column's values that must be key values: 50% for a key name of two words or
    more when the key's sample is partial (the rest of its values may lie beyond), else 90%."""
    return MIN_CONTAINED_NAMED if score == 3 and not complete else MIN_CONTAINED


def _key(t: Table, column: str, sampled: Sample) -> Key | None:
    sample, rows, est = sampled
    fam = _family(t, column)
    values = _text_values(sample.column(column)) if column in sample.column_names else set()
    complete = rows is not None and not est and sample.num_rows >= rows
    span = _int_span(values)  # integer keys, and integers stored as text (CSV)
    top = None
    if span is not None and not complete and rows and sample.num_rows:
        top = max(span[1], -(-span[1] * rows // sample.num_rows))  # ids grow with the rows
    return Key(t.name, column, values, fam, complete, span, top) if fam and values else None


def _confirm_named(tables: list[Table], samples: dict[str, Sample], scans: dict[str, TableScan]) -> None:
    """Foreign keys inferred from names alone must be borne out by the values: one whose sampled values
    are mostly not key values is dropped (a ``staff_id`` that holds other numbers would otherwise be
    given the key's rule, and break a run whose key rule has a range); the others get their share."""
    by_name = {t.name: t for t in tables}
    for t in tables:
        ts = scans[t.name]
        kept = []
        for fk in ts.foreign_keys:
            ref, c, rc = fk["references"]["table"], fk["columns"][0], fk["references"]["columns"][0]
            key = _key(by_name[ref], rc, samples[ref]) if fk.get("source") == "names" and ref in by_name else None
            data = samples[t.name][0]
            values = _text_values(data.column(c)) if key and c in data.column_names else set()
            if key and values:
                share, counted, within = _contained(values, key)
                accepted = _accepted(3, key, share, within)
                if accepted is None:
                    continue
                fk.update(contained=round(accepted[0], 4), sampled=counted)
                if accepted[1]:
                    fk["within_range"] = True
            kept.append(fk)
        ts.foreign_keys = kept


def infer_contained(tables: list[Table], samples: dict[str, Sample], scans: dict[str, TableScan]) -> None:
    """Add to ``scans`` the foreign keys a column's name and sampled values show (source "values",
    with the share found and the number of distinct values sampled as evidence). A column already
    in a foreign key is left alone."""
    keys = [k for t in tables if len(scans[t.name].primary_key) == 1
            and scans[t.name].primary_key[0] in t.schema.names
            and (k := _key(t, scans[t.name].primary_key[0], samples[t.name])) is not None]
    for t in tables:
        ts = scans[t.name]
        taken = {c for fk in ts.foreign_keys for c in fk["columns"]}
        data = samples[t.name][0]
        for c in t.schema.names:
            if c in taken or ts.primary_key == [c] or c not in data.column_names or _family(t, c) is None:
                continue
            values = _text_values(data.column(c))
            hit = _best_key(c, t.name, _family(t, c), values, keys)
            if hit is not None:
                ref_table, ref_col, share, counted, by_range = hit
                ts.foreign_keys.append({"columns": [c], "references": {"table": ref_table, "columns": [ref_col]},
                                        "source": "values", "contained": round(share, 4), "sampled": counted}
                                       | ({"within_range": True} if by_range else {}))


def kept_inside_keys(plan: Plan, dataset: Dataset, samples: dict[str, Sample]) -> list[tuple]:
    """Kept columns whose name and sampled values point at a key the plan pseudonymizes (by the rule
    the draft infers foreign keys with): (table, column, key table, key column, share found, values
    sampled). Such a column will no longer join. Names only, never a value."""
    tables = [t for t in dataset.tables if t.name in plan.tables and t.name in samples]
    keys: list[Key] = []
    for t in tables:
        tp = plan.tables[t.name]
        for cp in tp.columns:
            if [cp.name] == tp.primary_key and cp.transformed and (k := _key(t, cp.name, samples[t.name])):
                keys.append(k)
    out = []
    for t in tables:
        data = samples[t.name][0]
        for cp in plan.tables[t.name].columns:
            family = _family(t, cp.name)
            if cp.transformed or cp.name not in data.column_names or family is None:
                continue
            values = _text_values(data.column(cp.name))
            hit = _best_key(cp.name, t.name, family, values, keys)
            if hit is not None:
                out.append((t.name, cp.name, *hit[:4]))
    return out
