"""Pattern finders for free text that Presidio's recognizers do not cover well.

Each finder takes a text (and its language) and gives ``(start, end, entity,
score, recognizer)`` tuples in veil's entity names; the engine merges them with
Presidio's results. They are written for recall in notes, tickets, emails and
chat, and kept context-aware so ordinary numbers and words stay:

- street lines: a number then a name ending in a street word ("221B Baker
  Street", "17066 Heather Grove"), a compound German/Dutch street then a
  number ("Hauptstraße 5", "Jens-Drubin-Straße 47"), a French/Italian/Spanish
  street word after the number ("12, rue de la Paix", "Via Roma 12"), units
  ("Apt. 915", "Suite 158", "Wohnung 3") and PO boxes (``STREET_ADDRESS``);
- postcodes, only where an address says so: before or after a city
  ("10115 Berlin", "Springfield, IL 62704", "SW1A 1AA London"), after a postcode
  word ("PLZ 10115"), or in a shape no ordinary number has (Canadian "K1A 0B1");
  the city next to a postcode is a ``LOCATION``;
- payment cards of 12 to 19 digits, Luhn-checked, with the issuer prefixes of
  today's brands (2-series Mastercard, Maestro, UnionPay, Mir, ...);
- phone numbers through ``phonenumbers`` (the library Presidio uses): E.164 and
  ``00``-prefixed numbers of every country, national formats of the regions of
  the text's language and of veil's default regions;
- organisations by their legal form ("Chavez LLC", "Reuter GmbH").
"""

from __future__ import annotations

import re

Found = tuple[int, int, str, float, str]

# -- street addresses ---------------------------------------------------------------

_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"  # a capitalised word (Unicode letters after the first)
# USPS street suffixes (Faker's en_US list) and common British/Irish ones; plural forms allowed
_EN_SUFFIX = (
    "street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|square|sq|terrace|parkway|"
    "pkwy|highway|hwy|circle|cir|trail|crescent|close|row|alley|annex|arcade|bayou|beach|bend|bluff|bottom|branch|"
    "bridge|brook|burg|bypass|camp|canyon|cape|causeway|center|centre|cliff|club|common|corner|course|cove|creek|"
    "crest|crossing|crossroad|curve|dale|dam|divide|estate|expressway|extension|falls|ferry|field|flat|ford|forest|"
    "forge|fork|fort|freeway|garden|gateway|glen|green|grove|harbor|harbour|haven|heights|hill|hollow|inlet|island|"
    "isle|junction|key|knoll|lake|landing|light|loaf|lock|lodge|loop|mall|manor|meadow|mews|mill|mission|motorway|"
    "mount|mountain|neck|orchard|oval|overpass|park|pass|passage|path|pike|pine|plain|plaza|point|port|prairie|"
    "radial|ramp|ranch|rapid|rest|ridge|river|route|shoal|shore|skyway|spring|spur|station|stravenue|stream|"
    "summit|throughway|trace|track|trafficway|tunnel|turnpike|underpass|union|valley|viaduct|view|village|ville|"
    "vista|walk|wall|well|wells|gardens|parade|rise|grange|wharf|quay|yard|gate|grn|hts|mtn|pt|ter|trl|xing|fairway|"
    "promenade|quad|run|fall|chowk|nagar|marg|utca|út|útja|tér|körút|ulica|ul\\.|ulice|náměstí|třída|cesta|gatve|iela|"
    "sokak|sokağı|caddesi|bulvarı")
_EN_STREET = re.compile(
    rf"(?<![\w,.])\d{{1,5}}[A-Za-z]?,?\s+(?:{_CAP}\s+){{0,3}}{_CAP}\s+(?i:{_EN_SUFFIX})s?\b\.?"
    r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?", re.U)
# German, Dutch, Nordic compounds ending in a street word, then a house number ("Hauptstraße 5", "Am Markt 3")
_DE_WORD = (r"(?:straße|strasse|str\.|weg|gasse|allee|platz|pl\.|ring|damm|ufer|chaussee|steig|pfad|markt|"
            r"straat|laan|gracht|singel|kade|plein|dijk|gatan|vägen|vej|gade)")
_DE_STREET = re.compile(
    rf"(?<!\w)(?:(?:{_CAP}-){{0,3}}(?=[A-ZÀ-ÖØ-Þ])[\w'’]*?(?i:{_DE_WORD})|{_CAP}\s(?i:{_DE_WORD})|"
    rf"(?:Am|An der|Auf der|Im|In der|Zum|Zur|Unter den|Alte|Alter|Neue|Neuer)\s+{_CAP})"
    r"\s+\d{1,5}\s?[a-zA-Z]?(?:\s?[-/]\s?\d{1,5}[a-zA-Z]?)?(?!\w)", re.U)
# French, Italian, Spanish, Portuguese: the number first ("12, rue de la Paix") or the street word first
# then the number ("Via Roma 12", "Calle Mayor 5")
_ROM_WORD = (r"(?:rue|avenue|av\.|boulevard|bd|chemin|allée|allee|impasse|place|quai|route|cours|square|passage|"
             r"via|viale|piazza|corso|vicolo|largo|strada|calle|avenida|plaza|paseo|camino|carretera|rua|travessa|"
             r"praça|estrada|alameda|glorieta|diagonal|diag\.|acceso|pasaje|cuesta|ronda|urbanización|urbanizacion|"
             r"circunvalación|cañada|callejón|carrera|peatonal|andador|privada|prolongación|retorno|cerrada|"
             r"circuito|borgo|incrocio|stretto|canale|contrada|rotonda|vicolo|lungomare|località|frazione|"
             r"soseaua|șoseaua|intrarea|bulevardul|calea|aleea|splaiul|piața|piata)")
_PARTICLE = r"(?:de la|de l'|de l’|du|des|de|d'|d’|la|le|les|l'|l’|del|della|dei|di|do|da|dos|das|y|e)"
_ROM_NAME = rf"(?:{_PARTICLE}\s*)?{_CAP}(?:\s+(?:{_PARTICLE}\s*)?{_CAP}){{0,3}}"
_ROM_STREET = re.compile(
    rf"(?<![\w,.])\d{{1,4}}(?:\s?(?:bis|ter|[A-Za-z]))?,?\s+(?i:{_ROM_WORD})\s+{_ROM_NAME}"
    rf"|(?<!\w)(?i:{_ROM_WORD})\s+{_ROM_NAME},?\s+\d{{1,4}}[A-Za-z]?(?!\w)", re.U)
_UNIT = re.compile(
    r"(?<!\w)(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|App\.?|Appartement|Appt\.?|Bât\.?|Bâtiment|"
    r"Étage|Etage|Wohnung|Whg\.?|Piso|Puerta|Escalera|Bajo|Interno|Int\.?|Scala|Piano)\s*(?:No\.?|Nr\.?|n°)?\s*#?"
    r"\s*(?:\d{1,5}[A-Za-z]?|[A-H](?=,|\s*$))(?!\w)",
    re.U)
_PO_BOX = re.compile(r"(?<!\w)(?:P\.?\s?O\.?\s?Box|Post(?:al)? Office Box|Postfach|Boîte postale|BP|CS|"
                     r"Apartado(?: de correos)?|Casella postale)\s*\d{1,6}(?!\w)", re.U | re.I)

# -- postcodes ----------------------------------------------------------------------

_CITY = rf"{_CAP}(?:[ -](?:am|an|im|in|der|bei|sur|sous|lès|les|en|de|du|la|le|{_CAP})){{0,3}}"
# a postcode of a shape, then a capitalised word: "10115 Berlin", "75002 Paris", "1012 AB Amsterdam", "00-950 Warszawa"
_CODE_CITY = re.compile(
    rf"(?<![\w.,-])(?P<code>(?:[A-Z]{{1,2}}-)?(?:\d{{5}}|\d{{4}}(?:\s?[A-Z]{{2}}(?=\s))?|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}|"
    rf"\d{{5}}-\d{{3}}))[ \t]+(?P<city>{_CITY})", re.U)
_UK = r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
_UK_CITY = re.compile(rf"(?<!\w)(?P<code>{_UK})[ \t]+(?P<city>{_CITY})"
                      rf"|(?P<city2>{_CITY}),?[ \t]+(?P<code2>{_UK})(?!\w)", re.U)
_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
              "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR").split()
_US_CITY_ZIP = re.compile(rf"(?P<city>{_CAP}(?:\s+{_CAP}){{0,2}}),\s*(?P<state>{'|'.join(_US_STATES)})\s+"
                          r"(?P<code>\d{5}(?:-\d{4})?)(?!\w)", re.U)
_CA = re.compile(r"(?<!\w)[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d(?!\w)")
_CODE_WORD = re.compile(r"(?i:\b(?:PLZ|postcode|post code|postal code|zip(?: code)?|code postal|CP|CAP|C\.P\.)"
                        r"\s*:?\s*)(?P<code>[A-Z]{0,2}\d[\dA-Z -]{2,8}[\dA-Z])(?!\w)", re.U)

# -- national ids after their label ----------------------------------------------------

_ID_LABEL = re.compile(
    r"(?i:\b(?:steuer-?id|steuer-?identifikationsnummer|steuernummer|st\.?-?nr\.?|sozialversicherungsnummer|svnr|"
    r"ahv(?:-nr\.?)?|nir|n° de sécurité sociale|numéro de sécurité sociale|sécurité sociale|insee|nss|dni|nie|nif|"
    r"codice fiscale|c\.f\.|bsn|pesel|personnummer|ssn|social security(?: number)?|nino|national insurance(?: number)?|"
    r"passport(?: no\.?| number)?|reisepass(?:nummer)?|passeport|id card|ausweis(?:nummer)?)\b)[ \t]*(?:n°|nr\.?|no\.?|"
    r"number|nummer|numéro)?[ \t]*[:#]?[ \t]*(?P<id>[A-Z0-9](?:[0-9A-Z]|[ .\-/](?=[0-9A-Z])){5,24})(?![\w])", re.U)

# -- organisations ----------------------------------------------------------------

_LEGAL = (r"(?:GmbH(?: & Co\.? KG(?:aA)?)?|KGaA|AG|KG|OHG|UG|GbR|eG|mbH|(?:& )?Partner(?:s)?|EURL|SCI|"
          r"e\.V\.|SE|SA|SAS|SARL|SNC|S\.A\.|S\.p\.A\.|SpA|SPA|S\.r\.l\.|s\.r\.l\.|Srl|S\.L\.|S\.L\.N\.E\.?|"
          r"S\.C\.P\.?|S\.Com\.|A\.C\.|S\.A\. de C\.V\.|S\.N\.C\.|s\.n\.c\.|"
          r"SL|BV|B\.V\.|NV|N\.V\.|Ltd\.?|Limited|LLC|L\.L\.C\.|LLP|Inc\.?|Incorporated|Corp\.?|Corporation|PLC|plc|"
          r"Co\.|& Co\.?|Group|Holding|AB|ASA|A/S|Oy)")
_ORG = re.compile(rf"(?<![\w-])(?:{_CAP}(?:,?[ \t]+(?:and|und|et|&)[ \t]+|,[ \t]+|[ \t]+|-)){{0,3}}{_CAP}[ \t]+"
                  rf"{_LEGAL}(?![\w&])", re.U)

# -- payment cards --------------------------------------------------------------

_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w-])")
_CARD_CONTEXT = re.compile(r"(?i)card|karte|carte|tarjeta|carta|visa|master|amex|maestro|cb\b|kk\b|kreditkarte|"
                           r"cc\b|credit|debit|payment|paiement|zahlung")


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The issuer of a card number by its prefix and length (ISO/IEC 7812 ranges in use), else None."""
    n, p2, p4, p6 = len(digits), int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p4 // 10 <= 649 or p2 == 65) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p4 // 10 <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69 or 639000 <= p6 <= 639999) and 12 <= n <= 19:
        return "maestro"
    return None


def cards(text: str) -> list[Found]:
    out: list[Found] = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not luhn(digits) or len(set(digits)) == 1:
            continue
        context = _CARD_CONTEXT.search(text, max(0, m.start() - 40), m.start())
        if card_brand(digits):
            score = 0.9 if context or len(digits) >= 13 else 0.5
            out.append((m.start(), m.end(), "CREDIT_CARD", score, "CardRecognizer"))
        elif context and len(digits) >= 13:
            out.append((m.start(), m.end(), "CREDIT_CARD", 0.6, "CardRecognizer"))
    return out


# -- phones ---------------------------------------------------------------------

REGIONS_BY_LANGUAGE = {
    "en": ("US", "GB", "CA", "AU", "IE", "NZ", "IN", "ZA"),
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CH", "CA", "LU"),
    "es": ("ES", "MX", "AR", "CO", "CL"),
    "it": ("IT", "CH"),
    "nl": ("NL", "BE"),
    "pt": ("PT", "BR"),
}
_PHONE_CONTEXT = re.compile(r"(?i)phone|tel\b|tel\.|telefon|téléphone|tél|call|mobile|cell|fax|handy|ruf|anruf|"
                            r"portable|appel|numéro|number|nummer|whatsapp|sms|contact|joignable|erreichbar")
_MAYBE_PHONE = re.compile(r"\d(?:[\s().\-/]*\d){5}")


# phone shapes that no other number has: +CC or 00 prefix, an area code in parentheses, North American
# 3-3-4 groups; an extension ("x622", "ext. 12") belongs to the number
_PHONE_SHAPE = re.compile(
    r"(?<![\w+/.-])(?:(?:\+|00)\d{1,3}[\s./-]?(?:\(0\)\s?)?|1[\s.-]|0)?(?:\(\d{2,5}\)[\s.-]?)?\d{2,5}"
    r"(?:[\s./-]\d{2,5}){0,4}(?:\s?(?:x|ext\.?|#)\s?\d{1,6})?(?![\w/-])")
_NANP = re.compile(r"(?:\(\d{3}\)\s?|\d{3}[-.])\d{3}[-.]\d{4}")
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|#)\s?\d{1,6}(?!\w)")


def phone_shapes(text: str) -> list[Found]:
    """Numbers shaped like phones (7 to 15 digits): with a +CC/00 prefix, an area code in parentheses or
    North American groups, or any grouping after a phone word on the same line."""
    out: list[Found] = []
    for m in _PHONE_SHAPE.finditer(text):
        raw = m.group()
        digits = sum(c.isdigit() for c in raw.split("x")[0].split("ext")[0].split("#")[0])
        if not 7 <= digits <= 15:
            continue
        line = text.rfind("\n", 0, m.start()) + 1
        context = _PHONE_CONTEXT.search(text, max(line, m.start() - 40), m.start())
        if raw.startswith(("+", "00")) or "(" in raw or _NANP.search(raw) or context and (" " in raw or "-" in raw
                                                                                          or "." in raw or context):
            out.append((m.start(), m.end(), "PHONE", 0.6 if context or raw.startswith(("+", "00")) else 0.45,
                        "PhoneShapeRecognizer"))
    return out


# a stretch of text that may hold a phone number: digits and separators with 7 digits or more
_PHONE_WINDOW = re.compile(r"(?:\+|\b00)?[\d(](?:[\d\s().\-/]|\s?(?:x|ext\.?)\s?(?=\d)){5,40}\d")


def phones(text: str, regions: tuple[str, ...]) -> list[Found]:
    """Valid phone numbers for any of ``regions`` (the first finds E.164 numbers of every country too).
    ``phonenumbers``' matcher runs on the stretches of digits only, region by region, and a stretch
    one region has read is not read again (13 regions over whole texts cost a third of scrub's time)."""
    windows = [(m.start(), m.end()) for m in _PHONE_WINDOW.finditer(text)
               if sum(c.isdigit() for c in m.group()) >= 7]
    if not windows:
        return phone_shapes(text)
    import phonenumbers

    seen: dict[tuple[int, int], Found] = {}
    for a, b in windows:
        a, b = max(0, a - 1), min(len(text), b + 1)  # the matcher looks at the character around a number
        for region in regions:
            found = False
            for m in phonenumbers.PhoneNumberMatcher(text[a:b], region, leniency=phonenumbers.Leniency.VALID):
                start, end = a + m.start, a + m.end
                digits = len(str(m.number.national_number))
                if (start, end) in seen or digits < 7:
                    continue
                line = text.rfind("\n", 0, start) + 1
                context = _PHONE_CONTEXT.search(text, max(line, start - 40), start)
                intl = m.raw_string.lstrip("(").startswith(("+", "00"))
                if digits < 8 and not (context or intl):  # "La commande 5219220": an order number
                    continue
                ext = _EXTENSION.match(text, end)
                seen[(start, end)] = (start, ext.end() if ext else end, "PHONE", 0.75 if context or intl else 0.4,
                                      "PhoneRecognizer")
                found = True
            if found:
                break
    return sorted(seen.values()) + phone_shapes(text)


# -- addresses, postcodes, organisations ----------------------------------------------

def addresses(text: str, is_word, frequent=None) -> list[Found]:
    """Street lines, units, PO boxes, postcodes (with the city beside them), organisations and national
    ids after their label. ``is_word(token)`` tells an ordinary word of the text's language (a city must
    not be one), ``frequent(token)`` a frequent one (left out at the start of an organisation's name)."""
    frequent = frequent or is_word
    out: list[Found] = []
    for rx, score in ((_EN_STREET, 0.7), (_DE_STREET, 0.7), (_ROM_STREET, 0.7), (_UNIT, 0.6), (_PO_BOX, 0.7)):
        out.extend((m.start(), m.end(), "STREET_ADDRESS", score, "StreetRecognizer") for m in rx.finditer(text))
    streets = [(a, b) for a, b, *_ in out]
    for m in _CODE_CITY.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in streets):
            continue
        five = len(m.group("code")) != 4  # a bare 4-digit number is a year as often as a postcode
        city = _city(m.group("city"), is_word, first=(lambda w: w.lower() in _COUNTED) if five else is_word)
        if city:
            out.append((m.start("code"), m.end("code"), "POSTCODE", 0.6, "PostcodeRecognizer"))
            out.append((m.start("city"), m.start("city") + len(city), "LOCATION", 0.6, "PostcodeRecognizer"))
    for m in _UK_CITY.finditer(text):
        code, city = ("code", "city") if m.group("code") else ("code2", "city2")
        name = _city(m.group(city), lambda w: is_word(w) or w.lower() in _COUNTED)
        if name:
            start = m.start(city) if city == "city" else m.end(city) - len(_last_city(m.group(city), is_word))
            out.append((start, start + len(name) if city == "city" else m.end(city), "LOCATION", 0.6,
                        "PostcodeRecognizer"))
            out.append((m.start(code), m.end(code), "POSTCODE", 0.6, "PostcodeRecognizer"))
    for m in _US_CITY_ZIP.finditer(text):
        city = _last_city(m.group("city"), is_word)
        if city:
            out.append((m.end("city") - len(city), m.end("city"), "LOCATION", 0.6, "PostcodeRecognizer"))
        out.append((m.start("code"), m.end("code"), "POSTCODE", 0.7, "PostcodeRecognizer"))
    out.extend((m.start(), m.end(), "POSTCODE", 0.6, "PostcodeRecognizer") for m in _CA.finditer(text))
    out.extend((m.start("code"), m.end("code"), "POSTCODE", 0.6, "PostcodeRecognizer")
               for m in _CODE_WORD.finditer(text))
    out.extend(_chain(text, [(a, b) for a, b, e, *_ in out if e == "STREET_ADDRESS"], is_word))
    towns = [m for m in _TOWN.finditer(text) if not is_word(m.group("name"))]
    out.extend((m.start(), m.end(), "LOCATION", 0.5, "TownRecognizer") for m in towns)
    out.extend(_chain(text, [(m.start(), m.end()) for m in towns], is_word))
    for m in _FIRM.finditer(text):
        names = [w for w in re.findall(r"[^\W\d_][\w'’]*", m.group()) if w not in ("and", "Sons", "und", "et", "Söhne",
                                                                                    "Fils", "Co")]
        if names and not any(is_word(w) for w in names):
            out.append((m.start(), m.end(), "ORGANIZATION", 0.5, "OrganizationRecognizer"))
    for m in _ID_LABEL.finditer(text):
        if sum(c.isdigit() for c in m.group("id")) >= 5:
            out.append((m.start("id"), m.end("id"), "NATIONAL_ID", 0.6, "NationalIdRecognizer"))
    for m in _ORG.finditer(text):
        start, end = trim(text, m.start(), m.end(), frequent, keep_end=True)
        if start < end:
            out.append((start, end, "ORGANIZATION", 0.6, "OrganizationRecognizer"))
    return out


# English town names of the usual endings, with a leading "North", "Port", "Lake", ...: "East Courtneymouth"
_TOWN = re.compile(r"(?<![\w-])(?:(?:North|South|East|West|New|Old|Lake|Port|Fort|Mount|St\.|Saint|Upper|Lower|Great|"
                   r"Little|NORTH|SOUTH|EAST|WEST|NEW|LAKE|PORT)\s)?(?P<name>[A-Z][a-z]+(?:town|ton|land|ville|berg|burgh|"
                   r"borough|bury|view|port|mouth|stad|furt|chester|fort|haven|side|shire|field|ford|ham|ley|wich|wick|"
                   r"dale|by|thorpe|caster|minster)|[A-Z]{3,}(?:TOWN|TON|LAND|VILLE|BERG|BURGH|BOROUGH|BURY|VIEW|PORT|"
                   r"MOUTH|STAD|FURT|CHESTER|FORT|HAVEN|SIDE|SHIRE|FIELD|FORD))(?![\w-])")
# companies named after people: "Clark, Webb and Evans", "Gray and Sons", "Ellis-Hansen"
_FIRM = re.compile(r"(?<![\w-])(?:[A-Z][\w'’]+,\s[A-Z][\w'’]+,?\s(?:and|und|et|&)\s[A-Z][\w'’]+|"
                   r"[A-Z][\w'’-]+\s(?:and|&|und|et|e|y)\s(?:Sons|Söhne|Fils|[Ff]igli|Hijos|[Aa]sociados|Co\.?)|"
                   r"(?:Industrias|Despacho|Corporación|Corporacin|Inmobiliaria|Suministros|Alimentación|Grupo|"
                   r"Laboratorios|Comercializadora|Servicios|Talleres|Distribuciones|Construcciones|Proyectos|"
                   r"Studio|Officine|Ditta)[ \t][A-Z][\w'’-]+(?:,?[ \t](?:[A-Z][\w'’-]+|y|e|&))*|"
                   r"[A-Z][a-z]+-[A-Z][a-z]+(?=\s*\n|,|$))(?![\w-])", re.M)
# after a street line, its comma-separated parts on the same line: unit, city, postcode ("6823 Jacob Groves,
# GOODWINSHIRE, 55928", "Apt 15D, Evansborough C7A 3K9")
_CODE = r"(?=[A-Z-]*\d)(?:[A-Z]{1,2}-)?[A-Z\d]{2,6}(?:[ -][A-Z\d]{2,4})?"
_PLACE_WORDS = r"(?:(?:St|Ste|Mt|Ft)\.[ \t])?[^\W\d_][\w'’-]*(?:[ \t][^\W\d_][\w'’-]*){0,3}"
_PART = re.compile(rf"[ \t]*,?[ \t]*(?P<part>(?P<code1>{_CODE})[ \t]+(?P<w1>{_PLACE_WORDS})|"
                   rf"(?P<w2>#\d{{1,5}}|{_PLACE_WORDS})?(?:[ \t]*(?P<code2>{_CODE}))?)(?=[ \t]*(?:[,.;)\n]|$))",
                   re.U)
_PARTICLES = frozenset("de la le du des lui am an der den im sur sous les di del da".split())


def _chain(text: str, starts: list[tuple[int, int]], is_word) -> list[Found]:
    """The comma-separated parts after a street line or a town, on the same line: unit, city, postcode."""
    out: list[Found] = []
    for _, end in starts:
        pos = end
        for _ in range(3):
            m = _PART.match(text, pos)
            if not m or not m.group("part").strip() or m.end() == pos:
                break
            code_name = "code1" if m.group("code1") else "code2"
            words_name = "w1" if m.group("code1") else "w2"
            code, place = m.group(code_name), m.group(words_name) or ""
            first = m.start(words_name) if place else m.end()
            words = place.split()
            while words and words[0][:1].islower():  # "in Jonesland": a preposition
                first += len(words[0]) + 1
                words = words[1:]
            if any(w[:1].islower() and w not in _PARTICLES for w in words) or \
                    words and all(is_word(w.strip(".")) and not w.isupper() for w in words):
                break  # prose, not an address part
            if words:
                out.append((first, first + len(" ".join(words).rstrip(".")), "LOCATION", 0.5,
                            "AddressPartRecognizer"))
            if code:
                out.append((m.start(code_name), m.end(code_name), "POSTCODE", 0.5, "AddressPartRecognizer"))
            pos = m.end()
            if text[pos:pos + 1] != ",":
                break
    return out


_WORDS = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.U)


def trim(text: str, start: int, end: int, is_word, keep_end: bool = False) -> tuple[int, int]:
    """[start, end) without the ordinary words at its edges ("Dear Support Team" -> empty, "Senior
    Manager Rios LLC" -> "Rios LLC"); ``keep_end`` keeps the last word (a legal form)."""
    words = list(_WORDS.finditer(text, start, end))
    lo, hi = 0, len(words)
    def plain(w: str) -> bool:
        return is_word(w) or any(c.isdigit() for c in w)

    while lo < hi and plain(words[lo].group()):
        lo += 1
    while not keep_end and hi > lo and plain(words[hi - 1].group()):
        hi -= 1
    if lo >= hi or keep_end and hi - lo < 2:
        return start, start
    return words[lo].start(), (end if keep_end else words[hi - 1].end())


# words that follow a number and are no city ("10000 Euro", "12500 Kunden", "SW1A 1AA Tel: ...")
_COUNTED = frozenset("""
tel phone telephone fax mobile email e-mail mail contact web iban bic ref order
telefon handy rufnummer téléphone tél portable courriel
euro euros eur dollar dollars usd chf gbp pfund franken yen stück stk mal tage tagen jahre jahren monate wochen
stunden minuten sekunden kunden punkte seiten artikel einheiten bestellungen meter kilometer km kg exemplare
units items orders people points pages minutes hours days years customers users tickets calls rows records
personnes clients commandes jours mois ans heures pages points articles unités
""".split())


def _city(words: str, is_word, first=None) -> str:
    """The leading words of ``words`` that can be a city's name ('' when the first is an ordinary word;
    ``first`` tells that of the first word when given), up to the end of a sentence."""
    parts = words.split(" ")
    if (first or is_word)(parts[0].strip(".,")):
        return ""
    keep = [parts[0]]
    for p in parts[1:]:
        if keep[-1].endswith((".", ",")) or p[:1].isupper() and is_word(p.strip(".,")):
            break
        keep.append(p)
    while keep and not keep[-1][:1].isupper():  # "Frankfurt am" -> "Frankfurt"
        keep.pop()
    return " ".join(keep).rstrip(".,")


def _last_city(words: str, is_word) -> str:
    """The trailing words of ``words`` that can be a city's name ("Call me in Springfield" -> "Springfield")."""
    parts = words.split(" ")
    keep: list[str] = []
    for p in reversed(parts):
        if is_word(p.strip(".,")):
            break
        keep.insert(0, p)
    return " ".join(keep)
