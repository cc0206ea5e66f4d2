"""fake: deterministic, realistic stand-in values.

The distinct values of a batch get one HMAC-SHA256 digest each; the digest's
words index into word lists shipped with veil (built from Faker's locale data
by scripts/build_vocab.py) and feed digits and checksums. Shipping the lists
instead of calling Faker at run time keeps every fake value a pure function
of (key, domain, value): a Faker upgrade cannot change existing pseudonyms.

With the row options (``locale: auto``, ``locale_from``, ``gender_from``,
``shape: keep``, ``from``) the digest is still the value's alone; the row's
locale and gender choose the list it indexes, and the original's writing
(case, script, phone style, card brand) how the result is written
(fake_locale.py, fake_shape.py). Without them the outputs are the original
operator's, unchanged.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import fake_locale as fl
from . import fake_rows as _rows  # fake_rows uses this module too: attributes read at call time
from .arrays import digit_strings, fixed_width_strings, is_text, join, u64
from .registry import REKEY_VAULT, OpContext, Param, operator

VOCAB_VERSION = 1
LOCALES = fl.LOCALES
AUTO = "auto"
SHAPES = ("free", "keep")
KINDS = (
    "first_name", "last_name", "name", "email", "phone_number", "street_address", "city",
    "postcode", "company", "iban", "credit_card", "date_of_birth", "username", "title",
)
GENDERED = ("first_name", "last_name", "name", "title", "email", "username")
FROM_KINDS = ("email", "username")
DOB_FIRST = np.datetime64("1940-01-01", "D").astype(np.int64)
DOB_LAST = np.datetime64("2006-12-31", "D").astype(np.int64)


#: Cyrillic and Greek letters in Latin, for usernames and emails (the Latin scripts fold by NFKD)
_TRANSLIT = str.maketrans({
    **dict(zip("абвгдезийклмнопрстуфхыэ", "abvgdezijklmnoprstufhye", strict=True)),
    "ё": "e", "ж": "zh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ь": "", "ю": "yu", "я": "ya",
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g",
    **dict(zip("αβγδεζηικλμνξοπρσςτυφχω", "avgdezikklmnxoprsstyfho", strict=True)), "θ": "th", "ψ": "ps",
})


def _ascii_slug(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word.lower().translate(_TRANSLIT)).encode("ascii", "ignore").decode()
    return "".join(c for c in folded if c.isalnum()) or "x"


def _is_ascii(word: str) -> bool:
    return word.isascii()


@cache
def vocab(locale: str) -> dict[str, pa.Array]:
    """The locale's word lists as arrays; ``<list>_ascii``: each word's ASCII slug (usernames);
    ``<list>/plain`` and ``<list>/accented``: its words in plain ASCII and the others."""
    raw = json.loads(resources.files("veil.ops").joinpath(f"vocab/{locale}.json").read_text("utf-8"))
    out = {k: pa.array(v, type=pa.string()) for k, v in raw.items() if isinstance(v, list)}
    for k, words in raw.items():
        if not isinstance(words, list) or not words or k.endswith("format"):
            continue
        if k.startswith(("first_name", "last_name")):
            out[k + "_ascii"] = pa.array([_ascii_slug(w) for w in words], type=pa.string())
        plain = [w for w in words if _is_ascii(w)]
        accented = [w for w in words if not _is_ascii(w)]
        out[k + "/plain"] = pa.array(plain or words, type=pa.string())
        out[k + "/accented"] = pa.array(accented or words, type=pa.string())
    out["title"] = pa.array(list(dict.fromkeys(raw["title_male"] + raw["title_female"])), type=pa.string())
    return out


@cache
def formats(locale: str) -> dict[str, str]:
    raw = json.loads(resources.files("veil.ops").joinpath(f"vocab/{locale}.json").read_text("utf-8"))
    return {k: v for k, v in raw.items() if isinstance(v, str)}


def _pick(words: pa.Array, d: np.ndarray, word: int) -> pa.Array:
    return words.take(pa.array(u64(d, word) % np.uint64(len(words))))


def _num(d: np.ndarray, word: int, lo: int, hi: int) -> np.ndarray:
    """A number in [lo, hi] from a digest word."""
    return lo + (u64(d, word) % np.uint64(hi - lo + 1)).astype(np.int64)


def _as_text(n: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(n), pa.string())


def _luhn_complete(digits: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to each row of an (n, k) digit array."""
    k = digits.shape[1]
    d = digits.astype(np.int64).copy()
    # positions counted from the right once the check digit is appended: the
    # last payload digit is doubled
    double = (np.arange(k)[::-1] % 2) == 0
    dd = d[:, double] * 2
    d[:, double] = np.where(dd > 9, dd - 9, dd)
    check = (10 - d.sum(axis=1) % 10) % 10
    return np.concatenate([digits, check[:, None]], axis=1)


def _iban_de(d: np.ndarray) -> pa.Array:
    """German IBANs (DE + 2 check digits + 18-digit BBAN) with a valid mod-97 checksum."""
    bban = (d[:, :18] % 10).astype(np.int64)
    # mod 97 of BBAN followed by "DE00" as digits ("D"=13, "E"=14, "00")
    tail = np.array([1, 3, 1, 4, 0, 0], dtype=np.int64)
    r = np.zeros(len(d), dtype=np.int64)
    for col in range(18):
        r = (r * 10 + bban[:, col]) % 97
    for digit in tail:
        r = (r * 10 + digit) % 97
    check = 98 - r
    chars = np.concatenate([(check // 10)[:, None], (check % 10)[:, None], bban], axis=1) + 48
    return join("DE", fixed_width_strings(chars.astype(np.uint8)))


def generate(kind: str, d: np.ndarray, locale: str, email_domain: str) -> pa.Array:
    v = vocab(locale)
    if kind in ("first_name", "last_name", "city", "company", "title"):
        return _pick(v[kind], d, 0)
    if kind == "name":  # in the locale's order: "{f} {l}", or family name first ("{l} {f}", "{l}{f}")
        first, last = _pick(v["first_name"], d, 0), _pick(v["last_name"], d, 1)
        fmt = formats(locale)["name_format"]
        return join(first, " ", last) if fmt == "{f} {l}" else join(last, fmt[3:-3], first)
    if kind == "email":
        return join(_pick(v["first_name_ascii"], d, 0), ".", _pick(v["last_name_ascii"], d, 1),
                    _as_text(_num(d, 2, 1, 999)), "@" + email_domain)
    if kind == "username":
        return join(_pick(v["first_name_ascii"], d, 0), "_", _pick(v["last_name_ascii"], d, 1),
                    _as_text(_num(d, 2, 1, 99)))
    if kind == "phone_number":
        # 555 exchange: a fictional range, so no real subscriber gets called from staging
        return join("+1-", _as_text(_num(d, 0, 201, 989)), "-555-", digit_strings(d, 4, start=8))
    if kind == "street_address":
        return join(_as_text(_num(d, 0, 1, 9999)), " ", _pick(v["street_name"], d, 1))
    if kind == "postcode":
        return digit_strings(d, 5)
    if kind == "iban":
        return _iban_de(d)
    if kind == "credit_card":
        payload = np.concatenate([np.full((len(d), 1), 4), d[:, :14] % 10], axis=1)
        return fixed_width_strings((_luhn_complete(payload) + 48).astype(np.uint8))
    if kind == "date_of_birth":
        days = _num(d, 0, int(DOB_FIRST), int(DOB_LAST)).astype(np.int32)
        return pa.array(days, type=pa.int32()).view(pa.date32())
    raise ValueError(kind)  # unreachable: the profile validator checks kind


def max_length(kind: str, locale: str, email_domain: str) -> int:
    """The longest value ``generate`` gives for a kind (characters; dates as YYYY-MM-DD)."""
    v = vocab(locale)

    def longest(words: str) -> int:
        return max(pc.utf8_length(v[words]).to_pylist())

    fixed = {"phone_number": 15, "postcode": 5, "iban": 22, "credit_card": 16, "date_of_birth": 10}
    if kind in fixed:
        return fixed[kind]
    if kind in ("first_name", "last_name", "city", "company", "title"):
        return longest(kind)
    if kind == "name":
        return longest("first_name") + 1 + longest("last_name")
    if kind == "email":
        return longest("first_name_ascii") + 1 + longest("last_name_ascii") + 3 + 1 + len(email_domain)
    if kind == "username":
        return longest("first_name_ascii") + 1 + longest("last_name_ascii") + 2
    if kind == "street_address":
        return 4 + 1 + longest("street_name")
    raise ValueError(kind)


def _out_type(t: pa.DataType, params: dict) -> pa.DataType | None:
    if params.get("kind") == "date_of_birth" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return None
    return None if is_text(t) else pa.string()


def row_options(params: dict) -> bool:
    """Whether the rule uses a per-row option (fake_rows.py); without one, the original outputs."""
    return (params.get("locale") == AUTO or params.get("shape") == "keep"
            or any(params.get(k) for k in ("locale_from", "gender_from", "from")))


def _context_columns(params: dict) -> tuple[str, ...]:
    refs = [r["column"] if isinstance(r, dict) else r for r in params.get("from") or ()]
    return tuple(dict.fromkeys(c for c in (params.get("locale_from"), params.get("gender_from"), *refs) if c))


def _check(params: dict) -> list[str]:
    kind, out = params.get("kind"), []
    if params.get("gender_from") and kind not in GENDERED:
        out.append(f"gender_from applies to kinds {', '.join(GENDERED)}, not {kind}")
    if params.get("from") is not None:
        refs = params["from"]
        if kind not in FROM_KINDS:
            out.append(f"from applies to kinds email and username, not {kind}")
        elif not 1 <= len(refs) <= 2 or not all(isinstance(r, str | dict) for r in refs):
            out.append("from must list one full-name column or a first-name and a last-name column")
    return out


def _max_length(t: pa.DataType, params: dict) -> int:
    kind, domain = params["kind"], params.get("email_domain", "example.com")
    if not row_options(params):
        return max_length(kind, params.get("locale", "en_US"), domain)
    if kind == "phone_number":
        return 24
    if kind == "credit_card":
        return 23 if params.get("shape") == "keep" else 16
    if kind in ("iban", "date_of_birth"):
        return max_length(kind, "en_US", domain)
    locales = LOCALES if params.get("locale") == AUTO or params.get("locale_from") else (params["locale"],)

    def longest(base: str) -> int:  # over the gendered lists too
        return max(max(pc.utf8_length(v[k]).to_pylist()) for loc in locales
                   for v in [vocab(loc)] for k in (base, base + "_male", base + "_female") if k in v)

    slack = 2 if params.get("shape") == "keep" else 0  # upper case may lengthen (ß -> SS)
    if kind == "postcode":
        return max(len(f) for loc in locales for f in vocab(loc)["postcode_format"].to_pylist())
    if kind == "street_address":
        return longest("street_name") + 12 + slack
    if kind == "name":
        return longest("first_name") + 1 + longest("last_name") + slack
    if kind in ("email", "username"):
        if params.get("from"):  # the names come from other columns, in any locale
            locales = LOCALES
        slug = longest("first_name_ascii") + 1 + longest("last_name_ascii")
        return slug + 3 + (1 + len(domain) if kind == "email" else 0)
    return longest(kind) + slack


@operator(
    "fake",
    params=(
        Param("kind", str, choices=KINDS, help="what to generate"),
        Param("locale", str, "en_US", LOCALES + (AUTO,),
              help="word lists used for names and places; auto: read off each original"),
        Param("email_domain", str, "example.com", help="domain of fake emails"),
        Param("locale_from", str, None, help="column of the row's country or locale (DE, DEU, Germany, de_DE)"),
        Param("gender_from", str, None, help="column of the row's gender or title (M/F, male/female, Herr/Frau...)"),
        Param("shape", str, "free", SHAPES,
              help="keep: case, initials, script, phone country and style, card brand of the original"),
        Param("from", list, None, help="email/username: the row's first and last name columns (their fakes)"),
    ),
    keyed=True,
    out_type=_out_type,
    check=_check,
    reversible=True,
    max_output_length=_max_length,
    context_columns=_context_columns,
    rekey=REKEY_VAULT,
)
def fake(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Realistic values chosen by a keyed hash of the original: the same input
    always gets the same fake, in every table sharing the domain."""
    kind = ctx.params["kind"]
    out_type = fake.output_type(arr.type, ctx.params)
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), type=out_type)
    if row_options(ctx.params):
        out = _rows.fake_rows(arr, ctx)
    else:
        out = ctx.map_distinct(
            arr, lambda u: generate(kind, ctx.digests(u), ctx.params["locale"], ctx.params["email_domain"]))
    if out.type != out_type:
        out = pc.cast(pc.cast(out, pa.string()) if pa.types.is_date(out.type) and is_text(out_type)
                      else out, out_type)
    return out
