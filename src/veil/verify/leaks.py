"""The leak check of ``veil verify``: does an original value of a transformed column survive in the copy?

Phase 1 (ORIGINAL) fingerprints the distinct non-blank values of every *source* column — every column
the profile transforms, dropped ones included — and never keeps a value. Phase 2 (COPY) looks for them:

- **same row**: the copy cell equals its own row's original (the value kept unchanged), compared
  directly when the runner pairs the rows;
- **same column**: the copy cell equals an original value of its column from another row;
- **elsewhere**: a whole cell of another column (any table) that passes values through (``keep``, a
  column the profile does not name, free text a span operator rewrote) or holds coarse values only
  (redact, mask, generalize) equals an original value,
  compared normalised (case, accents, punctuation and spacing ignored);
- **in text**: inside such a cell, as a sequence of words (a full name, an email, a phone number
  written with spaces), or as one rare word (a surname alone).

Same row and same column count every value exactly. Elsewhere and in text count only *specific*
values: at least ``min_chars`` characters in their words (a number: ``min_digits`` digits) and held
by at most ``max(specific_min, specific_share x rows)`` rows of their column; a single word of a
longer value also needs that rarity among the column's words ("street" is not, "Wojciechowski" is).
One word is weak evidence: a word held by more than ``max(vocabulary_min, vocabulary_share x cells)``
cells of the *scanned* column is that column's vocabulary and dropped (a name left in a few notes
is not); a one-word match counts as a leak only inside free text (cells
of ``text_min_words`` words on average) or as a whole cell whose row's original holds it (a kept
column carrying the value); other one-word matches are reported as ``weak`` (a city named like a
rare first name), not as leaks.

How a source column's own cells are judged depends on its operator's capabilities (never its name):

- ``strict`` (``collision_checked``: keyed tokens of 80 bits and more): no output equals an input
  but by a leak, so every same-row and same-column match is a leak;
- ``overlap`` (any other operator that may write values of the input's domain: integer permutations
  of a range, digits, fakes, date shifts): same-column matches at other rows are expected (a
  permuted id equals another row's id by construction) and reported as ``expected_overlap``;
  same-row matches are leaks only when more than chance explains them: when the distinct values
  kept at their row (``kept_values``) are more than the 1 - 10**-6 quantile of a Poisson law whose
  mean ``expected_same_row`` sums, over the compared cells, the share of ORIGINAL rows holding the
  copy's value. Values, not cells: a fake is the same for every row holding its original, so a
  common name whose fake is itself by chance is kept in all its rows at once (cells come in
  clusters; the cell sum bounds the expected number of such values from above);
- ``coarsening`` (not keyed, not injective, deterministic: generalize, mask, redact): a value may
  be its own coarse form (30 in buckets of 10); own-column matches are expected, but a kept value
  that is specific (an email left in a redacted column) is a leak;
- ``free_text`` (operators that replace spans inside text: scrub): text without anything to
  replace passes unchanged; own-column matches are expected, and the column is searched like a
  kept column for the other sources' values;
- ``removed`` (drop, nullify): nothing of the column is left in it; its values are still sought
  elsewhere.

Counts are copy cells: a cell holding values of two source columns counts once for each; a cell
found whole and inside for one source counts once, as elsewhere. The report's fields are described
in docs/verify.md (leaks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ops.arrays import blank_mask, canonical, is_text
from .base import VerifyContext
from .keys import text_fingerprints
from .leak_index import (
    ELSEWHERE,
    IN_TEXT,
    WEAK,
    Counted,
    Index,
    Matches,
    Tokens,
    canonical_binary,
    chance_bound,
    distinct_values,
    member,
    merged,
    runs,
    same_text_type,
    searchable_text,
    sequence_hashes,
    timestamp_wholes,
    tokenise,
    unsearchable,
)
from .leak_rules import RULES, passes_text, treatment


@dataclass
class _Source:
    """A transformed column of ORIGINAL: its fingerprints (phase 1) and what phase 2 found."""

    id: int
    table: str
    column: str
    treatment: str
    exact: Counted = field(default_factory=Counted)  # exact fingerprints, rows per value
    whole: tuple[Counted, Counted, Counted] = field(
        default_factory=lambda: (Counted(), Counted(), Counted()))  # normalised: 1 word, 2..max, longer
    words: Counted = field(default_factory=Counted)  # words of values of several words
    members: Counted = field(default_factory=Counted)  # words of 2..max_words-word values not in words
    vocabulary: Counted | None = None  # free_text: every word of the column in ORIGINAL
    rows: int = 0  # non-blank cells
    skipped: str | None = None  # why the column is not checked (a nested type)
    compared: int = 0  # paired cells whose original is not blank
    kept_same_row: int = 0
    kept_values: Counted = field(default_factory=Counted)  # overlap: the distinct values kept at their row
    kept_specific: int = 0  # coarsening: kept cells whose value is specific (leaks)
    expected_same_row: float = 0.0
    unpaired_cells: int = 0  # copy cells of the column seen without their original
    same_column: int = 0  # matches at other rows (all matches for unpaired cells)
    same_column_measured: bool = True  # False: expected matches, not looked for (paired cells)
    elsewhere: int = 0
    in_text: int = 0
    weak: int = 0  # one-word matches that may be coincidences (not leaks)
    found_in: set[str] = field(default_factory=set)


class LeakCheck:
    """Original values of transformed columns found in the copy (see the module's docstring)."""

    name = "leaks"

    def __init__(self, ctx: VerifyContext):
        self.ctx = ctx
        self.rules = {**RULES, **(ctx.options.get("leaks") or {})}
        self.sources: dict[str, dict[str, _Source]] = {}
        self.by_id: list[_Source] = []
        for info in ctx.tables.values():
            for column in info.transformed():
                src = _Source(len(self.by_id), info.name, column, treatment(info, column))
                self.sources.setdefault(info.name, {})[column] = src
                self.by_id.append(src)
        # the normalised family serves only the columns of COPY that carry text through: none, no need
        schemas = [info for info in ctx.tables.values() if info.copy_schema is not None]
        self.searching = not schemas or any(passes_text(info, name) for info in schemas
                                            for name in info.copy_schema.names)
        self.frozen = False
        self.scanned: dict[str, dict[str, dict[str, Any]]] = {}
        self.matches: dict[tuple[str, str], Matches] = {}  # by scanned copy column

    # -- phase 1 ---------------------------------------------------------------------------

    def original(self, table: str, batch: pa.RecordBatch) -> None:
        for column, src in self.sources.get(table, {}).items():
            i = batch.schema.get_field_index(column)
            if i < 0:
                continue
            arr = batch.column(i)
            if pa.types.is_nested(arr.type) or pa.types.is_null(arr.type):
                src.skipped = "nested" if pa.types.is_nested(arr.type) else None
                continue
            values, occ, _ = distinct_values(arr)
            if values is None or not occ.any():
                continue
            if not occ.all():
                keep = occ > 0
                values, occ = values.filter(pa.array(keep)), occ[keep]
            src.rows += int(occ.sum())
            src.exact.add(text_fingerprints(self.ctx, canonical(values)), occ)
            if self.searching:
                self._normalised(src, values, occ)

    def _normalised(self, src: _Source, values: pa.Array, occ: np.ndarray) -> None:
        texts = self._texts(values)
        if texts is None:
            return
        r = self.rules
        tok = tokenise(self.ctx, texts)
        ok = (tok.words > 0) & (tok.chars >= r["min_chars"]) & (~tok.digits | (tok.chars >= r["min_digits"]))
        one, many = tok.words == 1, tok.words > 1
        short = many & (tok.words <= r["max_words"])
        for part, sel in zip(src.whole, (one, short, many & ~short), strict=True):
            part.add(tok.whole[ok & sel], occ[ok & sel])
        if src.treatment == "free_text":  # words of free text are not values; they are its vocabulary
            if src.vocabulary is None:
                src.vocabulary = Counted()
            src.vocabulary.add(tok.token_fp)
            return
        # words of multi-word values: a word counts once per row holding the value
        pos = np.flatnonzero(many[tok.value])
        t = tok.token[pos]
        good = (tok.token_chars[t] >= r["min_chars"]) & (~tok.token_digits[t] | (tok.token_chars[t] >= r["min_digits"]))
        pos = pos[good]  # counted per distinct word of the batch (a word repeats across values)
        rows = np.bincount(tok.token[pos], weights=occ[tok.value[pos]], minlength=len(tok.token_fp))
        held = np.flatnonzero(rows)
        src.words.add(tok.token_fp[held], rows[held].astype(np.int64))
        # the distinct words of short multi-word values that ``words`` lacks (too short, too few digits)
        member_tokens = np.zeros(len(tok.token_fp), bool)
        member_tokens[tok.token[short[tok.value]]] = True
        member_tokens &= (tok.token_chars < r["min_chars"]) | (tok.token_digits & (tok.token_chars < r["min_digits"]))
        src.members.add(tok.token_fp[member_tokens])

    def _texts(self, values: pa.Array) -> pa.Array | None:
        return searchable_text(values, self.rules["min_digits"])

    def _freeze(self) -> None:
        """End of phase 1: sort every set; build the indexes of specific values."""
        self.frozen = True
        whole_fps, whole_src, one_fps, one_src, many_fps, many_src, members = [], [], [], [], [], [], []
        for src in self.by_id:
            src.exact.frozen()
            limit = max(self.rules["specific_min"], self.rules["specific_share"] * src.rows)
            parts = []
            for part in src.whole:
                fps, counts = part.frozen()
                parts.append(fps[counts <= limit])
            whole_fps += parts
            whole_src += [src.id] * 3
            if src.treatment == "free_text":
                continue
            wfps, wcounts = src.words.frozen()
            one_fps += [parts[0], wfps[wcounts <= limit]]
            one_src += [src.id, src.id]
            many_fps.append(parts[1])
            many_src.append(src.id)
            # any word of the column's multi-word values (specific or not) and the short ones' other
            # words: a superset of the words a sought sequence can hold, to skip positions fast
            members += [wfps, src.members.frozen()[0]]
        for src in self.by_id:
            src.whole = src.words = src.members = None  # type: ignore[assignment]  # freed
            if src.vocabulary is not None:
                src.vocabulary.frozen()  # compacted once: phase 2 only looks up
        self.whole = Index(whole_fps, whole_src)
        self.one = Index(one_fps, one_src)
        self.many = Index(many_fps, many_src)
        self.members = merged(members)

    # -- phase 2 ---------------------------------------------------------------------------

    def copy(self, table: str, batch: pa.RecordBatch, original: pa.RecordBatch | None) -> None:
        if not self.frozen:
            self._freeze()
        info = self.ctx.tables.get(table)
        own = self.sources.get(table, {})
        for i, column in enumerate(batch.schema.names):
            arr = batch.column(i)
            if pa.types.is_nested(arr.type) or pa.types.is_null(arr.type):
                continue
            src = own.get(column)
            if src is not None and src.treatment != "removed" and src.skipped is None:
                j = original.schema.get_field_index(column) if original is not None else -1
                self._own(src, arr, original.column(j) if j >= 0 else None)
            role = passes_text(info, column)
            if role is not None:
                self._scan(table, column, role, arr, src.id if src is not None else -1, original)

    def _own(self, src: _Source, arr: pa.Array, orig: pa.Array | None) -> None:
        """Same row and same column: the copy's cells of a source column against its originals."""
        values, occ, indices = distinct_values(arr)
        if values is None:
            return
        if src.treatment in ("coarsening", "free_text") and orig is not None:
            # own-column matches are expected: only the same row is measured (no fingerprints)
            counts = None
        else:
            fps = text_fingerprints(self.ctx, canonical(values))
            counts = src.exact.count_of(fps)
        found = int(occ[counts > 0].sum()) if counts is not None else 0
        if orig is None:
            src.unpaired_cells += int(occ.sum())
            src.same_column += found
            return
        a, b = (arr, orig) if same_text_type(arr.type, orig.type) else (canonical_binary(arr), canonical_binary(orig))
        compared = pc.is_valid(orig)
        blanks = blank_mask(orig)
        if blanks is not None:
            compared = pc.and_(compared, pc.invert(blanks))
        compared_np = np.asarray(compared.to_numpy(zero_copy_only=False), bool)
        kept = np.asarray(pc.fill_null(pc.and_(pc.equal(a, b), compared), False).to_numpy(zero_copy_only=False),
                          bool)
        n_kept = int(kept.sum())
        src.compared += int(compared_np.sum())
        src.kept_same_row += n_kept
        if n_kept and src.treatment in ("coarsening", "overlap"):
            rows_value = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
            if src.treatment == "coarsening":
                src.kept_specific += self._specific(src, values, rows_value[kept])
            else:
                src.kept_values.add(np.unique(fps[rows_value[kept]]))
        if counts is None:
            src.same_column_measured = False
            return
        valid = compared_np & ~np.asarray(indices.is_null().to_numpy(zero_copy_only=False), bool)
        row_counts = counts[np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), np.int64)]
        if src.rows:
            src.expected_same_row += float(row_counts[valid].sum()) / src.rows
        src.same_column += found - n_kept

    def _specific(self, src: _Source, values: pa.Array, rows_value: np.ndarray) -> int:
        """How many of the given cells (by their index into ``values``) hold a specific value of
        ``src`` (one sought elsewhere): a value a coarsening left as it was identifies someone only
        then (an email left in a redacted column does; 30 in buckets of 10 does not)."""
        distinct, cells = np.unique(rows_value.astype(np.int64), return_counts=True)
        texts = self._texts(values.take(pa.array(distinct))) if self.searching else None
        if texts is None:
            return 0
        tok = tokenise(self.ctx, texts)
        at, srcs = self.whole.lookup(tok.whole)
        return int(cells[np.unique(at[srcs == src.id])].sum())

    def _scan(self, table: str, column: str, role: str, arr: pa.Array, own: int,
              original: pa.RecordBatch | None) -> None:
        """Elsewhere and in text: a column that passes values through, against every source.

        One word is weak evidence (a city named like a rare first name): inside a cell it counts only
        in free text (cells of ``text_min_words`` words and more on average); as a whole cell only
        where the row's original of that source holds it (the column carries the value). Other
        one-word matches are reported as ``weak``, not as leaks."""
        stats = self.scanned.setdefault(table, {}).setdefault(
            column, {"as": role, "cells": 0, "leaking_cells": 0})
        if unsearchable(arr, self.rules["min_digits"]):  # small integers, dates...: counted only
            stats["cells"] += len(arr) - arr.null_count
            return
        values, occ, indices = distinct_values(arr)
        if values is None:
            return
        stats["cells"] += int(occ.sum())
        if len(self.whole) + len(self.one) + len(self.many) == 0:
            return
        tok = timestamp_wholes(self.ctx, values)  # a timestamp column: its words computed, not cut
        if tok is None:
            texts = self._texts(values)
            if texts is None:
                return
            tok = tokenise(self.ctx, texts)
        prose = is_text(arr.type) and (occ * tok.words).sum() >= self.rules["text_min_words"] * max(1, occ.sum())
        matches = self.matches.setdefault((table, column), Matches())
        known = self._known_words(role, own, tok)
        some = np.flatnonzero(tok.words > 0)
        at, srcs = self.whole.lookup(tok.whole[some])
        vals = some[at]
        keep = srcs != own
        if known is not None:  # a whole cell of free text: each of its words in the column's original
            unknown = np.bincount(tok.value[~known], minlength=len(tok.words))
            keep &= unknown[vals] == 0
        vals, srcs = vals[keep], srcs[keep]
        one = tok.words[vals] == 1
        matches.add(vals[~one], srcs[~one], ELSEWHERE, np.zeros(int((~one).sum()), np.uint64), occ[vals[~one]])
        if one.any():
            vals, srcs = vals[one], srcs[one]
            confirmed = self._same_row(table, tok, vals, srcs, indices, original)
            matches.add(vals, srcs, ELSEWHERE, tok.whole[vals], confirmed, part=1)
            matches.add(vals, srcs, WEAK, tok.whole[vals], occ[vals] - confirmed)
        if is_text(arr.type):
            vals, srcs, words = self._inside(tok, known)
            keep = srcs != own
            vals, srcs, words = vals[keep], srcs[keep], words[keep]
            single = words != 0
            matches.add(vals[~single], srcs[~single], IN_TEXT, words[~single], occ[vals[~single]])
            matches.add(vals[single], srcs[single], IN_TEXT if prose else WEAK, words[single], occ[vals[single]])
        matches.batches += 1

    def _same_row(self, table: str, tok, vals: np.ndarray, srcs: np.ndarray, indices: pa.Array,
                  original: pa.RecordBatch | None) -> np.ndarray:
        """For each (value, source) match: how many cells holding the value have that source's
        original at their row equal to it (normalised); 0 when the source is another table's or
        the rows are not paired."""
        confirmed = np.zeros(len(vals), np.int64)
        if original is None:
            return confirmed
        rows_value = np.asarray(indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
        for s in np.unique(srcs):
            src = self.by_id[s]
            j = original.schema.get_field_index(src.column)
            if src.table != table or j < 0:
                continue
            mine = np.flatnonzero(srcs == s)
            rows = np.flatnonzero(np.isin(rows_value, vals[mine]))
            cells = original.column(j).take(pa.array(rows))
            valid = np.asarray(cells.is_valid().to_numpy(zero_copy_only=False), bool)
            texts = self._texts(cells.filter(pa.array(valid))) if valid.any() else None
            if texts is None:
                continue
            rows = rows[valid]
            same = tokenise(self.ctx, texts).whole == tok.whole[rows_value[rows]]
            per_value = np.bincount(rows_value[rows[same]], minlength=len(tok.words))
            confirmed[mine] = per_value[vals[mine]]
        return confirmed

    def _known_words(self, role: str, own: int, tok) -> np.ndarray | None:
        """For a free-text column (scrub) that is a source itself: whether each word of the copy's
        cells is in the column's original text (None otherwise: every match counts). A value can
        survive in such a column only with every word it has there: a span holding a word the
        original never held was written by the scrub (a fake name that happens to be a customer's
        too), so it is not a leak (docs/verify/leaks.md)."""
        if role != "free_text" or own < 0 or not isinstance(tok, Tokens):
            return None
        vocabulary = self.by_id[own].vocabulary
        if vocabulary is None:
            return np.zeros(len(tok.fp), bool)
        return member(vocabulary.fps, tok.token_fp)[tok.token]

    def _inside(self, tok, known: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, source, the word or 0 for a sequence) of the specific words and word sequences
        strictly inside a value; with ``known`` (:meth:`_known_words`), those whose every word is."""
        longer = tok.words[tok.value] > 1
        vals, srcs, words = [], [], []
        # single words: looked up once per distinct word of the batch
        hit_tokens = np.zeros(len(tok.token_fp), bool)
        ut, _ = self.one.lookup(tok.token_fp)
        hit_tokens[ut] = True
        pos = np.flatnonzero(hit_tokens[tok.token] & longer & (True if known is None else known))
        at, s = self.one.lookup(tok.fp[pos])
        vals.append(tok.value[pos[at]])
        srcs.append(s)
        words.append(tok.fp[pos[at]])
        # sequences of 2..max_words words, starting only where enough words of sources follow
        if len(self.many) and len(tok.fp):
            run = runs(tok, member(self.members, tok.token_fp)[tok.token])
            unknown = None if known is None else np.concatenate(([0], np.cumsum(~known)))
            for k in range(2, min(self.rules["max_words"], int(tok.words.max()) - 1) + 1):
                starts = np.flatnonzero((run >= k) & (tok.words[tok.value] > k))
                if len(starts) == 0:
                    break
                if unknown is not None:  # every word of the sequence known
                    starts = starts[unknown[starts + k] == unknown[starts]]
                at, s = self.many.lookup(sequence_hashes(tok, starts, k))
                vals.append(tok.value[starts[at]])
                srcs.append(s)
                words.append(np.zeros(len(at), np.uint64))
        return np.concatenate(vals), np.concatenate(srcs), np.concatenate(words)

    # -- the report ------------------------------------------------------------------------

    def _settle(self) -> None:
        """Count what the scanned columns hold, now that each column's words are all counted."""
        for (table, column), matches in self.matches.items():
            stats = self.scanned[table][column]
            limit = max(self.rules["vocabulary_min"], self.rules["vocabulary_share"] * stats["cells"])
            cells, stats["leaking_cells"] = matches.settle(limit, len(self.by_id))
            for s in np.flatnonzero(cells.sum(axis=1)):
                src = self.by_id[s]
                src.elsewhere += int(cells[s, ELSEWHERE])
                src.in_text += int(cells[s, IN_TEXT])
                src.weak += int(cells[s, WEAK])
                if cells[s, ELSEWHERE] + cells[s, IN_TEXT]:
                    src.found_in.add(f"{table}.{column}")
        self.matches = {}

    def finish(self) -> dict[str, Any]:
        if not self.frozen:
            self._freeze()
        self._settle()
        tables: dict[str, Any] = {t: {"summary": {}, "columns": {}} for t in self.ctx.tables}
        for src in self.by_id:
            tables[src.table]["columns"][src.column] = self._column(src)
        for name, t in tables.items():
            leaks = sum(c["leaks"] for c in t["columns"].values())
            rows = sum(s.rows for s in self.sources.get(name, {}).values())
            t["summary"] = {"leaks": leaks, "leaked_share": _share(leaks, rows)}
        total_leaks = sum(t["summary"]["leaks"] for t in tables.values())
        total_rows = sum(s.rows for s in self.by_id)
        leaking_columns = sum(c["leaks"] > 0 for t in tables.values() for c in t["columns"].values())
        return {
            "summary": {"leaks": total_leaks, "leaked_share": _share(total_leaks, total_rows),
                        "columns_checked": sum(s.skipped is None for s in self.by_id),
                        "values_checked": total_rows, "columns_leaking": leaking_columns},
            "tables": tables,
            "scanned": self.scanned,
            "rules": dict(self.rules),
        }

    def _column(self, src: _Source) -> dict[str, Any]:
        paired = src.compared > 0  # else nothing was compared at its row: not measured
        kept = src.kept_same_row if paired else None
        kept_values = len(src.kept_values.frozen()[0])
        expected = src.expected_same_row
        if src.treatment == "strict":
            leaks = src.kept_same_row + src.same_column
            overlap = 0
        elif src.treatment == "overlap":
            own = src.kept_same_row if kept_values > chance_bound(expected, self.rules["chance_alpha"]) else 0
            leaks, overlap = own, src.same_column + src.kept_same_row - own
        else:  # coarsening: a kept value is a leak when specific; free_text, removed: own cells expected
            leaks = src.kept_specific
            overlap = (src.same_column if src.same_column_measured else 0) + src.kept_same_row - leaks
        leaks += src.elsewhere + src.in_text
        return {
            "treatment": src.treatment,
            "checked": src.rows,
            "distinct": int(len(src.exact.fps)),
            "compared": src.compared,
            "kept_same_row": kept,
            "kept_values": kept_values if paired and src.treatment == "overlap" else None,
            "expected_same_row": round(expected, 6) if paired and src.same_column_measured else None,
            "same_column": src.same_column if src.same_column_measured else None,
            "elsewhere": src.elsewhere,
            "in_text": src.in_text,
            "weak": src.weak,
            "expected_overlap": overlap,
            "leaks": leaks,
            "kept_share": _share(src.kept_same_row, src.compared),
            "leaked_share": _share(leaks, src.rows),
            "found_in": sorted(src.found_in),
            **({"skipped": src.skipped} if src.skipped else {}),
        }


def _share(n: int, of: int) -> float | None:
    return round(min(1.0, n / of), 6) if of else None
