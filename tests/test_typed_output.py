"""Typed output (issue 16, point 5): Parquet output of CSV input and of SQL dumps gets typed columns,
while the working types (and so every pseudonym) stay as they were; CSV to CSV stays byte-faithful.

The rule is in veil.formats.typed and docs/formats/parquet.md; the inference rule in
docs/formats/csv.md. The dump tests dump real PostgreSQL and MariaDB tables and compare the Parquet
values with what the server itself returns.
"""

from __future__ import annotations

import csv
import hashlib
import math
import secrets
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from veil.errors import InputError, ProfileError
from veil.formats import open_dataset
from veil.formats.typed import SAMPLE_ROWS, Source, _Misfit, convert, infer_type, parse_type, pg_bytea
from veil.keys import Keyring
from veil.ops.arrays import temporal_text
from veil.pipeline import run_plan
from veil.plan import compile_plan
from veil.profile import load_profile
from veil.sqltypes import sql_output_type

from .conftest import ROOT, SAMPLES_CSV, SHOP_PROFILE
from .dump_fixtures import pg, pg_dump, pg_tools  # noqa: F401  (fixtures)
from .test_dump_mysql import client, mysqldump, server  # noqa: F401  (fixtures and helpers)

KEYS = Keyring.for_testing(bytes(range(32)))
MARK = "pii77secret"  # a value that must never appear in a message


def run_lib(inp: Path, profile: Path, out: Path, fmt: str | None = None, csv_types: str | None = None):
    ds = open_dataset(inp, csv_types=csv_types)
    plan = compile_plan(load_profile(profile), ds, KEYS.active_version)
    run_plan(plan, ds, out, KEYS, fmt=fmt, workers=1)
    return plan


def write_csv(path: Path, header: list[str], rows: list[list[str | None]]) -> Path:
    """None: an empty unquoted field (null); '': a quoted empty string."""
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join("" if v is None else '""' if v == "" else
                              ('"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v)
                              for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_profile(path: Path, body: str) -> Path:
    path.write_text("version: 1\ndefaults: {unknown_columns: keep}\n" + body, encoding="utf-8")
    return path


def one_parquet(out: Path) -> pa.Table:
    files = [p for p in out.iterdir() if p.suffix == ".parquet"] if out.is_dir() else [out]
    assert len(files) == 1
    return pq.read_table(files[0])


# -- CSV -> Parquet: inference ---------------------------------------------------------------

TYPED_HEADER = ["id", "zip", "phone", "amount", "ratio", "flag", "day", "at", "at_tz", "word", "blank", "big"]
TYPED_ROWS = [
    ["1", "01234", "+49 711 598", "12.50", "0.5", "true", "2024-01-31", "2024-01-31 10:00:00",
     "2024-01-31T10:00:00Z", "a", None, "123456789012345678901234"],
    ["22", "12345", "0711598", "-3.1", "1", "FALSE", "1999-12-31", "2024-01-31T10:00:00.25",
     "2024-01-31 12:00:00+02:00", "b", None, "-1"],
    ["-7", "99999", "0711599", "0", "2.0", "True", None, None, None, None, None, None],
    [None, None, None, "", None, None, "2000-02-29", "2000-02-29 00:00", "2000-02-29 00:00-0130", "7", "", None],
]


def test_csv_to_parquet_types_by_inference(tmp_path):
    src = write_csv(tmp_path / "t.csv", TYPED_HEADER, TYPED_ROWS)
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    run_lib(src, prof, tmp_path / "out", "parquet")
    t = one_parquet(tmp_path / "out")
    types = {f.name: f.type for f in t.schema}
    assert types == {
        "id": pa.int64(), "zip": pa.string(), "phone": pa.string(), "amount": pa.decimal128(38, 2),
        "ratio": pa.decimal128(38, 1), "flag": pa.bool_(), "day": pa.date32(), "at": pa.timestamp("us"),
        "at_tz": pa.timestamp("us", tz="UTC"), "word": pa.string(), "blank": pa.string(),
        "big": pa.decimal128(38, 0),
    }
    rows = t.to_pylist()
    assert [r["id"] for r in rows] == [1, 22, -7, None]
    assert [r["zip"] for r in rows] == ["01234", "12345", "99999", None]  # leading zeros kept: text
    # a quoted "" is null in a typed column (and left out of the inference)
    assert [r["amount"] for r in rows] == [Decimal("12.50"), Decimal("-3.10"), Decimal("0.00"), None]
    assert [r["flag"] for r in rows] == [True, False, True, None]
    assert [r["day"] for r in rows] == [date(2024, 1, 31), date(1999, 12, 31), None, date(2000, 2, 29)]
    assert rows[1]["at"] == datetime(2024, 1, 31, 10, 0, 0, 250000)
    utc = [r["at_tz"].astimezone(UTC).replace(tzinfo=None) if r["at_tz"] else None for r in rows]
    assert utc == [datetime(2024, 1, 31, 10), datetime(2024, 1, 31, 10), None, datetime(2000, 2, 29, 1, 30)]
    assert [r["blank"] for r in rows] == [None, None, None, ""]  # an untyped column keeps its ""
    assert rows[0]["big"] == Decimal("123456789012345678901234")


def test_inference_rule_edges():
    def infer(*values):
        return infer_type(pa.array(list(values), pa.string()))

    assert infer("0", "10", "-3") == pa.int64()
    assert infer("00", "1") == pa.string()  # a leading zero: an identifier, not a number
    assert infer("1", "-0.5") == pa.decimal128(38, 1)
    assert infer("1.", "2") == pa.string()
    assert infer("1e5", "2") == pa.string()  # exponents: not a decimal literal
    assert infer("t", "f") == pa.string()  # only true/false make a bool
    assert infer("0", "1") == pa.int64()  # 0/1 are integers, not booleans
    assert infer("2024-02-30") == pa.string()  # not a date
    assert infer("2024-01-01", "2024-01-01 10:00") == pa.string()  # dates and date-times mixed
    assert infer("2024-01-01 10:00+01:00", "2024-01-01 10:00") == pa.string()  # with and without offsets
    assert infer(None, "") == pa.string()  # nothing seen: text
    assert infer("9223372036854775808") == pa.decimal128(38, 0)  # beyond int64
    assert infer("1." + "1" * 19) == pa.string()  # more than 18 decimals


def test_leading_zero_zip_codes_stay_strings(tmp_path):
    # one ZIP code with a leading zero among 200 without: the column stays text, every value as it was
    rows = [[str(i), f"{i % 90000 + 10000}"] for i in range(200)] + [["200", "01234"]]
    src = write_csv(tmp_path / "z.csv", ["id", "zip"], rows)
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    run_lib(src, prof, tmp_path / "out", "parquet")
    t = one_parquet(tmp_path / "out")
    assert t.schema.field("id").type == pa.int64() and t.schema.field("zip").type == pa.string()
    assert t.column("zip").to_pylist()[-2:] == ["10199", "01234"]


def test_late_misfit_fails_value_free_with_file_row_and_column(tmp_path, cli, keyring):
    n = SAMPLE_ROWS + 50
    rows = [[str(i), f"{i}.25"] for i in range(1, n)]
    rows[SAMPLE_ROWS + 20][1] = MARK  # data row SAMPLE_ROWS + 21, after the sample
    src = write_csv(tmp_path / "sales.csv", ["sale_id", "amount"], rows)
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    out = tmp_path / "out"
    res = cli("run", src, "-p", prof, "--keyring", keyring, "--format", "parquet", "--out", out, "-q")
    assert res.exit_code == 5
    assert f"row {SAMPLE_ROWS + 21}" in res.stderr and "sales.amount" in res.stderr and "sales.csv" in res.stderr
    assert "type: string" in res.stderr and "--csv-types string" in res.stderr
    assert MARK not in res.stderr + res.stdout
    assert not out.exists()  # nothing written: the run is atomic
    # the documented ways out: declare the column's type, or no inference at all
    prof2 = write_profile(tmp_path / "p2.yaml",
                          "tables:\n  sales:\n    columns:\n      amount: {op: keep, type: string}\n")
    res = cli("run", src, "-p", prof2, "--keyring", keyring, "--format", "parquet", "--out", out, "-q")
    assert res.exit_code == 0, res.stderr
    t = one_parquet(out)
    assert t.schema.field("sale_id").type == pa.int64() and t.schema.field("amount").type == pa.string()
    res = cli("run", src, "-p", prof, "--keyring", keyring, "--format", "parquet", "--csv-types", "string",
              "--out", tmp_path / "out3", "-q")
    assert res.exit_code == 0, res.stderr
    assert all(f.type == pa.string() for f in one_parquet(tmp_path / "out3").schema)


def test_misfit_row_counts_input_rows_in_later_batches(tmp_path, monkeypatch):
    monkeypatch.setattr("veil.formats.files.SAMPLE_ROWS", 10)
    rows = [[str(i)] for i in range(1, 40)] + [["01"]]  # a leading zero: not an integer literal
    src = write_csv(tmp_path / "n.csv", ["num"], rows)
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    ds = open_dataset(src)
    plan = compile_plan(load_profile(prof), ds, KEYS.active_version)
    with pytest.raises(InputError) as exc:
        run_plan(plan, ds, tmp_path / "out", KEYS, fmt="parquet", workers=1, batch_size=7)
    assert exc.value.row == 40 and exc.value.table == "n" and exc.value.file == str(src)


# -- CSV -> Parquet: the profile's type: -------------------------------------------------------

def test_csv_types_declared_in_the_profile(tmp_path):
    src = write_csv(tmp_path / "t.csv", ["id", "zip", "score", "ok", "when", "code"],
                    [["1", "01234", "1.5", "yes", "2024-01-02 03:04:05+01:00", "7"],
                     ["2", "00042", "-2", "n", "2024-01-02T00:00:00Z", "8"]])
    prof = write_profile(tmp_path / "p.yaml", """tables:
  t:
    columns:
      id: {op: keep, type: string}
      zip: {op: keep, type: int32}
      score: {op: keep, type: float64}
      ok: {op: keep, type: bool}
      when: {op: keep, type: timestamptz}
      code: {op: keep, type: "decimal(5, 1)"}
""")
    run_lib(src, prof, tmp_path / "out", "parquet")
    t = one_parquet(tmp_path / "out")
    assert [f.type for f in t.schema] == [pa.string(), pa.int32(), pa.float64(), pa.bool_(),
                                         pa.timestamp("us", tz="UTC"), pa.decimal128(5, 1)]
    rows = t.to_pylist()
    assert [r["zip"] for r in rows] == [1234, 42]  # declared: the user asked for numbers
    assert [r["ok"] for r in rows] == [True, False]
    assert rows[0]["when"].astimezone(UTC).hour == 2
    assert [r["code"] for r in rows] == [Decimal("7.0"), Decimal("8.0")]


def test_bad_type_name_is_a_profile_problem_with_its_line(tmp_path):
    prof = write_profile(tmp_path / "p.yaml", """tables:
  t:
    columns:
      id: {op: keep, type: integer64}
      amount: {op: keep, type: "decimal(80,2)"}
""")
    with pytest.raises(ProfileError) as exc:
        load_profile(prof)
    problems = {p.path: p for p in exc.value.problems}
    assert problems["tables.t.columns.id.type"].line == 6
    assert "int64" in (problems["tables.t.columns.id.type"].hint or "")
    assert problems["tables.t.columns.amount.type"].line == 7


def test_type_on_csv_to_csv_changes_nothing(tmp_path):
    shop = tmp_path / "shop"
    shutil.copytree(SAMPLES_CSV, shop)
    typed = tmp_path / "typed.yaml"
    text = SHOP_PROFILE.read_text(encoding="utf-8")
    text = text.replace("      total: keep\n", "      total: {op: keep, type: \"decimal(10,2)\"}\n")
    text = text.replace("      address_id: keep\n", "      address_id: {op: keep, type: int64}\n")
    assert text != SHOP_PROFILE.read_text(encoding="utf-8")
    typed.write_text(text, encoding="utf-8")
    run_lib(shop, SHOP_PROFILE, tmp_path / "a")
    run_lib(shop, typed, tmp_path / "b")
    for p in sorted(SAMPLES_CSV.iterdir()):
        assert (tmp_path / "a" / p.name).read_bytes() == (tmp_path / "b" / p.name).read_bytes()


def test_transformed_columns_follow_the_rule(tmp_path):
    src = write_csv(tmp_path / "t.csv", ["id", "email", "day", "n", "code"],
                    [["17", "a@x.org", "2024-01-02", "5", "12"], ["18", "b@x.org", "2023-05-06", "6", "13"]])
    prof = write_profile(tmp_path / "p.yaml", """tables:
  t:
    columns:
      id: {op: pseudonymize, format: int, domain: id}
      email: {op: pseudonymize, domain: email}
      day: {op: date_shift, subject: id}
      n: nullify
      code: redact
""")
    plan = run_lib(src, prof, tmp_path / "out", "parquet")
    t = one_parquet(tmp_path / "out")
    # format int writes integers (its range fits int64); date_shift keeps dates;
    # nullify keeps the source type; redact writes text
    assert [f.type for f in t.schema] == [pa.int64(), pa.string(), pa.date32(), pa.int64(), pa.string()]
    run_lib(src, prof, tmp_path / "csv")
    back = list(csv.DictReader(open(tmp_path / "csv", encoding="utf-8")))  # one file in, one file out
    assert [str(v) for v in t.column("id").to_pylist()] == [r["id"] for r in back]
    assert [str(v) for v in t.column("day").to_pylist()] == [r["day"] for r in back]
    assert plan.tables["t"].columns[0].out_type == pa.string()  # the working type is unchanged


def test_declared_type_an_operator_cannot_write_is_refused(tmp_path):
    src = write_csv(tmp_path / "t.csv", ["id"], [["1"], ["2"]])
    prof = write_profile(tmp_path / "p.yaml",
                         "tables:\n  t:\n    columns:\n      id: {op: pseudonymize, type: int64}\n")
    with pytest.raises(InputError) as exc:
        run_lib(src, prof, tmp_path / "out", "parquet")
    assert "type: int64" in str(exc.value) and exc.value.column == "id"
    prof2 = write_profile(tmp_path / "p2.yaml", "tables:\n  t:\n    columns:\n"
                          "      id: {op: pseudonymize, format: int, bits: 15, type: int16}\n")
    run_lib(src, prof2, tmp_path / "out2", "parquet")
    assert one_parquet(tmp_path / "out2").schema.field("id").type == pa.int16()


def test_parquet_to_parquet_keeps_its_types(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"a": pa.array(["1", "2"]), "b": pa.array([1, 2], pa.int8())}), src)
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    run_lib(src, prof, tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").schema.types == [pa.string(), pa.int8()]


# -- pseudonyms are unchanged by typed output ----------------------------------------------------

# Taken with the code before typed output existed (commit 303c443), under the fixed test key.
GOLDEN = {
    "csv_to_csv": "432bb7bd2a9a3f98c233a4af82f03a705248556e99b1da972b9d2b36c111d80b",
    "csv_to_parquet": "5c213adac9f183a350b663f9c258a983debc6b37475200adab5c54a733e8e0b0",
    "dump_to_dump": "19ddc71276c3ed869b965a40378cada768292c63032feb12478b41062d30988f",
    "dump_to_parquet": "64bf2160bac13c3933bf092396bbe7c13d42157fff734772f26536c785693e6a",
}
SHOP_KEYED = {("customers", "customer_id"), ("customers", "email"), ("customers", "first_name"),
              ("customers", "signup_date"), ("orders", "customer_id"), ("orders", "customer_email"),
              ("orders", "order_date"), ("payments", "card_number"), ("payments", "paid_at"),
              ("support_tickets", "created_at"), ("addresses", "street")}

PG_TEXT = "\n".join([
    "--", "-- PostgreSQL database dump", "--", "", "SET standard_conforming_strings = on;", "",
    "CREATE TABLE public.people (", "    id integer NOT NULL,", "    small smallint,", "    big bigint,",
    "    email text,", "    amount numeric(10,2),", "    active boolean,", "    ratio real,",
    "    score double precision,", "    seen_at timestamp with time zone,", "    made_at timestamp without time zone,",
    "    born date,", "    photo bytea,", "    ref uuid,", "    note text", ");", "",
    "COPY public.people (id, small, big, email, amount, active, ratio, score, seen_at, made_at, born, photo, ref, "
    "note) FROM stdin;",
    "1\t-3\t9000000000\ta@example.org\t12.50\tt\t1.5\t2.25\t2024-01-02 03:04:05.123456+00\t2024-01-02 03:04:05\t"
    "1990-05-06\t\\\\x00ff10\ta0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\thello",
    "2\t\\N\t\\N\tb@example.org\t-0.01\tf\t\\N\t-1e-05\t2023-12-31 23:00:00+00\t\\N\t\\N\t\\N\t\\N\t\\N",
    "3\t7\t-1\ta@example.org\t99999999.99\t\\N\t3.25\t0\t\\N\t1999-12-31 23:59:59.5\t2000-02-29\t\\\\x\t"
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12\t",
    "\\.", "", ""])
PG_PROFILE = """tables:
  public.people:
    primary_key: [id]
    columns:
      id: {op: pseudonymize, format: int, domain: person_id}
      email: {op: pseudonymize, format: email, domain: email}
      note: {op: pseudonymize, domain: note}
      born: {op: date_shift, subject: id, max_days: 30}
"""


def _text_digest(out: Path, columns: set[tuple[str, str]]) -> str:
    """The listed columns of every Parquet file, as text (dates and times as veil writes them in CSV)."""
    h = hashlib.sha256()
    for p in sorted(q for q in out.iterdir() if q.suffix == ".parquet"):
        t = pq.read_table(p)
        for name in t.schema.names:
            if (p.stem, name) not in columns:
                continue
            col = t.column(name).combine_chunks()
            txt = temporal_text(col) if pa.types.is_temporal(col.type) else pc.cast(col, pa.string())
            h.update(f"{p.stem}.{name}".encode())
            for v in txt.to_pylist():
                h.update(b"\0" if v is None else v.encode() + b"\1")
    return h.hexdigest()


def test_pseudonyms_unchanged_csv_and_dump(tmp_path):
    run_lib(SAMPLES_CSV, SHOP_PROFILE, tmp_path / "csv")
    h = hashlib.sha256()
    for p in sorted(q for q in (tmp_path / "csv").iterdir() if not q.name.startswith(".")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    assert h.hexdigest() == GOLDEN["csv_to_csv"]
    run_lib(SAMPLES_CSV, SHOP_PROFILE, tmp_path / "pq", "parquet")
    assert _text_digest(tmp_path / "pq", SHOP_KEYED) == GOLDEN["csv_to_parquet"]
    dump = tmp_path / "people.sql"
    dump.write_text(PG_TEXT, encoding="utf-8")
    prof = write_profile(tmp_path / "p.yaml", PG_PROFILE)
    run_lib(dump, prof, tmp_path / "out.sql")
    assert hashlib.sha256((tmp_path / "out.sql").read_bytes()).hexdigest() == GOLDEN["dump_to_dump"]
    run_lib(dump, prof, tmp_path / "dpq", "parquet")
    keyed = {("public.people", c) for c in ("id", "email", "note", "born")}
    assert _text_digest(tmp_path / "dpq", keyed) == GOLDEN["dump_to_parquet"]
    t = one_parquet(tmp_path / "dpq")
    assert t.schema.field("id").type == pa.int32()  # format int (31 bits) fits the integer column
    assert t.column("photo").to_pylist() == [b"\x00\xff\x10", None, b""]
    assert t.column("active").to_pylist() == [True, False, None]


def test_dump_special_values_fail_value_free(tmp_path):
    dump = tmp_path / "people.sql"
    dump.write_text(PG_TEXT.replace("2023-12-31 23:00:00+00", "infinity"), encoding="utf-8")
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    with pytest.raises(InputError) as exc:
        run_lib(dump, prof, tmp_path / "out", "parquet")
    assert exc.value.row == 2 and exc.value.column == "seen_at" and "type: string" in exc.value.hint
    assert "infinity" not in str(exc.value)
    prof2 = write_profile(tmp_path / "p2.yaml", "tables:\n  public.people:\n    columns:\n"
                          "      seen_at: {op: keep, type: string}\n")
    run_lib(dump, prof2, tmp_path / "out2", "parquet")
    assert one_parquet(tmp_path / "out2").column("seen_at").to_pylist()[1] == "infinity"


def test_type_names_and_converters():
    assert parse_type("decimal(10,2)") == pa.decimal128(10, 2)
    assert parse_type("DECIMAL(50, 3)") == pa.decimal256(50, 3)
    assert parse_type("decimal(3,4)") is None and parse_type("int") is None and parse_type(5) is None
    assert pg_bytea(pa.array(["\\x", None, "\\x41ff", "\\x00"])).to_pylist() == [b"", None, b"A\xff", b"\x00"]
    with pytest.raises(_Misfit):
        pg_bytea(pa.array(["\\x4"]))
    assert convert(pa.array([1, 0, None]), pa.bool_(), "mysql").to_pylist() == [True, False, None]
    with pytest.raises(_Misfit):
        convert(pa.array([2]), pa.bool_(), "mysql")  # tinyint(1) holding 2: not silently true
    assert convert(pa.array(["1", None, "1"]).dictionary_encode(), pa.int32(), "declared").to_pylist() == [1, None, 1]
    assert sql_output_type("numeric", "postgresql") is None  # no precision: text, not a guess
    assert sql_output_type("int(10) unsigned", "mysql") == pa.uint32()
    assert Source(pa.int64(), "strict").type == pa.int64()


# -- real dumps ------------------------------------------------------------------------------------

PG_TYPED = """
CREATE TABLE typed_t (
    id integer PRIMARY KEY, s smallint, b bigint, amount numeric(10,2), flag boolean, r real,
    d double precision, tz timestamptz, ts timestamp, day date, raw bytea, u uuid, note text
);
INSERT INTO typed_t VALUES
 (1, -32768, 9223372036854775807, 12345678.91, true, 1.25, 2.5e-300, '2024-03-01 12:34:56.789+05:30',
  '2024-03-01 12:34:56.5', '2024-02-29', '\\x00ff41', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'hello'),
 (2, 32767, -9223372036854775808, -0.01, false, -3.5, -1, '1999-12-31 23:59:59+00', '1970-01-01 00:00:00',
  '0001-01-01', '\\x', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, true, 'NaN', '-Infinity', '1900-01-01 00:00:00+01', '2262-04-11 23:47:16.854775', '9999-12-31',
  '\\x5c78', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', 'x');
"""
PG_EXPECTED = {"id": pa.int32(), "s": pa.int16(), "b": pa.int64(), "amount": pa.decimal128(10, 2),
               "flag": pa.bool_(), "r": pa.float32(), "d": pa.float64(), "tz": pa.timestamp("us", tz="UTC"),
               "ts": pa.timestamp("us"), "day": pa.date32(), "raw": pa.binary(), "u": pa.string(),
               "note": pa.string()}


def test_real_pg_dump_to_parquet_has_the_database_types_and_values(pg, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")  # pg_dump writes timestamptz with +05:30 offsets
    db = pg.create("veil_typed")
    with pg.connect(db) as conn:
        conn.execute(PG_TYPED)
        conn.execute("SET TIME ZONE 'UTC'")
        want = conn.execute("SELECT * FROM typed_t ORDER BY id").fetchall()
    dump = pg_dump(db, tmp_path / "typed.sql")
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    run_lib(dump, prof, tmp_path / "out", "parquet")
    t = one_parquet(tmp_path / "out")
    assert {f.name: f.type for f in t.schema} == PG_EXPECTED
    got = sorted(t.to_pylist(), key=lambda r: r["id"])
    for row, db_row in zip(got, want, strict=True):
        for name, value in zip(PG_EXPECTED, db_row, strict=True):
            mine = row[name]
            if isinstance(value, UUID):
                value = str(value)
            if isinstance(value, memoryview):
                value = bytes(value)
            if name in ("r", "d") and value is not None and math.isnan(value):
                assert math.isnan(mine)
            elif name == "r" and value is not None:
                assert mine == pytest.approx(value, rel=1e-6)
            else:
                assert mine == value, name
    assert "+05:30" in dump.read_text(encoding="utf-8")


def test_pg_numeric_nan_is_refused_then_kept_as_text_when_declared(pg, tmp_path):  # noqa: F811
    db = pg.create("veil_typed")
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE n (id integer, v numeric(10,2)); INSERT INTO n VALUES (1, 1.5), (2, 'NaN')")
    dump = pg_dump(db, tmp_path / "n.sql")
    with pytest.raises(InputError) as exc:
        run_lib(dump, write_profile(tmp_path / "p.yaml", "tables: {}\n"), tmp_path / "out", "parquet")
    assert (exc.value.row, exc.value.column) == (2, "v") and "NaN" not in str(exc.value)
    prof = write_profile(tmp_path / "p2.yaml",
                         "tables:\n  public.n:\n    columns:\n      v: {op: keep, type: string}\n")
    run_lib(dump, prof, tmp_path / "out2", "parquet")
    assert one_parquet(tmp_path / "out2").column("v").to_pylist() == ["1.50", "NaN"]


MYSQL_TYPED = """
CREATE TABLE typed_t (
    id int PRIMARY KEY, s smallint, b bigint, amount decimal(10,2), flag tinyint(1), r float, d double,
    ts timestamp NULL, dt datetime(6), day date, raw varbinary(16), u char(36), note text
);
INSERT INTO typed_t VALUES
 (1, -32768, 9223372036854775807, 12345678.91, 1, 1.25, 2.5e-300, '2024-03-01 12:34:56', '2024-03-01 12:34:56.5',
  '2024-02-29', 'AB', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'hello'),
 (2, 32767, -9223372036854775808, -0.01, 0, -3.5, -1, '1999-12-31 23:59:59', '1970-01-01 00:00:00', '1000-01-01',
  '', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""
MYSQL_EXPECTED = {"id": pa.int32(), "s": pa.int16(), "b": pa.int64(), "amount": pa.decimal128(10, 2),
                  "flag": pa.bool_(), "r": pa.float32(), "d": pa.float64(), "ts": pa.timestamp("us"),
                  "dt": pa.timestamp("us"), "day": pa.date32(), "raw": pa.binary(), "u": pa.string(),
                  "note": pa.string()}


def test_real_mysqldump_to_parquet_has_the_database_types_and_values(server, tmp_path):  # noqa: F811
    db = f"veil_typed_{secrets.token_hex(4)}"
    try:
        client(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4;")
        client("SET time_zone = '+00:00';" + MYSQL_TYPED, db)
        dump = mysqldump(db, [], tmp_path / "typed.sql")
        cols = ", ".join(f"`{c}`" if c != "raw" else "HEX(`raw`)" for c in MYSQL_EXPECTED)
        text = client(f"SET time_zone = '+00:00'; SELECT {cols} FROM typed_t ORDER BY id", db).stdout.decode()
    finally:
        client(f"DROP DATABASE IF EXISTS `{db}`;", check=False)
    prof = write_profile(tmp_path / "p.yaml", "tables: {}\n")
    run_lib(dump, prof, tmp_path / "out", "parquet")
    t = one_parquet(tmp_path / "out")
    assert {f.name: f.type for f in t.schema} == MYSQL_EXPECTED
    got = sorted(t.to_pylist(), key=lambda r: r["id"])
    parse = {"id": int, "s": int, "b": int, "amount": Decimal, "flag": lambda v: v == "1", "r": float, "d": float,
             "ts": datetime.fromisoformat, "dt": datetime.fromisoformat, "day": date.fromisoformat,
             "raw": bytes.fromhex, "u": str, "note": str}
    lines = text.splitlines()
    assert len(lines) == len(got) == 3
    for row, line in zip(got, lines, strict=True):
        fields = line.split("\t")
        for name, raw in zip(MYSQL_EXPECTED, fields, strict=True):
            value = None if raw == "NULL" else parse[name](raw)  # the client's batch output
            if name == "r" and value is not None:
                assert row[name] == pytest.approx(value, rel=1e-6)
            else:
                assert row[name] == value, name


def test_docs_name_the_rule():
    text = (ROOT / "docs" / "formats" / "csv.md").read_text(encoding="utf-8")
    assert f"{SAMPLE_ROWS:,}" in text and "--csv-types" in text
    assert "type: string" in (ROOT / "docs" / "formats" / "parquet.md").read_text(encoding="utf-8")


def test_rekey_of_a_typed_parquet_output_equals_a_fresh_typed_run(tmp_path, cli, keyring):
    src = tmp_path / "in"
    src.mkdir()
    write_csv(src / "people.csv", ["id", "email", "day", "amount", "zip"],
              [["17", "a@x.org", "2024-01-02", "12.50", "01234"], ["18", "b@x.org", "2023-05-06", "3.10", "12345"],
               ["19", "a@x.org", "2022-07-08", None, "00001"]])
    prof = write_profile(tmp_path / "p.yaml", """tables:
  people:
    primary_key: [id]
    columns:
      id: {op: pseudonymize, format: int, domain: pid, reversible: true}
      email: {op: pseudonymize, format: email, domain: email, reversible: true}
      day: {op: date_shift, subject: id}
""")
    vault = tmp_path / "v.db"
    common = ("-p", prof, "--keyring", keyring, "--vault", vault, "-q")
    assert cli("run", src, "--format", "parquet", "--out", tmp_path / "o1", *common).exit_code == 0
    old = next(line.split()[0] for line in cli("keys", "list", "--keyring", keyring).stdout.splitlines()
               if "active" in line)
    assert cli("keys", "rotate", "--keyring", keyring).exit_code == 0
    res = cli("rekey", tmp_path / "o1", "--from", old, "--out", tmp_path / "o2", *common)
    assert res.exit_code == 0, res.stderr
    assert cli("run", src, "--format", "parquet", "--out", tmp_path / "o3", *common).exit_code == 0
    a, b = pq.read_table(tmp_path / "o2" / "people.parquet"), pq.read_table(tmp_path / "o3" / "people.parquet")
    assert a.schema.types == [pa.int64(), pa.string(), pa.date32(), pa.decimal128(38, 2), pa.string()]
    assert a.equals(b)
