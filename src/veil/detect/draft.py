"""A draft profile from scan findings: every column covered, the evidence as a YAML comment.

The draft is meant to be reviewed, then committed; ``veil run`` accepts it
as written. What it suggests:

- key columns (primary keys; foreign keys inherit their target's rule):
  ``pseudonymize`` (``format: int`` for integers), which is injective, so
  joins survive; a key that is itself an email stays email-shaped;
- direct identifiers: deterministic ``pseudonymize`` or ``fake`` in a domain
  named after the entity, so the same person gets the same pseudonym in
  every table;
- quasi-identifiers (a table holding some gets a ``privacy:`` section listing
  them, ``k: 5``): ``keep``, since ``veil run`` then generalizes them itself
  (dates, numbers, postcodes, rare categories) until every combination is
  shared by k rows, and ``veil verify`` checks it; a column derived from a
  birth date (an age, a birth year) is a quasi-identifier with it, so both
  are generalized together. Outside a privacy section (a key; a table of
  fewer than k rows): ``generalize`` (birth dates to the year, postcodes to
  a prefix, ages and birth years to 5-year bands, salaries to a bucket one
  power of ten below their median), ``fake`` for cities, ``keep`` for
  countries and categories; special categories (GDPR Art. 9: health,
  religion ...) are kept and listed as ``sensitive``;
- card security codes, expiry dates and security answers: ``mask`` or
  ``redact`` (no use in a copy); photos, signatures, scans, biometrics:
  ``nullify``;
- free text: ``scrub``, its entities mapped to the structured columns that
  hold the same kind of value, so an email in a note becomes the same
  pseudonym as in the email column;
- everything else: ``keep``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from .entities import PRIVACY_QI
from .findings import Finding, ScanResult
from .names import tokens

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
MIN_INT_BITS = 8  # pseudonymize format: int takes bits 8..64
MIN_TOKEN_LENGTH = 16  # pseudonymize's shortest token (base32 characters)
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}

AGE_BUCKET = 5  # ages and birth years in 5-year bands, outside a privacy section
PRIVACY_K = 5  # the k a drafted privacy section asks for
# A table holding one of these identifies people: only such a table gets a privacy section (a store's
# ZIP code or a list of countries singles out no one); the scan confirms weak names with it too.
PERSON_ENTITIES = {"PERSON_NAME", "FIRST_NAME", "LAST_NAME", "EMAIL", "PHONE", "NATIONAL_ID", "DATE_OF_BIRTH",
                   "STREET_ADDRESS", "USERNAME", "IBAN", "CREDIT_CARD", "PASSWORD_HASH"}
# ... and for a privacy section, one that only a person has (a store has a street and a phone too)
PEOPLE = PERSON_ENTITIES - {"STREET_ADDRESS", "PHONE"}
# Fewer rows than this: no privacy section (k = 5 over a handful of rows generalizes everything away);
# the entity's own rules apply.
PRIVACY_MIN_ROWS = 20 * PRIVACY_K
MAX_SUPPRESSION = 0.05  # the share of rows it lets veil run suppress (else it generalizes further)
# Entity -> (rule for text columns, rule for integer columns or None)
RULES: dict[str, tuple[dict, dict | None]] = {
    "EMAIL": ({"op": "pseudonymize", "format": "email", "domain": "email"}, None),
    "PHONE": ({"op": "fake", "kind": "phone_number", "domain": "phone"},
              {"op": "pseudonymize", "format": "digits", "domain": "phone_digits"}),
    "FIRST_NAME": ({"op": "fake", "kind": "first_name", "domain": "first_name"}, None),
    "LAST_NAME": ({"op": "fake", "kind": "last_name", "domain": "last_name"}, None),
    "PERSON_NAME": ({"op": "fake", "kind": "name", "domain": "person_name"}, None),
    "STREET_ADDRESS": ({"op": "fake", "kind": "street_address", "domain": "street_address"}, None),
    "CITY": ({"op": "fake", "kind": "city", "domain": "city"}, None),
    "POSTCODE": ({"op": "generalize", "prefix": 2}, {"op": "generalize", "bucket": 1000}),
    "COUNTRY": ({"op": "keep"}, None),
    "DATE_OF_BIRTH": ({"op": "generalize", "to": "year"}, None),
    "NATIONAL_ID": ({"op": "pseudonymize", "domain": "national_id"},
                    {"op": "pseudonymize", "format": "digits", "domain": "national_id_digits"}),
    "IBAN": ({"op": "fake", "kind": "iban", "domain": "iban"}, None),
    "CREDIT_CARD": ({"op": "fake", "kind": "credit_card", "domain": "credit_card"},
                    {"op": "pseudonymize", "format": "digits", "domain": "credit_card_digits"}),
    "IP_ADDRESS": ({"op": "pseudonymize", "domain": "ip_address"}, None),
    "URL": ({"op": "pseudonymize", "domain": "url"}, None),
    "USERNAME": ({"op": "fake", "kind": "username", "domain": "username"}, None),
    "PASSWORD_HASH": ({"op": "redact"}, None),
    "CARD_CVV": ({"op": "mask"}, {"op": "nullify"}),
    "CARD_EXPIRY": ({"op": "mask"}, {"op": "nullify"}),
    "SECURITY_ANSWER": ({"op": "redact"}, {"op": "nullify"}),
    "BINARY_PERSONAL": ({"op": "nullify"}, {"op": "nullify"}),
    "BIOMETRIC": ({"op": "nullify"}, {"op": "nullify"}),
    "AGE": ({"op": "generalize", "bucket": AGE_BUCKET}, {"op": "generalize", "bucket": AGE_BUCKET}),
    "BIRTH_YEAR": ({"op": "generalize", "bucket": AGE_BUCKET}, {"op": "generalize", "bucket": AGE_BUCKET}),
    "SALARY": ({"op": "generalize", "bucket": 1000}, {"op": "generalize", "bucket": 1000}),
    "GENDER": ({"op": "keep"}, {"op": "keep"}),
    "MARITAL_STATUS": ({"op": "keep"}, {"op": "keep"}),
    "REGION": ({"op": "keep"}, None),
    "OCCUPATION": ({"op": "keep"}, None),
    "EMPLOYER": ({"op": "keep"}, None),
    "SPECIAL_CATEGORY": ({"op": "keep"}, {"op": "keep"}),
    "NONE": ({"op": "keep"}, {"op": "keep"}),
}
# Entities a scrub maps to a structured column of the same kind (scrub's entity names)
SCRUB_LINKS = ("EMAIL", "PHONE", "PERSON_NAME", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "URL", "NATIONAL_ID")
NER_ONLY = {"PERSON_NAME"}
# The longest value a drafted fake writes (veil.ops.fake.max_length; detection does not import the
# operators, a test keeps the two equal). A text column declared narrower (a phone in varchar(12))
# gets the entity's rule that keeps each value's length instead.
FAKE_LONGEST = {"phone_number": 15, "username": 25}
REDACTED_LENGTH = 10  # "[REDACTED]": a narrower column gets mask (each character starred) instead
# Entities derived from a birth date: quasi-identifiers generalized together with it
DERIVED_FROM_BIRTH = ("AGE", "BIRTH_YEAR")
NARROW_RULES = {"PHONE": {"op": "pseudonymize", "format": "digits", "domain": "phone_digits"},
                "USERNAME": {"op": "pseudonymize", "domain": "username"}}  # a 16-character token
SCRUB_DEFAULTS = {"PERSON_NAME": {"op": "fake", "kind": "name", "domain": "person_name"}}
# fake's row options the draft adds where the table allows (docs/operators.md, fake): the locale from a
# country column (else read off each original: locale: auto), the gender from a gender column, the
# original's shape; with the longest value a fake then writes (a narrower column keeps the plain rule)
ROW_LONGEST = {"first_name": 19, "last_name": 42, "name": 60, "city": 32, "street_address": 57,
               "phone_number": 24, "credit_card": 23}
GENDERED_KINDS = ("first_name", "name")


def realistic(findings: list[Finding], rules: dict[str, dict]) -> None:
    """Add fake's row options to a table's drafted fake rules, in place."""
    def column_of(entity: str) -> str | None:
        return next((f.column for f in findings if f.entity == entity and f.type == "string" and not f.key), None)

    country, gender = column_of("COUNTRY"), column_of("GENDER")
    first, last = column_of("FIRST_NAME"), column_of("LAST_NAME")
    for f in findings:
        rule = rules.get(f.column)
        if not rule or rule.get("op") != "fake":
            continue
        kind, width = rule.get("kind"), f.evidence.get("text_length")
        if kind == "username" and first and last and rules.get(first, {}).get("op") == "fake" and \
                rules.get(last, {}).get("op") == "fake":
            rule["from"] = [first, last]
        if kind not in ROW_LONGEST or (width is not None and width < ROW_LONGEST[kind]):
            continue
        if kind != "credit_card":
            if country:
                rule["locale_from"] = country
            if kind != "phone_number":
                rule["locale"] = "auto"
        if gender and kind in GENDERED_KINDS:
            rule["gender_from"] = gender
        rule["shape"] = "keep"


def _y(value) -> str:
    """A YAML scalar: plain when safe, else a JSON (= YAML double-quoted) string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    # ASCII escapes: U+2028, U+0085 and other line breaks would end a YAML line
    return json.dumps(text, ensure_ascii=True)


def _one_line(text: str) -> str:
    """Text for a YAML comment: no line break of any kind, no control character."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _flow(rule: dict) -> str:
    if list(rule) == ["op"]:
        return _y(rule["op"])
    parts = []
    for k, v in rule.items():
        if isinstance(v, dict):
            parts.append(f"{_y(k)}: {_flow(v) if 'op' in v else _mapping(v)}")
        elif isinstance(v, list):
            parts.append(f"{_y(k)}: [{', '.join(_y(x) for x in v)}]")
        else:
            parts.append(f"{_y(k)}: {_y(v)}")
    return "{" + ", ".join(parts) + "}"


def _mapping(d: dict) -> str:
    return "{" + ", ".join(f"{_y(k)}: {_flow(v) if isinstance(v, dict) else _y(v)}" for k, v in d.items()) + "}"


def key_range(seen_min: int, seen_max: int, rows: int | None, sampled: int, bits: int) -> list[int] | None:
    """The ``range`` drafted for an integer surrogate key, from its sample: ``[0, hi]`` when a 0 was
    seen, else ``[1, hi]``. ``need`` is twice the largest id (extrapolated by the row count when only
    part of the table was sampled) and at least twice the row count; ``hi`` the smallest power of ten
    from ``need`` on, or, when that passes the type's largest value ``2**bits - 1`` (tinyint,
    smallint), ``need`` rounded up to one significant digit, at least half the type and at most its
    largest value, so room stays above for the application's next ids. When that reaches the type's
    largest value itself (200 ids in a TINYINT UNSIGNED), ``hi`` keeps half of the ids the source still
    had free above its largest (rounded to two significant digits): else the permuted ids reach the
    top, the sequence / AUTO_INCREMENT continues above it, and the application's next insert fails.
    None when no range fits (negative ids). Only rounded bounds reach the draft, never an id seen."""
    if seen_min < 0:
        return None
    cap = (1 << bits) - 1
    est = seen_max
    if rows and sampled and rows > sampled:
        est = -(-seen_max * rows // sampled)  # ids grow with the rows: the unsampled rest goes further
    need = 2 * max(est, rows or 0, 1)
    hi = 100
    while hi < need:
        hi *= 10
    if hi > cap:
        step = 10 ** (len(str(need)) - 1)
        hi = min(cap, max(-(-need // step) * step, cap // 2))
        top = max(est, rows or 0)
        if hi == cap and top < cap:
            half = top + (cap - top) // 2
            unit = 10 ** max(len(str(half)) - 2, 0)
            hi = min(cap, max(half // unit * unit, -(-top // unit) * unit))
    lo = 0 if seen_min == 0 else 1
    return [lo, hi] if seen_max <= hi and lo < hi else None


def _key_rule(f: Finding, table: str, text_storage: bool) -> dict:
    """An injective rule for a key column, so joins survive."""
    if f.entity == "EMAIL":
        return {"op": "pseudonymize", "format": "email", "domain": "email"}
    if f.type == "uuid":
        return {"op": "keep"}  # no UUID-shaped pseudonym yet: a token would not load into a uuid column
    if f.type == "integer" and f.evidence.get("plain_ints", True):
        bits = f.evidence.get("int_bits", 31)
        rule = {"op": "pseudonymize", "format": "int", "domain": f"{table}.{f.column}"}
        if f.evidence.get("int_range"):
            # a permutation of a range a little above the ids seen: staging ids stay small, and the next
            # sequence / AUTO_INCREMENT value stays far from the top of the type
            rule["range"] = list(f.evidence["int_range"])
            return rule
        if bits < MIN_INT_BITS:
            return {"op": "keep"}  # a TINYINT key: too narrow for a keyed permutation (codes, not people)
        if bits != 31:
            rule["bits"] = bits  # 63 for BIGINT; 15 for SMALLINT, whose column 31-bit pseudonyms would not fit
        return rule
    if f.type == "integer" and not text_storage:
        return {"op": "keep"}  # negative integer keys: no injective integer rule keeps the type
    if (f.entity == "NONE" or RULES.get(f.entity, RULES["NONE"])[0] == {"op": "keep"}) and \
            (f.evidence.get("text_length") or MIN_TOKEN_LENGTH) < MIN_TOKEN_LENGTH:
        # a code (char(2) country, named code or country_code): no token fits the column, and a
        # country is kept anyway
        return {"op": "keep"}
    return {"op": "pseudonymize", "domain": f"{table}.{f.column}"}


# injective rules: run refuses any other on a key column (primary, or in a UNIQUE constraint)
_INJECTIVE_FORMATS = ("token", "email", "int")


def _injective(rule: dict) -> bool:
    return rule.get("op") == "keep" or rule.get("op") == "pseudonymize" and \
        rule.get("format", "token") in _INJECTIVE_FORMATS


def suggest(f: Finding, table: str, scrub_targets: dict[str, str], text_storage: bool = False,
            partitioned: bool = False, ner: bool = True) -> dict:
    """The rule suggested for one finding (``text_storage``: the format stores every value as text, like CSV).
    A column of a UNIQUE constraint gets an injective rule: the key rule when the usual one is not
    (a unique username or phone is pseudonymized, not faked: fakes collide, and run refuses them)."""
    rule = _suggest(f, table, scrub_targets, text_storage, partitioned, ner)
    if f.key == "unique" and not _injective(rule):
        return _key_rule(f, table, text_storage)
    return rule


def _suggest(f: Finding, table: str, scrub_targets: dict[str, str], text_storage: bool,
             partitioned: bool, ner: bool) -> dict:
    if f.key == "primary":
        if partitioned and f.entity == "NONE":
            return {"op": "keep"}  # a pseudonym would not stay inside its partition's range
        return _key_rule(f, table, text_storage)
    if f.entity != "NONE" and f.type in ("nested", "binary"):
        if f.entity == "SPECIAL_CATEGORY":
            return {"op": "keep"}  # an attribute to protect (privacy sensitive), not to erase
        return {"op": "nullify"}  # no operator rewrites inside lists, structs or bytes
    if f.entity == "FREE_TEXT":
        entities = {}
        for e in SCRUB_LINKS:
            if e in NER_ONLY and not ner:
                continue  # found by NER only: a profile naming it needs a spaCy pipeline installed
            if e in scrub_targets:
                entities[e] = scrub_targets[e]
            elif e in SCRUB_DEFAULTS:
                entities[e] = SCRUB_DEFAULTS[e]
        return _free_text_rule(f, entities)
    text_rule, int_rule = RULES.get(f.entity, RULES["NONE"])
    if f.type == "integer" and not text_storage:
        # integer storage: the integer rule, in a domain of its own (its pseudonyms differ from the text rule's)
        return dict(int_rule) if int_rule else _key_rule(f, table, text_storage)
    if f.type in ("date", "timestamp") and f.entity == "CARD_EXPIRY":
        return {"op": "nullify"}
    if f.type in ("date", "timestamp") and f.entity != "DATE_OF_BIRTH":
        return {"op": "keep"}
    if f.entity == "SALARY" and f.evidence.get("bucket"):
        return {"op": "generalize", "bucket": f.evidence["bucket"]}
    if f.type in ("float", "decimal") and not text_storage and text_rule.get("op") in ("fake", "pseudonymize", "mask"):
        return {"op": "nullify"}  # a card number stored as a float: no fake fits the type
    width = f.evidence.get("text_length")
    if width is not None and width < REDACTED_LENGTH and text_rule.get("op") == "redact" and \
            f.entity != "PASSWORD_HASH":
        return {"op": "mask"}
    if width is not None and f.entity in NARROW_RULES and text_rule.get("op") == "fake" and \
            width < FAKE_LONGEST.get(text_rule.get("kind"), 0):
        return dict(NARROW_RULES[f.entity])
    if f.entity == "DATE_OF_BIRTH" and f.type not in ("date", "timestamp"):
        # not ISO dates (03.04.1950, a timestamp with a zone): generalize cannot read them
        return {"op": "fake", "kind": "date_of_birth", "domain": "date_of_birth"}
    return dict(text_rule)


# free text: scrub (readable; the entities found are replaced), strict scrub (also every capitalised word,
# digit run and @/URL token that is not an ordinary word) where most texts name someone, redact where the
# texts are short and mostly identifiers. The reason goes into the column's comment (evidence "free_text_rule").
STRICT_SHARE = 0.5  # share of texts naming a person above which recall matters more (names are what is missed)
SHORT_TEXT = 40  # a text column this narrow holds an identifier more than prose


def _free_text_rule(f: Finding, entities: dict) -> dict:
    inside = f.evidence.get("entities_in_text") or {}
    people = inside.get("PERSON_NAME", 0.0)
    width = f.evidence.get("text_length")
    if width is not None and width < SHORT_TEXT and max(inside.values(), default=0.0) >= 0.3:
        f.evidence["free_text_rule"] = f"redact: texts of at most {width} characters, mostly identifiers"
        return {"op": "redact"}
    rule = {"op": "scrub", "entities": entities} if entities else {"op": "scrub"}
    if people >= STRICT_SHARE and f.type not in ("json", "nested"):  # strict would break JSON's numbers
        rule["mode"] = "strict"
        f.evidence["free_text_rule"] = (f"strict scrub: {round(100 * people)}% of texts name someone, recall before "
                                        "readability (allow: lists words to keep)")
    else:
        f.evidence["free_text_rule"] = "scrub: entities in few texts, the rest stays readable (mode: strict for recall)"
    return rule


def _comment(f: Finding) -> str:
    ev = f.evidence
    parts = [f"{f.entity} ({f.cls}, {f.confidence:.2f})" if f.entity != "NONE" else f"NONE ({f.confidence:.2f})",
             ev.get("type", f.type)]
    if f.key:
        parts.append(f"{f.key} key")
    if ev.get("name_rules"):
        parts.append("name rule " + "; ".join(ev["name_rules"][:2]))
    recs = ev.get("recognizers") or {}
    top = [f"{k} {round(100 * v)}%" for k, v in list(recs.items())[:3] if v >= 0.05]
    if top:
        parts.append("values: " + ", ".join(top) + f" of {ev.get('sampled_values', 0)} sampled")
    inside = ev.get("entities_in_text") or {}
    held = [f"{k} {round(100 * v)}%" for k, v in inside.items() if v >= 0.01]
    if held:
        parts.append("inside text: " + ", ".join(held))
    if ev.get("note"):
        parts.append(ev["note"])
    if ev.get("free_text_rule"):
        parts.append(ev["free_text_rule"])
    if ev.get("values_disagree"):
        parts.append("values do not look like " + ev["values_disagree"] + ": check")
    return _one_line(" | ".join(parts))


def _fk_comment(fk: dict) -> str:
    """The evidence of an inferred foreign key: its name, and the containment of its sampled values."""
    name = ", ".join(fk["columns"])
    if fk.get("within_range"):
        return _one_line(f"inferred: {100 * fk['contained']:.0f}% of {fk['sampled']} sampled values inside the "
                         f"key's estimated range (its sample is partial), name: {name}")
    if "contained" in fk:
        return _one_line(f"inferred: {100 * fk['contained']:.0f}% of {fk['sampled']} sampled values found, "
                         f"name: {name}")
    return _one_line(f"inferred from the name: {name}")


def _row_order_lines() -> list[str]:
    """Drafted on for every output (a dump's rows are shuffled within each data block): a copy in the
    input's row order links by position."""
    return ["# Rows are written in a keyed pseudo-random order per table: in the input's order, a row's",
            "# position would link the copy to the original (and to copies made with other keys).",
            "row_order: shuffle"]


def draft_profile(result: ScanResult) -> str:
    """The draft profile's YAML text."""
    by_table: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_table.setdefault(f.table, []).append(f)
    # the structured column a scrub maps each entity to: the most confident, then a parent table's
    # (one other tables reference, like customers), then the plainest name ("email" before
    # "customer_email"), then the biggest table's
    rows = {t.name: t.rows or 0 for t in result.tables}
    parents = {fk["references"]["table"] for t in result.tables for fk in t.foreign_keys}
    scrub_targets: dict[str, str] = {}
    best: dict[str, tuple[float, bool, int, int]] = {}
    for f in result.findings:
        # a column name with a dot cannot be told apart in a table.column reference
        if f.entity in SCRUB_LINKS and f.type == "string" and not f.key and "." not in f.column:
            rank = (f.confidence, f.table in parents, -len(tokens(f.column)), rows.get(f.table, 0))
            if f.entity not in best or rank > best[f.entity]:
                best[f.entity] = rank
                scrub_targets[f.entity] = f"{f.table}.{f.column}"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Draft profile written by veil scan on {now}.",
        f"# Input: {_one_line(result.input)}",
        "# Review every rule: the comment above each gives entity (class, confidence), type, and the evidence",
        "# (the name rule that matched; the share of sampled values each recognizer matched).",
        f"# NER (names and places inside free text): {'on, ' + str(result.nlp_model) if result.ner else 'off'}.",
        "version: 1",
        *_row_order_lines(),
        "defaults:",
        "  unknown_columns: fail",
        "  reversible: false",
        "tables:",
    ]
    for ts in result.tables:
        findings = by_table.get(ts.name, [])
        rows = "?" if ts.rows is None else (f"~{ts.rows:,}" if ts.rows_estimated else f"{ts.rows:,}")
        lines.append(f"  {_y(ts.name)}:  # {rows} rows" + (", partitioned: its key is kept" if ts.partitioned else ""))
        if ts.primary_key:
            lines.append(f"    primary_key: [{', '.join(_y(c) for c in ts.primary_key)}]")
        inferred = [fk for fk in ts.foreign_keys if fk.get("source") != "ddl"]
        if inferred:
            lines.append("    foreign_keys:  # inferred, not declared: check")
            for fk in inferred:
                ref = fk["references"]
                lines.append(f"      - columns: [{', '.join(_y(c) for c in fk['columns'])}]  # {_fk_comment(fk)}")
                lines.append(f"        references: {{table: {_y(ref['table'])}, "
                             f"columns: [{', '.join(_y(c) for c in ref['columns'])}]}}")
        rules = {f.column: suggest(f, ts.name, scrub_targets, text_storage=ts.format == "csv",
                                   partitioned=ts.partitioned, ner=result.ner)
                 for f in findings if f.key != "foreign"}
        realistic(findings, rules)
        qis, sensitive = privacy_columns(findings, rules)
        if not any(f.entity in PEOPLE for f in findings):
            qis, sensitive = [], []  # a lookup table (stores, countries): no person to single out
        enforce = bool(qis) and (ts.rows is None or ts.rows >= PRIVACY_MIN_ROWS)
        if enforce:
            for q in qis:
                rules[q] = {"op": "keep"}  # veil run generalizes it (privacy k); any other rule is refused
        lines.extend(_privacy_lines(findings, qis if enforce else [], sensitive))
        lines.append("    columns:")
        for f in findings:
            note = " | quasi-identifier: generalized by veil run to reach privacy k" if enforce and f.column in qis \
                else " | sensitive attribute (GDPR Art. 9)" if f.column in sensitive else ""
            lines.append(f"      # {_comment(f)}{_one_line(note)}")
            if f.key == "foreign":
                lines.append(f"      # {_y(f.column)}: inherits the rule of the column it references")
                continue
            lines.append(f"      {_y(f.column)}: {_flow(rules[f.column])}")
    return "\n".join(lines) + "\n"


def privacy_columns(findings: list[Finding], rules: dict[str, dict]) -> tuple[list[str], list[str]]:
    """(quasi-identifiers, sensitive attributes) a table's privacy section lists. A quasi-identifier is
    a column of a PRIVACY_QI entity that is no key and whose usual rule keeps what an attacker could
    know (keep, generalize; a city's fake is a one-to-one renaming that keeps every group). A birth
    date that is faked (not an ISO date) is no quasi-identifier any more: the fake is unrelated to the
    real date. Sensitive: special categories (GDPR Art. 9) that are kept."""
    qis, sensitive = [], []
    for f in findings:
        rule = rules.get(f.column)
        if f.key or rule is None or f.type in ("binary", "nested", "json"):
            continue
        if f.entity in PRIVACY_QI and (rule["op"] in ("keep", "generalize") or f.entity == "CITY"):
            qis.append(f.column)
        elif f.entity == "SPECIAL_CATEGORY" and rule["op"] == "keep":
            sensitive.append(f.column)
    return qis, sensitive


def _privacy_lines(findings: list[Finding], qis: list[str], sensitive: list[str]) -> list[str]:
    """The drafted ``privacy:`` section of one table, with the comments that explain it."""
    if not qis and not sensitive:
        return []
    out = []
    if qis:
        out += ["    # privacy: drafted from the quasi-identifiers found (what someone may know about a person:",
                "    # age, gender, ZIP, city, occupation ...). Enforcement comes from this section: veil run",
                "    # generalizes them (dates to month/year/decade, numbers to buckets, ZIP to a prefix, rare",
                f"    # categories to 'other') and suppresses rare rows, until every combination is shared by k = "
                f"{PRIVACY_K}",
                "    # rows; their column rules are therefore keep. veil verify checks k (and l) on the copy."]
        by_col = {f.column: f for f in findings}
        births = [c for c in qis if by_col[c].entity == "DATE_OF_BIRTH"]
        derived = [c for c in qis if by_col[c].entity in DERIVED_FROM_BIRTH]
        faked = [f.column for f in findings if f.entity == "DATE_OF_BIRTH" and f.column not in qis]
        if derived and births:
            out.append(_one_line(f"    # {', '.join(derived)} derived from {', '.join(births)}: quasi-identifiers "
                                 "together, generalized together (no finer than each other's level)"))
        elif derived and faked:
            out.append(_one_line(f"    # {', '.join(derived)} derived from {', '.join(faked)}, which is faked: "
                                 "kept only as generalized by k, it no longer matches the fake date"))
    if sensitive:
        out.append("    # sensitive: special categories (GDPR Art. 9); add l: 2 for 2 distinct values in every group")
    out.append("    privacy:")
    if qis:
        out.append(f"      quasi_identifiers: [{', '.join(_y(c) for c in qis)}]")
    if sensitive:
        out.append(f"      sensitive: [{', '.join(_y(c) for c in sensitive)}]")
    if qis:
        out.append(f"      k: {PRIVACY_K}")
        out.append(f"      max_suppression: {MAX_SUPPRESSION}  # at most this share of rows nulled on their "
                   "quasi-identifiers")
    return out
