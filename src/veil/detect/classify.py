"""One column's entity, confidence and evidence, from its name, its type category and its sampled values.

A name rule and matching values reinforce each other; values alone decide only
for entities whose values prove themselves (emails, IBANs, cards with checksums
...) and only above ``MIN_SHARE``; a name rule the values clearly contradict
loses confidence. One matching value never decides: an id column where 0.3% of
values look like phone numbers stays ``NONE``.

Quasi-identifiers, card data and secrets are named, not recognised: ``age``,
``cvv2``, ``card_expiry``, ``annual_salary`` need their name, and the values
must agree (ages within 0-120, security codes of 3-4 digits, card numbers of
13-19 digits however stored: integers, spreadsheet floats, digits in groups).
Photos and scanned documents are found by their leading bytes (image or PDF
magic) or their name. A name rule with a ``context`` (names.NameRule) and a
binary column found by its bytes alone leave ``needs_context`` in the
evidence: the scan keeps them only when their table agrees.
"""

from __future__ import annotations

from . import names as name_rules
from .engine import Detector
from .values import (
    MIN_SHARE,
    bucket_of,
    card_number_share,
    cvv_share,
    dob_share,
    expiry_share,
    lexicon_shares,
    magic_shares,
    number_share,
    pattern_shares,
    presidio_shares,
)

FREE_TEXT_SHARE = 0.02  # share of texts holding a pattern entity (email, phone ...) that makes free text personal
FREE_TEXT_NER_SHARE = 0.1  # the same for names and places found by NER

# Entities whose values prove themselves: values alone may decide, and a name the values
# contradict loses confidence. (Postcodes, dates, usernames look like too many other things.)
VALUE_DECIDES = {"EMAIL", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "URL", "PHONE", "PASSWORD_HASH", "NATIONAL_ID",
                 "FIRST_NAME", "LAST_NAME", "PERSON_NAME", "CITY", "COUNTRY", "STREET_ADDRESS", "FREE_TEXT",
                 "BINARY_PERSONAL"}
# Entities whose values a recognizer can check: a strong name with no matching value is doubtful.
VALUE_CHECKED = {"EMAIL", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "URL"}
# Which column types an entity can live in.
TEXT_ONLY = {"EMAIL", "FIRST_NAME", "LAST_NAME", "PERSON_NAME", "STREET_ADDRESS", "CITY", "COUNTRY", "USERNAME",
             "PASSWORD_HASH", "URL", "IBAN", "FREE_TEXT", "IP_ADDRESS"}
INT_OK = {"PHONE", "NATIONAL_ID", "CREDIT_CARD", "POSTCODE"}
# The column types the entities found by name (and checked by value) can live in.
TYPES: dict[str, set[str]] = {
    "CARD_CVV": {"string", "integer"},
    "CARD_EXPIRY": {"string", "integer", "date", "timestamp"},
    "SECURITY_ANSWER": {"string"},
    "BINARY_PERSONAL": {"binary", "string"},  # text only when the values spell image or PDF bytes
    "BIOMETRIC": {"binary", "string", "nested", "json"},
    "AGE": {"integer", "float", "decimal", "string"},
    "BIRTH_YEAR": {"integer", "float", "decimal", "string"},
    "SALARY": {"integer", "float", "decimal", "string"},
    "GENDER": {"string", "integer"},
    "MARITAL_STATUS": {"string", "integer"},
    "OCCUPATION": {"string"},
    "EMPLOYER": {"string"},
    "REGION": {"string"},
    "SPECIAL_CATEGORY": {"string", "integer", "boolean", "nested", "json"},
}
# A name the values must agree with: entity -> share of values that fit, from the values.
_THIS_YEAR = __import__("datetime").date.today().year
NAME_CHECKS = {
    "AGE": lambda v: number_share(v, 0, 120),
    "BIRTH_YEAR": lambda v: number_share(v, 1900, _THIS_YEAR),
    "SALARY": lambda v: number_share(v, 0, 1e9),
    "CARD_CVV": cvv_share,
    "CARD_EXPIRY": expiry_share,
    "CREDIT_CARD": card_number_share,  # floats and grouped digits Presidio does not read
    "GENDER": lambda v: 1.0 if len(v) <= 12 else 0.0,  # a handful of codes, whatever the language
    "MARITAL_STATUS": lambda v: 1.0 if len(v) <= 15 else 0.0,
}
MAGIC_SHARE = 0.6  # share of binary values with image/PDF magic that makes a column photos or documents

# value evidence name -> entity it supports
_EVIDENCE_ENTITY = {
    "first_name_list": "FIRST_NAME", "last_name_list": "LAST_NAME", "full_name_lists": "PERSON_NAME",
    "city_list": "CITY", "country_list": "COUNTRY", "street_pattern": "STREET_ADDRESS",
    "free_text_shape": "FREE_TEXT", "birth_dates": "DATE_OF_BIRTH",
}


def _compatible(entity: str, category: str) -> bool:
    if entity in TYPES:
        return category in TYPES[entity]
    if entity == "CREDIT_CARD" and category in ("float", "decimal"):
        return True  # card numbers exported through a spreadsheet
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
             det: Detector | None, raw: list[bytes] | None = None) -> tuple[str, float, dict]:
    """(entity, confidence, evidence) for one column (``raw``: the first bytes of a binary column's
    sampled values, for their magic numbers)."""
    hits, negated = name_rules.match(table, column)
    evidence: dict = {"type": category, "sampled_values": len(values)}
    if hits:
        evidence["name_rules"] = [h.rule for h in hits]
    if negated:
        evidence["name_negated_by"] = negated
    if category in ("boolean", "float", "decimal", "time") and not any(_compatible(h.entity, category) for h in hits):
        evidence["note"] = f"{category} values hold no direct identifier"
        return "NONE", 0.95, evidence

    if not values:
        evidence["note"] = "no values in the sample"
    # nested values (lists, structs, JSON, SQL arrays) are searched like free text: entities anywhere inside
    structured = category in ("nested", "json")
    shares, recognizers, free_text = _value_shares(column, category, values, det, evidence)
    _checked_shares(hits, category, values, raw, shares, recognizers)
    if recognizers:
        evidence["recognizers"] = {k: round(v, 3) for k, v in sorted(recognizers.items(), key=lambda kv: -kv[1])}

    candidates = _name_candidates(hits, shares, category, values, evidence)
    _add_value_candidates(candidates, shares, recognizers, category, column)
    strong_name = any(h.entity in candidates and h.strength >= name_rules.STRONG for h in hits)
    if structured and not candidates and any(_compatible_text(h.entity) for h in hits) and values:
        candidates["FREE_TEXT"] = max(h.strength for h in hits)  # a list of emails named "emails"
        evidence["note"] = f"{category} values named like {hits[0].entity}"
    if free_text and "FREE_TEXT" not in candidates and not strong_name:
        # (a strongly named street address or name column of long values stays what its name says)
        _add_free_text(candidates, evidence, category, values, structured)
    _settle_names(candidates, hits, shares)
    entity, conf, evidence = _decide(candidates, shares, category, values, evidence)
    context = next((h.context for h in hits if h.entity == entity and h.context), None)
    if entity == "BINARY_PERSONAL" and not any(h.entity == entity for h in hits):
        context = "person"  # image bytes alone: a product photo is no person's
    if context:
        evidence["needs_context"] = context  # the scan keeps it only when the table agrees
    if entity == "SALARY" and bucket_of(values):
        evidence["bucket"] = bucket_of(values)  # a power of ten for the draft's generalize
    return entity, conf, evidence


def _checked_shares(hits: list, category: str, values: list[str], raw: list[bytes] | None,
                    shares: dict[str, float], recognizers: dict[str, float]) -> None:
    """The shares of values that fit the entities named (an age within 0-120 ...), and of binary
    values with image or PDF magic; each also a recognizer in the evidence."""
    for h in hits:
        check = NAME_CHECKS.get(h.entity)
        if check is None or not values or not _compatible(h.entity, category):
            continue
        if h.entity == "CREDIT_CARD" and shares.get("CREDIT_CARD", 0.0) >= MIN_SHARE:
            continue  # Presidio read them, with the Luhn check
        s = check(values)
        recognizers[f"{h.entity.lower()}_values"] = s
        shares[h.entity] = max(shares.get(h.entity, 0.0), s)
    if category in ("binary", "string") and (raw or values):
        magic = magic_shares(raw if raw else values)
        if magic:
            recognizers.update(magic)
            shares["BINARY_PERSONAL"] = sum(magic.values())


def _value_shares(column: str, category: str, values: list[str], det: Detector | None,
                  evidence: dict) -> tuple[dict[str, float], dict[str, float], bool]:
    """(entity -> best share of values supporting it, recognizer -> share, whether the values are free text).
    Notes what Presidio analysed (and, in free text, the entities found inside) in ``evidence``."""
    shares: dict[str, float] = {}
    recognizers: dict[str, float] = {}
    structured = category in ("nested", "json")
    free_text = structured
    textual = category in ("string", "uuid", "binary")
    if not values or not (textual or structured or category in ("integer", "date", "timestamp")):
        return shares, recognizers, free_text
    if textual:
        pats = pattern_shares(values)
        free_text = pats.get("free_text_shape", 0) >= 0.5
        recognizers.update(pats)
        recognizers.update(lexicon_shares(values))
    if category in ("date", "timestamp", "string"):
        dob = dob_share(values)
        if dob:
            recognizers["birth_dates"] = dob
    run_presidio = det is not None and (textual or structured or category == "integer") and \
        not (category == "integer" and max(len(v.lstrip("+-")) for v in values) < 7)
    if run_presidio:
        by_rec, by_ent, analysed = presidio_shares(det, values, name_rules.tokens(column), free_text)
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
    return shares, recognizers, free_text


def _name_candidates(hits: list, shares: dict[str, float], category: str, values: list[str],
                     evidence: dict) -> dict[str, float]:
    """entity -> confidence for each name rule the column's type allows, raised by agreeing values."""
    candidates: dict[str, float] = {}
    for h in hits:
        if not _compatible(h.entity, category):
            continue
        s = shares.get(h.entity, 0.0)
        conf = h.strength + (1 - h.strength) * s
        if h.entity in VALUE_CHECKED and len(values) >= 20 and s < 0.2:
            conf = h.strength * 0.6  # the name says so, the values do not
            evidence["values_disagree"] = h.entity
        if h.entity in NAME_CHECKS and values and s < 0.5 and \
                (h.entity not in VALUE_CHECKED or category in ("float", "decimal")):
            conf = h.strength * 0.5  # "age" holding seconds, "cvv" holding words: not what the name says
            evidence["values_disagree"] = h.entity
        if h.entity == "BINARY_PERSONAL" and category == "string" and s < MAGIC_SHARE:
            continue  # a "photo" column of file names or URLs: no image inside
        if h.entity == "FREE_TEXT" and h.strength < name_rules.STRONG:
            continue  # "description": short labels, or product copy; what the text holds decides (below)
        candidates[h.entity] = conf
    return candidates


def _add_value_candidates(candidates: dict[str, float], shares: dict[str, float], recognizers: dict[str, float],
                          category: str, column: str) -> None:
    """Entities the values decide alone: those that prove themselves, matched by at least MIN_SHARE."""
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
        if entity == "BINARY_PERSONAL":
            if s >= MAGIC_SHARE:
                candidates[entity] = 0.5 + 0.45 * s
            continue
        if s >= MIN_SHARE:
            candidates[entity] = 0.5 + 0.45 * s


def _add_free_text(candidates: dict[str, float], evidence: dict, category: str, values: list[str],
                   structured: bool) -> None:
    """Free text (or nested values) is personal when personal entities are found inside enough of it."""
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


def _settle_names(candidates: dict[str, float], hits: list, shares: dict[str, float]) -> None:
    # a security answer's name wins over what its values look like (a mother's maiden name is a last
    # name, and a secret: it is redacted, not faked)
    if "SECURITY_ANSWER" in candidates and any(h.entity == "SECURITY_ANSWER" for h in hits):
        for other in [e for e in candidates if e != "SECURITY_ANSWER" and not any(h.entity == e for h in hits)]:
            del candidates[other]
    # a first-name list match inside a "name" column is a full name, not only a first name
    if "PERSON_NAME" in candidates and "FIRST_NAME" in candidates and not any(h.entity == "FIRST_NAME" for h in hits):
        del candidates["FIRST_NAME"]
    if "LAST_NAME" in candidates and "FIRST_NAME" in candidates and not hits:
        # a value-only name column: whichever list matches more
        weaker = "LAST_NAME" if shares.get("FIRST_NAME", 0) >= shares.get("LAST_NAME", 0) else "FIRST_NAME"
        del candidates[weaker]


def _decide(candidates: dict[str, float], shares: dict[str, float], category: str, values: list[str],
            evidence: dict) -> tuple[str, float, dict]:
    if not candidates:
        if not values:
            return "NONE", 0.5, evidence  # nothing to judge by
        best = max((s for e, s in shares.items() if _compatible(e, category)), default=0.0)
        return "NONE", round(max(0.5, 1 - best), 3), evidence
    entity, conf = max(candidates.items(), key=lambda kv: kv[1])
    if conf < 0.5:
        return "NONE", round(1 - conf, 3), evidence
    return entity, round(min(conf, 0.99), 3), evidence
