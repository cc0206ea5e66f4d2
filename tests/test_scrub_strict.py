"""scrub mode: strict, the allow-list, keyed replacements of repeated mentions, and veil run end to end on
a CSV whose notes are in English, German and French (issue 19)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from veil.keys import Keyring
from veil.ops import OPERATORS, OpContext
from veil.pipeline.transform import span_finder

KEYS = Keyring.for_testing(bytes(range(32)))


def scrub(values: list, params: dict | None = None) -> list:
    op = OPERATORS["scrub"]
    ctx = OpContext(KEYS, "d", op.with_defaults({"nlp_model": "none", **(params or {})}), "t", "c", spans=span_finder)
    return op.apply(pa.array(values, pa.string()), ctx).to_pylist()


def test_strict_replaces_capitalised_words_digits_and_handles():
    text = "Ticket 4711: Zork Quibble with Xyzzy wrote to @zq_home at 10:30, see www.zq-home.example."
    assert scrub([text], {"mode": "strict"}) == [
        "Ticket [NUMBER]: [WORD] [WORD] with [WORD] wrote to [URL] at [NUMBER], see [URL]."]
    # the normal mode keeps what it cannot name
    assert scrub([text]) == [text]


def test_strict_keeps_ordinary_words_of_each_language():
    texts = ["Dear Support Team, Thanks for the quick help.",
             "Viele Grüße, Ihre Buchhaltung. Die Rückerstattung ist erledigt.",
             "Bonjour, Merci pour votre patience. Cordialement, le Service Client."]
    assert scrub(texts, {"mode": "strict"}) == texts


def test_strict_allow_list():
    text = "Zork Quibble opened the ticket."
    assert scrub([text], {"mode": "strict"}) == ["[WORD] [WORD] opened the ticket."]
    assert scrub([text], {"mode": "strict", "allow": ["zork"]}) == ["Zork [WORD] opened the ticket."]


def test_strict_keeps_found_entities_whole():
    out = scrub(["Anna Müller, Hauptstraße 5, anna@example.org"], {"mode": "strict"})
    assert out == ["[PERSON_NAME], [STREET_ADDRESS], [EMAIL]"]


def test_repeated_mentions_get_the_same_keyed_replacement():
    rule = {"op": "fake", "kind": "name", "domain": "person"}
    text = "Anna Schmidt called. Schmidt wrote again. Then Schmidt hung up."
    out = scrub([text], {"entities": {"PERSON_NAME": rule}})[0]
    m = re.fullmatch(r"(.+) called\. (.+) wrote again\. Then (.+) hung up\.", out)
    assert m, out
    assert "Schmidt" not in out and "Anna" not in out
    assert m.group(2) == m.group(3)  # a pure function of (key, domain, span text)
    assert out == scrub([text], {"entities": {"PERSON_NAME": rule}})[0]


def test_profile_refuses_an_unknown_mode(cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    pacsv.write_csv(pa.table({"id": ["1"], "note": ["hello"]}), src / "t.csv")
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                       "      note: {op: scrub, mode: loose}\n")
    res = cli("validate", profile, src)
    assert res.exit_code == 3, res.output
    assert "mode" in res.output


NOTES = [
    "Customer Catherine Davis called from (570)270-4999 about 17066 Heather Grove Apt. 915.",
    "Kundin Anna Müller aus 10115 Berlin bittet um Rückerstattung. Viele Grüße, Ihr Team",
    "Bonjour, M. Lefebvre habite au 8, rue Jeanne Henry, 75002 Paris. Cordialement",
]
ORIGINALS = ["Catherine", "Davis", "4999", "17066", "Heather", "Müller", "10115", "Berlin", "Lefebvre", "Jeanne",
             "75002", "Paris"]
KEPT = ["Customer", "called", "Kundin", "Rückerstattung", "Viele Grüße", "Bonjour", "Cordialement"]


def _run(cli, tmp_path: Path, note_rule: str) -> list[str]:
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    pacsv.write_csv(pa.table({"id": ["1", "2", "3"], "note": NOTES}), src / "tickets.csv")
    profile = tmp_path / "p.yaml"
    profile.write_text(f"version: 1\ntables:\n  tickets:\n    columns:\n      id: keep\n      note: {note_rule}\n")
    keyring = tmp_path / "keys" / "k.json"
    if not keyring.exists():
        assert cli("keys", "init", keyring).exit_code == 0
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    res = cli("run", src, "--profile", profile, "--keyring", keyring, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    return pacsv.read_csv(out / "tickets.csv").column("note").to_pylist()


def test_cli_scrubs_notes_in_three_languages(cli, tmp_path):
    for rule in ("{op: scrub, nlp_model: none}", "{op: scrub, nlp_model: none, mode: strict}"):
        notes = _run(cli, tmp_path, rule)
        blob = "\n".join(notes)
        assert not [w for w in ORIGINALS if w in blob], (rule, notes)
        assert all(w in blob for w in KEPT), (rule, notes)
