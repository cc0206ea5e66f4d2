"""The draft's rule for a free-text column (issue 19): scrub, strict scrub or redact, and why."""

from __future__ import annotations

from veil.detect.draft import _comment, suggest
from veil.detect.findings import Finding


def finding(inside: dict, width: int | None = None) -> Finding:
    evidence = {"entities_in_text": inside, "type": "string"}
    if width is not None:
        evidence["text_length"] = width
    return Finding("tickets", "note", "string", "FREE_TEXT", "direct", 0.9, evidence)


def test_few_texts_with_entities_get_scrub():
    f = finding({"EMAIL": 0.05, "PHONE": 0.03})
    rule = suggest(f, "tickets", {"EMAIL": "customers.email"})
    assert rule["op"] == "scrub" and "mode" not in rule
    assert rule["entities"]["EMAIL"] == "customers.email"
    assert "scrub: entities in few texts" in _comment(f)


def test_texts_that_mostly_name_someone_get_strict_scrub():
    f = finding({"PERSON_NAME": 0.7, "EMAIL": 0.1})
    rule = suggest(f, "tickets", {})
    assert rule["op"] == "scrub" and rule["mode"] == "strict"
    assert "strict scrub: 70% of texts name someone" in _comment(f)


def test_json_text_and_emails_alone_never_get_strict_scrub():
    f = finding({"PERSON_NAME": 0.9})
    f = Finding(f.table, f.column, "json", f.entity, f.cls, f.confidence, f.evidence)
    assert "mode" not in suggest(f, "tickets", {})  # strict would replace JSON's numbers
    assert "mode" not in suggest(finding({"EMAIL": 1.0}), "tickets", {})  # patterns find emails already


def test_a_narrow_column_of_identifiers_gets_redact():
    f = finding({"PHONE": 0.6}, width=24)
    assert suggest(f, "tickets", {}) == {"op": "redact"}
    assert "redact: texts of at most 24 characters" in _comment(f)
