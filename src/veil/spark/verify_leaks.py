"""``veil verify`` on Spark, leaks: each transformed column's original values in its own column of
the copy and in the columns that carry text through, counted by Spark joins of fingerprints
(veil.spark.verify)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..ops.arrays import is_text
from ..verify.base import VerifyContext
from ..verify.leak_index import member
from ..verify.leak_rules import RULES, passes_text, treatment
from . import conform
from .verify import COPY, LIST_KINDS, ORIGINAL

if TYPE_CHECKING:
    from .verify import Verification

class Leaks:
    """Original values of each transformed column in the copy: in its own column (:meth:`_count`),
    and in the columns that carry text through (:meth:`_elsewhere`), counted."""

    def __init__(self, v: Verification) -> None:
        self.v = v
        self.rules = dict(RULES)
        self.sources: list[dict[str, Any]] = []
        for name, info in v.ctx.tables.items():
            for column in info.transformed():
                field = info.original_schema.field(column)
                src: dict[str, Any] = {"id": len(self.sources), "table": name, "column": column,
                                       "treatment": treatment(info, column),
                                       "skipped": "nested" if pa.types.is_nested(field.type) else None,
                                       "null": pa.types.is_null(field.type), "elsewhere": 0, "in_text": 0,
                                       "found_in": set()}
                if src["skipped"] is None and not src["null"]:
                    src["original"] = v.need(ORIGINAL, name, "value", (column,))
                    for kind in ("sought", "sought_one"):
                        src[kind] = v.need(ORIGINAL, name, kind, (column,))
                    if src["treatment"] != "free_text":  # words of free text are not values
                        for kind in ("sought_short", "source_words"):
                            src[kind] = v.need(ORIGINAL, name, kind, (column,))
                    if src["treatment"] != "removed" and info.copy_schema is not None \
                            and column in info.copy_schema.names \
                            and not pa.types.is_nested(info.copy_schema.field(column).type):
                        src["copy"] = v.need(COPY, name, "value", (column,))
                self.sources.append(src)
        own = {(s["table"], s["column"]): s["id"] for s in self.sources}
        # the copy's columns that carry text through (LeakCheck._scan): kept, free text, coarse
        # each with the source it is (-1: none) and its fingerprint columns: the whole cell of several
        # words or of one, its words (non-blank cells, prose); inside text: sequences, distinct words
        self.scanned: list[dict[str, Any]] = []
        self._own_frames: dict[int, Any] = {}  # the free-text columns' own passes (released at the end)
        for name, schema in v.schemas[COPY].items():
            info = v.ctx.tables.get(name)
            for f in schema:
                role = passes_text(info, f.name)
                if pa.types.is_nested(f.type) or pa.types.is_null(f.type) or role is None:
                    continue
                kinds = ("scanned", "scanned_one", "nwords") + (("sequences", "cell_words") if is_text(f.type) else ())
                sc = {"table": name, "column": f.name, "own": own.get((name, f.name), -1) if info is not None else -1}
                if role == "free_text" and sc["own"] >= 0 \
                        and "original" in self.sources[sc["own"]]:
                    # its spans are cut in a pass of their own, with the column's original words (:func:`known_spans`)
                    sc.update({kind: f"{kind}_{len(self.scanned)}" for kind in kinds},
                              vocabulary=[v.need(ORIGINAL, name, kind, (f.name,))
                                          for kind in ("cell_words", "scanned_one")])
                else:
                    sc.update({kind: v.need(COPY, name, kind, (f.name,)) for kind in kinds})
                self.scanned.append(sc)

    def _count(self) -> None:
        """Each source's non-blank cells and distinct values in ORIGINAL, and the copy's cells of its
        column holding one of them: one aggregation of every source's (value, side) by (source,
        value), then by source."""
        from functools import reduce

        from pyspark.sql import functions as F

        parts = []
        for src in self.sources:
            src.update(rows=0, distinct=0, found=0)
            for side, key, role in ((ORIGINAL, "original", 1), (COPY, "copy", 0)):
                if key in src:
                    parts.append(self.v.fingerprints(side, src["table"]).select(
                        F.lit(src["id"]).alias("src"), F.col(src[key]).alias("k"),
                        F.lit(role).alias("original")).where(F.col("k").isNotNull()))
        if not parts:
            return
        values = (reduce(lambda a, b: a.unionByName(b), parts).groupBy("src", "k")
                  .agg(F.sum("original").alias("n"), F.count(F.lit(1)).alias("cells")))
        held = F.col("n") > 0
        for row in values.groupBy("src").agg(
                F.sum("n").alias("rows"), F.sum(F.when(held, 1).otherwise(0)).alias("distinct"),
                F.sum(F.when(held, F.col("cells") - F.col("n")).otherwise(0)).alias("found")).collect():
            self.sources[int(row["src"])].update(rows=int(row["rows"]), distinct=int(row["distinct"]),
                                                 found=int(row["found"]))

    def _elsewhere(self) -> None:
        """LeakCheck._scan and Matches.settle over every scanned column, unpaired: a cell holding a
        specific value of another source column (held by at most max(specific_min, specific_share x
        rows) rows of its column), normalised, is ``elsewhere`` as the whole cell (several words),
        ``in_text`` as a sequence of 2 to ``max_words`` words strictly inside it, or as one word
        inside it when the column is prose (``text_min_words`` words per cell on average). In prose,
        a word matched in more than max(vocabulary_min, vocabulary_share x cells) cells (inside, or
        as a one-word cell) is the column's vocabulary, not a leak. A cell counts once per source,
        as elsewhere before in text. One-word matches outside prose are weak, never leaks: not
        sought (``weak`` is not counted). The driver gets per-column counts and (column, source,
        kind, cells) rows of ids and counts."""
        from functools import reduce

        from pyspark.sql import functions as F

        def union(frames: list[Any]) -> Any:
            return reduce(lambda a, b: a.unionByName(b), frames)

        if not self.scanned or not any("sought" in src for src in self.sources):
            return
        frames = self._scanned_frames()
        # per scanned column: non-blank cells and their words, for prose and the vocabulary limit
        stats = union([frames[i].select(F.lit(i).alias("scan"), F.col(sc["nwords"]).alias("n"))
                       for i, sc in enumerate(self.scanned)]).groupBy("scan").agg(
            F.count("n").alias("cells"), F.sum("n").alias("words")).collect()
        limits: dict[int, float] = {}
        for row in stats:
            i, cells, words = int(row["scan"]), int(row["cells"]), int(row["words"] or 0)
            if "cell_words" in self.scanned[i] and words >= self.rules["text_min_words"] * max(1, cells):
                limits[i] = max(self.rules["vocabulary_min"], self.rules["vocabulary_share"] * cells)
        # the index (hash, kind, source): kinds 0 whole of several words, 1 a sequence inside text,
        # 2 a one-word whole, 3 one word inside text (2 and 3 only for prose)
        index = []
        for src in self.sources:
            if "sought" not in src:
                continue
            limit = max(self.rules["specific_min"], self.rules["specific_share"] * src.get("rows", 0))
            fp = self.v.fingerprints(ORIGINAL, src["table"])
            wanted = [(F.col(src["sought"]), (0,))]
            if "source_words" in src:
                wanted.append((F.col(src["sought_short"]), (1,)))
            if limits:
                wanted.append((F.col(src["sought_one"]), (2, 3) if "source_words" in src else (2,)))
                if "source_words" in src:
                    wanted.append((F.explode(src["source_words"]), (3,)))
            for h, kinds in wanted:
                found = (fp.select(h.alias("h")).where(F.col("h").isNotNull()).groupBy("h").count()
                         .where(F.col("count") <= limit))
                index.extend(found.select("h", F.lit(kind).alias("kind"), F.lit(src["id"]).alias("src"))
                             for kind in kinds)
        cells = []
        for i, sc in enumerate(self.scanned):
            # a cell's id: its position in the persisted fingerprints (the same in every branch)
            base = frames[i].select(F.monotonically_increasing_id().alias("cell"), "*")
            tag = [F.lit(i).alias("scan"), F.lit(sc["own"]).alias("own")]
            kinds = [(0, "scanned"), (1, "sequences")]
            if i in limits:  # prose
                kinds += [(2, "scanned_one"), (3, "cell_words")]
            for kind, col in kinds:
                if col not in sc:
                    continue
                h = F.explode(sc[col]) if col in LIST_KINDS else F.col(sc[col])
                cells.append(base.select("cell", h.alias("h"), F.lit(kind).alias("kind"), *tag)
                             .where(F.col("h").isNotNull()))
        matches = union(cells).join(union(index), ["h", "kind"]).where(F.col("src") != F.col("own"))
        if limits:
            one_word = F.col("kind") >= 2
            limit = F.lit(0.0)
            for i, value in limits.items():
                limit = F.when(F.col("scan") == i, F.lit(float(value))).otherwise(limit)
            common = (matches.where(one_word).groupBy("scan", "h").agg(F.countDistinct("cell").alias("n"))
                      .where(F.col("n") > limit).select("scan", "h", F.lit(True).alias("common")))
            matches = matches.join(common, ["scan", "h"], "left").where(~(one_word & F.col("common").isNotNull()))
        # in prose a one-word whole cell is weak (2) and a word inside is in text (1)
        first = F.when(F.col("kind") == 3, 1).otherwise(F.col("kind"))
        found = (matches.groupBy("scan", "cell", "src").agg(F.min(first).alias("kind"))
                 .where(F.col("kind") < 2).groupBy("scan", "src", "kind").count().collect())
        for row in found:
            src, kind = self.sources[int(row["src"])], int(row["kind"])
            src[("elsewhere", "in_text")[kind]] += int(row["count"])
            sc = self.scanned[int(row["scan"])]
            src["found_in"].add(f"{sc['table']}.{sc['column']}")

    def _scanned_frames(self) -> dict[int, Any]:
        """Each scanned column's fingerprint frame: the table's shared one, or for a free-text column
        that is a source itself, a pass of its own (:func:`known_spans`) whose spans hold only words
        of the column's original text (LeakCheck._known_words): its vocabulary, distinct word
        fingerprints under the verification's key, is collected to the driver and sent with the
        task (8 bytes per distinct word)."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, LongType, StructField, StructType

        frames: dict[int, Any] = {}
        for i, sc in enumerate(self.scanned):
            if "vocabulary" not in sc:
                frames[i] = self.v.fingerprints(COPY, sc["table"])
                continue
            fp = self.v.fingerprints(ORIGINAL, sc["table"])
            words, one = sc["vocabulary"]
            vocabulary = (fp.select(F.explode(words).alias("w")).union(fp.select(F.col(one).alias("w")))
                          .where(F.col("w").isNotNull()).distinct().collect())
            vocabulary = np.sort(np.array([r["w"] for r in vocabulary], np.int64).view(np.uint64))
            kinds = [k for k in ("scanned", "scanned_one", "nwords", "sequences", "cell_words") if k in sc]
            out = StructType([StructField(sc[k], ArrayType(LongType()) if k in LIST_KINDS else LongType(), True)
                              for k in kinds])
            df = self.v.frames[COPY][sc["table"]].select(sc["column"])
            fn = known_spans(self.v.key, self.v.schemas[COPY][sc["table"]], sc["column"], kinds,
                             [sc[k] for k in kinds], vocabulary)
            frames[i] = self._own_frames[i] = df.mapInArrow(fn, out).persist(StorageLevel.DISK_ONLY)
        return frames

    def finish(self) -> dict[str, Any]:
        tables: dict[str, Any] = {t: {"summary": {}, "columns": {}} for t in self.v.ctx.tables}
        self._count()
        try:
            self._elsewhere()
        finally:
            for df in self._own_frames.values():
                df.unpersist()
        for src in self.sources:
            tables[src["table"]]["columns"][src["column"]] = _leak_column(src)
        for name, t in tables.items():
            leaks = sum(c["leaks"] for c in t["columns"].values())
            rows = sum(s["rows"] for s in self.sources if s["table"] == name)
            t["summary"] = {"leaks": leaks, "leaked_share": _share(leaks, rows)}
        total_leaks = sum(t["summary"]["leaks"] for t in tables.values())
        total_rows = sum(s["rows"] for s in self.sources)
        return {
            "summary": {"leaks": total_leaks, "leaked_share": _share(total_leaks, total_rows),
                        "columns_checked": sum(s["skipped"] is None for s in self.sources),
                        "values_checked": total_rows,
                        "columns_leaking": sum(c["leaks"] > 0 for t in tables.values() for c in t["columns"].values())},
            "tables": tables,
            "scanned": None,
            "rules": dict(self.rules),
        }


def known_spans(key: bytes, in_schema: Any, column: str, kinds: list[str], names: list[str], vocabulary: np.ndarray):
    """What each task runs for a free-text column that is a source itself: the fingerprint columns
    of a scanned column (veil.spark.verify._column), its spans restricted as LeakCheck._scan and
    _inside restrict them (LeakCheck._known_words): a whole cell, a word, a word sequence only
    when each of its words is in ``vocabulary`` (the column's original words)."""
    from .verify import _require_hash_seed, _words, empty, spans

    field = in_schema.field(column)

    def run(batches):
        _require_hash_seed()
        ctx = VerifyContext({}, None, fingerprint_key=key)
        for batch in batches:
            arr = conform(batch, pa.schema([field])).column(0)
            n = len(arr)
            words = None if n == 0 or arr.null_count == n else _words(ctx, arr, False)
            if words is None:
                cols = [empty(n, kind) for kind in kinds]
            else:
                known = member(vocabulary, words[0].token_fp)[words[0].token]
                cols = [spans(n, words, kind, known) for kind in kinds]
            yield pa.RecordBatch.from_arrays(cols, names=names)

    return run


def _leak_column(src: dict[str, Any]) -> dict[str, Any]:
    """The local check's column entry for rows it cannot pair (LeakCheck._column, unpaired): a strict
    column's own-column matches are leaks, other treatments' are expected overlap; a value of
    several words found whole in another column is a leak (``elsewhere``)."""
    same_column = src["found"]
    leaks = same_column if src["treatment"] == "strict" else 0
    return {
        "treatment": src["treatment"],
        "checked": src["rows"],
        "distinct": src["distinct"],
        "compared": 0,
        "kept_same_row": None,
        "kept_values": None,
        "expected_same_row": None,
        "same_column": same_column,
        "elsewhere": src["elsewhere"],
        "in_text": src["in_text"],
        "weak": None,
        "expected_overlap": same_column - leaks,
        "leaks": leaks + src["elsewhere"] + src["in_text"],
        "kept_share": None,
        "leaked_share": _share(leaks + src["elsewhere"] + src["in_text"], src["rows"]),
        "found_in": sorted(src["found_in"]),
        **({"skipped": src["skipped"]} if src["skipped"] else {}),
    }


def _share(n: int, of: int) -> float | None:
    return round(min(1.0, n / of), 6) if of else None

