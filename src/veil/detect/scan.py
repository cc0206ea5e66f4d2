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
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dataset import Dataset, Table
from ..sqltypes import sql_int_bits, sql_type_category
from . import names as name_rules
from .engine import Detector, detector
from .entities import NONE_CLASS, entity_class

DEFAULT_SAMPLE = 2000  # distinct values per column
DEFAULT_SAMPLE_ROWS = 20_000  # rows read per table
MIN_SHARE = 0.6  # share of sampled values a recognizer must match to decide alone
FREE_TEXT_SHARE = 0.02  # share of texts holding a pattern entity (email, phone ...) that makes free text personal
FREE_TEXT_NER_SHARE = 0.1  # the same for names and places found by NER
ROUNDS = (50, 200, 750)  # Presidio runs on this many distinct values, then on the whole sample

# Entities whose values prove themselves: values alone may decide, and a name the values
# contradict loses confidence. (Postcodes, dates, usernames look like too many other things.)
VALUE_DECIDES = {"EMAIL", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "URL", "PHONE", "PASSWORD_HASH", "NATIONAL_ID",
                 "FIRST_NAME", "LAST_NAME", "PERSON_NAME", "CITY", "COUNTRY", "STREET_ADDRESS", "FREE_TEXT"}
# Entities whose values a recognizer can check: a strong name with no matching value is doubtful.
VALUE_CHECKED = {"EMAIL", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "URL"}
# Which column types an entity can live in.
TEXT_ONLY = {"EMAIL", "FIRST_NAME", "LAST_NAME", "PERSON_NAME", "STREET_ADDRESS", "CITY", "COUNTRY", "USERNAME",
             "PASSWORD_HASH", "URL", "IBAN", "FREE_TEXT", "IP_ADDRESS"}
INT_OK = {"PHONE", "NATIONAL_ID", "CREDIT_CARD", "POSTCODE"}

# Presidio recognizer -> the entity its matches count for (veil names come from the engine)
_STREET = re.compile(
    # a number, then a name ending in a street word (English, USPS suffixes; French, Italian, Spanish, Dutch)
    r"^\s*(\d+[a-z]?\s*,?\s+\S.*\b(street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    r"square|sq|terrace|parkway|pkwy|highway|hwy|circle|cir|trail|crescent|close|row|alley|annex|arcade|bayou|beach|"
    r"bend|bluff|bottom|branch|bridge|brook|burg|bypass|camp|canyon|cape|causeway|center|centre|cliff|club|common|"
    r"corner|course|cove|creek|crest|crossing|crossroad|curve|dale|dam|divide|estate|expressway|extension|falls|"
    r"ferry|field|flat|ford|forest|forge|fork|fort|freeway|garden|gardens|gateway|glen|green|grove|harbor|harbour|"
    r"haven|heights|hill|hollow|inlet|island|isle|junction|key|knoll|lake|landing|light|loaf|lock|lodge|loop|mall|"
    r"manor|meadow|mews|mill|mission|motorway|mount|mountain|neck|orchard|oval|overpass|park|pass|passage|path|pike|"
    r"pine|plain|plaza|point|port|prairie|radial|ramp|ranch|rapid|rest|ridge|river|route|shoal|shore|skyway|spring|"
    r"spur|station|stravenue|stream|summit|throughway|trace|track|trafficway|tunnel|turnpike|underpass|union|valley|"
    r"viaduct|view|village|ville|vista|walk|wall|well|rue|chemin|allee|impasse|quai|via|viale|piazza|calle|avenida|"
    r"plaza|paseo|camino|straat|laan|weg|gracht)s?\b.*"
    # a street word ending the name, then the number: German, Dutch, Nordic, Finnish
    r"|\S.*(strasse|straße|str\.|weg|allee|allé|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|straat|laan|gracht|"
    r"singel|dreef|kade|plein|hof|steeg|markt|dijk|baan|boulevard|gatan|gata|vägen|vagen|gränd|grand|torget|"
    r"stigen|backen|vej|gade|stræde|straede|plads|vænget|veien|gaten|katu|tie)\s+\d+\s*[a-z]?(\s*[-,/].*)?"
    # the street word first, a number later: French, Italian, Spanish, Portuguese, Catalan
    r"|(rue|avenue|boulevard|chemin|allee|allée|impasse|place|quai|via|viale|piazza|piazzale|corso|vicolo|largo|"
    r"strada|contrada|borgo|rotonda|stretto|incrocio|calle|avenida|plaza|paseo|cuesta|ronda|pasaje|pasadizo|"
    r"travesía|travesia|callejón|callejon|camino|carretera|glorieta|urbanización|urbanizacion|acceso|vial|cañada|"
    r"canada|bulevar|rambla|carrer|avinguda|passeig|rua|r\.|av\.|travessa|praça|praca|estrada|alameda)"
    r"\s.*\d+.*|\d+\s*,?\s*(rue|avenue|boulevard|bd|chemin|allee|impasse|place|quai)\s.*"
    # a flat first (British): "Flat 4, 12 High Street", "Studio 87\nDawson Drive"
    r"|(flat|studio|apartment|apt\.?|unit|suite)\s*\d+[a-z]?\s*[,\n]\s*\S.*)$",
    re.I | re.S)
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", re.U)


@dataclass
class Finding:
    table: str
    column: str
    type: str  # the column's type category (type_category, sql_type_category, text_type): string, integer, date...
    entity: str
    cls: str  # "direct", "quasi" or "none"
    confidence: float
    evidence: dict
    key: str | None = None  # "primary" or "foreign" when the column is (or is inferred to be) a key

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


# -- word lists ----------------------------------------------------------------

@cache
def lexicon() -> dict[str, frozenset[str]]:
    data = json.loads(resources.files("veil.detect").joinpath("data/lexicon.json").read_text())
    return {k: frozenset(v) for k, v in data.items() if isinstance(v, list)}


def fold(text: str) -> str:
    text = text.replace("ß", "ss")
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text.lower().strip()


# -- types ---------------------------------------------------------------------

_CATEGORIES = [
    ("boolean", (pa.types.is_boolean,)),
    ("integer", (pa.types.is_integer,)),
    ("float", (pa.types.is_floating,)),
    ("decimal", (pa.types.is_decimal,)),
    ("date", (pa.types.is_date,)),
    ("timestamp", (pa.types.is_timestamp,)),
    ("time", (pa.types.is_time, pa.types.is_duration, pa.types.is_interval)),
    ("string", (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)),
    ("binary", (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)),
    ("nested", (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list, pa.types.is_struct,
                pa.types.is_map)),
]


def type_category(t: pa.DataType) -> str:
    for name, tests in _CATEGORIES:
        if any(test(t) for test in tests):
            return name
    if pa.types.is_dictionary(t):
        return type_category(t.value_type)
    return "other"


def _declared_type(field_: pa.Field, dialect: str | None) -> str | None:
    """The category of a dump column's declared SQL type (None: no declared type)."""
    sql = (field_.metadata or {}).get(b"veil.sql_type")
    if not sql:
        return None
    return sql_type_category(sql.decode(), dialect)


_INT_TEXT = re.compile(r"^-?\d+$")  # "+4915112345678" is a phone number, not an integer
_PLAIN_INT = re.compile(r"^(0|[1-9]\d*)$")
_FLOAT_TEXT = re.compile(r"^[+-]?(\d+[.,]\d*|\d*[.,]\d+)([eE][+-]?\d+)?$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # ISO only: veil's date operators read ISO dates
_TS_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_BOOL_TEXT = {"true", "false", "t", "f", "yes", "no", "y", "n", "0", "1"}


def text_type(values: list[str]) -> str:
    """The type a text column's values have (CSV, SQL literals): a share of 98% decides."""
    if not values:
        return "string"
    n = len(values)

    def share(pred: Callable[[str], bool]) -> float:
        return sum(1 for v in values if pred(v)) / n

    if len(values) <= 10 and all(v.lower() in _BOOL_TEXT for v in values):
        return "boolean"
    if share(_INT_TEXT.match) >= 0.98:
        return "integer"
    if share(lambda v: bool(_INT_TEXT.match(v) or _FLOAT_TEXT.match(v))) >= 0.98:
        return "float"
    if share(_DATE_TEXT.match) >= 0.98:
        return "date"
    if share(_TS_TEXT.match) >= 0.98:
        return "timestamp"
    return "string"


# -- sampling ------------------------------------------------------------------

def _sample_parquet(table: Table, max_rows: int) -> tuple[pa.Table, int, bool]:
    pf = pq.ParquetFile(table.path, pre_buffer=False)
    n_groups = pf.metadata.num_row_groups
    total = pf.metadata.num_rows
    if n_groups == 0 or total == 0:
        return table.schema.empty_table(), total, False
    picks = sorted({round(i * (n_groups - 1) / max(1, min(n_groups, 8) - 1)) for i in range(min(n_groups, 8))})
    per = max(1, math.ceil(max_rows / len(picks)))
    parts = []
    for g in picks:
        for batch in pf.iter_batches(batch_size=min(per, 65_536), row_groups=[g]):
            parts.append(batch)
            break
    return pa.Table.from_batches(parts, schema=pf.schema_arrow), total, False


def _sample_stream(table: Table, max_rows: int) -> tuple[pa.Table, int | None, bool]:
    parts: list[pa.RecordBatch] = []
    got = 0
    exhausted = True
    for batch in table.batches(min(max_rows, 65_536)):
        parts.append(batch)
        got += batch.num_rows
        if got >= max_rows:
            exhausted = False
            break
    sample = pa.Table.from_batches(parts, schema=table.schema) if parts else table.schema.empty_table()
    if exhausted:
        return sample, got, False
    return sample.slice(0, max_rows), _estimate_rows(table.path), True


def _estimate_rows(path: Path) -> int | None:
    """Lines in a text file, estimated from its first 4 MiB and its size."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4 << 20)
    lines = head.count(b"\n")
    if not head or not lines:
        return None
    return max(0, round(lines * size / len(head)) - 1)


def sample_dataset(dataset: Dataset, max_rows: int) -> dict[str, tuple[pa.Table, int | None, bool]]:
    """table -> (sampled rows, row count, whether the count is an estimate)."""
    if dataset.dump is not None:
        from ..formats.dump.sample import sample_dump

        return {name: (t, n, False) for name, (t, n) in sample_dump(dataset.dump, max_rows).items()}
    out = {}
    for table in dataset.tables:
        if table.format == "parquet":
            out[table.name] = _sample_parquet(table, max_rows)
        else:
            out[table.name] = _sample_stream(table, max_rows)
    return out


# -- value evidence ------------------------------------------------------------

def _as_text(col: pa.ChunkedArray | pa.Array, limit: int) -> list[str]:
    """Up to ``limit`` distinct non-null values as text."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    col = col.drop_null()
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        values = [v.decode("utf-8", "replace") for v in pc.unique(col).to_pylist()[:limit]]
    elif type_category(col.type) == "nested":
        values = list(dict.fromkeys(json.dumps(v, ensure_ascii=False, default=str)
                                    for v in col.slice(0, 4 * limit).to_pylist()))[:limit]
    else:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            try:
                col = col.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return []
        values = pc.unique(col).to_pylist()[:limit]
    return [v for v in values if v is not None and v.strip()]


def _covers(span_len: int, value: str) -> bool:
    return span_len >= 0.8 * len(value.strip())


def _presidio_shares(det: Detector, values: list[str], context: list[str], free_text: bool,
                     ) -> tuple[dict[str, float], dict[str, float], int]:
    """Share of values each recognizer matched (whole value; for free text: anywhere in it),
    share of values holding each entity, and how many values were analysed."""
    by_rec: dict[str, int] = {}
    by_ent: dict[str, int] = {}
    done = 0
    bounds = [b for b in ROUNDS if b < len(values)] + [len(values)]
    for bound in bounds:
        for value in values[done:bound]:
            seen_rec, seen_ent = set(), set()
            for s in det.analyze(value, context, patterns_only=not free_text):
                if free_text or _covers(s.end - s.start, value):
                    seen_rec.add(s.recognizer)
                    seen_ent.add(s.entity)
            for r in seen_rec:
                by_rec[r] = by_rec.get(r, 0) + 1
            for e in seen_ent:
                by_ent[e] = by_ent.get(e, 0) + 1
        done = bound
        # decided: every share is clearly below or above MIN_SHARE (about 3 standard errors at this n)
        margin = 3 * math.sqrt(0.25 / done)
        if all(abs(c / done - MIN_SHARE) > margin for c in by_ent.values()) and not free_text:
            break
        if free_text and done >= ROUNDS[1]:
            break
    return ({r: c / done for r, c in by_rec.items()}, {e: c / done for e, c in by_ent.items()}, done)


def _lexicon_shares(values: list[str]) -> dict[str, float]:
    lex = lexicon()
    n = len(values)
    if not n:
        return {}
    counts = {"first_name_list": 0, "last_name_list": 0, "full_name_lists": 0, "city_list": 0, "country_list": 0,
              "country_code_list": 0}
    for v in values:
        f = fold(v)
        if f in lex["first_name"]:
            counts["first_name_list"] += 1
        if f in lex["last_name"]:
            counts["last_name_list"] += 1
        if f in lex["city"]:
            counts["city_list"] += 1
        if f in lex["country"]:
            counts["country_list"] += 1
        if f in lex["country_code"]:
            counts["country_code_list"] += 1
        words = _WORD.findall(f)
        if 2 <= len(words) <= 4 and (words[0] in lex["first_name"] or words[-1] in lex["first_name"]) and \
                (words[-1] in lex["last_name"] or words[0] in lex["last_name"]):
            counts["full_name_lists"] += 1
    return {k: c / n for k, c in counts.items() if c}


_HEX_DIGEST = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$", re.I)
_DIGITS = re.compile(r"^\d+$")
# a word of prose: letters (with inner hyphens or apostrophes), maybe wrapped in punctuation
_PROSE_WORD = re.compile(r"^[\"'(\[]*[^\W\d_]+(?:[-'][^\W\d_]+)*[\"').,;:!?\]]*$")


def _prose(value: str, words: list[str]) -> bool:
    """At least 4 words, 25 characters, and mostly words of letters (not a user agent or a path)."""
    return len(words) >= 4 and len(value) >= 25 and \
        sum(1 for w in words if _PROSE_WORD.match(w)) >= 0.6 * len(words)


def _pattern_shares(values: list[str]) -> dict[str, float]:
    n = len(values)
    if not n:
        return {}
    street = sum(1 for v in values if _STREET.match(v))
    text_like = sum(1 for v in values if _prose(v, v.split()))
    out = {"street_pattern": street / n, "free_text_shape": text_like / n,
           "hex_digest": sum(1 for v in values if _HEX_DIGEST.match(v)) / n,
           "digits_only": sum(1 for v in values if _DIGITS.match(v)) / n}
    return {k: v for k, v in out.items() if v}


def _dob_share(values: list[str]) -> float:
    """Share of dates that are plausible birth dates: 1900 to 14 years ago, not all one year."""
    import datetime as dt

    this_year = dt.date.today().year
    years: list[int] = []
    for v in values:
        m = re.match(r"^(\d{4})-\d{2}-\d{2}", v) or re.match(r"^\d{1,2}[./]\d{1,2}[./](\d{4})$", v)
        if m:
            years.append(int(m.group(1)))
    if not years:
        return 0.0
    ok = sum(1 for y in years if 1900 <= y <= this_year - 14)
    if len(set(years)) < min(5, len(years)):
        return 0.0
    return ok / len(values)


# -- classification ------------------------------------------------------------

# value evidence name -> entity it supports
_EVIDENCE_ENTITY = {
    "first_name_list": "FIRST_NAME", "last_name_list": "LAST_NAME", "full_name_lists": "PERSON_NAME",
    "city_list": "CITY", "country_list": "COUNTRY", "street_pattern": "STREET_ADDRESS",
    "free_text_shape": "FREE_TEXT", "birth_dates": "DATE_OF_BIRTH",
}


def _compatible(entity: str, category: str) -> bool:
    if category in ("boolean", "float", "decimal", "time", "other"):
        return False
    if category in ("nested", "json"):
        return entity == "FREE_TEXT"  # what such values hold is found inside them, like free text
    if entity == "DATE_OF_BIRTH":
        return category in ("date", "timestamp", "string")
    if category in ("date", "timestamp"):
        return False
    if entity in TEXT_ONLY:
        return category in ("string", "uuid", "binary")
    if category == "integer":
        return entity in INT_OK
    return True


def _compatible_text(entity: str) -> bool:
    return entity not in ("DATE_OF_BIRTH", "FREE_TEXT")


def classify(table: str, column: str, category: str, values: list[str],
             det: Detector | None) -> tuple[str, float, dict]:
    """(entity, confidence, evidence) for one column."""
    hits, negated = name_rules.match(table, column)
    evidence: dict = {"type": category, "sampled_values": len(values)}
    if hits:
        evidence["name_rules"] = [h.rule for h in hits]
    if negated:
        evidence["name_negated_by"] = negated
    if category in ("boolean", "float", "decimal", "time"):
        evidence["note"] = f"{category} values hold no direct identifier"
        return "NONE", 0.95, evidence

    if not values:
        evidence["note"] = "no values in the sample"
    shares: dict[str, float] = {}  # entity -> best share of values supporting it
    recognizers: dict[str, float] = {}
    # nested values (lists, structs, JSON, SQL arrays) are searched like free text: entities anywhere inside
    structured = category in ("nested", "json")
    free_text = structured
    textual = category in ("string", "uuid", "binary")
    if values and (textual or structured or category in ("integer", "date", "timestamp")):
        if textual:
            pats = _pattern_shares(values)
            free_text = pats.get("free_text_shape", 0) >= 0.5
            recognizers.update(pats)
            recognizers.update(_lexicon_shares(values))
        if category in ("date", "timestamp", "string"):
            dob = _dob_share(values)
            if dob:
                recognizers["birth_dates"] = dob
        run_presidio = det is not None and (textual or structured or category == "integer") and \
            not (category == "integer" and max(len(v.lstrip("+-")) for v in values) < 7)
        if run_presidio:
            ctx = name_rules.tokens(column)
            by_rec, by_ent, analysed = _presidio_shares(det, values, ctx, free_text)
            evidence["presidio_values"] = analysed
            recognizers.update(by_rec)
            if free_text:
                evidence["entities_in_text"] = {e: round(s, 3) for e, s in sorted(by_ent.items())}
            else:
                for e, s in by_ent.items():
                    shares[e] = max(shares.get(e, 0.0), s)
        for ev, entity in _EVIDENCE_ENTITY.items():
            if ev in recognizers:
                shares[entity] = max(shares.get(entity, 0.0), recognizers[ev])
    if recognizers:
        evidence["recognizers"] = {k: round(v, 3) for k, v in sorted(recognizers.items(), key=lambda kv: -kv[1])}

    candidates: dict[str, float] = {}
    for h in hits:
        if not _compatible(h.entity, category):
            continue
        s = shares.get(h.entity, 0.0)
        conf = h.strength + (1 - h.strength) * s
        if h.entity in VALUE_CHECKED and len(values) >= 20 and s < 0.2:
            conf = h.strength * 0.6  # the name says so, the values do not
            evidence["values_disagree"] = h.entity
        if h.entity == "FREE_TEXT" and h.strength < name_rules.STRONG:
            continue  # "description": short labels, or product copy; what the text holds decides (below)
        candidates[h.entity] = conf
    for entity, s in shares.items():
        if entity in candidates or entity not in VALUE_DECIDES or not _compatible(entity, category):
            continue
        if entity == "FREE_TEXT":
            continue  # free text is decided below, from what it holds
        if entity == "PASSWORD_HASH":
            # a bare hex digest is as likely a file checksum, a git sha or a session token
            s -= recognizers.get("hex_digest", 0.0)
        if entity == "NATIONAL_ID" and (category == "integer" or recognizers.get("digits_only", 0.0) >= 0.9):
            continue  # 9 or 11 bare digits: counts, sizes, company numbers pass the formats just as well
        if entity == "CITY" and name_rules.region_word(column):
            continue  # provinces and regions share their names with cities
        if s >= MIN_SHARE:
            candidates[entity] = 0.5 + 0.45 * s
    strong_name = any(h.entity in candidates and h.strength >= name_rules.STRONG for h in hits)
    if structured and not candidates and any(_compatible_text(h.entity) for h in hits) and values:
        candidates["FREE_TEXT"] = max(h.strength for h in hits)  # a list of emails named "emails"
        evidence["note"] = f"{category} values named like {hits[0].entity}"
    if free_text and "FREE_TEXT" not in candidates and not strong_name:
        # (a strongly named street address or name column of long values stays what its name says)
        inside = evidence.get("entities_in_text", {})
        # a pattern entity in 2% of the texts is enough; NER's names and places need more (it errs on prose)
        held = max((v - (FREE_TEXT_NER_SHARE - FREE_TEXT_SHARE if e in ("PERSON_NAME", "LOCATION") else 0)
                    for e, v in inside.items()), default=0.0)
        if held >= FREE_TEXT_SHARE:
            candidates["FREE_TEXT"] = min(0.95, 0.6 + held)
            if structured:
                evidence["note"] = f"{category} values holding personal data"
        elif values:
            evidence["note"] = ("nested values" if structured else "free text") + \
                " without personal entities in the sample"
    # Names: a first-name list match inside a "name" column is a full name, not only a first name.
    if "PERSON_NAME" in candidates and "FIRST_NAME" in candidates and not any(h.entity == "FIRST_NAME" for h in hits):
        del candidates["FIRST_NAME"]
    if "LAST_NAME" in candidates and "FIRST_NAME" in candidates and not hits:
        # a value-only name column: whichever list matches more
        weaker = "LAST_NAME" if shares.get("FIRST_NAME", 0) >= shares.get("LAST_NAME", 0) else "FIRST_NAME"
        del candidates[weaker]
    if not candidates:
        if not values:
            return "NONE", 0.5, evidence  # nothing to judge by
        best = max((s for e, s in shares.items() if _compatible(e, category)), default=0.0)
        return "NONE", round(max(0.5, 1 - best), 3), evidence
    entity, conf = max(candidates.items(), key=lambda kv: kv[1])
    if conf < 0.5:
        return "NONE", round(1 - conf, 3), evidence
    return entity, round(min(conf, 0.99), 3), evidence


# -- keys ----------------------------------------------------------------------

def _singular(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ses", "s"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + repl
    return word


def _unique(col: pa.ChunkedArray | pa.Array) -> bool:
    col = col.drop_null() if isinstance(col, pa.Array) else col.combine_chunks().drop_null()
    return len(col) > 0 and len(pc.unique(col)) == len(col)


def infer_keys(dataset: Dataset, samples: dict[str, tuple[pa.Table, int | None, bool]]) -> dict[str, TableScan]:
    """Primary and foreign keys: from the DDL for dumps, else from names (``id``, ``<table>_id``)
    confirmed by uniqueness in the sample."""
    scans: dict[str, TableScan] = {}
    if dataset.dump is not None:
        from ..formats.dump import ddl_keys

        parents = {td.parent for td in dataset.dump.tables.values() if td.parent}
        for t in dataset.tables:
            pk, _unique_keys, fks = ddl_keys(dataset.dump, t.name)
            sample, rows, est = samples[t.name]
            scans[t.name] = TableScan(t.name, "dump", rows, est, sample.num_rows, list(pk), [
                {"columns": list(fk.columns), "references": {"table": fk.ref_table, "columns": list(fk.ref_columns)},
                 "source": "ddl"} for fk in fks], partitioned=t.name in parents)
        return scans
    pk_of: dict[str, str] = {}
    for t in dataset.tables:
        sample, rows, est = samples[t.name]
        ts = TableScan(t.name, t.format, rows, est, sample.num_rows)
        singular = _singular(t.name.lower())
        last = _singular(name_rules.tokens(t.name)[-1]) if name_rules.tokens(t.name) else singular
        for c in t.schema.names:
            low = c.lower()
            if low in ("id", f"{singular}_id", f"{singular}id", f"{t.name.lower()}_id", f"{last}_id") and \
                    sample.num_rows and _unique(sample.column(c)):
                ts.primary_key = [c]
                pk_of[t.name] = c
                break
        scans[t.name] = ts
    for t in dataset.tables:
        ts = scans[t.name]
        for c in t.schema.names:
            if ts.primary_key == [c]:
                continue
            low = c.lower()
            if low == "id" or (not low.endswith("_id") and not low.endswith("id")):
                continue  # a bare "id" is a table's own key, never a reference
            base = low[:-3] if low.endswith("_id") else low[:-2]
            for other, pk in pk_of.items():
                if other == t.name:
                    continue
                o = other.lower()
                if pk.lower() == low or (pk.lower() == "id" and base and base in (o, _singular(o))):
                    ts.foreign_keys.append({"columns": [c], "references": {"table": other, "columns": [pk]},
                                            "source": "names"})
                    break
    return scans


# -- the scan ------------------------------------------------------------------

def _int_bits(f: pa.Field, dialect: str | None) -> int:
    """Bits a keyed integer permutation of this column may use: 31 fits INTEGER, 63 BIGINT."""
    sql = ((f.metadata or {}).get(b"veil.sql_type") or b"").decode()
    if sql:
        return sql_int_bits(sql, dialect)
    if f.type in (pa.int64(), pa.uint64(), pa.uint32()):
        return 63
    if pa.types.is_integer(f.type):
        return 31
    return 63  # text (CSV): no declared width, and the sample may not hold the largest value


def scan_dataset(dataset: Dataset, *, sample: int = DEFAULT_SAMPLE, sample_rows: int = DEFAULT_SAMPLE_ROWS,
                 nlp_model: str | None = None, use_ner: bool = True, use_presidio: bool = True,
                 progress: Callable[[str], None] | None = None) -> ScanResult:
    """Classify every column of every table of ``dataset``."""
    det = detector(nlp_model, use_ner) if use_presidio else None
    samples = sample_dataset(dataset, sample_rows)
    tables = infer_keys(dataset, samples)
    dialect = dataset.dump.dialect if dataset.dump is not None else None
    findings: list[Finding] = []
    for t in dataset.tables:
        data, _rows, _est = samples[t.name]
        ts = tables[t.name]
        fk_cols = {c for fk in ts.foreign_keys for c in fk["columns"]}
        for f in t.schema:
            if progress is not None:
                progress(f"{t.name}.{f.name}")
            col = data.column(f.name) if f.name in data.column_names else pa.nulls(0, f.type)
            values = _as_text(col, sample)
            category = _declared_type(f, dialect) or type_category(f.type)
            if category == "string" and (t.format in ("csv", "dump")):
                # CSV is text, and so is a dump column of unknown type: look at the values
                if t.format == "csv" or not (f.metadata or {}).get(b"veil.sql_type"):
                    category = text_type(values)
            entity, conf, evidence = classify(t.name, f.name, category, values, det)
            if category == "integer":
                evidence["int_bits"] = _int_bits(f, dialect)
                # pseudonymize format: int takes non-negative integers without leading zeros
                evidence["plain_ints"] = all(_PLAIN_INT.match(v) for v in values)
            # a foreign key inherits its target's rule, even when it is also part of this table's key
            key = "foreign" if f.name in fk_cols else "primary" if f.name in ts.primary_key else None
            if key and entity == "NONE":
                evidence["note"] = f"{key} key column"
            findings.append(Finding(t.name, f.name, category, entity, entity_class(entity) if entity != "NONE"
                                    else NONE_CLASS, conf, evidence, key))
    return ScanResult(str(dataset.root), list(tables.values()), findings, bool(det and det.ner),
                      det.model if det else None, sample, sample_rows)
