"""One batch through a table's plan: transform, drop forgotten rows, collect vault parts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import detect
from ..keys import KeyProvider
from ..ops import OpContext
from ..ops.arrays import as_text, blank_mask, canonical, with_blanks, without_blanks
from ..ops.registry import Distinct, SpanFinder
from ..plan import Plan, TablePlan, nlp_model
from ..vault import Vault, binary16, blind_array, blind_key, rows16
from ..vault.records import RowContext, VaultPart, vault_part

_text = as_text


def span_finder(nlp_model_param: str) -> SpanFinder:
    """``OpContext.spans``: the span finder for a scrub's ``nlp_model`` parameter ("none": pattern
    recognizers only; "auto": the installed default pipeline, else patterns only; or a spaCy
    package), built on first use and cached per process (``veil.detect.span_finder``)."""
    return detect.span_finder(nlp_model(nlp_model_param))


@dataclass
class RunContext:
    """What every worker needs besides the plan: keys and the forget lists (blind indexes)."""

    keys: KeyProvider | None
    forgotten: dict[str, frozenset[bytes]] = field(default_factory=dict)
    vault: bool = False


@dataclass
class BatchResult:
    batch: pa.RecordBatch
    stats: dict[str, tuple[int, int]]
    forgotten: int = 0
    by_reference: int = 0
    vault: list[VaultPart] = field(default_factory=list)
    contexts: dict[str, np.ndarray] = field(default_factory=dict)  # the vault contexts' keys, (rows, 16)
    subjects: pa.Array | None = None  # each row's subject blind index, when the vault has parts
    dropped_keys: dict[tuple[str, ...], set[tuple]] = field(default_factory=dict)
    kept: pa.Array | None = None  # row mask when rows were dropped


def drop_mask(tplan: TablePlan, batch: pa.RecordBatch, run: RunContext,
               subjects: pa.Array | None) -> tuple[np.ndarray, int, int]:
    """Rows to drop: forgotten subjects (``subjects``: each row's subject blind index), and rows
    referencing dropped parent rows."""
    n = batch.num_rows
    forgotten = np.zeros(n, dtype=bool)
    subj = tplan.subject
    blinds = run.forgotten.get(subj.domain) if subj else None
    if subj and blinds and subjects is not None:
        hit = pc.is_in(subjects, value_set=pa.array(sorted(blinds), pa.binary(16)))
        forgotten = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    by_ref = np.zeros(n, dtype=bool)
    for cols, values in tplan.drop_refs:
        if len(cols) == 1:
            hit = pc.is_in(_text(batch.column(cols[0])), value_set=pa.array([v[0] for v in values], pa.string()))
            by_ref |= pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
        else:
            texts = [_text(batch.column(c)).to_pylist() for c in cols]
            by_ref |= np.array([tuple(t) in values for t in zip(*texts, strict=True)], dtype=bool)
    by_ref &= ~forgotten
    return forgotten | by_ref, int(forgotten.sum()), int(by_ref.sum())



def subject_blinds(tplan: TablePlan, batch: pa.RecordBatch, run: RunContext,
                    seen: dict[str, Distinct]) -> pa.Array | None:
    """Per row: the blind index of the row's subject, null where it is null (None for tables without
    a subject). When the subject column's operator ran in the subject's domain, its own blind
    indexes (``seen``) are those: they are taken, not hashed again."""
    subj = tplan.subject
    if subj is None:
        return None
    col = batch.column(subj.column)
    if col.null_count == len(col):
        return pa.nulls(len(col), pa.binary(16))
    distinct = seen.get(subj.column)
    if distinct is not None and any(c.name == subj.column and c.domain == subj.domain for c in tplan.columns):
        return binary16(distinct.blinds).take(distinct.indices)
    return blind_array(blind_key(run.keys, subj.domain), canonical(col))


def transform_batch(tplan: TablePlan, batch: pa.RecordBatch, run: RunContext | KeyProvider | None,
                    row_offset: int) -> BatchResult:
    """Apply a table's plan to one batch: transform, drop forgotten rows, collect vault records."""
    if not isinstance(run, RunContext):
        run = RunContext(run)
    arrays, stats = [], {}
    seen: dict[str, Distinct] = {}  # a keyed column's distinct values and their blind indexes, for the vault
    seen_inputs: dict[str, pa.Array] = {}  # a column's input with its kept blanks made null (the vault's view)
    for c in tplan.columns:
        arr = batch.column(c.name)
        nulls = arr.null_count
        stats[c.name] = (len(arr) - nulls if c.transformed else 0, nulls)
        if c.dropped:
            continue
        if c.transformed:
            ctx = OpContext(run.keys, c.domain or "", c.params, tplan.name, c.name, batch, row_offset,
                            c.key_version, spans=span_finder)
            # blank text (empty, whitespace only) passes through: the operator sees a null there
            blanks = blank_mask(arr) if c.keeps_blanks else None
            inp = arr
            if blanks is not None:
                arr = seen_inputs[c.name] = without_blanks(arr, blanks)
            arr = c.operator.apply(arr, ctx)
            if ctx.distinct is not None:
                seen[c.name] = ctx.distinct
            if arr.type != c.out_type:
                arr = arr.cast(c.out_type)
            if blanks is not None:
                arr = with_blanks(arr, inp, blanks)
        arrays.append(arr)
    out = pa.RecordBatch.from_arrays(arrays, schema=tplan.out_schema)
    res = BatchResult(out, stats)
    forgetting = bool(tplan.subject and run.forgotten.get(tplan.subject.domain))
    recording = run.vault and any(c.reversible for c in tplan.columns)
    # each row's subject blind index, once: to drop forgotten subjects, and linked to vault records
    subjects = subject_blinds(tplan, batch, run, seen) if forgetting or recording else None
    if forgetting or tplan.drop_refs:
        drop, res.forgotten, res.by_reference = drop_mask(tplan, batch, run, subjects)
        if drop.any():
            dropped = batch.filter(pa.array(drop))
            for cols in tplan.referenced:
                texts = [_text(dropped.column(c)).to_pylist() for c in cols]
                res.dropped_keys[cols] = set(zip(*texts, strict=True))
            res.kept = pa.array(~drop)
            batch, res.batch = batch.filter(res.kept), out.filter(res.kept)
            subjects = subjects.filter(res.kept) if subjects is not None else None
    if recording:
        contexts: dict[str, RowContext] = {}  # computed once per row, for every column
        for c in tplan.columns:
            if c.reversible and not c.dropped:
                context = None
                if c.vault_context:
                    if c.vault_context not in contexts:
                        contexts[c.vault_context] = RowContext.of(run.keys, res.batch.column(c.vault_context))
                    context = contexts[c.vault_context]
                distinct = seen.get(c.name)
                inp = seen_inputs.get(c.name)  # kept blanks are not records
                if res.kept is not None:
                    distinct = distinct.filter(res.kept) if distinct is not None else None
                    inp = inp.filter(res.kept) if inp is not None else None
                part = vault_part(c, batch.column(c.name) if inp is None else inp, res.batch.column(c.name),
                                  context, subjects, run, distinct)
                if part is not None:
                    res.vault.append(part)
        res.contexts = {name: rows16(context.key) for name, context in contexts.items()}
        res.subjects = subjects if res.vault else None
    return res

def run_context(plan: Plan, keys: KeyProvider | None, vault: Vault | None) -> RunContext:
    """What the workers of one run need: keys, forget lists, and how to write vault records."""
    run = RunContext(keys, vault=vault is not None)
    if vault is not None:
        domains = {t.subject.domain for t in plan.tables.values() if t.subject}
        run.forgotten = {d: frozenset(vault.forgotten(d)) for d in domains}
    return run
