"""End-to-end runs of the CLI on the sample shop dataset."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from veil.cli import main
from veil.formats.csv import BOM

from .conftest import ROOT, SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE, run_module

TABLES = ["addresses", "customers", "orders", "payments", "support_tickets"]


def read_csv(path: Path) -> pa.Table:
    header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows_after_names=10**9)).column_names
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=True,
        quoted_strings_can_be_null=False, null_values=[""]))


def read_any(path: Path) -> pa.Table:
    return pq.read_table(path) if path.suffix == ".parquet" else read_csv(path)


def load(dirpath: Path, ext: str) -> dict[str, pa.Table]:
    return {t: read_any(dirpath / f"{t}.{ext}") for t in TABLES}


def strs(col) -> list:
    return [None if v is None else str(v) for v in col.to_pylist()]


@pytest.fixture(params=["csv", "parquet"])
def shop_run(request, tmp_path, keyring, cli):
    src, ext = (SAMPLES_CSV, "csv") if request.param == "csv" else (SAMPLES_PARQUET, "parquet")
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = cli("run", src, "--profile", SHOP_PROFILE, "--keyring", keyring, "--out", out,
              "--report", report)
    assert res.exit_code == 0, res.output
    return {"src": load(src, ext), "out": load(out, ext), "report": json.loads(report.read_text()),
            "res": res, "ext": ext, "outdir": out, "keyring": keyring}


def test_same_tables_columns_rows(shop_run):
    for t in TABLES:
        a, b = shop_run["src"][t], shop_run["out"][t]
        assert b.column_names == a.column_names, t
        assert b.num_rows == a.num_rows, t
        if shop_run["ext"] == "parquet":
            # typed columns keep their Arrow types (fake/pseudonymize on text stay text)
            assert b.schema.types == a.schema.types, t


def test_personal_values_replaced(shop_run):
    src, out = shop_run["src"], shop_run["out"]
    for table, col in [("customers", "email"), ("customers", "phone"), ("customers", "customer_id"),
                       ("addresses", "street"), ("payments", "card_number"), ("orders", "customer_email")]:
        before = {v for v in strs(src[table][col]) if v}
        after = {v for v in strs(out[table][col]) if v}
        # customer_id is a keyed permutation of [0, 2**31): one of the 200 pseudonyms lands on one of
        # the 200 original ids (1..200) with probability ~200*200/2**31 = 1.9e-5 per run, two of them
        # with ~1.7e-10; a kept column would share all 200
        allowed = 1 if col == "customer_id" else 0
        assert before and after and len(before & after) <= allowed, f"{table}.{col} leaks originals"
    ids = zip(strs(src["customers"]["customer_id"]), strs(out["customers"]["customer_id"]), strict=True)
    assert sum(a == b for a, b in ids) <= 1  # a fixed point: ~200/2**31 = 9e-8; two: ~4e-15
    # a name can coincide with a fake by chance, but not for most rows
    for col in ("first_name", "last_name"):
        pairs = zip(strs(src["customers"][col]), strs(out["customers"][col]), strict=True)
        same = sum(a == b for a, b in pairs)
        assert same < 0.1 * src["customers"].num_rows
    assert out["customers"]["notes"].null_count == out["customers"].num_rows
    # free-text bodies are redacted, nulls stay null
    body_in, body_out = strs(src["support_tickets"]["body"]), strs(out["support_tickets"]["body"])
    assert all((a is None) == (b is None) for a, b in zip(body_in, body_out, strict=True))
    assert {b for b in body_out if b is not None} == {"[REDACTED]"}
    # no original email appears anywhere in any output file
    emails = {v for v in strs(src["customers"]["email"]) if v}
    blob = b"".join(p.read_bytes() for p in shop_run["outdir"].iterdir())
    assert not [e for e in emails if e.encode() in blob]


def test_foreign_keys_join_and_follow_rows(shop_run):
    src, out = shop_run["src"], shop_run["out"]
    cust_in, cust_out = src["customers"], out["customers"]
    id_map = dict(zip(strs(cust_in["customer_id"]), strs(cust_out["customer_id"]), strict=True))
    email_map = dict(zip(strs(cust_in["email"]), strs(cust_out["email"]), strict=True))
    assert len(set(id_map.values())) == len(id_map)  # the primary key stays unique
    for table, col, mapping in [("orders", "customer_id", id_map), ("addresses", "customer_id", id_map),
                                ("support_tickets", "customer_id", id_map),
                                ("orders", "customer_email", email_map)]:
        for a, b in zip(strs(src[table][col]), strs(out[table][col]), strict=True):
            assert mapping.get(a) == b, f"{table}.{col} does not follow customers"
    order_ids = set(strs(out["orders"]["order_id"]))
    assert set(strs(out["payments"]["order_id"])) <= order_ids


def test_dates_generalized_and_shifted(shop_run):
    src, out = shop_run["src"], shop_run["out"]
    births = strs(out["customers"]["birth_date"])
    if shop_run["ext"] == "csv":
        assert all(b is None or re.fullmatch(r"\d{4}", b) for b in births)
    else:
        assert all(b is None or b.endswith("-01-01") for b in births)
    # signup and order dates of one customer move by the same offset (same domain, same subject)
    import datetime as dt

    def days(v):
        return dt.date.fromisoformat(str(v)[:10])

    shift = {}
    for cid, a, b in zip(strs(src["customers"]["customer_id"]), src["customers"]["signup_date"].to_pylist(),
                         out["customers"]["signup_date"].to_pylist(), strict=True):
        delta = (days(b) - days(a)).days
        assert delta != 0 and abs(delta) <= 30
        shift[cid] = delta
    for cid, a, b in zip(strs(src["orders"]["customer_id"]), src["orders"]["order_date"].to_pylist(),
                         out["orders"]["order_date"].to_pylist(), strict=True):
        assert (days(b) - days(a)).days == shift[cid]


def test_report(shop_run):
    rep, src = shop_run["report"], shop_run["src"]
    assert set(rep["tables"]) == set(TABLES)
    kv = rep["key_version"]
    assert re.fullmatch(r"k-[0-9a-f]{8}", kv)
    for t in TABLES:
        assert rep["tables"][t]["rows_in"] == rep["tables"][t]["rows_out"] == src[t].num_rows
    phone = rep["tables"]["customers"]["columns"]["phone"]
    assert phone["op"] == "fake" and phone["key_version"] == kv
    assert phone["nulls"] == src["customers"]["phone"].null_count
    assert phone["transformed"] == src["customers"].num_rows - phone["nulls"]
    email = rep["tables"]["orders"]["columns"]["customer_email"]
    assert (email["op"], email["domain"], email["source"]) == ("pseudonymize", "email", "foreign_key")
    city = rep["tables"]["customers"]["columns"]["city"]
    assert city["op"] == "keep" and city["key_version"] is None and city["transformed"] == 0
    assert rep["totals"]["rows_in"] == sum(src[t].num_rows for t in TABLES)


def test_csv_and_parquet_give_same_pseudonyms(tmp_path, keyring, cli):
    outs = {}
    for src, ext in [(SAMPLES_CSV, "csv"), (SAMPLES_PARQUET, "parquet")]:
        out = tmp_path / ext
        assert cli("run", src, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q").exit_code == 0
        outs[ext] = read_any(out / f"customers.{ext}")
    for col in ("customer_id", "email", "first_name", "phone"):
        assert strs(outs["csv"][col]) == strs(outs["parquet"][col]), col


def test_deterministic_across_runs_and_key_dependent(tmp_path, keyring, cli):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out in (a, b):
        assert cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out,
                   "--workers", "2", "--batch-size", "50", "-q").exit_code == 0
    for t in TABLES:
        assert (a / f"{t}.csv").read_bytes() == (b / f"{t}.csv").read_bytes()
    other = tmp_path / "k2" / "keyring.json"
    assert cli("keys", "init", other).exit_code == 0
    assert cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", other, "--out", c, "-q").exit_code == 0
    ea, ec = strs(read_csv(a / "customers.csv")["email"]), strs(read_csv(c / "customers.csv")["email"])
    assert not set(ea) & set(ec)


def test_format_conversion(tmp_path, keyring, cli):
    out = tmp_path / "pq"
    assert cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out,
               "--format", "parquet", "-q").exit_code == 0
    assert sorted(p.name for p in out.glob("*.parquet")) == [f"{t}.parquet" for t in TABLES]
    back = tmp_path / "csv"
    assert cli("run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", back,
               "--format", "csv", "-q").exit_code == 0
    assert read_csv(back / "orders.csv").num_rows == 600


def test_single_file_input(tmp_path, keyring, cli):
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  orders:\n    columns:\n"
                       "      customer_email: {op: pseudonymize, "
                       "format: email, domain: email}\n    unknown_columns: keep\n")
    out = tmp_path / "o.csv"
    res = cli("run", SAMPLES_CSV / "orders.csv", "-p", profile, "--keyring", keyring, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    assert read_csv(out).num_rows == 600


def test_csv_conventions_kept(tmp_path, keyring, cli):
    """Header and order kept; null vs empty string; quoted commas/newlines; BOM; literal NULL/NA text."""
    data = tmp_path / "in"
    data.mkdir()
    raw = ('id,note,email\n1,"a, b",x@example.org\n2,"",y@example.org\n3,,\n'
           '4,"two\nlines",x@example.org\n5,NULL,"z@example.org"\n6,NA,z@example.org\n')
    (data / "t.csv").write_bytes(BOM + raw.encode())
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      note: keep\n"
                       "      email: {op: pseudonymize, format: email}\n")
    out = tmp_path / "out"
    assert cli("run", data, "-p", profile, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    written = (out / "t.csv").read_bytes()
    assert written.startswith(BOM)
    t = read_csv(out / "t.csv")
    assert t.column_names == ["id", "note", "email"]
    assert t["note"].to_pylist() == ["a, b", "", None, "two\nlines", "NULL", "NA"]
    emails = t["email"].to_pylist()
    assert emails[0] == emails[3] and emails[2] is None and emails[4] == emails[5]
    assert len({emails[0], emails[1], emails[4]}) == 3


def test_python_dash_m(tmp_path, keyring):
    proc = run_module("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "o",
                      "--report", "-", "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["tables"] == 5
    assert proc.stderr == ""  # quiet, and no progress bar when stderr is not a terminal


def test_summary_on_stderr(tmp_path, keyring, cli):
    res = cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "o")
    assert res.exit_code == 0
    assert "customers: 200 rows in, 200 out" in res.stderr and res.stdout == ""


def test_keys_init_mode_and_no_material(tmp_path, cli):
    path = tmp_path / "k" / "ring.json"
    res = cli("keys", "init", path)
    assert res.exit_code == 0
    assert os.stat(path).st_mode & 0o777 == 0o600
    secret = base64.b64decode(json.loads(path.read_text())["keys"][0]["secret"])
    assert len(secret) == 32
    for form in (secret.hex(), base64.b64encode(secret).decode()):
        assert form not in res.output
    again = cli("keys", "init", path)
    assert again.exit_code == 6 and "already exists" in again.stderr
    assert cli("keys", "init", path, "--if-missing").exit_code == 0


def test_key_material_never_leaves_the_keyring(tmp_path, keyring, cli):
    secret = base64.b64decode(json.loads(keyring.read_text())["keys"][0]["secret"])
    forms = [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(),
             base64.urlsafe_b64encode(secret).decode()]
    out, rep = tmp_path / "o", tmp_path / "r.json"
    res = cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "--report", rep)
    assert res.exit_code == 0
    blobs = [res.stdout, res.stderr, rep.read_text()] + [p.read_text() for p in out.iterdir()]
    for blob in blobs:
        for f in forms:
            assert f not in blob


def test_keyring_refusals(tmp_path, shop_csv, cli):
    loose = tmp_path / "loose.json"
    assert cli("keys", "init", loose).exit_code == 0
    os.chmod(loose, 0o644)
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", loose, "--out", tmp_path / "o")
    assert res.exit_code == 6 and "chmod 600" in res.stderr
    inside = shop_csv / "keyring.json"
    assert cli("keys", "init", inside).exit_code == 0
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", inside, "--out", tmp_path / "o2")
    assert res.exit_code == 6 and "inside the input or output" in res.stderr
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--out", tmp_path / "o3", env={"VEIL_KEYRING": ""})
    assert res.exit_code == 6 and "--keyring" in res.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "o3").exists()


def test_keyring_from_env(tmp_path, keyring, cli):
    res = cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--out", tmp_path / "o", "-q",
              env={"VEIL_KEYRING": str(keyring)})
    assert res.exit_code == 0, res.output


def test_every_command_has_help_with_example_and_is_documented(cli):
    readme = (ROOT / "README.md").read_text()

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            full = f"{prefix} {name}".strip()
            yield full, cmd
            if hasattr(cmd, "commands"):
                yield from walk(cmd, full)

    for full, cmd in walk(main, ""):
        res = cli(*full.split(), "--help")
        assert res.exit_code == 0
        assert "Example" in res.output, f"veil {full} --help has no example"
        if not hasattr(cmd, "commands"):
            assert f"veil {full}" in readme, f"veil {full} is missing from README.md"
