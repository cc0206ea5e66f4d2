"""``veil verify`` on Spark, risk: the local RiskCheck's classes, k, l and prosecutor risk over the
copy as Spark aggregations of the quasi-identifiers' tuple fingerprints (veil.spark.verify)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..verify.base import TableInfo
from ..verify.linkage import INFERENCE_MAX_DISTINCT, INFERENCE_ROWS, INFERENCE_ROWS_PER_VALUE, INFERENCE_THRESHOLD
from ..verify.risk import DEFAULT_K, SUMMARY_METRICS, _histogram, _subject
from .verify import COPY, ORIGINAL

if TYPE_CHECKING:
    from .verify import Verification

def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


class Risk:
    """The local RiskCheck's classes, k, l and prosecutor risk over the copy: the class of each row
    is its quasi-identifiers' tuple fingerprint; the driver gets the distribution of class sizes
    (how many classes have each size) and per-class minima, never a class."""

    def __init__(self, v: Verification) -> None:
        self.v = v
        self.tables: dict[str, dict[str, Any]] = {}
        for name, info in v.ctx.tables.items():
            if info.privacy is None:
                continue
            in_copy = set(info.copy_schema.names) if info.copy_schema is not None else set()
            qis = [c for c in info.privacy.quasi_identifiers if c in in_copy]
            sensitive = [c for c in info.privacy.sensitive if c in in_copy]
            subject = _subject(info, in_copy)
            st: dict[str, Any] = {"info": info, "qis": qis, "sensitive": sensitive, "subject": subject,
                                  "absent": [c for c in info.privacy.quasi_identifiers if c not in in_copy]}
            if info.copy_schema is not None:
                st["class"] = v.need(COPY, name, "tuple", tuple(qis))
                st["cells"] = {c: v.need(COPY, name, "cell", (c,)) for c in sensitive}
                if subject is not None:
                    st["person"] = v.need(COPY, name, "cell", (subject,))
            self.tables[name] = st

    def finish(self) -> dict[str, Any]:
        tables: dict[str, Any] = {}
        for name in self.v.ctx.tables:
            st = self.tables.get(name)
            tables[name] = {"privacy": None} if st is None else self._table(name, st)
        measured = [t["summary"] for t in tables.values() if t.get("summary")]

        def pick(metric: str, fn) -> float | int | None:
            values = [s[metric] for s in measured if s[metric] is not None]
            return fn(values) if values else None

        summary = {"k": pick("k", min), "risk": pick("risk", max), "linkage": None,
                   "l": pick("l", min), "unique_share": pick("unique_share", max), "inference": None}
        return {"summary": summary, "tables": tables,
                "settings": {"default_k": DEFAULT_K, "inference_threshold": INFERENCE_THRESHOLD,
                             "inference_rows": INFERENCE_ROWS, "inference_max_distinct": INFERENCE_MAX_DISTINCT,
                             "inference_rows_per_value": INFERENCE_ROWS_PER_VALUE}}

    def _table(self, name: str, st: dict[str, Any]) -> dict[str, Any]:
        from pyspark.sql import functions as F

        info: TableInfo = st["info"]
        p = info.privacy
        assert p is not None
        target_k = p.k or DEFAULT_K
        missing = info.copy_schema is None
        rows = 0 if missing else self.v.rows(COPY, name)
        out: dict[str, Any] = {
            "privacy": {"k": target_k, "l": p.l, "population": p.population, "max_suppression": p.max_suppression},
            "quasi_identifiers": st["qis"], "quasi_identifiers_absent": st["absent"], "sensitive": st["sensitive"],
            "sensitive_absent": [c for c in p.sensitive if c not in st["sensitive"]],
            "rows": rows, "original_rows": self.v.rows(ORIGINAL, name), "missing": missing,
        }
        if rows == 0:
            out.update({"classes": 0, "k": None, "rows_below_k": 0, "share_below_k": None,
                        "unique_rows": 0, "unique_share": None, "class_sizes": _histogram(np.empty(0, np.int64)),
                        "prosecutor": None, "journalist": None,
                        "l_diversity": {c: None for c in st["sensitive"]},
                        "l_entropy": {c: None for c in st["sensitive"]},
                        "rows_below_l": None, "linkage": None, "inference": None})
            out["summary"] = dict.fromkeys(SUMMARY_METRICS) | {"inference": None}
            return out
        fp = self.v.fingerprints(COPY, name)
        cls = st["class"]
        # how many classes have each size: at most about sqrt(2 x rows) distinct sizes
        dist = (fp.groupBy(cls).count().groupBy(F.col("count").alias("size"))
                .agg(F.count(F.lit(1)).alias("classes")).collect())
        sizes = np.repeat(np.array([int(r["size"]) for r in dist], np.int64),
                          np.array([int(r["classes"]) for r in dist], np.int64))
        k = int(sizes.min())
        below = int(sizes[sizes < target_k].sum())
        if st["subject"] is not None:  # k in people: distinct subjects per class
            people = (fp.groupBy(cls, st["person"]).count().groupBy(cls)
                      .agg(F.count(F.lit(1)).alias("people"), F.sum("count").alias("size"))
                      .agg(F.min("people").alias("k"),
                           F.sum(F.when(F.col("people") < target_k, F.col("size")).otherwise(0)).alias("below"))
                      .first())
            out.update({"unit": "subject", "k_rows": k})
            k, below = int(people["k"]), int(people["below"])
        unique = int((sizes == 1).sum())
        l_distinct, l_entropy, below_l = self._diversity(fp, cls, st, p.l)
        prosecutor = {"highest": _r(1 / k), "average": _r(len(sizes) / rows),
                      "rows_at_highest": int(sizes[sizes == k].sum())}
        out.update({
            "classes": int(len(sizes)), "k": k, "rows_below_k": below, "share_below_k": _r(below / rows),
            "unique_rows": unique, "unique_share": _r(unique / rows), "class_sizes": _histogram(sizes),
            "prosecutor": prosecutor, "journalist": _journalist(sizes, rows, p.population),
            "l_diversity": l_distinct, "l_entropy": l_entropy, "rows_below_l": below_l,
            "linkage": None, "inference": None,
        })
        ls = [x for x in l_distinct.values() if x is not None]
        out["summary"] = {"k": k, "risk": prosecutor["highest"], "linkage": None,
                          "l": min(ls) if ls else None, "unique_share": out["unique_share"], "inference": None}
        return out

    @staticmethod
    def _diversity(fp: Any, cls: str, st: dict[str, Any], target_l: int | None) -> tuple[dict, dict, dict | None]:
        """Per sensitive column: distinct l, entropy l (exp of the lowest class entropy), rows in
        classes with fewer than ``target_l`` distinct values: two aggregations of (class, value) counts."""
        from pyspark.sql import functions as F

        distinct: dict[str, int | None] = {}
        entropy: dict[str, float | None] = {}
        below: dict[str, int] = {}
        for c, col in st["cells"].items():
            pairs = fp.groupBy(cls, col).count()
            size = pairs.groupBy(cls).agg(F.sum("count").alias("size"))
            share = F.col("count") / F.col("size")
            per_class = (pairs.join(size, cls).groupBy(cls)
                         .agg(F.count(F.lit(1)).alias("d"), F.first("size").alias("size"),
                              F.sum(-share * F.log(share)).alias("h")))
            aggs = [F.min("d").alias("d"), F.min("h").alias("h")]
            if target_l is not None:
                aggs.append(F.sum(F.when(F.col("d") < target_l, F.col("size")).otherwise(0)).alias("below"))
            row = per_class.agg(*aggs).first()
            if row["d"] is None:
                distinct[c] = entropy[c] = None
                continue
            distinct[c] = int(row["d"])
            entropy[c] = _r(float(np.exp(max(float(row["h"]), 0.0))))
            if target_l is not None:
                below[c] = int(row["below"])
        return distinct, entropy, (below if target_l is not None else None)


def _journalist(sizes: np.ndarray, n: int, population: int | None) -> dict[str, Any] | None:
    """Journalist risk with ``privacy.population`` N (F = f x N / n, as the local check); the local
    check's other case (the original as the population) needs the attacker's view: not computed."""
    if not population:
        return None
    big = np.maximum((sizes * (population / n)).astype(np.float64), sizes)
    return {"source": "population", "population": int(population),
            "highest": _r(1 / big.min()), "average": _r(float((sizes / big).sum()) / n)}
