"""Issue 18.2: the scan finds card data however stored, security answers, photos and biometrics,
quasi-identifiers and special categories, without losing precision; the draft's privacy section
validates, runs unchanged, and ``veil verify`` reads the quasi-identifiers it drafted."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from faker import Faker

from veil.cli import main
from veil.detect.classify import classify
from veil.detect.draft import draft_profile, privacy_columns, suggest
from veil.detect.entities import ENTITIES, PRIVACY_QI, entity_class
from veil.detect.findings import Finding
from veil.detect.names import match
from veil.detect.scan import confirm_context, scan_dataset
from veil.detect.values import card_number_share, magic_shares
from veil.formats import open_dataset

from .dump_fixtures import pg, pg_dump, pg_tools  # noqa: F401


def veil(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def named(column: str, table: str = "people") -> list[str]:
    return [h.entity for h in match(table, column)[0]]


# -- name rules: each new entity, positive and negative ------------------------------------

POSITIVE = {
    "CARD_CVV": ["cvv", "cvv2", "CVC", "card_security_code", "card_verification_value", "kartenpruefnummer"],
    "CARD_EXPIRY": ["card_exp", "card_expiry", "cc_expiration_date", "exp_month", "expiry_year", "card_valid_thru"],
    "SECURITY_ANSWER": ["security_question", "security_answer", "mothers_maiden_name", "first_pet_name",
                        "secret_answer_2", "password_hint", "Sicherheitsfrage"],
    "BINARY_PERSONAL": ["picture", "photo", "profile_photo", "staff_picture", "signature_scan", "passport_scan",
                        "id_copy", "avatar"],
    "BIOMETRIC": ["fingerprint_template", "face_embedding", "iris_scan", "voiceprint", "biometric_data"],
    "AGE": ["age", "customer_age", "age_group", "Alter", "edad"],
    "BIRTH_YEAR": ["birth_year", "year_of_birth", "yob", "Geburtsjahr"],
    "GENDER": ["gender", "sex", "customer_gender", "Geschlecht", "sexe"],
    "REGION": ["province", "billing_state", "Bundesland", "county"],
    "OCCUPATION": ["occupation", "job_title", "profession", "Beruf"],
    "EMPLOYER": ["employer", "employer_name", "Arbeitgeber"],
    "MARITAL_STATUS": ["marital_status", "Familienstand", "estado_civil"],
    "SALARY": ["salary", "annual_salary", "Bruttogehalt", "wage", "salaire"],
    "SPECIAL_CATEGORY": ["diagnosis", "icd10_code", "blood_type", "allergies", "religion", "ethnicity",
                         "sexual_orientation", "political_opinion", "union_membership", "trade_union",
                         "Konfession", "medical_history"],
}
# Named like an entity and about something else: none of these may fire.
NEGATIVE = ["card_type", "photo_count", "gender_neutral_pricing", "company_id", "age_rating", "page", "message",
            "expiry_date", "device_fingerprint", "ssh_key_fingerprint", "screen_orientation", "photo_url_count",
            "salary_id", "religion_id", "state_id", "diagnostic_flag", "usage", "storage", "union_all",
            "sexual_orientation_id", "maiden_voyage", "security_level", "stage", "gender_updated_at"]


@pytest.mark.parametrize("entity", sorted(POSITIVE))
def test_names_of_each_new_entity(entity):
    assert entity in ENTITIES
    missed = [c for c in POSITIVE[entity] if entity not in named(c)]
    assert not missed, f"{entity} not found by name in {missed}"


@pytest.mark.parametrize("column", NEGATIVE)
def test_look_alike_names_do_not_fire(column):
    new = set(POSITIVE)
    assert not set(named(column)) & new, f"{column}: {named(column)}"


def test_classes():
    assert entity_class("SPECIAL_CATEGORY") == "sensitive"
    assert {entity_class(e) for e in ("CARD_CVV", "CARD_EXPIRY", "SECURITY_ANSWER", "BINARY_PERSONAL",
                                      "BIOMETRIC")} == {"direct"}
    assert all(entity_class(e) == "quasi" for e in PRIVACY_QI)


# -- values: the name must agree, and card numbers however stored --------------------------

def test_values_must_agree_with_the_name():
    ages = [str(a) for a in range(18, 90)]
    assert classify("people", "age", "integer", ages, None)[0] == "AGE"
    seconds = [str(s) for s in range(3600, 90000, 997)]
    assert classify("cache", "age", "integer", seconds, None)[0] == "NONE"  # a cache's age in seconds
    assert classify("cards", "cvv2", "integer", [str(x) for x in range(100, 999, 7)], None)[0] == "CARD_CVV"
    assert classify("cards", "cvv2", "string", ["alpha", "beta", "gamma", "delta"], None)[0] == "NONE"
    assert classify("cards", "card_expiry", "string", ["03/27", "11/29", "01/2031"], None)[0] == "CARD_EXPIRY"
    assert classify("people", "gender", "string", ["F", "M", "X"], None)[0] == "GENDER"
    assert classify("people", "gender", "string", [f"v{i}" for i in range(40)], None)[0] == "NONE"
    assert classify("hr", "salary", "float", ["52000.0", "61000.5", "48000.0"], None)[0] == "SALARY"
    assert classify("members", "union_member", "boolean", ["true", "false"], None)[0] == "SPECIAL_CATEGORY"
    assert classify("ledger", "amount", "float", ["4.53201E+15"], None)[0] == "NONE"  # no name: not a card


def test_card_number_shapes():
    assert card_number_share(["4.53201E+15", "4532015112830366.0", "4532015112830366", "4532 0151 1283 0366",
                              "3782-822463-10005"]) == 1.0
    assert card_number_share(["12.5", "1700000000.0", "2024", "1 2 3"]) == 0.0


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_float_and_scientific_card_numbers_from_a_csv(tmp_path):
    """A spreadsheet export: card numbers as '4.53201E+15' and '4532015112830366.0' (the issue's
    case: the values overrode the cc_number name), next to the CVV and the expiry."""
    fake = Faker("en_US")
    fake.seed_instance(18)
    rows = []
    for i in range(300):
        n = fake.credit_card_number(card_type="visa16")
        rows.append([i + 1, f"{float(n):.5E}" if i % 2 else repr(float(n)), int(n),
                     fake.credit_card_security_code(card_type="visa16"), fake.credit_card_expire(),
                     fake.random_element(["visa", "mastercard"]), round(fake.pyfloat(0, 2, True), 2)])
    d = tmp_path / "cards"
    d.mkdir()
    _write_csv(d / "payments.csv", ["id", "cc_number", "card_no", "cvv2", "card_exp", "card_type", "amount"], rows)
    result = scan_dataset(open_dataset(d), use_ner=False)
    got = {f.column: (f.type, f.entity) for f in result.findings}
    assert got["cc_number"] == ("float", "CREDIT_CARD")
    assert got["card_no"] == ("integer", "CREDIT_CARD")
    assert got["cvv2"][1] == "CARD_CVV" and got["card_exp"][1] == "CARD_EXPIRY"
    assert got["card_type"][1] == "NONE" and got["amount"][1] == "NONE"
    draft = yaml.safe_load(draft_profile(result))["tables"]["payments"]["columns"]
    assert draft["cc_number"]["op"] == "fake" and draft["cvv2"] == "mask" and draft["card_exp"] == "mask"
    # no card number reaches the findings (a 3-digit code could match any count in them)
    text = json.dumps(result.to_json())
    assert not any(str(r[2]) in text or r[1] in text for r in rows)


def _png(rng: np.random.Generator) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.integers(0, 256, 300, dtype=np.uint8))


def _pdf(rng: np.random.Generator) -> bytes:
    return b"%PDF-1.7\n" + bytes(rng.integers(0, 256, 300, dtype=np.uint8))


def test_png_and_pdf_bytes_in_parquet(tmp_path):
    rng = np.random.default_rng(18)
    fake = Faker("en_US")
    fake.seed_instance(18)
    n = 120
    staff = pa.table({
        "staff_id": pa.array(range(1, n + 1), pa.int64()),
        "full_name": [fake.name() for _ in range(n)],
        "email": [fake.email() for _ in range(n)],
        "picture": pa.array([_png(rng) for _ in range(n)], pa.binary()),
        "documents": pa.array([_pdf(rng) for _ in range(n)], pa.binary()),  # a scanned contract: bytes decide
        "blob": pa.array([bytes(rng.integers(0, 256, 50, dtype=np.uint8)) for _ in range(n)], pa.binary()),
        "photo_count": pa.array(rng.integers(0, 30, n), pa.int32()),
    })
    products = pa.table({
        "product_id": pa.array(range(1, n + 1), pa.int64()),
        "product_image": pa.array([_png(rng) for _ in range(n)], pa.binary()),  # no person in the table
    })
    d = tmp_path / "media"
    d.mkdir()
    pq.write_table(staff, d / "staff.parquet")
    pq.write_table(products, d / "products.parquet")
    result = scan_dataset(open_dataset(d), use_ner=False)
    got = {(f.table, f.column): f for f in result.findings}
    assert got[("staff", "picture")].entity == "BINARY_PERSONAL"
    assert got[("staff", "picture")].evidence["recognizers"]["image_magic"] == 1.0
    assert got[("staff", "documents")].entity == "BINARY_PERSONAL"  # PDF magic, confirmed by the table
    assert got[("staff", "blob")].entity == "NONE"
    assert got[("staff", "photo_count")].entity == "NONE"
    assert got[("products", "product_image")].entity == "NONE"
    draft = yaml.safe_load(draft_profile(result))["tables"]
    assert draft["staff"]["columns"]["picture"] == "nullify" and draft["staff"]["columns"]["documents"] == "nullify"
    assert draft["products"]["columns"]["product_image"] == "keep"


def test_a_bytea_photo_in_a_pg_dump(pg, tmp_path):  # noqa: F811
    """The issue's case: staff photos (PNG in a bytea column, Sakila's staff.picture) rated NONE."""
    db = pg.create("veil_h9_scan_privacy")
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE staff (staff_id int PRIMARY KEY, first_name text, email text, picture bytea, "
                     "photo_count int)")
        conn.execute("INSERT INTO staff SELECT i, 'Ann' || i, 'a' || i || '@example.com', "
                     "decode('89504e470d0a1a0a0000000d49484452' || md5(i::text), 'hex'), i % 7 "
                     "FROM generate_series(1, 60) i")
    dump = pg_dump(db, tmp_path / "staff.sql")
    result = scan_dataset(open_dataset(dump), use_ner=False)
    got = {f.column: f for f in result.findings}
    assert got["picture"].entity == "BINARY_PERSONAL" and got["picture"].evidence["recognizers"]["image_magic"] == 1
    assert got["photo_count"].entity == "NONE"
    assert yaml.safe_load(draft_profile(result))["tables"]["public.staff"]["columns"]["picture"] == "nullify"


def test_magic_in_text_forms():
    """A dump writes bytes as hex (PostgreSQL bytea, mysqldump --hex-blob) or base64."""
    assert magic_shares(["\\x89504e470d0a1a0a0000000d", "0x255044462D312E37", "iVBORw0KGgoAAAANSUhEUgAA",
                         "/9j/4AAQSkZJRgABAQ", "hello there, no file"]) == \
        {"image_magic": 0.6, "pdf_magic": 0.2}


def test_context_confirms_weak_names():
    """'state' and 'company' are personal only beside an address or a person."""
    def finding(col: str, entity: str, need: str | None = None) -> Finding:
        ev = {"needs_context": need} if need else {}
        return Finding("t", col, "string", entity, entity_class(entity), 0.55, ev)

    alone = [finding("state", "REGION", "address"), finding("company", "EMPLOYER", "person"),
             finding("status", "NONE")]
    confirm_context(alone)
    assert [f.entity for f in alone] == ["NONE", "NONE", "NONE"]
    beside = [finding("state", "REGION", "address"), finding("company", "EMPLOYER", "person"),
              finding("zip", "POSTCODE"), finding("email", "EMAIL")]
    confirm_context(beside)
    assert [f.entity for f in beside[:2]] == ["REGION", "EMPLOYER"] and beside[0].confidence >= 0.75


def test_privacy_columns_and_rules():
    def f(col, entity, typ="string", key=None):
        return Finding("people", col, typ, entity, entity_class(entity), 0.9, {}, key)

    findings = [f("id", "NONE", "integer", "primary"), f("zip", "POSTCODE"), f("dob", "DATE_OF_BIRTH", "date"),
                f("age", "AGE", "integer"), f("city", "CITY"), f("religion", "SPECIAL_CATEGORY"),
                f("email", "EMAIL"), f("photo", "BINARY_PERSONAL", "binary"), f("cvv", "CARD_CVV", "integer")]
    rules = {x.column: suggest(x, "people", {}) for x in findings}
    assert rules["photo"] == {"op": "nullify"} and rules["cvv"] == {"op": "nullify"}
    assert rules["age"] == {"op": "generalize", "bucket": 5}  # outside a privacy section
    qis, sensitive = privacy_columns(findings, rules)
    assert qis == ["zip", "dob", "age", "city"] and sensitive == ["religion"]


def test_a_lookup_table_gets_no_privacy_section(tmp_path):
    """A store's ZIP code and city, a list of countries: no person to single out, no k to reach (a
    dump's stores restored NULL zips into a NOT NULL column when they were generalized)."""
    d = tmp_path / "lookup"
    d.mkdir()
    fake = Faker("en_US")
    fake.seed_instance(5)
    _write_csv(d / "store.csv", ["store_id", "zip", "city", "country"],
               [[i, fake.zipcode(), fake.city(), "US"] for i in range(1, 7)])
    _write_csv(d / "people.csv", ["person_id", "email", "zip", "city"],
               [[i, fake.email(), fake.zipcode(), fake.city()] for i in range(1, 160)])
    draft = yaml.safe_load(draft_profile(scan_dataset(open_dataset(d), use_ner=False)))["tables"]
    assert "privacy" not in draft["store"] and draft["store"]["columns"]["zip"]["op"] == "generalize"
    assert draft["people"]["privacy"]["quasi_identifiers"] == ["zip", "city"]


def test_derived_columns_are_generalized_together(tmp_path):
    """An age next to a birth date: both quasi-identifiers, so veil run generalizes them together; next
    to a birth date that is faked (not ISO), the age stays a quasi-identifier and the draft says the
    two no longer match."""
    fake = Faker("en_US")
    fake.seed_instance(7)
    iso, german = tmp_path / "iso", tmp_path / "german"
    for d in (iso, german):
        d.mkdir()
    born = [fake.date_of_birth(minimum_age=18, maximum_age=90) for _ in range(200)]
    _write_csv(iso / "people.csv", ["person_id", "email", "date_of_birth", "age"],
               [[i, fake.email(), b.isoformat(), 2025 - b.year] for i, b in enumerate(born)])
    _write_csv(german / "people.csv", ["person_id", "email", "Geburtsdatum", "age"],
               [[i, fake.email(), b.strftime("%d.%m.%Y"), 2025 - b.year] for i, b in enumerate(born)])
    text = draft_profile(scan_dataset(open_dataset(iso), use_ner=False))
    table = yaml.safe_load(text)["tables"]["people"]
    assert table["privacy"]["quasi_identifiers"] == ["date_of_birth", "age"]
    assert table["columns"]["date_of_birth"] == "keep" and table["columns"]["age"] == "keep"
    assert "age derived from date_of_birth: quasi-identifiers together, generalized together" in text
    text = draft_profile(scan_dataset(open_dataset(german), use_ner=False))
    table = yaml.safe_load(text)["tables"]["people"]
    assert table["columns"]["Geburtsdatum"]["op"] == "fake" and table["privacy"]["quasi_identifiers"] == ["age"]
    assert "age derived from Geburtsdatum, which is faked" in text


# -- the draft end to end: validate, run unchanged, verify ---------------------------------------

@pytest.fixture(scope="module")
def people(tmp_path_factory) -> Path:
    """400 people with a few quasi-identifiers, a special category, card data and a photo."""
    fake = Faker("en_US")
    fake.seed_instance(1818)
    rng = np.random.default_rng(1818)
    d = tmp_path_factory.mktemp("people") / "in"
    d.mkdir()
    n = 400
    zips = [fake.zipcode() for _ in range(40)]
    rows = []
    for i in range(n):
        cc = fake.credit_card_number(card_type="visa16")
        rows.append([i + 1, fake.name(), fake.email(), str(rng.choice(["F", "M"])), int(rng.integers(18, 80)),
                     str(rng.choice(zips)), str(rng.choice(["Christian", "Muslim", "None", "Jewish"])),
                     f"{float(cc):.5E}", fake.credit_card_security_code(card_type="visa16"),
                     fake.credit_card_expire(), fake.last_name()])
    _write_csv(d / "people.csv", ["person_id", "full_name", "email", "gender", "age", "zip", "religion",
                                  "cc_number", "cvv2", "card_expiry", "mothers_maiden_name"], rows)
    return d


def test_drafted_privacy_section_validates_runs_and_verifies(people, tmp_path):
    draft = tmp_path / "draft.yaml"
    assert veil("scan", people, "-o", draft, "-q", "--no-ner").exit_code == 0
    profile = yaml.safe_load(draft.read_text())["tables"]["people"]
    assert profile["privacy"]["quasi_identifiers"] == ["gender", "age", "zip"]
    assert profile["privacy"]["sensitive"] == ["religion"] and profile["privacy"]["k"] == 5
    cols = profile["columns"]
    assert all(cols[q] == "keep" for q in ("gender", "age", "zip"))  # veil run generalizes them
    assert cols["cvv2"] == "mask" and cols["card_expiry"] == "mask" and cols["mothers_maiden_name"] == "redact"
    assert cols["cc_number"]["op"] == "fake"
    assert "Enforcement comes from this section" in draft.read_text()

    res = veil("validate", draft, people)
    assert res.exit_code == 0, res.output
    keyring = tmp_path / "keys" / "k.json"
    assert veil("keys", "init", keyring).exit_code == 0
    out = tmp_path / "out"
    res = veil("run", people, "-p", draft, "--keyring", keyring, "-o", out, "-q")
    assert res.exit_code == 0, res.stderr
    with open(out / "people.csv", newline="") as fh:
        copy = list(csv.DictReader(fh))
    with open(people / "people.csv", newline="") as fh:
        orig = list(csv.DictReader(fh))
    assert len(copy) == len(orig)
    # the card numbers are written as floats (4.47188E+15): the fake keeps that shape, so only 6 of
    # its 8 digits are keyed (the brand's 4 stays, the last is Luhn's) and a fake equals one of the
    # 32 Luhn-valid originals with probability 3.2e-5: one of the 400 fakes does in ~1.3% of runs
    # (measured: 72 of 6,000 random keys; the old 'no shared value' failed so), five with ~1e-11.
    # A kept or unkeyed column shares all 400.
    assert len({r["cc_number"] for r in orig} & {r["cc_number"] for r in copy}) <= 4
    assert not {r["mothers_maiden_name"] for r in orig} & {r["mothers_maiden_name"] for r in copy}
    assert {r["cvv2"] for r in copy} <= {"***", "****", ""}

    report = tmp_path / "verify.json"
    res = veil("verify", people, out, "-p", draft, "--report", report, "-q")
    assert res.exit_code in (0, 10), res.stderr
    risk = json.loads(report.read_text())["risk"]
    table = next(v for k, v in risk["tables"].items() if k.endswith("people"))
    assert table["quasi_identifiers"] == ["gender", "age", "zip"]
    assert table["sensitive"] == ["religion"]
    assert table["k"] >= 5, table  # the copy made with the draft unchanged is 5-anonymous
