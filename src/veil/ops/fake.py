"""fake: deterministic, realistic stand-in values.

The distinct values of a batch get one HMAC-SHA256 digest each; the digest's
words index into word lists shipped with veil (built from Faker's locale data
by scripts/build_vocab.py) and feed digits and checksums. Shipping the lists
instead of calling Faker at run time keeps every fake value a pure function
of (key, domain, value): a Faker upgrade cannot change existing pseudonyms.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import digit_strings, fixed_width_strings, is_text, join, u64
from .registry import REKEY_VAULT, OpContext, Param, operator

VOCAB_VERSION = 1
LOCALES = ("en_US", "de_DE", "fr_FR")
KINDS = (
    "first_name", "last_name", "name", "email", "phone_number", "street_address", "city",
    "postcode", "company", "iban", "credit_card", "date_of_birth", "username",
)
DOB_FIRST = np.datetime64("1940-01-01", "D").astype(np.int64)
DOB_LAST = np.datetime64("2006-12-31", "D").astype(np.int64)


def _ascii_slug(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum()) or "x"


@cache
def vocab(locale: str) -> dict[str, pa.Array]:
    raw = json.loads(resources.files("veil.ops").joinpath(f"vocab/{locale}.json").read_text("utf-8"))
    out = {k: pa.array(v, type=pa.string()) for k, v in raw.items()}
    for k in ("first_name", "last_name"):
        out[k + "_ascii"] = pa.array([_ascii_slug(w) for w in raw[k]], type=pa.string())
    return out


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
    if kind in ("first_name", "last_name", "city", "company"):
        return _pick(v[kind], d, 0)
    if kind == "name":
        return join(_pick(v["first_name"], d, 0), " ", _pick(v["last_name"], d, 1))
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
    if kind in ("first_name", "last_name", "city", "company"):
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


@operator(
    "fake",
    params=(
        Param("kind", str, choices=KINDS, help="what to generate"),
        Param("locale", str, "en_US", LOCALES, help="word lists used for names and places"),
        Param("email_domain", str, "example.com", help="domain of fake emails"),
    ),
    keyed=True,
    out_type=_out_type,
    reversible=True,
    max_output_length=lambda t, params: max_length(params["kind"], params.get("locale", "en_US"),
                                                   params.get("email_domain", "example.com")),
    rekey=REKEY_VAULT,
)
def fake(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Realistic values chosen by a keyed hash of the original: the same input
    always gets the same fake, in every table sharing the domain."""
    kind = ctx.params["kind"]
    out_type = fake.output_type(arr.type, ctx.params)
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), type=out_type)
    out = ctx.map_distinct(
        arr, lambda u: generate(kind, ctx.digests(u), ctx.params["locale"], ctx.params["email_domain"]))
    if out.type != out_type:
        out = pc.cast(pc.cast(out, pa.string()) if pa.types.is_date(out.type) and is_text(out_type)
                      else out, out_type)
    return out
