"""Vault records of a batch: what a run's worker sends (:class:`VaultPart`: the rows holding a
record and their blind indexes) and the plain records the main process builds from it
(:func:`vault_records`), ready to be sealed and stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..keys import KeyProvider
from ..ops.arrays import as_text, canonical
from ..ops.registry import Distinct
from .buffers import binary16, rows16
from .crypto import blind_array, blind_key, context_keys
from .keyset import KeySet
from .segments import PLAIN_SCHEMA

_text = as_text


class Keyed(Protocol):
    """What record building needs of a run: its keys."""
    keys: KeyProvider | None

@dataclass
class VaultPart:
    """One reversible column's vault records in one batch, as a worker sends them: which rows of the
    batch (less its dropped rows) hold a record, and those records' blind indexes. The main process
    holds the batch's input and output, so the rest of each record (pseudonym, context, original,
    dedup key, subject) is taken from there (:func:`vault_records`), not sent through the pipe."""
    column: str
    domain: str
    version: str
    rows: np.ndarray | None  # int32: the row of each record; None: a record for every row, in order
    blinds: np.ndarray  # (records, 16) uint8
    context: str | None  # the output column whose text is each record's context (None: no context)


def vault_part(c, inp: pa.Array, out: pa.Array, context: RowContext | None, subject: pa.Array | None,
                run: Keyed, distinct: Distinct | None = None) -> VaultPart | None:
    """The records of a column's distinct values (:class:`VaultPart`); ``context`` is the rows' contexts
    with their keys (``context_keys``), ``distinct`` what the operator saw of the column (its blind
    indexes are reused; without it they are computed here).

    One record per distinct original when there is neither context nor subject (the pseudonym is a
    function of the original), one per row when every row has a context of its own (a primary key),
    else one per distinct (pseudonym, context, original, subject).
    """
    rows = None
    if inp.null_count:
        valid = pc.is_valid(inp)
        rows = np.flatnonzero(valid.to_numpy(zero_copy_only=False))
        inp, out = inp.filter(valid), out.filter(valid)
        context = context.filter(valid) if context is not None else None
        subject = subject.filter(valid) if subject is not None else None
        distinct = distinct.filter(valid) if distinct is not None else None
    if len(inp) == 0:
        return None
    n = len(inp)
    index = distinct.indices.to_numpy(zero_copy_only=False) if distinct is not None else None
    pick: np.ndarray | None
    if context is None and subject is None:
        if index is None:
            orig = canonical(inp).cast(pa.binary())
            pick = np.unique(pc.dictionary_encode(orig).indices.to_numpy(zero_copy_only=False), return_index=True)[1]
            blinds = rows16(blind_array(blind_key(run.keys, c.domain), orig.take(pa.array(pick))))
        else:
            row = np.full(len(distinct.values), -1, np.int64)
            row[index] = np.arange(n)  # a row of each distinct value (any: they all have its pseudonym)
            present = np.flatnonzero(row >= 0)  # values only in rows the run drops (forgotten subjects) are not
            pick, blinds = row[present], distinct.blinds[present]
    else:
        orig = None if index is not None else canonical(inp).cast(pa.binary())
        if orig is None:
            blinds = distinct.blinds[index]
        else:
            blinds = rows16(blind_array(blind_key(run.keys, c.domain), orig))
        if context is not None and context.unique:
            pick = None  # one context per row (a primary key), so every row is a distinct record
        else:
            if orig is None:
                orig = canonical(inp).cast(pa.binary())
            columns = {"p": _text(out), "o": orig, "i": pa.array(np.arange(n))}
            if context is not None:
                columns["c"] = context.text
            if subject is not None:
                columns["s"] = subject
            grouped = pa.table(columns).group_by([k for k in columns if k != "i"]).aggregate([("i", "min")])
            pick = np.sort(grouped.column("i_min").to_numpy())
            blinds = blinds[pick]
    if pick is not None:
        rows = pick if rows is None else rows[pick]
    return VaultPart(c.name, c.domain, c.key_version, None if rows is None else rows.astype(np.int32),
                     np.ascontiguousarray(blinds), c.vault_context if context is not None else None)


def _empty_texts(n: int) -> pa.Array:
    return pa.StringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, np.int32)), pa.py_buffer(b""))


Select = Callable[[str, str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def vault_records(parts: list[VaultPart], inp: pa.RecordBatch, out: pa.RecordBatch, contexts: dict[str, np.ndarray],
                  subjects: pa.Array | None, select: Select | None = None) -> list[tuple[str, str, pa.RecordBatch]]:
    """(domain, version, plain records) of a batch's vault parts, built in the main process from the
    batch's input ``inp`` and output ``out`` (both less the dropped rows), the keys of its contexts
    and its rows' subjects (as the worker sent them).

    ``select(domain, version, keys, linked, no_context)`` (``Vault.fresh``) is given each part's
    dedup keys first, and only the records it keeps are built.
    """
    texts: dict[str, pa.Array] = {}
    linked_rows = None if subjects is None else pc.is_valid(subjects).to_numpy(zero_copy_only=False)
    items = []
    for part in parts:
        rows, blinds, m = part.rows, part.blinds, len(part.blinds)
        ctx_keys = None
        if part.context is not None:
            ctx_keys = contexts[part.context] if rows is None else contexts[part.context][rows]
        keys = blinds if ctx_keys is None else blinds ^ ctx_keys  # the dedup key: (original, context)
        if linked_rows is None:
            linked = np.zeros(m, bool)
        else:
            linked = linked_rows if rows is None else linked_rows[rows]
        if select is not None:
            if ctx_keys is None:
                no_context = np.ones(m, bool)
            else:  # the empty context's key is 0
                halves = ctx_keys.view(np.uint64)
                no_context = (halves[:, 0] | halves[:, 1]) == 0
            keep = select(part.domain, part.version, keys, linked, no_context)
            if not keep.any():
                continue
            if not keep.all():
                sel = np.flatnonzero(keep)
                rows = sel if rows is None else rows[sel]
                blinds, keys, m = blinds[sel], keys[sel], len(sel)
        at_rows = None if rows is None else pa.array(rows)

        def at(arr: pa.Array, at_rows=at_rows) -> pa.Array:
            return arr if at_rows is None else arr.take(at_rows)

        if part.context is not None:
            if part.context not in texts:
                texts[part.context] = pc.fill_null(_text(out.column(part.context)), "")
            ctx = at(texts[part.context])
        else:
            ctx = _empty_texts(m)
        items.append((part.domain, part.version, pa.RecordBatch.from_arrays([
            _text(at(out.column(part.column))), ctx, canonical(at(inp.column(part.column))).cast(pa.binary()),
            binary16(blinds), binary16(keys), at(subjects) if subjects is not None else pa.nulls(m, pa.binary(16))],
            schema=PLAIN_SCHEMA)))
    return items


@dataclass
class RowContext:
    """A batch's vault contexts (its primary-key output, as text), their keys, and whether
    they are all different (no record then repeats another)."""
    text: pa.Array
    key: pa.Array
    unique: bool

    @classmethod
    def of(cls, keys: KeyProvider, column: pa.Array) -> RowContext:
        text = pc.fill_null(_text(column), "")
        key = context_keys(keys, text)
        return cls(text, key, _all_different(key))

    def filter(self, mask: pa.Array) -> RowContext:
        return RowContext(self.text.filter(mask), self.key.filter(mask), self.unique)


def _all_different(keys: pa.Array) -> bool:
    """Whether 16-byte keys are all different: their first halves, sorted (a fast sort of integers,
    where Arrow's count_distinct of the contexts' text costs several times more), and both halves
    only when first halves repeat."""
    hi, lo = KeySet.halves(keys)
    first = np.sort(hi)
    if not (first[1:] == first[:-1]).any():
        return True
    return len(np.unique(np.stack([hi, lo], axis=1), axis=0)) == len(hi)
