"""Fakes shaped like their originals (the fake operator's ``shape: keep``).

Names keep their case (UPPER, lower) and initials (``J.`` stays one letter and a dot); phones
keep their country calling code and their writing (E.164, international with spaces, ``00``,
national), laid out as the country writes its numbers (libphonenumber's example number of the
region, frozen in vocab/phones.json by scripts/build_vocab.py, its trailing digits replaced by
keyed ones); card numbers keep their brand (the issuer
prefix that names it), their length and their separators, and stay Luhn-valid. Every function
takes the distinct originals and their digests, and works on whole arrays.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import fake as _fake  # one Luhn implementation, in fake.py (read at call time)
from .arrays import fixed_width_strings

AS_IS, UPPER, LOWER, INITIAL, INITIAL_DOT = 0, 1, 2, 3, 4


def case_codes(values: pa.Array, kind: str) -> np.ndarray:
    """How each original is written: UPPER, LOWER, INITIAL(_DOT) for a one-letter first name, or
    AS_IS (capitalised, mixed, or no letters). A name's first word alone decides initials."""
    def mask(m: pa.Array) -> np.ndarray:
        return pc.fill_null(m, False).to_numpy(zero_copy_only=False)

    has_two = mask(pc.match_substring_regex(values, r"\pL.*\pL"))
    codes = np.full(len(values), AS_IS, dtype=np.int8)
    codes[mask(pc.utf8_is_upper(values)) & has_two] = UPPER
    codes[mask(pc.utf8_is_lower(values)) & has_two] = LOWER
    if kind in ("first_name", "name"):
        head = r"^\s*\pL" + (r"(\s|$)" if kind == "name" else r"\s*$")
        dotted = r"^\s*\pL\." + (r"(\s|$)" if kind == "name" else r"\s*$")
        codes[mask(pc.match_substring_regex(values, head))] = INITIAL
        codes[mask(pc.match_substring_regex(values, dotted))] = INITIAL_DOT
    return codes


def apply_case(out: pa.Array, codes: np.ndarray, kind: str) -> pa.Array:
    """``out`` written like the originals (``codes`` from :func:`case_codes`, row for row)."""
    if not codes.any():
        return out
    rest = r"\S*" if kind == "name" else r".*"
    for code, fn in ((UPPER, pc.utf8_upper), (LOWER, pc.utf8_lower),
                     (INITIAL, lambda a: pc.replace_substring_regex(a, r"^(\pL)" + rest, r"\1")),
                     (INITIAL_DOT, lambda a: pc.replace_substring_regex(a, r"^(\pL)" + rest, r"\1.")),):
        sel = codes == code
        if sel.any():
            out = pc.if_else(pa.array(sel), fn(out), out)
    return out


# -- phones --------------------------------------------------------------------

E164, INTL, INTL00, NATIONAL = 0, 1, 2, 3
#: trailing digits of the region's example number replaced by keyed digits (at most)
PHONE_KEYED = 6


@cache
def _phones() -> dict:
    return json.loads(resources.files("veil.ops").joinpath("vocab/phones.json").read_text("utf-8"))


@cache
def _calling() -> dict[int, pa.Array]:
    """The calling codes by length (1 to 3 digits; no code is a prefix of another)."""
    by_len: dict[int, list[str]] = {}
    for cc in _phones()["calling_codes"]:
        by_len.setdefault(len(cc), []).append(cc)
    return {n: pa.array(sorted(v)) for n, v in by_len.items()}


def phone_styles(values: pa.Array) -> tuple[np.ndarray, list[str | None]]:
    """Each original's writing (E164, INTL, INTL00, NATIONAL) and, for an international number, the
    main region of its calling code (``+44 ...`` -> GB; None for a national number)."""
    def mask(m: pa.Array) -> np.ndarray:
        return pc.fill_null(m, False).to_numpy(zero_copy_only=False)

    plus = mask(pc.match_substring_regex(values, r"^\s*\+"))
    zeros = mask(pc.match_substring_regex(values, r"^\s*00[1-9]"))
    e164 = mask(pc.match_substring_regex(values, r"^\s*\+\d+\s*$"))
    style = np.where(e164, E164, np.where(plus, INTL, np.where(zeros, INTL00, NATIONAL))).astype(np.int8)
    digits = pc.replace_substring_regex(values, r"^\s*(\+|00)|\D", "")
    found = pa.nulls(len(values), pa.string())
    for n, codes in _calling().items():
        head = pc.utf8_slice_codeunits(digits, 0, n)
        found = pc.if_else(pc.and_(pc.is_null(found), pc.is_in(head, value_set=codes)), head, found)
    main = _phones()["calling_codes"]
    regions = [main[cc] if cc and style[i] != NATIONAL else None for i, cc in enumerate(found.to_pylist())]
    return style, regions


@cache
def phone_template(region: str, style: int) -> tuple[bytes, tuple[int, ...]] | None:
    """The region's example mobile number written in ``style``, and the byte positions of its
    trailing digits that get keyed digits; None for a region with no example."""
    ex = _phones()["regions"].get(region)
    if ex is None:
        return None
    raw = ex["formats"][style].encode("ascii", "replace")
    digit_pos = [i for i, b in enumerate(raw) if 48 <= b <= 57]
    keyed = max(1, min(PHONE_KEYED, ex["national_digits"] - 2))
    return raw, tuple(digit_pos[-keyed:])


def phones(d: np.ndarray, region: str, style: int) -> pa.Array | None:
    """Fake phone numbers of ``region`` written in ``style`` (None: no example for the region)."""
    t = phone_template(region, style)
    if t is None:
        return None
    raw, pos = t
    chars = np.tile(np.frombuffer(raw, dtype=np.uint8), (len(d), 1))
    chars[:, list(pos)] = 48 + d[:, 16:16 + len(pos)] % 10
    return fixed_width_strings(chars)


def max_phone_length() -> int:
    return 24


# -- cards ---------------------------------------------------------------------

#: (pattern over the digits, issuer digits kept): the prefix that names the brand
BRANDS = (
    (r"^3[47]", 2),  # American Express
    (r"^(5018|5020|5038|6304|6759|676[1-3])", 4),  # Maestro
    (r"^5[1-5]", 2),  # Mastercard
    (r"^2(22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)", 4),  # Mastercard 2-series
    (r"^4", 1),  # Visa
    (r"^(6011|65)", 4),  # Discover (6011; 65 with two more digits)
    (r"^64[4-9]", 3),  # Discover
    (r"^35", 4),  # JCB (3528-3589; any 35xx keeps its four digits)
    (r"^3(0[0-5]|095|[689])", 3),  # Diners Club
    (r"^62", 2),  # UnionPay
)


def _luhn(payload: np.ndarray) -> np.ndarray:
    _luhn_complete = _fake._luhn_complete
    return _luhn_complete(payload)


def _equal_width(arr: pa.Array, width: int) -> np.ndarray:
    """An (n, width) byte matrix of a string array whose values all have ``width`` bytes."""
    arr = pa.concat_arrays([arr.cast(pa.string())])
    start = int(np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset])
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    return data[start:start + len(arr) * width].reshape(len(arr), width)


def cards(values: pa.Array, d: np.ndarray) -> pa.Array:
    """Fake card numbers written like the originals (same separators and length), keeping the
    digits that name the brand, Luhn-valid; an original of under 8 digits gets the plain fake."""
    digits = pc.replace_substring_regex(values, r"\D", "")
    ndig = pc.utf8_length(digits).to_numpy(zero_copy_only=False)
    keep = np.ones(len(values), dtype=np.int64)
    chosen = np.zeros(len(values), dtype=bool)
    for pattern, n in BRANDS:
        hit = pc.fill_null(pc.match_substring_regex(digits, pattern), False).to_numpy(zero_copy_only=False)
        keep = np.where(hit & ~chosen, n, keep)
        chosen |= hit
    layout = pc.replace_substring_regex(values, r"\d", "#")
    enc = pc.dictionary_encode(layout)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    out: list[pa.Array] = []
    order: list[np.ndarray] = []
    for j, pattern in enumerate(enc.dictionary.to_pylist()):
        rows = np.flatnonzero(idx == j)
        n = int(ndig[rows[0]])
        if n < 8:  # no card number: the plain fake (16 digits starting with 4)
            payload = np.concatenate([np.full((len(rows), 1), 4), d[rows][:, :14] % 10], axis=1)
            out.append(fixed_width_strings((_luhn(payload) + 48).astype(np.uint8)))
            order.append(rows)
            continue
        orig = _equal_width(digits.take(pa.array(rows)), n).astype(np.int64) - 48
        pos = np.arange(n - 1)
        keyed = d[rows][:, np.arange(n - 1) % 32] % 10
        payload = np.where(pos[None, :] < keep[rows][:, None], orig[:, :n - 1], keyed)
        full = _luhn(payload)
        tmpl = np.frombuffer(pattern.encode("utf-8"), dtype=np.uint8)
        chars = np.tile(tmpl, (len(rows), 1))
        chars[:, np.flatnonzero(tmpl == ord("#"))] = (full + 48).astype(np.uint8)
        out.append(fixed_width_strings(chars))
        order.append(rows)
    merged = pa.concat_arrays(out)
    return merged.take(pa.array(np.argsort(np.concatenate(order), kind="stable")))
