"""``veil scan``: one finding per table.column, from the column's name, type and a bounded sample.

How a column is classified:

1. **Sample.** At most ``sample_rows`` rows per table are read (Parquet: the
   first rows of up to 8 row groups spread over the file; CSV: the first rows,
   the row count estimated from the file size; SQL dumps: the first rows of
   every table, the dump itself read once). Of those, at most ``sample``
   distinct non-null values per column are analysed. Scan time therefore
   depends on the sample, not on the table size (except for dumps, which are
   read through once).
2. **Name.** Column-name rules (veil.detect.names) propose entities, strong or weak.
3. **Values.** Presidio's pattern recognizers (with their checksums; the
   column's name words passed as context) run over the distinct values in
   rounds of 50, 200, 750, ... and stop as soon as every recognizer's share
   is clearly low or clearly high; word lists (first and last names, cities,
   countries) and a few vectorised patterns (street addresses, free text,
   dates of birth) look at the whole sample. Each gives the *share* of sampled
   values it matched.
4. **Combine.** A name rule and matching values reinforce each other; values
   alone decide only for entities whose values prove themselves (emails,
   IBANs, cards with checksums ...) and only above ``min_share``; a name rule
   the values clearly contradict loses confidence. One matching value never
   decides: an id column where 0.3% of values look like phone numbers stays
   ``NONE``.

No value from the data is kept in a finding: evidence is rule names and shares.

Where each step lives: ``sampling`` (1), ``names`` (2), ``values`` (3),
``classify`` (4); ``coltypes`` (type categories), ``relations`` (keys),
``findings`` (the result types). This module runs them over a dataset.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from ..dataset import Dataset
from ..formats.dump import DumpDataset
from .classify import classify
from .coltypes import declared_type, holds_json, int_bits, plain_ints, text_length, text_type, type_category
from .draft import PERSON_ENTITIES, key_range
from .engine import detector
from .entities import NONE_CLASS, entity_class
from .findings import Finding, ScanResult, TableScan
from .relations import infer_keys
from .sampling import DEFAULT_SAMPLE, DEFAULT_SAMPLE_ROWS, binary_heads, distinct_text, sample_dataset

__all__ = ["DEFAULT_SAMPLE", "DEFAULT_SAMPLE_ROWS", "Finding", "ScanResult", "TableScan", "classify", "infer_keys",
           "sample_dataset", "scan_dataset", "text_type", "type_category"]


def _seen_range(col: pa.ChunkedArray | pa.Array) -> tuple[int, int] | None:
    """The smallest and largest integer of a sampled key column (text in dumps and CSV), or None."""
    try:
        ints = col.cast(pa.int64()) if not pa.types.is_integer(col.type) else col
        mm = pc.min_max(ints)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    return None if lo is None else (lo, hi)


# What a table must hold to confirm a finding that needs context (names.NameRule.context): a person
# identified in the same table, or an address.
ADDRESS_ENTITIES = {"POSTCODE", "CITY", "STREET_ADDRESS", "COUNTRY"}
CONTEXTS = {"person": PERSON_ENTITIES, "address": ADDRESS_ENTITIES}


def confirm_context(findings: list[Finding]) -> None:
    """Keep a finding that needs context only when its table agrees: ``company`` beside an email is an
    employer, in a suppliers table it is not; ``state`` beside a ZIP code is a region, in an orders
    table a status; image bytes in a person's table are a photo, in a products table not."""
    present = {f.entity for f in findings if not f.evidence.get("needs_context")}
    for f in findings:
        need = f.evidence.get("needs_context")
        if not need or f.entity == "NONE":
            continue
        if present & CONTEXTS[need]:
            f.evidence["context"] = f"confirmed: the table holds {sorted(present & CONTEXTS[need])[0]}"
            f.confidence = round(max(f.confidence, 0.75), 3)
        else:
            f.evidence["note"] = f"{f.entity} by name or bytes only, and no {need} in the table"
            f.entity, f.cls, f.confidence = "NONE", NONE_CLASS, 0.6


def scan_dataset(dataset: Dataset, *, sample: int = DEFAULT_SAMPLE, sample_rows: int = DEFAULT_SAMPLE_ROWS,
                 nlp_model: str | None = None, use_ner: bool = True, use_presidio: bool = True,
                 progress: Callable[[str], None] | None = None) -> ScanResult:
    """Classify every column of every table of ``dataset``."""
    det = detector(nlp_model, use_ner) if use_presidio else None
    samples = sample_dataset(dataset, sample_rows)
    tables = infer_keys(dataset, samples)
    dialect = dataset.dump.dialect if isinstance(dataset, DumpDataset) else None
    findings: list[Finding] = []
    for t in dataset.tables:
        data, _rows, _est = samples[t.name]
        ts = tables[t.name]
        fk_cols = {c for fk in ts.foreign_keys for c in fk["columns"]}
        for f in t.schema:
            if progress is not None:
                progress(f"{t.name}.{f.name}")
            col = data.column(f.name) if f.name in data.column_names else pa.nulls(0, f.type)
            values = distinct_text(col, sample)
            category = declared_type(f, dialect) or type_category(f.type)
            if category == "string" and (t.format in ("csv", "dump")):
                # CSV is text, and so is a dump column of unknown type: look at the values
                if t.format == "csv" or not (f.metadata or {}).get(b"veil.sql_type"):
                    category = text_type(values)
            if category == "string" and holds_json(values):
                category = "json"  # entities are found anywhere inside, as in a declared json column
            entity, conf, evidence = classify(t.name, f.name, category, values, det,
                                              binary_heads(col, sample) if category == "binary" else None)
            if category == "integer":
                evidence["int_bits"] = int_bits(f, dialect)
                # pseudonymize format: int takes non-negative integers without leading zeros
                evidence["plain_ints"] = plain_ints(values)
            elif category == "string" and text_length(f, dialect) is not None:
                evidence["text_length"] = text_length(f, dialect)  # a key's pseudonym must fit it
            # a foreign key inherits its target's rule, even when it is also part of this table's key
            key = "foreign" if f.name in fk_cols else "primary" if f.name in ts.primary_key else \
                "unique" if any(f.name in u for u in ts.unique) else None
            if category == "integer" and key == "primary" and evidence.get("plain_ints"):
                rng = _seen_range(col)
                if rng is not None:
                    drafted = key_range(*rng, ts.rows, ts.sampled_rows, evidence["int_bits"])
                    if drafted is not None:
                        evidence["int_range"] = drafted  # rounded: no id of the sample is kept
            if key and entity == "NONE":
                evidence["note"] = f"{key} key column"
            findings.append(Finding(t.name, f.name, category, entity, entity_class(entity) if entity != "NONE"
                                    else NONE_CLASS, conf, evidence, key))
        confirm_context([x for x in findings if x.table == t.name])
    return ScanResult(str(dataset.root), list(tables.values()), findings, bool(det and det.ner),
                      det.model if det else None, sample, sample_rows)
