"""Which locale and which gender a fake gets, row by row (the fake operator's context).

A row's locale comes from a country or locale column (``locale_from``), or is read off the
original itself (``locale: auto``): its script, the name lists the words belong to, letters
that only some languages use. A row's gender comes from a gender or title column
(``gender_from``), or (``locale: auto``) from the lists the original first name is in.
Each column's distinct values are parsed once; everything per row is an array operation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: the locales with word lists (src/veil/ops/vocab), in a fixed order: a locale's code is its index
LOCALES = ("en_US", "de_DE", "fr_FR", "en_GB", "es_ES", "it_IT", "nl_NL", "pt_BR", "pt_PT", "pl_PL", "cs_CZ",
           "sv_SE", "da_DK", "fi_FI", "ru_RU", "uk_UA", "el_GR", "tr_TR", "ja_JP", "zh_CN", "ko_KR")
CODE = {loc: i for i, loc in enumerate(LOCALES)}
UNKNOWN = -1
MALE, FEMALE = 1, 2  # gender codes; 0: unknown

#: countries without their own word lists, written with the nearest locale's lists
#: (their phones keep their own country: the region is the country itself)
NEAREST = {
    "US": "en_US", "CA": "en_US", "PR": "en_US", "GB": "en_GB", "UK": "en_GB", "IE": "en_GB", "AU": "en_GB",
    "NZ": "en_GB", "ZA": "en_GB", "IN": "en_GB", "SG": "en_GB", "DE": "de_DE", "AT": "de_DE", "CH": "de_DE",
    "LI": "de_DE", "LU": "fr_FR", "FR": "fr_FR", "BE": "fr_FR", "MC": "fr_FR", "ES": "es_ES", "MX": "es_ES",
    "AR": "es_ES", "CO": "es_ES", "CL": "es_ES", "PE": "es_ES", "VE": "es_ES", "UY": "es_ES", "IT": "it_IT",
    "SM": "it_IT", "NL": "nl_NL", "BR": "pt_BR", "PT": "pt_PT", "AO": "pt_PT", "PL": "pl_PL", "CZ": "cs_CZ",
    "SK": "cs_CZ", "SE": "sv_SE", "DK": "da_DK", "NO": "da_DK", "FI": "fi_FI", "RU": "ru_RU", "BY": "ru_RU",
    "KZ": "ru_RU", "UA": "uk_UA", "GR": "el_GR", "CY": "el_GR", "TR": "tr_TR", "JP": "ja_JP", "CN": "zh_CN",
    "TW": "zh_CN", "HK": "zh_CN", "KR": "ko_KR",
}
ALPHA3 = {
    "USA": "US", "CAN": "CA", "GBR": "GB", "IRL": "IE", "AUS": "AU", "NZL": "NZ", "DEU": "DE", "AUT": "AT",
    "CHE": "CH", "FRA": "FR", "BEL": "BE", "LUX": "LU", "ESP": "ES", "MEX": "MX", "ARG": "AR", "ITA": "IT",
    "NLD": "NL", "BRA": "BR", "PRT": "PT", "POL": "PL", "CZE": "CZ", "SVK": "SK", "SWE": "SE", "DNK": "DK",
    "NOR": "NO", "FIN": "FI", "RUS": "RU", "UKR": "UA", "GRC": "GR", "TUR": "TR", "JPN": "JP", "CHN": "CN",
    "KOR": "KR", "IND": "IN", "ZAF": "ZA",
}
NAMES = {
    "united states": "US", "usa": "US", "united states of america": "US", "canada": "CA",
    "united kingdom": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "ireland": "IE", "australia": "AU", "new zealand": "NZ", "germany": "DE", "deutschland": "DE",
    "austria": "AT", "österreich": "AT", "switzerland": "CH", "schweiz": "CH", "suisse": "CH",
    "france": "FR", "belgium": "BE", "belgique": "BE", "belgië": "BE", "luxembourg": "LU", "spain": "ES",
    "españa": "ES", "mexico": "MX", "méxico": "MX", "argentina": "AR", "italy": "IT", "italia": "IT",
    "netherlands": "NL", "the netherlands": "NL", "nederland": "NL", "brazil": "BR", "brasil": "BR",
    "portugal": "PT", "poland": "PL", "polska": "PL", "czech republic": "CZ", "czechia": "CZ", "česko": "CZ",
    "slovakia": "SK", "sweden": "SE", "sverige": "SE", "denmark": "DK", "danmark": "DK", "norway": "NO",
    "norge": "NO", "finland": "FI", "suomi": "FI", "russia": "RU", "россия": "RU", "ukraine": "UA",
    "україна": "UA", "greece": "GR", "ελλάδα": "GR", "turkey": "TR", "türkiye": "TR", "japan": "JP",
    "日本": "JP", "china": "CN", "中国": "CN", "south korea": "KR", "korea": "KR", "대한민국": "KR",
    "india": "IN", "south africa": "ZA",
}

#: gender and title column values (compared case-insensitively, trailing dots ignored)
GENDER_WORDS = {
    MALE: ("m", "male", "man", "men", "boy", "mr", "mister", "sir", "1", "h", "homme", "masculin", "monsieur",
           "herr", "männlich", "maennlich", "mann", "hombre", "masculino", "sr", "señor", "senhor", "sig",
           "signore", "uomo", "maschio", "dhr", "heer", "pan", "muž", "hr", "herra", "мужской", "м", "муж",
           "чоловіча", "ч", "bay", "erkek", "男", "男性", "남", "남성"),
    FEMALE: ("f", "female", "woman", "women", "girl", "mrs", "ms", "miss", "madam", "2", "w", "femme",
             "féminin", "feminin", "madame", "mademoiselle", "mme", "mlle", "frau", "weiblich", "fräulein",
             "mujer", "femenino", "sra", "señora", "senhora", "srta", "sig.ra", "signora", "donna", "femmina",
             "mevr", "mevrouw", "vrouw", "pani", "paní", "žena", "fru", "rouva", "женский", "ж", "жен",
             "жіноча", "bayan", "kadın", "女", "女性", "여", "여성"),
}
_GENDER = {w: g for g, words in GENDER_WORDS.items() for w in words}

#: letters only some languages write, when the name lists say nothing (in order of trust)
_LETTERS = (
    ("uk_UA", "[ЄєІіЇїҐґ]"), ("ru_RU", r"\p{Cyrillic}"), ("el_GR", r"\p{Greek}"), ("ko_KR", r"\p{Hangul}"),
    ("ja_JP", r"[\p{Hiragana}\p{Katakana}]"), ("zh_CN", r"\p{Han}"), ("cs_CZ", "[řůěťďňŘŮĚŤĎŇ]"),
    ("pl_PL", "[łąęśźżńŁĄĘŚŹŻŃ]"), ("tr_TR", "[ğışİŞĞ]"), ("da_DK", "[øæØÆ]"), ("sv_SE", "[åÅ]"),
    ("de_DE", "[ßüÜ]"), ("es_ES", "[ñÑ¿¡]"), ("pt_BR", "[ãõÃÕ]"), ("fr_FR", "[èêëàâîïôûùçœÈÊËÀÂÎÏÔÛÙÇŒ]"),
    ("fi_FI", "[äöÄÖ]"),
)


def country_locale(value: str) -> tuple[int, str | None]:
    """A country or locale value's (locale code, phone region): ``DE``, ``DEU``, ``Germany``,
    ``de_DE``, ``de-AT``; (UNKNOWN, None) for anything else."""
    v = unicodedata.normalize("NFC", value).strip()
    m = re.fullmatch(r"([a-zA-Z]{2,3})[_-]([a-zA-Z]{2})", v)
    if m:
        region = m.group(2).upper()
        exact = f"{m.group(1).lower()}_{region}"
        loc = exact if exact in CODE else NEAREST.get(region)
        return (CODE[loc], region) if loc else (UNKNOWN, None)
    up = v.upper()
    code = up.isascii() and up.isalpha()
    region = (up if code and len(up) == 2 else ALPHA3.get(up) if code and len(up) == 3 else None) \
        or NAMES.get(v.lower())
    loc = NEAREST.get(region or "")
    if loc is None:
        return UNKNOWN, None
    return CODE[loc], ("GB" if region == "UK" else region)


def _distinct(arr: pa.Array) -> tuple[np.ndarray, list]:
    """Each row's index into the distinct values (-1 for null), and the distinct values."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr)
    idx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return idx, enc.dictionary.to_pylist()


def rows_country(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each row's locale code (UNKNOWN where the value is null or not a known country/locale) and
    phone region ("" there), parsing each distinct value once."""
    idx, values = _distinct(arr)
    parsed = [country_locale(v) for v in values] + [(UNKNOWN, None)]
    codes = np.array([p[0] for p in parsed], dtype=np.int64)
    regions = np.array([p[1] or "" for p in parsed], dtype=object)
    return codes[idx], regions[idx]


def gender_of(value: str) -> int:
    return _GENDER.get(unicodedata.normalize("NFC", value).strip().lower().rstrip("."), 0)


def rows_gender(arr: pa.Array) -> np.ndarray:
    """Each row's gender code (MALE, FEMALE, or 0: null or not a gender/title value)."""
    idx, values = _distinct(arr)
    codes = np.array([gender_of(v) for v in values] + [0], dtype=np.int8)
    return codes[idx]


@cache
def _vocab_raw(locale: str) -> dict:
    return json.loads(resources.files("veil.ops").joinpath(f"vocab/{locale}.json").read_text("utf-8"))


@cache
def _lookup(lists: tuple[str, ...]) -> tuple[pa.Array, np.ndarray]:
    """Lower-cased words of these lists in every locale, and each word's locale code (UNKNOWN for a
    word in the lists of several locales)."""
    owner: dict[str, int] = {}
    for code, loc in enumerate(LOCALES):
        raw = _vocab_raw(loc)
        for key in lists:
            for w in raw.get(key, ()):
                w = w.lower()
                owner[w] = code if owner.get(w, code) == code else UNKNOWN
    words = sorted(owner)
    return pa.array(words, type=pa.string()), np.array([owner[w] for w in words], dtype=np.int64)


@cache
def _gender_lookup() -> tuple[pa.Array, np.ndarray]:
    """Lower-cased first names of every locale, and each one's gender (0 where lists disagree)."""
    g: dict[str, int] = {}
    for loc in LOCALES:
        raw = _vocab_raw(loc)
        for code, key in ((MALE, "first_name_male"), (FEMALE, "first_name_female")):
            for w in raw.get(key, ()):
                w = w.lower()
                g[w] = code if g.get(w, code) == code else 0
    words = sorted(g)
    return pa.array(words, type=pa.string()), np.array([g[w] for w in words], dtype=np.int8)


def _owner(tokens: pa.Array, table: tuple[pa.Array, np.ndarray]) -> np.ndarray:
    words, codes = table
    pos = pc.index_in(pc.utf8_lower(tokens), value_set=words).to_numpy(zero_copy_only=False)
    found = ~np.isnan(pos.astype(np.float64))
    out = np.full(len(tokens), UNKNOWN if codes.dtype == np.int64 else 0, dtype=codes.dtype)
    out[found] = codes[pos[found].astype(np.int64)]
    return out


def _first_token(values: pa.Array) -> pa.Array:
    return pc.struct_field(pc.extract_regex(values, r"^\s*(?P<t>[^\s,]+)"), [0])


def _last_token(values: pa.Array) -> pa.Array:
    return pc.struct_field(pc.extract_regex(values, r"(?P<t>[^\s,]+)\s*$"), [0])


def infer_locales(values: pa.Array, kind: str, fallback: int) -> np.ndarray:
    """The locale of each (distinct, non-null text) original read off the value: a last-name or
    first-name word found in one locale's lists only, else letters that only some languages
    write, else ``fallback``. A value in plain ASCII and in no list gets ``fallback``."""
    n = len(values)
    out = np.full(n, UNKNOWN, dtype=np.int64)
    if kind in ("name", "last_name", "first_name"):
        first, last = _first_token(values), _last_token(values)
        lasts = _lookup(("last_name", "last_name_male", "last_name_female"))
        firsts = _lookup(("first_name", "first_name_male", "first_name_female"))
        # a full name is tried in both orders (family name first in ja, zh, ko)
        tries = {"first_name": [(first, firsts)], "last_name": [(last, lasts)],
                 "name": [(last, lasts), (first, firsts), (first, lasts), (last, firsts)]}[kind]
        for tokens, table in tries:
            out = np.where(out == UNKNOWN, _owner(tokens, table), out)
    for loc, pattern in _LETTERS:
        if not (out == UNKNOWN).any():
            break
        hit = pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)
        out = np.where((out == UNKNOWN) & hit, CODE[loc], out)
    return np.where(out == UNKNOWN, fallback, out)


def infer_genders(values: pa.Array) -> np.ndarray:
    """The gender of each original's first word by the first-name lists (0: unknown or both)."""
    return _owner(_first_token(values), _gender_lookup())
