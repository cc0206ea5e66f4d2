"""Re-identification risk of a copy over the quasi-identifiers its profile declares (``privacy:``).

For every table with a ``privacy:`` section, :class:`RiskCheck` measures on the COPY:

- equivalence classes over the copy's quasi-identifier (QI) columns as written (a QI the profile
  drops is not in the copy, so not in the key; a null is a value): k-anonymity (the smallest
  class), the rows in classes smaller than the target k, a histogram of rows by class size, the
  share of unique rows; for a table about subjects (``subject:``, not its primary key) k counts
  distinct subjects per class (``"unit": "subject"``; ``k_rows`` the smallest class in rows);
- prosecutor risk (ARX): highest = 1 / smallest class, average = classes / rows; journalist risk
  when a population is known (``privacy.population``, or the ORIGINAL when the copy is a subset of
  it and every QI can be reproduced from it);
- distinct and entropy l-diversity of each sensitive attribute (as the copy shows it);
- a linkage attack (:class:`veil.verify.linkage.AttackerView`): the attacker holds the original and
  the copy, not the key, and joins them on the QIs as the copy shows them;
- inference leaks (:class:`veil.verify.linkage.Inference`): kept columns that give a transformed
  column of the same table back (a kept ``age`` beside a faked ``birth_date``).

Rows are compared through keyed tuple fingerprints (one uint64 per row; see linkage.py): memory
is 16 bytes per distinct QI tuple (plus per distinct (class, sensitive value) pair), nothing per
row. The section holds counts, shares and column names, never a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .base import TableInfo, VerifyContext
from .linkage import (
    INFERENCE_MAX_DISTINCT,
    INFERENCE_ROWS,
    INFERENCE_ROWS_PER_VALUE,
    INFERENCE_THRESHOLD,
    AttackerView,
    Counts,
    Inference,
    column_fingerprints,
    combine,
    grouped,
    tuple_fingerprints,
)

#: The k a table is held to when its privacy section gives none (a common floor: El Emam and
#: Dankar 2008 use 5 for data shared with trusted recipients; ARX's default is 2).
DEFAULT_K = 5
#: Class-size histogram: bin i holds classes of size edges[i] <= size < edges[i + 1]; the last
#: bin every class of 1000 rows or more.
EDGES = (1, 2, 3, 4, 5, 10, 20, 50, 100, 1000)

SUMMARY_METRICS = ("k", "risk", "linkage", "l", "unique_share")


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


@dataclass
class _Table:
    info: TableInfo
    qis: list[str]  # QI columns in the copy: the equivalence class key, in the profile's order
    absent: list[str]  # QIs the copy lacks (dropped)
    sensitive: list[str]  # sensitive attributes the copy holds
    attacker: AttackerView
    inference: Inference
    classes: Counts = field(default_factory=Counts)  # copy rows per QI tuple
    pairs: dict[str, Counts] = field(default_factory=dict)  # per sensitive column: (class, value)
    original_view: Counts = field(default_factory=Counts)  # original rows per attacker tuple
    copy_view: Counts = field(default_factory=Counts)  # copy rows per attacker tuple
    original_rows: int = 0
    copy_rows: int = 0
    unpaired_rows: int = 0
    reidentified: int = 0  # paired copy rows re-identified uniquely and correctly
    subject: str | None = None  # k counts distinct subjects of this column (veil.privacy.subjects)
    people: Counts = field(default_factory=lambda: Counts(tagged=True))  # (class, subject)


class RiskCheck:
    """k-anonymity, l-diversity, prosecutor/journalist risk, linkage and inference (module doc)."""

    name = "risk"

    def __init__(self, ctx: VerifyContext) -> None:
        self.ctx = ctx
        self._tables: dict[str, _Table] = {}
        for name, info in ctx.tables.items():
            if info.privacy is None:
                continue
            in_copy = set(info.copy_schema.names) if info.copy_schema is not None else set()
            qis = [c for c in info.privacy.quasi_identifiers if c in in_copy]
            sensitive = [c for c in info.privacy.sensitive if c in in_copy]
            self._tables[name] = _Table(
                info, qis, [c for c in info.privacy.quasi_identifiers if c not in in_copy], sensitive,
                AttackerView(info, qis), Inference(info, info.privacy.quasi_identifiers + info.privacy.sensitive),
                pairs={c: Counts(tagged=True) for c in sensitive}, subject=_subject(info, in_copy))

    def original(self, table: str, batch: pa.RecordBatch) -> None:
        st = self._tables.get(table)
        if st is None or batch.num_rows == 0:
            return
        st.original_view.add(st.attacker.view(self.ctx, batch, st.original_rows))
        st.original_rows += batch.num_rows
        st.inference.add(self.ctx, batch)

    def copy(self, table: str, batch: pa.RecordBatch, original: pa.RecordBatch | None) -> None:
        st = self._tables.get(table)
        if st is None or batch.num_rows == 0:
            return
        n = batch.num_rows
        classes = tuple_fingerprints(self.ctx, [batch.column(c) for c in st.qis], n)
        st.classes.add(classes)
        for c in st.sensitive:
            st.pairs[c].add(combine(classes, column_fingerprints(self.ctx, batch.column(c))), tags=classes)
        if st.subject is not None:
            st.people.add(combine(classes, column_fingerprints(self.ctx, batch.column(st.subject))), tags=classes)
        shown = classes if st.attacker.columns == st.qis else st.attacker.shown(self.ctx, batch)
        st.copy_view.add(shown)
        if original is not None and original.num_rows == n:
            # re-identified: own tuple == shown tuple, occurring once in the original; so only rows
            # whose shown tuple occurs once there need their own original's view
            rows = np.flatnonzero(st.original_view.lookup(shown) == 1)
            if len(rows):
                own = st.attacker.view(self.ctx, original.take(pa.array(rows)), st.copy_rows)
                st.reidentified += int((own == shown[rows]).sum())
        else:
            st.unpaired_rows += n
        st.copy_rows += n

    # -- the report ----------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        tables: dict[str, Any] = {}
        for name in self.ctx.tables:
            st = self._tables.get(name)
            tables[name] = {"privacy": None} if st is None else self._table(st)
        measured = [t["summary"] for t in tables.values() if t.get("summary")]

        def pick(metric: str, fn) -> float | int | None:
            values = [s[metric] for s in measured if s[metric] is not None]
            return fn(values) if values else None

        summary = {"k": pick("k", min), "risk": pick("risk", max), "linkage": pick("linkage", max),
                   "l": pick("l", min), "unique_share": pick("unique_share", max),
                   "inference": pick("inference", sum)}
        return {"summary": summary, "tables": tables,
                "settings": {"default_k": DEFAULT_K, "inference_threshold": INFERENCE_THRESHOLD,
                             "inference_rows": INFERENCE_ROWS, "inference_max_distinct": INFERENCE_MAX_DISTINCT,
                             "inference_rows_per_value": INFERENCE_ROWS_PER_VALUE}}

    def _table(self, st: _Table) -> dict[str, Any]:
        p = st.info.privacy
        target_k = p.k or DEFAULT_K
        out: dict[str, Any] = {
            "privacy": {"k": target_k, "l": p.l, "population": p.population, "max_suppression": p.max_suppression},
            "quasi_identifiers": st.qis, "quasi_identifiers_absent": st.absent, "sensitive": st.sensitive,
            "sensitive_absent": [c for c in p.sensitive if c not in st.sensitive],
            "rows": st.copy_rows, "original_rows": st.original_rows, "missing": st.info.copy_schema is None,
        }
        inference = [s for s in st.inference.scores() if s["score"] >= INFERENCE_THRESHOLD]
        sizes = st.classes.counts
        rows = st.copy_rows
        if rows == 0:
            out.update({"classes": 0, "k": None, "rows_below_k": 0, "share_below_k": None,
                        "unique_rows": 0, "unique_share": None, "class_sizes": _histogram(sizes),
                        "prosecutor": None, "journalist": None,
                        "l_diversity": {c: None for c in st.sensitive}, "l_entropy": {c: None for c in st.sensitive},
                        "rows_below_l": None, "linkage": self._linkage(st), "inference": inference})
            out["summary"] = dict.fromkeys(SUMMARY_METRICS) | {"inference": len(inference)}
            return out
        k = int(sizes.min())
        below = int(sizes[sizes < target_k].sum())
        if st.subject is not None:  # k in people: distinct subjects per class (rows counted once each)
            inv, groups = grouped(st.people.tags, st.people.counts)
            per_class = np.bincount(inv, minlength=groups)
            size = np.bincount(inv, weights=st.people.counts, minlength=groups)
            out.update({"unit": "subject", "k_rows": k})
            k, below = int(per_class.min()), int(size[per_class < target_k].sum())
        unique = int((sizes == 1).sum())
        l_distinct, l_entropy, below_l = self._diversity(st, p.l)
        linkage = self._linkage(st)
        prosecutor = {"highest": _r(1 / k), "average": _r(len(sizes) / rows),
                      "rows_at_highest": int(sizes[sizes == k].sum())}
        out.update({
            "classes": int(len(sizes)), "k": k, "rows_below_k": below, "share_below_k": _r(below / rows),
            "unique_rows": unique, "unique_share": _r(unique / rows), "class_sizes": _histogram(sizes),
            "prosecutor": prosecutor, "journalist": self._journalist(st),
            "l_diversity": l_distinct, "l_entropy": l_entropy, "rows_below_l": below_l,
            "linkage": linkage, "inference": inference,
        })
        ls = [v for v in l_distinct.values() if v is not None]
        out["summary"] = {"k": k, "risk": prosecutor["highest"], "linkage": linkage["share"],
                          "l": min(ls) if ls else None, "unique_share": out["unique_share"],
                          "inference": len(inference)}
        return out

    def _diversity(self, st: _Table, target_l: int | None) -> tuple[dict, dict, dict | None]:
        """Per sensitive column: distinct l (the fewest distinct values in a class), entropy l
        (exp of the lowest class entropy, natural log), rows in classes with fewer than ``target_l``
        distinct values."""
        distinct: dict[str, int | None] = {}
        entropy: dict[str, float | None] = {}
        below: dict[str, int] = {}
        for c in st.sensitive:
            counts = st.pairs[c].counts
            inv, groups = grouped(st.pairs[c].tags, counts)
            if groups == 0:
                distinct[c] = entropy[c] = None
                continue
            per_class = np.bincount(inv, minlength=groups)
            size = np.bincount(inv, weights=counts, minlength=groups)
            share = counts / size[inv]
            h = np.bincount(inv, weights=-share * np.log(share), minlength=groups)
            distinct[c] = int(per_class.min())
            entropy[c] = _r(math.exp(max(float(h.min()), 0.0)))
            if target_l is not None:
                below[c] = int(size[per_class < target_l].sum())
        return distinct, entropy, (below if target_l is not None else None)

    def _journalist(self, st: _Table) -> dict[str, Any] | None:
        """Journalist risk: a class's risk is 1 / its size in the population (F). With
        ``privacy.population`` N, F is estimated as f * N / n (the copy a uniform sample); else,
        when the copy holds fewer rows than the original and every QI is reproducible, the
        original is the population (F counted there). None otherwise."""
        sizes, n = st.classes.counts, st.copy_rows
        population = st.info.privacy.population
        if population:
            big = sizes * (population / n)
            source = "population"
        elif n < st.original_rows and st.attacker.columns == st.qis:
            big = st.original_view.lookup(st.classes.keys)
            source = "original"
        else:
            return None
        big = np.maximum(big.astype(np.float64), sizes)  # a class is never larger in the copy
        return {"source": source, "population": int(population) if population else st.original_rows,
                "highest": _r(1 / big.min()), "average": _r(float((sizes / big).sum()) / n)}

    def _linkage(self, st: _Table) -> dict[str, Any]:
        """Paired (every copy row came with its original row): copy rows whose attacker tuple equals
        their own original's and occurs once in the original. Unpaired: an upper bound, the copy's
        attacker tuples that occur once in the original (at most one copy row each is right)."""
        paired = st.unpaired_rows == 0 and st.copy_rows > 0
        if paired:
            hits = st.reidentified
        else:
            hits = int((st.original_view.lookup(st.copy_view.keys) == 1).sum()) if st.copy_rows else 0
        return {"attacker_columns": st.attacker.columns, "left_out": st.attacker.left_out,
                "reidentified": hits, "share": _r(hits / st.copy_rows) if st.copy_rows else None,
                "paired": paired, "bound": None if paired else "upper"}


def _subject(info: TableInfo, in_copy: set[str]) -> str | None:
    """The column whose distinct values k counts: a table's subject (not its primary key) in the copy."""
    s = info.plan.subject if info.plan is not None else None
    if s is None or info.primary_key == [s.column] or s.column not in in_copy:
        return None
    return s.column


def _histogram(sizes: np.ndarray) -> dict[str, list]:
    """Rows and classes per class-size bin (:data:`EDGES`)."""
    bins = np.searchsorted(np.array(EDGES), sizes, side="right") - 1
    return {"edges": list(EDGES),
            "rows": [int(x) for x in np.bincount(bins, weights=sizes, minlength=len(EDGES))],
            "classes": [int(x) for x in np.bincount(bins, minlength=len(EDGES))]}
