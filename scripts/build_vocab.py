"""Build the word lists behind the `fake` operator from Faker's locale data.

veil ships these lists instead of calling Faker at run time so that a fake
value depends only on (key, domain, value, vocabulary version): upgrading
Faker must never change the pseudonyms of an existing dataset. Faker's data
is MIT-licensed (src/veil/ops/vocab/NOTICE). Re-run only on purpose and check
that the lists of the first three locales (first_name, last_name, city,
street_name, company) come out unchanged: they are what every existing
`fake` output indexes. A change there needs VOCAB_VERSION bumped in
src/veil/ops/fake.py. The run is deterministic (Faker seeded, lists sorted, hash seed 0).

    python scripts/build_vocab.py
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import phonenumbers
from faker import Faker

OUT = Path(__file__).resolve().parent.parent / "src" / "veil" / "ops" / "vocab"
#: the first three are the original lists (their five base lists are frozen); the rest were added
#: for per-value locales (issue 19)
LOCALES = ["en_US", "de_DE", "fr_FR", "en_GB", "es_ES", "it_IT", "nl_NL", "pt_BR", "pt_PT", "pl_PL",
           "cs_CZ", "sv_SE", "da_DK", "fi_FI", "ru_RU", "uk_UA", "el_GR", "tr_TR", "ja_JP", "zh_CN", "ko_KR"]
ORIGINAL = {"en_US", "de_DE", "fr_FR"}

#: courtesy titles (veil's own short lists, not Faker's, which mix in academic titles)
TITLES = {
    "en_US": (["Mr."], ["Mrs.", "Ms.", "Miss"]), "en_GB": (["Mr"], ["Mrs", "Ms", "Miss"]),
    "de_DE": (["Herr"], ["Frau"]), "fr_FR": (["M."], ["Mme", "Mlle"]), "es_ES": (["Sr."], ["Sra."]),
    "it_IT": (["Sig."], ["Sig.ra"]), "nl_NL": (["Dhr."], ["Mevr."]), "pt_BR": (["Sr."], ["Sra."]),
    "pt_PT": (["Sr."], ["Sra."]), "pl_PL": (["Pan"], ["Pani"]), "cs_CZ": (["pan"], ["paní"]),
    "sv_SE": (["Herr"], ["Fru"]), "da_DK": (["Hr."], ["Fru"]), "fi_FI": (["Herra"], ["Rouva"]),
    "ru_RU": (["г-н"], ["г-жа"]), "uk_UA": (["пан"], ["пані"]), "el_GR": (["κ."], ["κα"]),
    "tr_TR": (["Bay"], ["Bayan"]), "ja_JP": (["様"], ["様"]), "zh_CN": (["先生"], ["女士"]),
    "ko_KR": (["씨"], ["씨"]),
}
#: how a full name and a street address are written ({f} first, {l} last; {n} number, {s} street)
NAME_FORMAT = {"ja_JP": "{l} {f}", "zh_CN": "{l}{f}", "ko_KR": "{l}{f}"}
NUMBER_FIRST = {"en_US", "en_GB", "fr_FR", "ja_JP", "zh_CN"}
STREET_FORMAT = {"ru_RU": "{s}, д. {n}", "uk_UA": "{s}, буд. {n}", "it_IT": "{s}, {n}", "pt_BR": "{s}, {n}",
                 "pt_PT": "{s}, {n}", "es_ES": "{s}, {n}"}


def _uniq(items) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen[item] = None
    return sorted(seen)


def _sampled(fn, n: int) -> list[str]:
    return _uniq(fn() for _ in range(n))


def _postcode_formats(fake: Faker) -> list[str]:
    """Shapes of the locale's postcodes: # a digit, ? an upper-case letter."""
    def shape(code: str) -> str:
        return re.sub(r"[A-Z]", "?", re.sub(r"\d", "#", code))
    return _uniq(shape(fake.postcode()) for _ in range(400))


def build(locale: str) -> dict:
    fake = Faker(locale)
    fake.seed_instance(20261123)
    providers = {type(p).__module__.split(".")[-2]: p for p in fake.providers}
    pp = providers["person"]
    firsts = list(getattr(pp, "first_names", ()))
    lasts = list(getattr(pp, "last_names", ()))
    small = locale not in ORIGINAL
    cities = _uniq([fake.city() for _ in range(3000)])[:300 if small else 1000]
    streets = _uniq([fake.street_name() for _ in range(4000)])[:500 if small else 1500]
    companies = _uniq([fake.company() for _ in range(4000)])[:300 if small else 1500]
    out = {
        "first_name": _uniq(firsts),
        "last_name": _uniq(lasts),
        "city": cities,
        "street_name": streets,
        "company": companies,
    }
    fake.seed_instance(20261205)
    out["first_name_male"] = _uniq(getattr(pp, "first_names_male", ()))
    out["first_name_female"] = _uniq(getattr(pp, "first_names_female", ()))
    if len(lasts) < 20:  # pl_PL builds last names in code: sample them
        out["last_name"] = _uniq(_sampled(fake.last_name_male, 4000) + _sampled(fake.last_name_female, 4000))
    for g in ("male", "female"):
        gendered = list(getattr(pp, f"last_names_{g}", ()))
        if not gendered and len(lasts) < 20:
            gendered = _sampled(getattr(fake, f"last_name_{g}"), 4000)
        if gendered:
            out[f"last_name_{g}"] = _uniq(gendered)
    out["title_male"], out["title_female"] = TITLES[locale]
    out["postcode_format"] = _postcode_formats(fake)
    out["name_format"] = NAME_FORMAT.get(locale, "{f} {l}")
    out["street_format"] = STREET_FORMAT.get(locale, "{n} {s}" if locale in NUMBER_FIRST else "{s} {n}")
    return out


def phones() -> dict:
    """Per region, its example mobile number (else its general example) written four ways
    (E164, INTERNATIONAL, 00 + international, NATIONAL), from libphonenumber's metadata; and each
    calling code's main region. Frozen here so a phonenumbers upgrade cannot change a fake phone."""
    fmt = phonenumbers.PhoneNumberFormat
    regions = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        ex = (phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
              or phonenumbers.example_number(region))
        if ex is None:
            continue
        intl = phonenumbers.format_number(ex, fmt.INTERNATIONAL)
        regions[region] = {"national_digits": len(str(ex.national_number)),
                           "formats": [phonenumbers.format_number(ex, fmt.E164), intl, "00" + intl[1:],
                                       phonenumbers.format_number(ex, fmt.NATIONAL)]}
    codes = {str(cc): rs[0] for cc, rs in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items())
             if rs and rs[0] in regions}
    return {"phonenumbers": phonenumbers.__version__, "regions": regions, "calling_codes": codes}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "phones.json").write_text(json.dumps(phones(), ensure_ascii=False, sort_keys=True,
                                                separators=(",", ":")) + "\n")
    for locale in LOCALES:
        data = build(locale)
        path = OUT / f"{locale}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True) + "\n")
        print(path.name, {k: len(v) for k, v in data.items() if isinstance(v, list)})


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":  # some Faker providers draw from sets (it_IT cities)
        os.execvpe(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main()
