"""Build the word lists behind the `fake` operator from Faker's locale data.

veil ships these lists instead of calling Faker at run time so that a fake
value depends only on (key, domain, value, vocabulary version): upgrading
Faker must never change the pseudonyms of an existing dataset. Faker's data
is MIT-licensed. Re-run only on purpose (it changes every `fake` output) and
bump VOCAB_VERSION in src/veil/ops/fake.py when you do.

    python scripts/build_vocab.py
"""

from __future__ import annotations

import json
from pathlib import Path

from faker import Faker

OUT = Path(__file__).resolve().parent.parent / "src" / "veil" / "ops" / "vocab"
LOCALES = ["en_US", "de_DE", "fr_FR"]


def _uniq(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen[item] = None
    return sorted(seen)


def build(locale: str) -> dict:
    fake = Faker(locale)
    fake.seed_instance(20261123)
    providers = {type(p).__module__.split(".")[-2]: p for p in fake.providers}
    pp = providers["person"]
    firsts = list(getattr(pp, "first_names", ()))
    lasts = list(getattr(pp, "last_names", ()))
    cities = _uniq([fake.city() for _ in range(3000)])[:1000]
    streets = _uniq([fake.street_name() for _ in range(4000)])[:1500]
    companies = _uniq([fake.company() for _ in range(4000)])[:1500]
    return {
        "first_name": _uniq(firsts),
        "last_name": _uniq(lasts),
        "city": cities,
        "street_name": streets,
        "company": companies,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for locale in LOCALES:
        data = build(locale)
        path = OUT / f"{locale}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True) + "\n")
        print(path.name, {k: len(v) for k, v in data.items()})


if __name__ == "__main__":
    main()
