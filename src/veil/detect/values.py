"""Value evidence: the share of a column's sampled values each recognizer matches.

Presidio's pattern recognizers (with their checksums; the column's name words
passed as context) run over the distinct values in rounds of 50, 200, 750, ...
and stop as soon as every share is clearly below or above ``MIN_SHARE``; word
lists (first and last names, cities, countries) and a few vectorised patterns
(street addresses, free text, dates of birth) look at the whole sample.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from functools import cache
from importlib import resources

from .engine import Detector

MIN_SHARE = 0.6  # share of sampled values a recognizer must match to decide alone
ROUNDS = (50, 200, 750)  # Presidio runs on this many distinct values, then on the whole sample

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


def _covers(span_len: int, value: str) -> bool:
    return span_len >= 0.8 * len(value.strip())


def presidio_shares(det: Detector, values: list[str], context: list[str], free_text: bool,
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
            for r in sorted(seen_rec):  # sorted: a set's order changes per process, and ties keep this order
                by_rec[r] = by_rec.get(r, 0) + 1
            for e in sorted(seen_ent):
                by_ent[e] = by_ent.get(e, 0) + 1
        done = bound
        # decided: every share is clearly below or above MIN_SHARE (about 3 standard errors at this n)
        margin = 3 * math.sqrt(0.25 / done)
        if all(abs(c / done - MIN_SHARE) > margin for c in by_ent.values()) and not free_text:
            break
        if free_text and done >= ROUNDS[1]:
            break
    return ({r: c / done for r, c in by_rec.items()}, {e: c / done for e, c in by_ent.items()}, done)


def lexicon_shares(values: list[str]) -> dict[str, float]:
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


def pattern_shares(values: list[str]) -> dict[str, float]:
    n = len(values)
    if not n:
        return {}
    street = sum(1 for v in values if _STREET.match(v))
    text_like = sum(1 for v in values if _prose(v, v.split()))
    out = {"street_pattern": street / n, "free_text_shape": text_like / n,
           "hex_digest": sum(1 for v in values if _HEX_DIGEST.match(v)) / n,
           "digits_only": sum(1 for v in values if _DIGITS.match(v)) / n}
    return {k: v for k, v in out.items() if v}


def dob_share(values: list[str]) -> float:
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


# -- binary personal data and numbers a name must agree with ---------------------------

# Leading bytes of the file formats photos, signatures and scanned documents are stored in.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image_magic": (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*"),
    "pdf_magic": (b"%PDF-",),
}
_HEX_TEXT = re.compile(r"^(?:\\x|0x)?([0-9a-fA-F]{16,})")
_B64_TEXT = re.compile(r"^(?:data:[\w/+.-]+;base64,)?([A-Za-z0-9+/]{16,})")


def _head(value: bytes | str) -> bytes:
    """The first bytes of a binary value, or of the bytes a text form spells: a dump's hex
    (``\\x89504e47...``, ``0x89504E47...``), base64 (``iVBORw0KGgo...``, a data: URI), or raw bytes
    decoded as text (U+FFFD standing for the bytes that are not UTF-8)."""
    if isinstance(value, bytes):
        return value[:16]
    m = _HEX_TEXT.match(value)
    if m and len(m.group(1)) % 2 == 0 or m and len(m.group(1)) > 32:
        return bytes.fromhex(m.group(1)[:32])
    m = _B64_TEXT.match(value)
    if m:
        import base64
        import binascii

        try:
            chunk = m.group(1)[:24]
            return base64.b64decode(chunk[:len(chunk) // 4 * 4])
        except (binascii.Error, ValueError):
            pass
    return value[:16].encode("utf-8", "replace").replace("\ufffd".encode(), b"\xff")


def _magic_of(head: bytes) -> str | None:
    for kind, magics in _MAGIC.items():
        if any(head.startswith(m) for m in magics):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image_magic"
    # raw PNG bytes read as text: the first byte was not UTF-8
    if head[1:8] == b"PNG\r\n\x1a\n":
        return "image_magic"
    return None


def magic_shares(values: list[bytes] | list[str]) -> dict[str, float]:
    """Share of values that begin like an image (PNG, JPEG, GIF, TIFF, WebP, HEIC) or a PDF."""
    n = len(values)
    if not n:
        return {}
    counts: dict[str, int] = {}
    for v in values:
        kind = _magic_of(_head(v))
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    return {k: c / n for k, c in counts.items()}


def _number(text: str) -> float | None:
    """The number a value spells: ``34``, ``4.532e+15``, ``52,000.00``, ``30-39`` (its first)."""
    t = text.strip().replace(",", "").replace(" ", "").replace("_", "")
    m = re.match(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", t)
    if not m:
        return None
    try:
        x = float(m.group(0))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def number_share(values: list[str], lo: float, hi: float) -> float:
    """Share of values that are numbers within [lo, hi]."""
    if not values:
        return 0.0
    return sum(1 for v in values if (x := _number(v)) is not None and lo <= x <= hi) / len(values)


def card_number_share(values: list[str]) -> float:
    """Share of values that are card numbers however stored: integers or spreadsheet floats of 13 to
    19 digits (``4.532015112830366e+15``, ``4532015112830366.0``), or digits in groups with spaces or
    dashes. A float's last digits may be lost: only the length is checked, not the Luhn digit."""
    if not values:
        return 0.0
    ok = 0
    for v in values:
        t = v.strip()
        if re.fullmatch(r"\d{4}([ -]?\d{3,4}){2,3}( ?\d{1,3})?", t):
            ok += 13 <= sum(c.isdigit() for c in t) <= 19
            continue
        x = _number(t)
        ok += x is not None and 1e12 <= abs(x) < 1e19 and float(x).is_integer()
    return ok / len(values)


_EXPIRY = re.compile(r"^(0?[1-9]|1[0-2])\s*[/\-.]\s*(\d{2}|\d{4})$|^(\d{4})[-/](0[1-9]|1[0-2])(-\d{2})?$|"
                     r"^(0[1-9]|1[0-2])(\d{2})$")


def expiry_share(values: list[str]) -> float:
    """Share of values shaped like a card's expiry: MM/YY, MM/YYYY, MMYY, YYYY-MM, a month 1-12 or a year."""
    if not values:
        return 0.0
    ok = 0
    for v in values:
        t = v.strip()
        if _EXPIRY.match(t):
            ok += 1
        elif t.isdigit() and (1 <= int(t) <= 12 or 2000 <= int(t) <= 2099 or len(t) == 2):
            ok += 1
    return ok / len(values)


def cvv_share(values: list[str]) -> float:
    """Share of values of 3 or 4 digits (a card security code)."""
    if not values:
        return 0.0
    return sum(1 for v in values if re.fullmatch(r"\d{1,4}", v.strip()) and int(v) < 10000) / len(values)


def bucket_of(values: list[str]) -> int | None:
    """A bucket width for amounts such as salaries: the power of ten one below the median's
    (a median of 52,000 -> 10,000; of 4,800 -> 1,000; of 25 -> 10). Only a power of ten reaches the
    evidence, never a value."""
    nums = sorted(x for v in values if (x := _number(v)) is not None and x > 0)
    if not nums:
        return None
    return 10 ** max(0, math.floor(math.log10(nums[len(nums) // 2])))
