"""A draft profile from scan findings: every column covered, the evidence as a YAML comment.

The draft is meant to be reviewed, then committed; ``veil run`` accepts it
as written. What it suggests:

- key columns (primary keys; foreign keys inherit their target's rule):
  ``pseudonymize`` (``format: int`` for integers), which is injective, so
  joins survive; a key that is itself an email stays email-shaped;
- direct identifiers: deterministic ``pseudonymize`` or ``fake`` in a domain
  named after the entity, so the same person gets the same pseudonym in
  every table;
- quasi-identifiers: ``generalize`` (birth dates to the year, postcodes to a
  prefix), ``fake`` for cities (no hierarchy to generalize along), ``keep``
  for countries (already coarse);
- free text: ``scrub``, its entities mapped to the structured columns that
  hold the same kind of value, so an email in a note becomes the same
  pseudonym as in the email column;
- everything else: ``keep``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from .findings import Finding, ScanResult
from .names import tokens

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
MIN_INT_BITS = 8  # pseudonymize format: int takes bits 8..64
MIN_TOKEN_LENGTH = 16  # pseudonymize's shortest token (base32 characters)
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}

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
    "NONE": ({"op": "keep"}, {"op": "keep"}),
}
# Entities a scrub maps to a structured column of the same kind (scrub's entity names)
SCRUB_LINKS = ("EMAIL", "PHONE", "PERSON_NAME", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "URL", "NATIONAL_ID")
NER_ONLY = {"PERSON_NAME"}
# The longest value a drafted fake writes (veil.ops.fake.max_length; detection does not import the
# operators, a test keeps the two equal). A text column declared narrower (a phone in varchar(12))
# gets the entity's rule that keeps each value's length instead.
FAKE_LONGEST = {"phone_number": 15, "username": 25}
NARROW_RULES = {"PHONE": {"op": "pseudonymize", "format": "digits", "domain": "phone_digits"},
                "USERNAME": {"op": "pseudonymize", "domain": "username"}}  # a 16-character token
SCRUB_DEFAULTS = {"PERSON_NAME": {"op": "fake", "kind": "name", "domain": "person_name"}}


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
        return {"op": "scrub", "entities": entities} if entities else {"op": "scrub"}
    text_rule, int_rule = RULES.get(f.entity, RULES["NONE"])
    if f.type == "integer" and not text_storage:
        # integer storage: the integer rule, in a domain of its own (its pseudonyms differ from the text rule's)
        return dict(int_rule) if int_rule else _key_rule(f, table, text_storage)
    if f.type in ("date", "timestamp") and f.entity != "DATE_OF_BIRTH":
        return {"op": "keep"}
    width = f.evidence.get("text_length")
    if width is not None and f.entity in NARROW_RULES and text_rule.get("op") == "fake" and \
            width < FAKE_LONGEST.get(text_rule.get("kind"), 0):
        return dict(NARROW_RULES[f.entity])
    if f.entity == "DATE_OF_BIRTH" and f.type not in ("date", "timestamp"):
        # not ISO dates (03.04.1950, a timestamp with a zone): generalize cannot read them
        return {"op": "fake", "kind": "date_of_birth", "domain": "date_of_birth"}
    return dict(text_rule)


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
        lines.append("    columns:")
        for f in findings:
            lines.append(f"      # {_comment(f)}")
            if f.key == "foreign":
                lines.append(f"      # {_y(f.column)}: inherits the rule of the column it references")
                continue
            rule = suggest(f, ts.name, scrub_targets, text_storage=ts.format == "csv", partitioned=ts.partitioned,
                           ner=result.ner)
            lines.append(f"      {_y(f.column)}: {_flow(rule)}")
    return "\n".join(lines) + "\n"
