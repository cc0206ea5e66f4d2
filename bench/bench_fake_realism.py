"""How much the fakes look like the data they replace: the fake operator's rules of before the
row options (commit 3ab9a1e: kind and locale alone; their outputs are unchanged, tests/test_ops.py)
against the same columns with locale_from, gender_from, shape: keep and from, in the same run.

The table is generated with Faker (seeded): people of 12 countries, a gender column, a country
column, first names matching the gender, 10% of last names in upper case, 10% of first names as
initials, phones in the country's national or E.164 format, cards of several brands with
separators. Printed per option set: share of non-ASCII names (originals for reference), gender
agreement (the fake first name is in the row's gender's list of its locale, unknown counted as a
miss), distinct values per column as a ratio to the originals', phones parsed in the row's country
keeping its calling code, cards keeping their brand and length (and Luhn-valid), upper case and
initials kept, usernames containing the row's fake last name; and throughput (rows/s, median of
--repeat rounds alternating old and new, operators applied to whole columns as veil run does).

    python bench/bench_fake_realism.py [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import phonenumbers
import pyarrow as pa
from faker import Faker

from veil.keys import Keyring
from veil.ops import OPERATORS, OpContext
from veil.ops import fake_locale as fl
from veil.ops.fake import _ascii_slug, vocab

COUNTRIES = {"US": "en_US", "GB": "en_GB", "DE": "de_DE", "FR": "fr_FR", "ES": "es_ES", "IT": "it_IT",
             "PL": "pl_PL", "CZ": "cs_CZ", "RU": "ru_RU", "UA": "uk_UA", "JP": "ja_JP", "GR": "el_GR"}
CARD_TYPES = ["visa16", "mastercard", "amex", "discover", "jcb16", "diners"]
BRAND = [("amex", r"3[47]\d{13}"), ("mastercard", r"(5[1-5]|2[2-7])\d{14}"), ("visa", r"4\d{12}(\d{3})?(\d{3})?"),
         ("discover", r"(6011|65|64[4-9])\d+"), ("jcb", r"35\d{14}"), ("diners", r"3(0[0-5]|[689])\d{11,12}")]


def people(n: int) -> dict[str, list]:
    fakers = {c: Faker(loc) for c, loc in COUNTRIES.items()}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(1000 + i)
    cards = Faker("en_US")
    cards.seed_instance(999)
    codes = list(COUNTRIES)
    cols: dict[str, list] = {k: [] for k in ("id", "country", "gender", "first_name", "last_name", "username",
                                             "phone", "card")}
    for i in range(n):
        c = codes[i % len(codes)]
        f = fakers[c]
        g = "F" if (i // len(codes)) % 2 else "M"
        first = f.first_name_female() if g == "F" else f.first_name_male()
        last = f.last_name_female() if g == "F" and hasattr(f, "last_name_female") else \
            f.last_name_male() if hasattr(f, "last_name_male") else f.last_name()
        if i % 10 == 3:
            last = last.upper()
        if i % 10 == 7:
            first = first[0] + "."
        num = phonenumbers.example_number_for_type(c, phonenumbers.PhoneNumberType.MOBILE)
        num.national_number = int(str(num.national_number)[:-4] + f"{f.random_number(4):04d}")
        fmt = phonenumbers.PhoneNumberFormat.E164 if i % 3 == 0 else phonenumbers.PhoneNumberFormat.NATIONAL
        card = cards.credit_card_number(CARD_TYPES[i % len(CARD_TYPES)])
        if i % 2:
            card = " ".join(card[j:j + 4] for j in range(0, len(card), 4))
        cols["id"].append(str(i))
        cols["country"].append(c)
        cols["gender"].append(g)
        cols["first_name"].append(first)
        cols["last_name"].append(last)
        cols["username"].append(f"{_ascii_slug(first)}.{_ascii_slug(last)}{i % 100}")
        cols["phone"].append(phonenumbers.format_number(num, fmt))
        cols["card"].append(card)
    return cols


OLD = {"first_name": {"kind": "first_name"}, "last_name": {"kind": "last_name"},
       "username": {"kind": "username"}, "phone": {"kind": "phone_number"}, "card": {"kind": "credit_card"}}
ROW = {"locale_from": "country", "shape": "keep"}
NEW = {"first_name": {"kind": "first_name", "gender_from": "gender", **ROW},
       "last_name": {"kind": "last_name", "gender_from": "gender", **ROW},
       "username": {"kind": "username", "from": [
           {"column": "first_name", "op": "fake", "domain": "t.first_name", "kind": "first_name",
            "gender_from": "gender", **ROW},
           {"column": "last_name", "op": "fake", "domain": "t.last_name", "kind": "last_name",
            "gender_from": "gender", **ROW}], "shape": "keep"},
       "phone": {"kind": "phone_number", **ROW}, "card": {"kind": "credit_card", "shape": "keep"}}


def run(batch: pa.RecordBatch, rules: dict, keys) -> dict[str, list]:
    op = OPERATORS["fake"]
    out = {}
    for col, params in rules.items():
        ctx = OpContext(keys, f"t.{col}", op.with_defaults(params), table="t", column=col, batch=batch)
        out[col] = op.apply(batch.column(col), ctx).to_pylist()
    return out


def brand(number: str) -> str | None:
    digits = re.sub(r"\D", "", number)
    return next((b for b, p in BRAND if re.fullmatch(p, digits)), None)


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in re.sub(r"\D", "", number)][::-1]
    return sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0


def gender_ok(name: str, gender: str) -> bool:
    key = "first_name_female" if gender == "F" else "first_name_male"
    other = "first_name_male" if gender == "F" else "first_name_female"
    lists = [vocab(loc) for loc in fl.LOCALES]
    mine = any(name in v[key].to_pylist() for v in lists if key in v)
    theirs = any(name in v[other].to_pylist() for v in lists if other in v)
    return mine and not theirs


def figures(src: dict, out: dict) -> dict[str, float]:
    n = len(src["id"])
    f = {}
    names = out["first_name"] + out["last_name"]
    f["non-ASCII names"] = sum(not s.isascii() for s in names) / len(names)
    full = [i for i in range(n) if not src["first_name"][i].endswith(".")]
    cache: dict = {}
    f["gender agreement"] = sum(cache.setdefault((out["first_name"][i], src["gender"][i]),
                                                 gender_ok(out["first_name"][i], src["gender"][i]))
                                for i in full) / len(full)
    for col in ("first_name", "last_name", "username", "phone", "card"):
        f[f"distinct ratio {col}"] = len(set(out[col])) / len(set(src[col]))
    f["distinct ratio full name"] = len(set(zip(out["first_name"], out["last_name"], strict=True))) / \
        len(set(zip(src["first_name"], src["last_name"], strict=True)))
    kept = 0
    for p, c in zip(out["phone"], src["country"], strict=True):
        try:
            kept += phonenumbers.parse(p, c).country_code == phonenumbers.country_code_for_region(c)
        except phonenumbers.NumberParseException:
            pass
    f["phone country kept"] = kept / n
    f["card brand kept"] = sum(brand(a) == brand(b) and len(a) == len(b)
                               for a, b in zip(out["card"], src["card"], strict=True)) / n
    f["card Luhn-valid"] = sum(map(luhn_ok, out["card"])) / n
    upper = [i for i in range(n) if src["last_name"][i].isupper()]
    f["upper case kept"] = sum(out["last_name"][i].isupper() for i in upper) / len(upper)
    initials = [i for i in range(n) if src["first_name"][i].endswith(".")]
    f["initials kept"] = sum(bool(re.fullmatch(r"\w\.", out["first_name"][i])) for i in initials) / len(initials)
    f["username has the fake last name"] = sum(_ascii_slug(out["last_name"][i]) in out["username"][i]
                                               for i in range(n)) / n
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    keys = Keyring.for_testing(bytes(range(32)))
    t0 = time.perf_counter()
    src = people(args.rows)
    print(f"generated {args.rows} rows with Faker in {time.perf_counter() - t0:.1f}s")
    batch = pa.record_batch({k: pa.array(v, pa.string()) for k, v in src.items()})
    times: dict[str, list[float]] = {"old": [], "new": []}
    outs = {}
    for _ in range(args.repeat):
        for name, rules in (("old", OLD), ("new", NEW)):
            t = time.perf_counter()
            outs[name] = run(batch, rules, keys)
            times[name].append(time.perf_counter() - t)
    ref = figures(src, {c: src[c] for c in OLD})
    old, new = figures(src, outs["old"]), figures(src, outs["new"])
    print(f"\n{'figure':36} {'originals':>9} {'old':>7} {'new':>7}")
    for k in new:
        print(f"{k:36} {ref[k]:9.3f} {old[k]:7.3f} {new[k]:7.3f}")
    rate = {k: args.rows / statistics.median(v) for k, v in times.items()}
    print(f"\nthroughput (5 columns, median of {args.repeat}): old {rate['old']:,.0f} rows/s, "
          f"new {rate['new']:,.0f} rows/s, new/old {rate['new'] / rate['old']:.2f}")


if __name__ == "__main__":
    main()
