"""Issue 16 point 9: the whole path on two realistic schemas written here (tests/schemas/).

PostgreSQL "rental shop" and MariaDB "music store", dumped by the real pg_dump / mysqldump:
``veil scan -o draft`` -> ``veil validate`` -> ``veil run`` with the draft unchanged -> restore with
errors fatal -> every relation (declared and FK-less) joins with the source's cardinalities, the
application's INSERTs without explicit ids succeed, personal columns changed. The figures are
printed by ``python bench/real_schemas.py``. Also the regression tests of the fixes this path found.
"""

from __future__ import annotations

from veil.detect.draft import suggest
from veil.detect.findings import Finding

# -- regressions found by the path ---------------------------------------------------------------


def test_draft_keeps_a_narrow_country_code_key():
    """shop.country.country_code char(2) is a COUNTRY (by name and values), not NONE: the draft gave it
    pseudonymize, whose 16-character token fits no char(2), and validate refused the draft (and the
    customer/store FKs inheriting it). A narrow key whose entity is kept anyway is kept."""
    def rule(entity: str, length: int | None) -> dict:
        f = Finding("shop.country", "country_code", "string", entity, "quasi", 0.85, {"text_length": length},
                    "primary")
        return suggest(f, "shop.country", {})

    assert rule("COUNTRY", 2) == {"op": "keep"}
    assert rule("NONE", 2) == {"op": "keep"}
    assert rule("COUNTRY", 64)["op"] == "pseudonymize"  # wide enough for a token: a key is pseudonymized
    assert rule("EMAIL", 12)["op"] == "pseudonymize"  # a direct identifier is never kept for its width
