"""The Python API for notebooks: ``veil.anonymize``, ``veil.scan`` and ``veil.verify`` on in-memory tables.

A pandas or polars DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader goes through the
same plan and the same per-batch function (:func:`veil.pipeline.transform_batch`) as ``veil run``,
so for the same key every value comes out as the CLI writes it. The result has the input's type;
a RecordBatchReader is transformed lazily, batch by batch, as the returned reader is read.

Privacy ``k``/``l`` is enforced as ``veil run`` enforces it (the same first pass over the tables,
veil.privacy.enforce; a RecordBatchReader, read once, is refused), and so is ``row_order:
shuffle`` (the rows of each table in the order ``veil run`` writes them; not for a reader). What
``veil run`` does beyond one batch at a time otherwise is refused here rather than skipped
silently: a profile's ``subset`` (it needs the whole input), and the vault (reversible records,
forgotten subjects).

A single table whose foreign keys reference tables not given is compiled against stand-ins of
those tables that hold only the referenced columns: the foreign-key columns inherit their
target's rule as in a run over the whole dataset (:func:`narrowed_profile`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from .dataset import Dataset, Table
from .errors import KeyringError, ProfileError, UsageError
from .formats.order import ORDER_PURPOSE, permutation
from .keys import KeyProvider, load_keyring
from .pipeline.driver import KeyCheck
from .pipeline.transform import RunContext, transform_batch
from .plan import Plan, TablePlan, compile_plan
from .privacy.enforce import enforce, needs
from .privacy.subjects import enforces, subject_table
from .profile import Profile, TableRule, load_profile, parse_profile
from .profile_yaml import load_yaml
from .scope import scoped

MEMORY = Path("<memory>")
BATCH_ROWS = 65_536


# -- profile and keys ---------------------------------------------------------

def as_profile(profile: Profile | Mapping | str | Path, *, strict: bool = False) -> Profile:
    """A Profile from a Profile, a dict (the YAML's structure), YAML or JSON text, or a path to a
    YAML file. Text is told from a path by a line break, a leading ``{`` (JSON, or a YAML flow
    mapping) or a leading ``version``; any other string is a path."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, Mapping):
        return parse_profile(dict(profile), {}, None, strict=strict)
    if isinstance(profile, str) and ("\n" in profile or profile.lstrip().startswith(("version", "{"))):
        data, lines = load_yaml(profile, "<profile text>")
        return parse_profile(data, lines, None, strict=strict)
    if isinstance(profile, str | Path):
        return load_profile(profile, strict=strict)
    raise UsageError("profile must be a path, a dict or YAML text", hint="veil.load_profile(path) also works")


def read_profile(profile: Profile | Mapping | str | Path, *, strict: bool = True) -> Profile:
    """``veil.load_profile``: a profile from a path to a YAML file, a dict, or YAML/JSON text (as
    :func:`as_profile` tells them apart); ``strict`` raises on any problem of the profile."""
    return as_profile(profile, strict=strict)


def as_keys(keys: KeyProvider | str | Path, scope: str | None) -> KeyProvider:
    """A key provider from a Keyring (any KeyProvider) or a keyring spec (a path or ``env:NAME``),
    in the profile's (or the caller's) scope."""
    if isinstance(keys, str | Path):
        keys = load_keyring(keys)
    if not hasattr(keys, "subkey"):
        raise UsageError("keys must be a Keyring or a keyring spec (a path or env:NAME)",
                         hint='veil.load_keyring("env:VEIL_KEY")')
    return scoped(keys, scope)


def refuse_whole_input_features(profile: Profile, plan: Plan, engine: str) -> None:
    """What needs the whole input or a vault, which the in-memory and Spark engines do not do
    (privacy k/l they enforce: veil.privacy.enforce, veil.spark.privacy)."""
    hint = "run these tables with `veil run` (the local engine)"
    if profile.subset is not None or profile.excludes:
        raise UsageError(f"the profile's subset/exclude is not supported by the {engine}", hint=hint)
    if profile.row_order == "shuffle":
        raise UsageError(f"row_order: shuffle is not supported by the {engine}", hint=hint)


def refuse_privacy_of_a_missing_subject_table(profile: Profile, plan: Plan, engine: str) -> None:
    """A table about subjects takes its subject table's privacy k/l (veil.privacy.subjects) in a
    run over the whole dataset: given without that table, it cannot, and is refused (never
    written less generalized than ``veil run`` would write it)."""
    for name, tp in plan.tables.items():
        if enforces(tp.privacy):
            continue
        parent = subject_table(profile.tables, name) if name in profile.tables else None
        if parent is None or parent in plan.tables or not enforces(profile.tables[parent].privacy):
            continue
        held = {c.name for c in tp.columns}
        if any(q in held for q in profile.tables[parent].privacy.quasi_identifiers):
            raise UsageError(f"table {name} takes the privacy k/l of its subject table {parent}, which the "
                             f"{engine} was not given", table=name,
                             hint=f"give both tables ({name} and {parent}) in one call, or run them with `veil run`")


# -- a table's stand-ins: compile one table of a multi-table profile ---------------

def narrowed_profile(profile: Profile, schemas: dict[str, pa.Schema]) -> tuple[Profile, dict[str, pa.Schema]]:
    """The profile reduced to the given tables, plus stand-in schemas for the tables their foreign
    keys reference (only the referenced columns, typed as the referencing column), so a foreign
    key column inherits its target's rule exactly as in a run over the whole dataset. Returns the
    profile and every schema to compile (the given ones and the stand-ins)."""
    by_name = {n: r for n, r in profile.tables.items()}
    all_schemas = dict(schemas)
    rules: dict[str, TableRule] = {n: by_name[n] for n in schemas if n in by_name}
    wanted: dict[str, dict[str, pa.DataType]] = {}
    todo = list(rules.items())
    while todo:
        tname, rule = todo.pop()
        for fk in rule.foreign_keys:
            if fk.ref_table in schemas or fk.ref_table not in by_name:
                continue  # a given table, or one the compiler reports as missing
            cols = wanted.setdefault(fk.ref_table, {})
            grown = False
            for c, rc in zip(fk.columns, fk.ref_columns, strict=False):
                if rc not in cols and c in all_schemas.get(tname, pa.schema([])).names:
                    cols[rc] = all_schemas[tname].field(c).type
                    grown = True
            if grown:
                all_schemas[fk.ref_table] = pa.schema([pa.field(n, t) for n, t in cols.items()])
                rules[fk.ref_table] = _stand_in_rule(by_name[fk.ref_table], set(cols))
                todo.append((fk.ref_table, rules[fk.ref_table]))
    narrowed = dataclasses.replace(profile, tables=rules)
    return narrowed, all_schemas


def _stand_in_rule(rule: TableRule, cols: set[str]) -> TableRule:
    return dataclasses.replace(
        rule, columns={c: r for c, r in rule.columns.items() if c in cols},
        primary_key=[c for c in rule.primary_key if c in cols] if set(rule.primary_key) <= cols else [],
        unique=[u for u in rule.unique if set(u) <= cols],
        foreign_keys=[fk for fk in rule.foreign_keys if set(fk.columns) <= cols],
        subject=None, privacy=None)


def memory_dataset(tables: dict[str, pa.Table | None], schemas: dict[str, pa.Schema]) -> Dataset:
    """A Dataset of in-memory tables (``None``: schema only, a stand-in or a stream)."""
    out = []
    for name, schema in schemas.items():
        data = tables.get(name)

        def read(batch_size: int, data=data) -> Iterator[pa.RecordBatch]:
            yield from (data.to_batches(max_chunksize=batch_size) if data is not None else ())

        out.append(Table(name, MEMORY / name, "arrow", schema, read, data.num_rows if data is not None else None))
    return Dataset(MEMORY, True, out)


def compile_for(profile: Profile, keys: KeyProvider | None, schemas: dict[str, pa.Schema],
                engine: str = "Python API") -> Plan:
    """Compile the plan of the given tables (stand-ins for referenced ones removed afterwards).
    Unknown columns fail here, with the CLI's messages, before any row is read."""
    narrowed, all_schemas = narrowed_profile(profile, schemas)
    plan = compile_plan(narrowed, memory_dataset({}, all_schemas), keys.active_version if keys else None)
    plan.tables = {n: t for n, t in plan.tables.items() if n in schemas}
    refuse_whole_input_features(profile, plan, engine)
    refuse_privacy_of_a_missing_subject_table(profile, plan, engine)
    keyed = next((f"{t.name}.{c.name}" for t in plan.tables.values() for c in t.columns if c.operator.keyed), None)
    if keys is None and keyed is not None:
        raise KeyringError(f"no keyring given, and {keyed} has a keyed operator",
                           hint='pass keys=veil.load_keyring("env:VEIL_KEY") (or a keyring path)')
    return plan


# -- running batches ---------------------------------------------------------------

def run_batches(tplan: TablePlan, batches: Iterable[pa.RecordBatch], keys: KeyProvider | None,
                check: bool = True) -> Iterator[pa.RecordBatch]:
    """Each batch through the table's plan, in order; key columns checked for pseudonym collisions
    once the batches are done (an IntegrityError at the end of the stream)."""
    run = RunContext(keys)
    keycheck = KeyCheck(tplan) if check else None
    offset = 0
    for batch in batches:
        res = transform_batch(tplan, batch, run, offset)
        offset += batch.num_rows
        if keycheck is not None:
            keycheck.add(batch, res.batch)
        yield res.batch
    if keycheck is not None:
        keycheck.verify()


# -- the caller's types ---------------------------------------------------------------

def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _pandas_mappers(df: Any) -> dict[str, Any]:
    """How each column goes back to pandas, as the input column was: a column with an Arrow dtype
    gets one again, a column with a nullable dtype (Int64, string, boolean, Float64) the nullable
    dtype of its output type; the others pandas' defaults (an integer column with a null then comes
    back float64, as pandas reads it)."""
    import pandas as pd

    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
                pa.float32(): pd.Float32Dtype(), pa.float64(): pd.Float64Dtype(), pa.string(): pd.StringDtype(),
                pa.large_string(): pd.StringDtype()}
    mappers = {}
    for name, dtype in df.dtypes.items():
        if isinstance(dtype, pd.ArrowDtype):
            mappers[str(name)] = pd.ArrowDtype
        elif getattr(dtype, "na_value", None) is pd.NA:  # Int64, boolean, string[python] ...
            mappers[str(name)] = nullable.get
    return mappers


class _Adapter:
    """One input: its Arrow schema and batches, and how to give the result back in its type."""

    def __init__(self, data: Any, batch_rows: int):
        self.data, self.kind, self.index, self.mappers = data, None, None, {}
        if isinstance(data, pa.Table):
            self.kind, self.table = "table", data
        elif isinstance(data, pa.RecordBatch):
            self.kind, self.table = "batch", pa.Table.from_batches([data])
        elif isinstance(data, pa.RecordBatchReader):
            self.kind, self.table = "reader", None
        elif _module(data) == "pandas" and type(data).__name__ == "DataFrame":
            self.kind, self.index = "pandas", data.index
            self.table = pa.Table.from_pandas(data, preserve_index=False)
            self.mappers = _pandas_mappers(data)
        elif _module(data) == "polars" and type(data).__name__ == "DataFrame":
            self.kind, self.table = "polars", data.to_arrow()
        else:
            raise UsageError(f"veil.anonymize takes a pandas or polars DataFrame, or a pyarrow Table, RecordBatch "
                             f"or RecordBatchReader, not {type(data).__name__}",
                             hint="convert it first, e.g. pyarrow.Table.from_pylist(rows)")
        self.schema = data.schema if self.kind == "reader" else self.table.schema
        self.batch_rows = batch_rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.kind == "reader":
            return iter(self.data)
        return iter(self.table.to_batches(max_chunksize=self.batch_rows))

    def result(self, out_schema: pa.Schema, batches: Iterator[pa.RecordBatch], order: bytes | None = None) -> Any:
        """The output in the input's type; with ``order`` (the table's row_order subkey), its rows
        in the keyed order ``veil run`` writes (veil.formats.order), a pandas index then reset:
        kept, it would pair each row with another row's label, or give its input position away."""
        if self.kind == "reader":
            return pa.RecordBatchReader.from_batches(out_schema, batches)
        table = pa.Table.from_batches(list(batches), schema=out_schema)
        if order is not None:
            table = table.take(pa.array(permutation(order, table.num_rows)))
        if self.kind == "table":
            return table
        if self.kind == "batch":
            return table.combine_chunks().to_batches()[0] if table.num_rows else out_schema.empty_table().to_batches()
        if self.kind == "polars":
            import polars  # the input was a polars DataFrame: polars is installed

            return polars.from_arrow(table)
        mapped = [n for n in table.column_names if n in self.mappers]  # each column converted once
        df = table.drop_columns(mapped).to_pandas()
        for name in mapped:  # in the table's order: each goes back to its place
            column = table.column(name).to_pandas(types_mapper=self.mappers[name])
            df.insert(table.column_names.index(name), name, column)
        if order is None:
            df.index = self.index
        return df


# -- the API ------------------------------------------------------------------------

def anonymize(data: Any, profile: Profile | Mapping | str | Path, keys: KeyProvider | str | Path | None, *,
              table: str | None = None, scope: str | None = None, batch_rows: int = BATCH_ROWS) -> Any:
    """Anonymize ``data`` with ``profile`` and ``keys``: the same values as ``veil run`` for the same key.

    ``data``: a pandas or polars DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader (read
    lazily; a reader comes back), or a dict of table name -> any of those (foreign keys between them
    resolved as in a run over a directory; a dict comes back). ``table``: the profile's table that
    ``data`` is (not needed when the profile has one table, or for a dict). ``keys``: a Keyring or a
    keyring spec (a path, ``env:NAME``); None only when no column is keyed. ``scope``: overrides the
    profile's ``scope:``. Every column must be classified, as in ``veil run`` (errors are VeilError).
    A table with privacy k/l is generalized as ``veil run`` generalizes it (not for a reader).
    """
    prof = as_profile(profile)
    provider = as_keys(keys, scope or prof.scope) if keys is not None else None
    if isinstance(data, Mapping):
        adapters = {str(n): _Adapter(d, batch_rows) for n, d in data.items()}
    else:
        adapters = {_table_name(prof, table): _Adapter(data, batch_rows)}
    shuffle = prof.row_order == "shuffle"
    if shuffle:
        refuse_shuffle_without(adapters, provider)
        prof = dataclasses.replace(prof, row_order="keep")  # ordered here, after the transform
    try:
        plan = compile_for(prof, provider, {n: a.schema for n, a in adapters.items()})
    except ProfileError as exc:
        raise with_pandas_hint(exc, adapters) from None
    enforce_privacy(plan, adapters)
    out = {name: a.result(plan.tables[name].out_schema, run_batches(plan.tables[name], a.batches(), provider),
                          provider.subkey(ORDER_PURPOSE, name) if shuffle and provider is not None else None)
           for name, a in adapters.items()}
    return out if isinstance(data, Mapping) else next(iter(out.values()))


PANDAS_FLOAT_HINT = ("pandas holds an integer column with missing values as float64: pass df.convert_dtypes(), "
                     "or read it with to_pandas(types_mapper=pandas.ArrowDtype)")


def with_pandas_hint(exc: ProfileError, adapters: dict[str, _Adapter]) -> ProfileError:
    """A type problem on a pandas float64 column (an integer column pandas turned to float for
    its missing values: format int refuses a double) gets a hint saying so."""
    floats = {f"{n}.{f.name}" for n, a in adapters.items() if a.kind == "pandas" for f in a.schema
              if pa.types.is_floating(f.type)}
    for problem in exc.problems:
        if not problem.hint and "not double" in problem.message and any(f"{c}:" in problem.message for c in floats):
            problem.hint = PANDAS_FLOAT_HINT
    return ProfileError(exc.problems, file=exc.file)


def refuse_shuffle_without(adapters: dict[str, _Adapter], keys: KeyProvider | None) -> None:
    """row_order: shuffle needs each table whole (a reader is read once) and a key (the order is keyed)."""
    stream = next((n for n, a in adapters.items() if a.table is None), None)
    if stream is not None:
        raise UsageError("row_order: shuffle needs the whole table before its first row is written; a "
                         "RecordBatchReader is read once", table=stream,
                         hint="pass a pyarrow Table (reader.read_all()) or a DataFrame, or set row_order: keep")
    if keys is None:
        raise UsageError("row_order: shuffle needs a keyring (the order is keyed)",
                         hint='pass keys=veil.load_keyring("env:VEIL_KEY")')


def enforce_privacy(plan: Plan, adapters: dict[str, _Adapter]) -> None:
    """Privacy k/l of in-memory tables: the first pass of ``veil run`` (veil.privacy.enforce) over
    the tables themselves, the plan rewritten before the batches run. A stream cannot be read twice."""
    wanted = needs(plan)
    stream = next((n for n in wanted if adapters[n].table is None), None)
    if stream is not None:
        raise UsageError("privacy k/l needs the whole table before its first row is written; a "
                         "RecordBatchReader is read once", table=stream,
                         hint="pass a pyarrow Table (reader.read_all()) or a DataFrame")
    if wanted:
        enforce(plan, memory_dataset({n: adapters[n].table for n in wanted},
                                     {n: adapters[n].schema for n in wanted}))


def _table_name(profile: Profile, table: str | None) -> str:
    if table is not None:
        return table
    if len(profile.tables) == 1:
        return next(iter(profile.tables))
    raise UsageError("the profile has several tables: say which one the data is",
                     hint=f"pass table=, one of: {', '.join(profile.tables) or '(none)'}")


def scan(data: Any, *, table: str = "data", sample: int | None = None, sample_rows: int | None = None,
         nlp_model: str | None = None, use_ner: bool = True) -> Any:
    """Find personal data in ``data`` (one table, or a dict of tables): one finding per column, as
    ``veil scan`` reports them (entity, class, confidence, key, evidence as JSON; never a value).
    A pandas DataFrame when pandas is installed, else a pyarrow Table. NER runs only with an
    installed spaCy pipeline (the [ner] extra), as in the CLI: nothing is downloaded."""
    result = _scan_result(data, table, sample, sample_rows, nlp_model, use_ner)
    records = [{"table": f.table, "column": f.column, "type": f.type, "entity": f.entity, "class": f.cls,
                "confidence": f.confidence, "key": f.key, "evidence": json.dumps(f.evidence, sort_keys=True)}
               for f in result.findings]
    schema = pa.schema([("table", pa.string()), ("column", pa.string()), ("type", pa.string()),
                        ("entity", pa.string()), ("class", pa.string()), ("confidence", pa.float64()),
                        ("key", pa.string()), ("evidence", pa.string())])
    out = pa.Table.from_pylist(records, schema=schema)
    try:
        import pandas  # noqa: F401
    except ImportError:
        return out
    return out.to_pandas()


def draft(data: Any, *, table: str = "data", sample: int | None = None, sample_rows: int | None = None,
          nlp_model: str | None = None, use_ner: bool = True) -> str:
    """The draft profile ``veil scan -o draft.yaml`` writes for ``data`` (one table, or a dict of
    tables), as YAML text with its comments: ``veil.anonymize(data, veil.draft(data), keys)`` runs
    it unchanged, and it can be saved and edited as the CLI's draft. Never a value of the data."""
    from .detect.draft import draft_profile

    return draft_profile(_scan_result(data, table, sample, sample_rows, nlp_model, use_ner))


def _scan_result(data: Any, table: str, sample: int | None, sample_rows: int | None, nlp_model: str | None,
                 use_ner: bool) -> Any:
    """veil.detect.scan.scan_dataset over in-memory tables (their first ``sample_rows`` rows, as for
    CSV), with each table's whole row count."""
    from .detect.scan import DEFAULT_SAMPLE, DEFAULT_SAMPLE_ROWS, scan_dataset  # loads Presidio: only here

    sample, sample_rows = sample or DEFAULT_SAMPLE, sample_rows or DEFAULT_SAMPLE_ROWS
    items = data.items() if isinstance(data, Mapping) else [(table, data)]
    tables, rows = {}, {}
    for name, d in items:
        a = _Adapter(d, BATCH_ROWS)
        full = a.table if a.table is not None else a.data.read_all()
        rows[name], tables[name] = full.num_rows, full.slice(0, sample_rows)
    result = scan_dataset(memory_dataset(tables, {n: t.schema for n, t in tables.items()}), sample=sample,
                          sample_rows=sample_rows, nlp_model=nlp_model, use_ner=use_ner)
    for ts in result.tables:
        ts.rows, ts.rows_estimated = rows[ts.name], False
    return result


# -- verify ---------------------------------------------------------------------------

def verify(original: Any, copy: Any, profile: Profile | Mapping | str | Path, *, table: str | None = None,
           fail_on: str | None = None, dialect: str | None = None, delimiter: str | None = None) -> dict[str, Any]:
    """The report of ``veil verify`` for ``copy`` (veil's output of ``original``): leaks, risk,
    utility and integrity, with the gates (``fail_on`` as the CLI's ``--fail-on``, default the
    profile's) and the verdict ("pass"/"fail"). A failed gate is in the report, not raised.

    ``original`` and ``copy``: paths (a directory of tables, a file, a dump), or in-memory tables as
    ``veil.anonymize`` takes them (one table: ``table`` names it in the profile; or a dict of
    tables). In-memory tables are written as Parquet to a private temporary directory (mode 0700)
    that is removed before this returns: the checks stream files, as the CLI does. Counts,
    shares, distances and names only, never a value.
    """
    import tempfile

    from .verify import default_checks
    from .verify.gates import default_gates, judged, parse_gates
    from .verify.runner import refuse_same, verify_paths

    prof = as_profile(profile)
    if not isinstance(original, str | Path):
        names = list(original) if isinstance(original, Mapping) else [_table_name(prof, table)]
        prof = _profile_of(prof, names)
    gates = parse_gates(fail_on) if fail_on is not None else default_gates(prof)
    with tempfile.TemporaryDirectory(prefix="veil-verify-") as tmp:
        sides = [_on_disk(data, Path(tmp) / side, prof, table) for side, data in (("original", original),
                                                                                   ("copy", copy))]
        refuse_same(*sides)
        report = verify_paths(sides[0], sides[1], prof, default_checks(), dialect=dialect, delimiter=delimiter,
                              processes=False)  # in this process: a plain script needs no __main__ guard
    return judged(report, gates)


def _profile_of(profile: Profile, names: list[str]) -> Profile:
    """The profile of the given tables only: a foreign key to a table not given becomes the rule it
    inherits (its target column's), so the checks know the column was transformed."""
    rules = {}
    for name in names:
        rule = profile.tables.get(name)
        if rule is None:
            continue  # the compiler names it
        columns, fks = dict(rule.columns), []
        for fk in rule.foreign_keys:
            target = profile.tables.get(fk.ref_table)
            if fk.ref_table in names or target is None:
                fks.append(fk)
                continue
            for c, rc in zip(fk.columns, fk.ref_columns, strict=False):
                if c not in columns and rc in target.columns:
                    columns[c] = target.columns[rc]
        rules[name] = dataclasses.replace(rule, columns=columns, foreign_keys=fks)
    return dataclasses.replace(profile, tables=rules)


def _on_disk(data: Any, where: Path, profile: Profile, table: str | None) -> Path:
    """A path as it is; in-memory tables as ``where/<table>.parquet`` files."""
    import pyarrow.parquet as pq

    if isinstance(data, str | Path):
        return Path(data)
    items = data.items() if isinstance(data, Mapping) else [(_table_name(profile, table), data)]
    where.mkdir()
    for name, d in items:
        a = _Adapter(d, BATCH_ROWS)
        pq.write_table(a.table if a.table is not None else a.data.read_all(), where / f"{name}.parquet")
    return where
