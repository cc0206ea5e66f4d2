"""Profiles: the issue's verbatim example, and validation that reports everything at once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from veil.errors import ProfileError
from veil.profile import load_profile

from .conftest import SAMPLES_CSV, SHOP_PROFILE

VERBATIM = """\
version: 1
defaults:
  unknown_columns: fail        # fail | keep | drop | nullify
tables:
  customers:
    primary_key: [customer_id]
    columns:
      customer_id: keep
      email: {op: pseudonymize, domain: email, format: email}
      first_name: {op: fake, kind: first_name}
      last_name: {op: fake, kind: last_name}
      phone: {op: fake, kind: phone_number}
      birth_date: {op: generalize, to: year}
      city: keep
      notes: nullify
  orders:
    primary_key: [order_id]
    foreign_keys:
      - columns: [customer_email]
        references: {table: customers, columns: [email]}
    columns:
      order_id: keep
      total: keep
"""


@pytest.fixture
def verbatim_input(tmp_path):
    """customers and orders with exactly the columns the issue's profile names."""
    d = tmp_path / "in"
    d.mkdir()
    customers = pa.table({
        "customer_id": ["1", "2", "3"], "email": ["a@x.org", "b@x.org", None],
        "first_name": ["Zoë", "Jürgen", ""], "last_name": ["Lefèvre", "Müller", "Smith"],
        "phone": ["+49 30 123", None, "555"], "birth_date": ["1980-02-03", "1990-12-31", None],
        "city": ["Paris", "Köln", "NYC"], "notes": ["likes, commas", "", None],
    })
    orders = pa.table({"order_id": ["10", "11", "12"], "customer_email": ["a@x.org", "a@x.org", "b@x.org"],
                       "total": ["1.50", "2.00", "3.25"]})
    opts = pacsv.WriteOptions(quoting_style="needed")
    pacsv.write_csv(customers, d / "customers.csv", opts)
    pacsv.write_csv(orders, d / "orders.csv", opts)
    prof = tmp_path / "profile.yaml"
    prof.write_text(VERBATIM)
    return d, prof


def test_issue_profile_accepted_verbatim(verbatim_input, keyring, cli, tmp_path):
    data, prof = verbatim_input
    assert cli("validate", prof).exit_code == 0
    res = cli("validate", prof, data)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    res = cli("run", data, "-p", prof, "--keyring", keyring, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    cust = pacsv.read_csv(out / "customers.csv").to_pydict()
    orders = pacsv.read_csv(out / "orders.csv").to_pydict()
    # orders.customer_email inherited customers.email's operator and domain: it joins
    assert orders["customer_email"][0] == orders["customer_email"][1] == cust["email"][0]
    assert orders["customer_email"][2] == cust["email"][1]
    assert cust["email"][0].endswith("@example.com") and cust["email"][0] != "a@x.org"
    assert cust["birth_date"][:2] == [1980, 1990]


BROKEN = """\
version: 1
defaults:
  unknown_columns: fial
tables:
  customer:
    columns:
      email: {op: pseudonymise, domain: email}
  customers:
    primary_key: [customer_id]
    columns:
      customer_id: {op: mask, keep_last: 2}
      emial: {op: pseudonymize, fromat: email}
      first_name: {op: fake, kind: first_nam}
      last_name: {op: fake}
      birth_date: {op: generalize, to: year, bucket: 3}
"""


def test_validate_reports_every_problem_with_line_path_and_suggestion(tmp_path, cli):
    prof = tmp_path / "bad.yaml"
    prof.write_text(BROKEN)
    res = cli("validate", prof, SAMPLES_CSV)
    assert res.exit_code == 3
    err = res.stderr
    expected = [
        ("bad.yaml:3", "defaults.unknown_columns", "did you mean 'fail'?"),
        ("bad.yaml:5", "tables.customer", "did you mean 'customers'?"),
        ("bad.yaml:7", "tables.customer.columns.email.op", "did you mean 'pseudonymize'?"),
        ("bad.yaml:11", "tables.customers.columns.customer_id", "is a key column; operator mask"),
        ("bad.yaml:12", "tables.customers.columns.emial.fromat", "did you mean 'format'?"),
        ("bad.yaml:12", "tables.customers.columns.emial", "did you mean 'email'?"),
        ("bad.yaml:13", "tables.customers.columns.first_name.kind", "did you mean 'first_name'?"),
        ("bad.yaml:14", "tables.customers.columns.last_name", "needs parameter 'kind'"),
        ("bad.yaml:15", "tables.customers.columns.birth_date", "exactly one of"),
    ]
    for loc, path, text in expected:
        assert any(loc in line and path in line and text in line for line in err.splitlines()), (loc, path)
    # the run refuses to start on the same profile, and writes nothing
    res = cli("run", SAMPLES_CSV, "-p", prof, "--keyring", tmp_path / "nokeys.json", "--out", tmp_path / "o")
    assert res.exit_code != 0 and not (tmp_path / "o").exists()


def test_yaml_syntax_error_names_line(tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns: {a: keep\n")
    res = cli("validate", prof)
    assert res.exit_code == 3 and "p.yaml:" in res.stderr and "invalid YAML" in res.stderr


def test_duplicate_key_and_unknown_table_key(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    colums: {}\n  t:\n    columns: {}\n")
    with pytest.raises(ProfileError) as ei:
        load_profile(prof)
    text = str(ei.value)
    assert "p.yaml:5: tables.t: duplicate key" in text


def test_foreign_key_rule_must_match_target(tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text().replace(
        "      order_id: keep\n      order_date",
        "      order_id: keep\n      customer_email: {op: pseudonymize, format: token}\n      order_date", 1))
    res = cli("validate", prof, SAMPLES_CSV)
    assert res.exit_code == 3
    assert "tables.orders.columns.customer_email" in res.stderr and "will not join" in res.stderr


def test_non_injective_op_on_foreign_key_target_rejected(tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text().replace(
        "email: {op: pseudonymize, format: email, domain: email}", "email: {op: fake, kind: email}"))
    res = cli("validate", prof, SAMPLES_CSV)
    assert res.exit_code == 3
    assert "customers.email is a key column; operator fake is not injective" in res.stderr
    assert "orders.customer_email is a key column" in res.stderr


@pytest.mark.parametrize("policy,expect", [("keep", "same"), ("drop", "gone"), ("nullify", "null")])
def test_unknown_columns_policies(tmp_path, keyring, cli, policy, expect):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text().replace("      status: keep\n", "")
                    .replace("unknown_columns: fail", f"unknown_columns: {policy}"))
    out = tmp_path / "o"
    res = cli("run", SAMPLES_CSV, "-p", prof, "--keyring", keyring, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    t = pacsv.read_csv(out / "orders.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    src = pacsv.read_csv(SAMPLES_CSV / "orders.csv")
    if expect == "gone":
        assert "status" not in t.column_names
    elif expect == "null":
        assert t["status"].null_count == t.num_rows
    else:
        assert t["status"].to_pylist() == src["status"].to_pylist()


def test_unknown_columns_fail_closed_names_every_column(tmp_path, keyring, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text().replace("      status: keep\n", "")
                    .replace("      city: keep\n      country: keep\n      signup_date", "      signup_date"))
    out = tmp_path / "o"
    res = cli("run", SAMPLES_CSV, "-p", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 4
    for name in ("orders.status", "customers.city", "customers.country"):
        assert f"column {name} is not classified" in res.stderr
    assert not out.exists()
    assert list(tmp_path.glob(".veil-tmp-*")) == []


# -- issue 16 point 6: validate --json, --dialect, schema drift, bare references, empty columns --


def _people(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "people.csv").write_text("id,first_name,surname\n1,Ann,Lee\n")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  people:\n    columns:\n      id: keep\n"
                    "      first_name: {op: fake, kind: first_name}\n      last_name: {op: fake, kind: last_name}\n")
    return prof, tmp_path / "in"


def test_renamed_column_is_schema_drift_exit_4_without_did_you_mean(tmp_path, cli):
    prof, data = _people(tmp_path)
    res = cli("validate", str(prof), str(data))
    assert res.exit_code == 4, res.output
    assert "missing last_name, new surname" in res.stderr and "p.yaml:7" in res.stderr
    assert "did you mean" not in res.stderr


def test_validate_json_lists_problems_with_table_column_and_keeps_exit_code(tmp_path, cli):
    import json

    prof, data = _people(tmp_path)
    res = cli("validate", "--json", str(prof), str(data))
    assert res.exit_code == 4
    doc = json.loads(res.stdout)
    assert doc["valid"] is False
    got = {(p["table"], p["column"], p["line"], p["severity"]) for p in doc["problems"]}
    assert got == {("people", "last_name", 7, "error"), ("people", "surname", 4, "error")}
    assert all(p["file"] == str(prof) and p["message"] and p["hint"] and p["path"] for p in doc["problems"])
    assert "Ann" not in res.stdout and "Lee" not in res.stdout
    prof.write_text(prof.read_text().replace("last_name: {op: fake, kind: last_name}", "surname: keep"))
    ok = cli("validate", "--json", str(prof), str(data))
    assert ok.exit_code == 0 and json.loads(ok.stdout) == {"valid": True, "problems": []}
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntables:\n  people:\n    columns:\n      id: {op: nosuchop}\n")
    res = cli("validate", "--json", str(bad))
    assert res.exit_code == 3
    [p] = json.loads(res.stdout)["problems"]
    assert (p["table"], p["column"], p["line"]) == ("people", "id", 5) and "unknown operator" in p["message"]


def test_validate_dialect_option(tmp_path, cli):
    dump = tmp_path / "amb.sql"
    dump.write_text("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n")
    prof = tmp_path / "amb.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      a: keep\n")
    res = cli("validate", str(prof), str(dump))
    assert res.exit_code == 5 and "pass --dialect" in res.stderr
    for dialect in ("postgresql", "mysql"):
        assert cli("validate", "--dialect", dialect, str(prof), str(dump)).exit_code == 0


def test_bare_table_name_in_references_of_schema_qualified_profile(tmp_path, cli):
    prof = tmp_path / "q.yaml"
    body = ("version: 1\ntables:\n  public.customer:\n    columns:\n      id: keep\n"
            "  public.rental:\n    foreign_keys:\n      - columns: [customer_id]\n"
            "        references: {table: customer, columns: [id]}\n    columns:\n      rid: keep\n")
    prof.write_text(body)
    res = cli("validate", str(prof))
    assert res.exit_code == 0, res.output
    prof.write_text(body + "  other.customer:\n    columns:\n      id: keep\n")
    res = cli("validate", str(prof))
    assert res.exit_code == 3 and "ambiguous" in res.stderr and "public.customer or other.customer" in res.stderr
    prof.write_text(body.replace("table: customer", "table: clients"))
    res = cli("validate", str(prof))
    assert res.exit_code == 3 and "unknown table 'clients'" in res.stderr and "hint:" in res.stderr


def test_bare_reference_resolves_against_a_schema_qualified_dump(tmp_path, cli):
    dump = tmp_path / "d.sql"
    dump.write_text("SET client_encoding = 'UTF8';\n"
                    "CREATE TABLE public.customer (id integer PRIMARY KEY);\n"
                    "CREATE TABLE public.rental (rid integer, customer_id integer);\n"
                    "COPY public.customer (id) FROM stdin;\n1\n\\.\n"
                    "COPY public.rental (rid, customer_id) FROM stdin;\n5\t1\n\\.\n")
    prof = tmp_path / "q.yaml"
    prof.write_text("version: 1\ntables:\n  public.customer:\n    columns:\n      id: {op: pseudonymize, format: int}\n"
                    "  public.rental:\n    foreign_keys:\n      - columns: [customer_id]\n"
                    "        references: {table: customer, columns: [id]}\n    columns:\n      rid: keep\n")
    res = cli("validate", "--dialect", "postgresql", str(prof), str(dump))
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("columns", ["    columns:\n", "    columns:\n      # every column is a key\n"])
def test_columns_holding_only_comments(tmp_path, cli, keyring, columns):
    prof = tmp_path / "e.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n" + columns)
    assert cli("validate", str(prof)).exit_code == 0
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "t.csv").write_text("a\n1\n")
    res = cli("validate", str(prof), str(tmp_path / "in"))
    assert res.exit_code == 4 and "column t.a is not classified" in res.stderr
    prof.write_text("version: 1\ntables:\n  t:\n    unknown_columns: keep\n" + columns)
    assert cli("validate", str(prof), str(tmp_path / "in")).exit_code == 0
    res = cli("run", "-p", str(prof), str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--keyring", str(keyring))
    assert res.exit_code == 0, res.output
