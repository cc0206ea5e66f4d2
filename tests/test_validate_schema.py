"""Validation against the input's schema (issue 16 point 1): every operator's output must fit its
column's declared type. Real pg_dump and mariadb-dump output of small schemas with smallint and
unsigned keys, a varchar(12) phone and a timestamptz column."""

from __future__ import annotations

import secrets
from datetime import date

import pyarrow as pa
import pytest

from veil.ops import OPERATORS
from veil.ops.registry import OpContext

from .dump_fixtures import pg, pg_dump, pg_tools, psql_file  # noqa: F401 (fixtures)
from .test_dump_mysql import client, mysqldump, restore, scalar, server  # noqa: F401 (fixtures)

PG_SCHEMA = """
CREATE TABLE store (store_id smallint PRIMARY KEY, phone varchar(12), opened timestamptz);
CREATE TABLE visit (visit_id integer PRIMARY KEY, store_id smallint NOT NULL REFERENCES store,
                    at timestamptz);
INSERT INTO store VALUES (1, '555-1234', '2020-01-02 03:04:05+02'), (2, '555-9999', '2021-05-06 07:08:09.25-05'),
                         (32000, '555-0000', NULL);
INSERT INTO visit VALUES (10, 1, '2022-02-03 04:05:06+00'), (11, 2, now()), (12, 32000, NULL), (13, 1, NULL);
"""


def _profile(tmp_path, store_id: str, phone: str, name: str = "p.yaml"):
    p = tmp_path / name
    p.write_text(f"""version: 1
tables:
  public.store:
    columns:
      store_id: {store_id}
      phone: {phone}
      opened: {{op: date_shift, subject: store_id}}
  public.visit:
    columns:
      visit_id: keep
      at: {{op: date_shift, subject: store_id}}
""")
    return p


@pytest.fixture
def pg_src(pg, tmp_path):  # noqa: F811
    db = pg.create("veil_src")
    with pg.connect(db) as conn:
        conn.execute(PG_SCHEMA)
    return pg, pg_dump(db, tmp_path / "in.sql")


def test_fake_phone_into_varchar12_refused_naming_column_type_and_alternative(pg_src, tmp_path, cli, keyring):
    _, dump = pg_src
    prof = _profile(tmp_path, "{op: pseudonymize, format: int}", "{op: fake, kind: phone_number}")
    res = cli("validate", str(prof), str(dump))
    assert res.exit_code == 3, res.output
    out = res.stderr
    assert "public.store.phone is varchar(12)" in out and "15 characters" in out
    assert "p.yaml:6" in out and "format: digits" in out and "kind: postcode" in out
    assert "Traceback" not in out
    run = cli("run", "-p", str(prof), str(dump), "--out", str(tmp_path / "o.sql"), "--keyring", str(keyring))
    assert run.exit_code == 3 and "varchar(12)" in run.stderr
    assert not (tmp_path / "o.sql").exists()


def test_given_bits_wider_than_smallint_refused(pg_src, tmp_path, cli):
    _, dump = pg_src
    prof = _profile(tmp_path, "{op: pseudonymize, format: int, bits: 31}", "{op: pseudonymize, format: digits}")
    res = cli("validate", str(prof), str(dump))
    assert res.exit_code == 3, res.output
    assert "public.store.store_id is smallint (integers -32768..32767)" in res.stderr and "bits: 15" in res.stderr


def test_smallint_key_and_timestamptz_run_and_restore(pg_src, tmp_path, cli, keyring):
    pg_, dump = pg_src
    prof = _profile(tmp_path, "{op: pseudonymize, format: int}", "{op: pseudonymize, format: digits}")
    assert cli("validate", str(prof), str(dump)).exit_code == 0
    out = tmp_path / "out.sql"
    res = cli("run", "-p", str(prof), str(dump), "--out", str(out), "--keyring", str(keyring))
    assert res.exit_code == 0, res.output
    dst = pg_.create("veil_dst")
    restored = psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr  # errors fatal: every key fits a smallint
    with pg_.connect(dst) as conn:
        ids = sorted(r[0] for r in conn.execute("SELECT store_id FROM store"))
        assert ids != [1, 2, 32000] and all(0 <= i < 2 ** 15 for i in ids)
        assert conn.execute("SELECT count(*) FROM visit JOIN store USING (store_id)").fetchone()[0] == 4
        # timestamptz moved by whole days, the time of day kept
        # (each store has its own offset, so the order may change: compare the instants' time of day)
        query = "SELECT opened FROM store WHERE opened IS NOT NULL"
        src = [r[0] for r in pg_.connect(pg_.created[0]).execute(query).fetchall()]
        got = [r[0] for r in conn.execute(query).fetchall()]
        assert len(got) == 2 and not set(got) & set(src)
        assert sorted(t.timestamp() % 86400 for t in got) == sorted(t.timestamp() % 86400 for t in src)


def _shift_ctx(values: list, subject: list) -> OpContext:
    op = OPERATORS["date_shift"]
    class Keys:
        def subkey(self, purpose, domain, version=None):
            return b"k" * 32

        def index_key(self, purpose, domain):
            return b"i" * 32

    batch = pa.record_batch({"at": pa.array(values, pa.string()), "sid": pa.array(subject, pa.string())})
    return OpContext(Keys(), "date_shift", op.with_defaults({"subject": "sid", "domain": ""}), "t", "at",
                     batch=batch, key_version="v1")


def test_date_shift_text_with_offsets_and_fractions():
    values = ["2020-01-02 03:04:05+02", "2021-05-06 07:08:09.25-05", None, "2022-02-28 23:59:59.123456+05:30",
              "2022-03-01 00:00:00Z"]
    ctx = _shift_ctx(values, ["a", "b", "c", "a", "b"])
    op = OPERATORS["date_shift"]
    out = op.apply(pa.array(values, pa.string()), ctx).to_pylist()
    assert out[2] is None
    for before, after in zip(values, out, strict=True):
        if before is None:
            continue
        assert after != before and after[10:] == before[10:]  # time, fraction and offset as written
        days = (date.fromisoformat(after[:10]) - date.fromisoformat(before[:10])).days
        assert days != 0 and abs(days) <= 365
    assert op.undo(pa.array(out, pa.string()), ctx).to_pylist() == values


def test_date_shift_text_refuses_unreadable_value_naming_row_not_value():
    from veil.errors import InputError

    secret = f"2020-01-02 03:04:05 zone{secrets.token_hex(4)}"
    ctx = _shift_ctx(["2020-01-02 03:04:05+02", secret], ["a", "b"])
    with pytest.raises(InputError) as err:
        OPERATORS["date_shift"].apply(pa.array(["2020-01-02 03:04:05+02", secret], pa.string()), ctx)
    assert err.value.row == 2 and err.value.column == "at" and secret not in str(err.value)
    assert "Parquet" not in (err.value.hint or "")


def test_mysql_unsigned_small_keys_fit_after_run(server, tmp_path, cli, keyring):  # noqa: F811
    src, dst = f"veil_v16_{secrets.token_hex(4)}", f"veil_v16d_{secrets.token_hex(4)}"
    client(f"CREATE DATABASE {src}; CREATE DATABASE {dst};")
    try:
        client("""CREATE TABLE shop (shop_id smallint unsigned PRIMARY KEY, code varchar(12));
                  CREATE TABLE sale (sale_id int PRIMARY KEY, shop_id smallint unsigned NOT NULL,
                                     FOREIGN KEY (shop_id) REFERENCES shop (shop_id));
                  INSERT INTO shop VALUES (1, 'a'), (2, 'b'), (65000, 'c');
                  INSERT INTO sale VALUES (1, 1), (2, 65000), (3, 2);""", src)
        dump = mysqldump(src, [], tmp_path / "my.sql")
        prof = tmp_path / "my.yaml"
        prof.write_text("version: 1\ntables:\n  shop:\n    columns:\n      shop_id: {op: pseudonymize, format: int}\n"
                        "      code: {op: fake, kind: phone_number}\n  sale:\n    columns:\n      sale_id: keep\n")
        res = cli("validate", str(prof), str(dump))
        assert res.exit_code == 3 and "shop.code is varchar(12)" in res.stderr, res.output
        prof.write_text(prof.read_text().replace("fake, kind: phone_number", "fake, kind: postcode"))
        assert cli("validate", str(prof), str(dump)).exit_code == 0
        out = tmp_path / "out.sql"
        res = cli("run", "-p", str(prof), str(dump), "--out", str(out), "--keyring", str(keyring))
        assert res.exit_code == 0, res.output
        restore(out, dst)
        assert scalar(dst, "SELECT count(*) FROM sale JOIN shop USING (shop_id)") == 3
        assert scalar(dst, "SELECT max(shop_id) FROM shop") < 2 ** 16
        assert scalar(dst, "SELECT count(*) FROM shop WHERE shop_id IN (1, 2, 65000)") < 3
    finally:
        client(f"DROP DATABASE IF EXISTS {src}; DROP DATABASE IF EXISTS {dst};")


def test_range_outside_the_column_refused(pg_src, tmp_path, cli):
    _, dump = pg_src
    digits = "{op: pseudonymize, format: digits}"
    prof = _profile(tmp_path, "{op: pseudonymize, format: int, range: [1, 40000]}", digits)
    res = cli("validate", str(prof), str(dump))
    assert res.exit_code == 3, res.output
    assert "writes integers 1..40000" in res.stderr and "inside [-32768, 32767]" in res.stderr
    prof = _profile(tmp_path, "{op: pseudonymize, format: int, range: [1, 32767]}", digits)
    assert cli("validate", str(prof), str(dump)).exit_code == 0


def test_numeric_precision_of_an_integer_pseudonym(pg, tmp_path, cli, keyring):  # noqa: F811
    db = pg.create("veil_src")
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE acct (acct_no numeric(5,0) PRIMARY KEY, note text);"
                     "INSERT INTO acct VALUES (12345, 'x'), (99999, 'y');")
    dump = pg_dump(db, tmp_path / "n.sql")
    prof = tmp_path / "n.yaml"
    prof.write_text("version: 1\ntables:\n  public.acct:\n    columns:\n"
                    "      acct_no: {op: pseudonymize, format: int}\n      note: keep\n")
    res = cli("validate", str(prof), str(dump))
    assert res.exit_code == 3, res.output
    assert "public.acct.acct_no is " in res.stderr and "(5 digits before the point)" in res.stderr
    assert "range inside [-99999, 99999]" in res.stderr and "bits: 16 or less" in res.stderr
    prof.write_text(prof.read_text().replace("format: int}", "format: int, range: [1, 99999]}"))
    assert cli("validate", str(prof), str(dump)).exit_code == 0
    out = tmp_path / "n.out.sql"
    assert cli("run", "-p", str(prof), str(dump), "--out", str(out), "--keyring", str(keyring)).exit_code == 0
    dst = pg.create("veil_dst")
    assert psql_file(dst, out).returncode == 0


def test_text_into_a_typed_column_is_a_warning_and_an_error_with_strict(pg_src, tmp_path, cli):
    _, dump = pg_src
    prof = _profile(tmp_path, "{op: pseudonymize, format: int}", "{op: pseudonymize, format: digits}")
    prof.write_text(prof.read_text().replace("at: {op: date_shift, subject: store_id}", "at: redact"))
    res = cli("validate", str(prof), str(dump))
    assert res.exit_code == 0 and "veil: warning:" in res.stderr
    assert "public.visit.at is timestamptz; operator redact writes text" in res.stderr
    strict = cli("validate", "--strict", str(prof), str(dump))
    assert strict.exit_code == 3 and "public.visit.at is timestamptz" in strict.stderr
    prof.write_text(prof.read_text().replace("at: redact", "at: {op: fake, kind: first_name}"))
    assert "operator fake writes text" in cli("validate", str(prof), str(dump)).stderr
