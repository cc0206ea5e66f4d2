"""Issue 16 point 2: foreign keys found, not guessed by name only.

A schema written here (PostgreSQL, dumped by the real pg_dump): a partitioned ``payment`` whose
foreign keys are declared on its partitions only, an FK-less ``manager_id`` self-reference, an
FK-less ``support_rep_id`` -> ``employee.employee_id``, an FK-less ``manager_employee_id``, and
decoys (``head_count``, ``visits``) whose values also fall inside the keys. ``veil scan -o draft``,
``veil run`` with the draft unchanged, restore with ON_ERROR_STOP=1: every join keeps its
cardinality. Same for a CSV directory extract (inference by containment only).
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml
from click.testing import CliRunner

from veil.cli import main
from veil.detect.scan import scan_dataset
from veil.formats import open_dataset

from .dump_fixtures import pg, pg_dump, pg_tools, psql_file  # noqa: F401

SCHEMA = """
CREATE TABLE employee (employee_id integer PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                       email text NOT NULL, manager_id integer, head_count integer NOT NULL);
CREATE TABLE store (store_id integer PRIMARY KEY, manager_employee_id integer NOT NULL, city text);
CREATE TABLE customer (customer_id integer PRIMARY KEY, email text NOT NULL, full_name text NOT NULL,
                       support_rep_id integer, visits integer NOT NULL);
CREATE TABLE payment (payment_id integer NOT NULL, customer_id integer NOT NULL, employee_id integer NOT NULL,
                      amount numeric(7,2) NOT NULL, payment_date timestamp NOT NULL,
                      PRIMARY KEY (payment_id, payment_date)) PARTITION BY RANGE (payment_date);
CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2022-02-01');
CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01') TO ('2022-03-01');
ALTER TABLE payment_p2022_01 ADD FOREIGN KEY (customer_id) REFERENCES customer(customer_id);
ALTER TABLE payment_p2022_01 ADD FOREIGN KEY (employee_id) REFERENCES employee(employee_id);
ALTER TABLE payment_p2022_02 ADD FOREIGN KEY (customer_id) REFERENCES customer(customer_id);
ALTER TABLE payment_p2022_02 ADD FOREIGN KEY (employee_id) REFERENCES employee(employee_id);
"""

FIRST = ["Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Karin", "Luca"]
LAST = ["Smith", "Meyer", "Rossi", "Dubois", "Novak", "Silva", "Jensen", "Kowalski", "Moreau", "Fischer",
        "Garcia", "Larsen"]

# the schema's relations: declared on the partitions, and not declared at all
DECLARED = {("public.payment", "customer_id", "public.customer", "customer_id"),
            ("public.payment", "employee_id", "public.employee", "employee_id")}
UNDECLARED = {("public.employee", "manager_id", "public.employee", "employee_id"),
              ("public.store", "manager_employee_id", "public.employee", "employee_id"),
              ("public.customer", "support_rep_id", "public.employee", "employee_id")}

JOINS = {
    "payment-customer": "SELECT count(*) FROM payment p JOIN customer c ON c.customer_id = p.customer_id",
    "payment-employee": "SELECT count(*) FROM payment p JOIN employee e ON e.employee_id = p.employee_id",
    "employee-manager": "SELECT count(*) FROM employee e JOIN employee m ON m.employee_id = e.manager_id",
    "store-manager": "SELECT count(*) FROM store s JOIN employee e ON e.employee_id = s.manager_employee_id",
    "customer-rep": "SELECT count(*) FROM customer c JOIN employee e ON e.employee_id = c.support_rep_id",
}


def rows() -> dict[str, list[tuple]]:
    employees = [(i, FIRST[i - 1], LAST[i - 1], f"{FIRST[i - 1].lower()}.{LAST[i - 1].lower()}@corp.example",
                  None if i <= 2 else 1 + i % 2, 1 + i % 7) for i in range(1, 13)]
    stores = [(1, 1, "Lyon"), (2, 2, "Porto"), (3, 1, "Graz")]
    customers = [(100 + i, f"cust{i}@mail.example", f"{FIRST[i % 12]} {LAST[(i * 5) % 12]}",
                  None if i % 10 == 0 else 3 + i % 3, 1 + i % 9) for i in range(1, 201)]
    payments = [(i, 100 + 1 + (i * 7) % 200, 1 + i % 12, f"{(i % 50) + 0.99:.2f}",
                 f"2022-0{1 + i % 2}-{1 + i % 28:02d} 10:00:00") for i in range(1, 1501)]
    return {"employee": employees, "store": stores, "customer": customers, "payment": payments}


def _sql_value(v) -> str:
    return "NULL" if v is None else str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"


def populate(server, db: str) -> None:
    with server.connect(db) as conn:
        conn.execute(SCHEMA)
        for table, data in rows().items():
            conn.execute(f"INSERT INTO {table} VALUES " + ",".join(
                "(" + ",".join(_sql_value(v) for v in r) + ")" for r in data))


def joins(server, db: str) -> dict[str, int]:
    with server.connect(db) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in JOINS.items()}


def veil(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _fks(result) -> tuple[set, set]:
    declared, inferred = set(), set()
    for t in result.tables:
        for fk in t.foreign_keys:
            row = (t.name, fk["columns"][0], fk["references"]["table"], fk["references"]["columns"][0])
            (declared if fk["source"] == "ddl" else inferred).add(row)
    return declared, inferred


def test_pg_partition_fks_lifted_and_fkless_relations_inferred(pg, tmp_path):  # noqa: F811
    src = pg.create("veil_src")
    populate(pg, src)
    before = joins(pg, src)
    assert all(before.values())
    dump = pg_dump(src, tmp_path / "shop.sql")
    assert "ALTER TABLE ONLY public.payment_p2022_01" in dump.read_text()  # the FKs sit on the partitions

    declared, inferred = _fks(scan_dataset(open_dataset(dump), use_presidio=False))
    assert declared == DECLARED  # lifted from the partitions to their parent
    assert inferred == UNDECLARED  # every FK-less relation, and neither decoy (precision and recall 1.0)

    draft = tmp_path / "draft.yaml"
    res = veil("scan", dump, "-o", draft, "-q", "--no-ner")
    assert res.exit_code == 0, res.stderr
    text = draft.read_text()
    assert "- columns: [support_rep_id]  # inferred: 100% of 3 sampled values found, name: support_rep_id" in text
    doc = yaml.safe_load(text)
    assert "support_rep_id" not in (doc["tables"]["public.customer"]["columns"] or {})  # inherits its target's rule
    assert doc["tables"]["public.employee"]["columns"]["employee_id"]["op"] == "pseudonymize"

    keyring = tmp_path / "keys" / "k.json"
    assert veil("keys", "init", keyring).exit_code == 0
    out = tmp_path / "safe.sql"
    res = veil("run", dump, "-p", draft, "--keyring", keyring, "-o", out, "-q", "--workers", "1")
    assert res.exit_code == 0, res.stderr
    dst = pg.create("veil_dst")
    restored = psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr[-2000:]  # the partitions' FKs hold
    assert joins(pg, dst) == before
    with pg.connect(dst) as conn:  # the keys were pseudonymized, not kept
        assert conn.execute("SELECT count(*) FROM employee WHERE employee_id BETWEEN 1 AND 12").fetchone()[0] < 12


def _write_csv(path: Path, header: list[str], data: list[tuple]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(["" if v is None else v for v in r] for r in data)


def test_csv_extract_fks_inferred_by_containment(tmp_path):
    d = tmp_path / "extract"
    d.mkdir()
    data = rows()
    _write_csv(d / "employee.csv", ["employee_id", "first_name", "last_name", "email", "manager_id", "head_count"],
               data["employee"])
    _write_csv(d / "store.csv", ["store_id", "manager_employee_id", "city"], data["store"])
    _write_csv(d / "customer.csv", ["customer_id", "email", "full_name", "support_rep_id", "visits"],
               data["customer"])
    _write_csv(d / "payment.csv", ["payment_id", "customer_id", "employee_id", "amount", "payment_date"],
               data["payment"])
    bare = {(a.split(".")[-1], b, c.split(".")[-1], e) for a, b, c, e in DECLARED | UNDECLARED}
    result = scan_dataset(open_dataset(d), use_presidio=False)
    found = set.union(*_fks(result))
    assert {(a, b, c, e) for a, b, c, e in found} == bare

    draft = tmp_path / "draft.yaml"
    res = veil("scan", d, "-o", draft, "-q", "--no-ner")
    assert res.exit_code == 0, res.stderr
    keyring = tmp_path / "keys" / "k.json"
    assert veil("keys", "init", keyring).exit_code == 0
    out = tmp_path / "safe"
    res = veil("run", d, "-p", draft, "--keyring", keyring, "-o", out, "-q", "--workers", "1")
    assert res.exit_code == 0, res.stderr

    def col(table: str, name: str) -> list[str]:
        with open(out / f"{table}.csv", newline="") as fh:
            return [r[name] for r in csv.DictReader(fh)]

    emp = set(col("employee", "employee_id"))
    assert emp.isdisjoint(str(r[0]) for r in data["employee"]) or len(emp) == 12  # a permutation of 12 ids
    for table, column, n in (("employee", "manager_id", 10), ("store", "manager_employee_id", 3),
                             ("customer", "support_rep_id", 180), ("payment", "employee_id", 1500)):
        assert sum(v in emp for v in col(table, column)) == n, (table, column)
    cust = set(col("customer", "customer_id"))
    assert sum(v in cust for v in col("payment", "customer_id")) == 1500


KEPT_PROFILE = """version: 1
tables:
  employee:
    primary_key: [employee_id]
{fks}    columns:
      employee_id: {{op: pseudonymize, format: int}}
      first_name: keep
      last_name: keep
      email: {{op: pseudonymize, format: email, domain: email}}
{manager}      head_count: keep
"""


def test_validate_warns_on_a_kept_column_inside_a_pseudonymized_key(tmp_path):
    d = tmp_path / "extract"
    d.mkdir()
    _write_csv(d / "employee.csv", ["employee_id", "first_name", "last_name", "email", "manager_id", "head_count"],
               rows()["employee"])
    prof = tmp_path / "p.yaml"
    prof.write_text(KEPT_PROFILE.format(fks="", manager="      manager_id: keep\n"))
    res = veil("validate", prof, d)
    assert res.exit_code == 0, res.stderr
    assert "warning" in res.stderr and "employee.manager_id is kept" in res.stderr
    assert "employee.employee_id, which is pseudonymized" in res.stderr
    assert "head_count" not in res.stderr  # a decoy: its name points at no key
    assert "@corp.example" not in res.stderr + res.stdout  # names and shares, never a value
    res = veil("validate", "--strict", prof, d)
    assert res.exit_code == 3
    assert f"{prof}:" in res.stderr and "employee.manager_id is kept" in res.stderr
    # declared as a foreign key, it inherits the key's rule: nothing to say
    prof.write_text(KEPT_PROFILE.format(
        fks="    foreign_keys:\n      - columns: [manager_id]\n"
            "        references: {table: employee, columns: [employee_id]}\n", manager=""))
    res = veil("validate", "--strict", prof, d)
    assert res.exit_code == 0, res.stderr
    assert "warning" not in res.stderr


def test_draft_keeps_a_code_key_no_token_fits():
    """A char(2) text key (countries.code): pseudonymize's shortest token (16) would not fit, and
    validation refuses it; the draft keeps the code (not personal). A wide text key is pseudonymized."""
    from veil.detect.draft import suggest
    from veil.detect.findings import Finding

    def rule(length: int | None, entity: str = "NONE") -> dict:
        f = Finding("countries", "code", "string", entity, "none", 0.9, {"text_length": length}, "primary")
        return suggest(f, "countries", {})

    assert rule(2) == {"op": "keep"}
    assert rule(64)["op"] == rule(None)["op"] == "pseudonymize"


def test_a_name_match_the_values_refute_is_not_a_foreign_key(tmp_path):
    """ticket.staff_id holds numbers that are not staff ids: by name alone it referenced staff.staff_id,
    got the key's rule, and the run failed (its values outside the key's drafted range: exit 5)."""
    d = tmp_path / "in"
    d.mkdir()
    _write_csv(d / "staff.csv", ["staff_id", "team"], [(i, "a") for i in range(1, 4)])
    _write_csv(d / "ticket.csv", ["ticket_id", "staff_id", "manager_id"], [(i, 1000 + i, 1) for i in range(1, 11)])
    result = scan_dataset(open_dataset(d), use_presidio=False)
    assert {tuple(fk["columns"]) for t in result.tables for fk in t.foreign_keys} == {("manager_id",)}
    draft = tmp_path / "draft.yaml"
    assert veil("scan", d, "-o", draft, "-q", "--no-ner").exit_code == 0
    keyring = tmp_path / "k.json"
    assert veil("keys", "init", keyring).exit_code == 0
    res = veil("run", d, "-p", draft, "--keyring", keyring, "-o", tmp_path / "out", "-q", "--workers", "1")
    assert res.exit_code == 0, res.stderr


def test_a_quantity_named_after_a_table_is_no_foreign_key(tmp_path):
    """film.rental_duration (3..7) lies inside rental.rental_id's values; it names the table rental,
    but 'duration' says quantity, not reference (the rental-shop schema's CSV extract drafted it as an FK)."""
    from veil.detect.relations import _name_score

    assert _name_score("rental_duration", "rental", "rental_id") == 0
    assert _name_score("customer_count", "shop.customer", "customer_id") == 0
    assert _name_score("store_no", "store", "store_id") == 2
    assert _name_score("customer_email", "customers", "email") == 2
    data = tmp_path / "in"
    data.mkdir()
    (data / "rental.csv").write_text("rental_id,note\n" + "".join(f"{i},x\n" for i in range(1, 301)))
    (data / "film.csv").write_text("film_id,rental_duration\n" + "".join(f"{i},{3 + i % 5}\n" for i in range(1, 60)))
    scan = scan_dataset(open_dataset(data), use_ner=False)
    fks = {(ts.name, tuple(fk["columns"])) for ts in scan.tables for fk in ts.foreign_keys}
    assert ("film", ("rental_duration",)) not in fks


def test_a_lookup_table_keyed_by_its_code_is_referenced(tmp_path):
    """country(country_code, name) and customer.country_code in a CSV extract: the code is the
    lookup table's key, so customer.country_code is a foreign key (and no quasi-identifier the
    privacy section may generalize away from its join)."""
    data = tmp_path / "in"
    data.mkdir()
    codes = ["DE", "FR", "CZ", "JP", "AT"]
    (data / "country.csv").write_text("country_code,name\n" + "".join(f"{c},Land {c}\n" for c in codes))
    (data / "customer.csv").write_text("customer_id,country_code\n"
                                       + "".join(f"{i},{codes[i % 5]}\n" for i in range(1, 200)))
    scan = scan_dataset(open_dataset(data), use_ner=False)
    tables = {ts.name: ts for ts in scan.tables}
    assert tables["country"].primary_key == ["country_code"]
    assert [(fk["columns"], fk["references"]["table"]) for fk in tables["customer"].foreign_keys] == \
        [(["country_code"], "country")]
