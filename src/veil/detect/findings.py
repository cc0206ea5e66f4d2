"""What a scan produces: one finding per table.column, one summary per table, the whole result.

No value from the data is kept here: evidence is rule names, types and shares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Finding:
    table: str
    column: str
    type: str  # the column's type category (type_category, sql_type_category, text_type): string, integer, date...
    entity: str
    cls: str  # "direct", "quasi", "sensitive" or "none"
    confidence: float
    evidence: dict
    key: str | None = None  # "primary", "foreign" or "unique" when the column is (or is inferred to be) a key

    def to_json(self) -> dict:
        d = asdict(self)
        d["class"] = d.pop("cls")
        return d


@dataclass
class TableScan:
    name: str
    format: str
    rows: int | None
    rows_estimated: bool
    sampled_rows: int
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[dict] = field(default_factory=list)  # {"columns", "references": {"table", "columns"}, "source"}
    unique: list[list[str]] = field(default_factory=list)  # UNIQUE constraints a dump's DDL declares
    partitioned: bool = False  # has partitions (a pseudonymized partition key would leave its partition)


@dataclass
class ScanResult:
    input: str
    tables: list[TableScan]
    findings: list[Finding]
    ner: bool
    nlp_model: str | None
    sample: int
    sample_rows: int

    def to_json(self) -> dict:
        return {
            "input": self.input,
            "ner": self.ner,
            "nlp_model": self.nlp_model,
            "sample": {"distinct_values": self.sample, "rows": self.sample_rows},
            "tables": [asdict(t) for t in self.tables],
            "columns": [f.to_json() for f in self.findings],
        }
