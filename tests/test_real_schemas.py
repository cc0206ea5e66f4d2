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


def test_draft_phone_in_a_narrow_column_keeps_its_length():
    """shop.staff.phone varchar(12): the draft's fake phone_number writes up to 15 characters and
    validate refused it. A phone column declared narrower gets pseudonymize format: digits (each
    value keeps its length and separators); a wide or undeclared one keeps the fake."""
    def rule(length: int | None) -> dict:
        f = Finding("shop.staff", "phone", "string", "PHONE", "direct", 0.99, {"text_length": length})
        return suggest(f, "shop.staff", {})

    assert rule(12) == {"op": "pseudonymize", "format": "digits", "domain": "phone_digits"}
    assert rule(15) == rule(None) == {"op": "fake", "kind": "phone_number", "domain": "phone"}


def test_draft_knows_the_longest_fake():
    """The draft's copy of fake's longest outputs (detection does not import the operators) is fake's."""
    from veil.detect.draft import FAKE_LONGEST
    from veil.ops.fake import max_length

    for kind, longest in FAKE_LONGEST.items():
        assert max_length(kind, "en_US", "example.com") == longest
