"""pseudonymize format: int with ``range: [lo, hi]`` (issue 16 point 3): a keyed permutation that stays
inside the key's range, the draft's default for surrogate keys, and real dumps that restore, join and
take the application's next insert."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import InputError, ProfileError
from veil.ops import OPERATORS
from veil.ops.pseudonymize import feistel, range_permute
from veil.profile import load_profile

from .dump_fixtures import pg, pg_dump, pg_tools, psql_bytes, psql_file  # noqa: F401 - fixtures
from .test_dump_mysql import client, mysqldump, restore, scalar, server  # noqa: F401 - server is a fixture
from .test_ops import apply, subkey

R = {"format": "int", "range": [1, 10_000]}


# -- known answers (test keyring of test_ops; test_feistel_reference recomputes them independently) --

@pytest.mark.parametrize(("params", "values", "typ", "expected", "domain"), [
    ({"format": "int", "range": [1, 10000]}, [1, 2, 3, None, 10000], pa.int64(), [3865, 2456, 6748, None, 6682], "d"),
    ({"format": "int", "range": [1, 255]}, ["1", "2", None, "255"], pa.string(), ["43", "114", None, "59"], "d"),
    ({"format": "int", "range": [0, 255]}, [0, 1, 255, None], pa.uint8(), [159, 154, 248, None], "d"),
    ({"format": "int", "range": [-5, 5]}, [-5, 0, 5, None], pa.int16(), [-3, -4, 2, None], "d"),
    ({"format": "int", "range": [1, 32767]}, [1, 2, 3], pa.int16(), [30950, 29825, 3039], "customer_id"),
], ids=["1-10000", "text-1-255", "uint8-0-255", "signed", "smallint"])
def test_known_answers(params, values, typ, expected, domain):
    out = apply("pseudonymize", pa.array(values, typ), params, domain=domain)
    assert out.type == typ and out.to_pylist() == expected


def test_the_range_is_part_of_the_key():
    """Two ranges of one domain give unrelated permutations (not a shift or a prefix of each other)."""
    vals = pa.array(range(1, 101), pa.int64())
    a = apply("pseudonymize", vals, {"format": "int", "range": [1, 1000]}).to_pylist()
    b = apply("pseudonymize", vals, {"format": "int", "range": [0, 999]}).to_pylist()
    c = apply("pseudonymize", vals, {"format": "int", "range": [1, 1001]}).to_pylist()
    assert sum(x == y + 1 for x, y in zip(a, b, strict=True)) < 5
    assert sum(x == y for x, y in zip(a, c, strict=True)) < 5


def test_decrypt_inverts_the_range_permutation():
    key = subkey("k")
    for lo, hi in [(1, 10), (-1000, 77), (5, 2**40), (0, 2**64 - 1)]:
        vals = np.array(sorted({lo, hi, lo + (hi - lo) // 3}), dtype=np.int64 if hi < 2**63 else np.uint64)
        enc = range_permute(key, vals, lo, hi)
        back = range_permute(key, enc, lo, hi, decrypt=True)
        assert [int(v) for v in back.astype(vals.dtype)] == [int(v) for v in vals]


def test_feistel_n_limit_is_a_permutation():
    out = feistel(subkey("n"), np.arange(1000, dtype=np.uint64), 10, n=1000)
    assert sorted(out.tolist()) == list(range(1000))


# -- the property: bijective on [lo, hi], inside it, the same whatever the batching -----------------

@settings(max_examples=40, deadline=None)
@given(lo=st.integers(-300, 300), size=st.integers(2, 600), cuts=st.lists(st.integers(0, 600), max_size=4),
       domain=st.sampled_from(["a", "customer_id", "ü"]), seed=st.integers(0, 2**32 - 1))
def test_bijective_inside_and_batch_independent(lo, size, cuts, domain, seed):
    hi = lo + size - 1
    params = {"format": "int", "range": [lo, hi]}
    values = list(range(lo, hi + 1))
    whole = apply("pseudonymize", pa.array(values, pa.int64()), params, domain=domain).to_pylist()
    assert sorted(whole) == values  # a permutation of the range: inside it, no collision
    mapping = dict(zip(values, whole, strict=True))
    # any batching, order, repetition and nulls: the same value, the same output
    rng = np.random.default_rng(seed)
    rows = [int(v) for v in rng.choice(values, size=min(200, 2 * size))] + [None]
    rng.shuffle(rows)
    bounds = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    got: list = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        got += apply("pseudonymize", pa.array(rows[a:b], pa.int64()), params, domain=domain,
                     row_offset=a).to_pylist()
    assert got == [None if v is None else mapping[v] for v in rows]


# -- bad rules and out-of-range values ------------------------------------------------------------

@pytest.mark.parametrize(("rule", "msg"), [
    ("{op: pseudonymize, range: [1, 10]}", "range applies to format int only"),
    ("{op: pseudonymize, format: int, range: [1, 10], bits: 15}", "give range or bits, not both"),
    ("{op: pseudonymize, format: int, range: [10, 10]}", "lowest < highest"),
    ("{op: pseudonymize, format: int, range: [1]}", "two integers"),
    ("{op: pseudonymize, format: int, range: [1, x]}", "two integers"),
    ("{op: pseudonymize, format: int, range: [-1, 9223372036854775808]}", "lowest < highest"),
    ("{op: pseudonymize, format: int, range: 10}", "range must be list"),
])
def test_bad_ranges_are_profile_errors(tmp_path, rule, msg):
    p = tmp_path / "p.yaml"
    p.write_text(f"version: 1\ntables:\n  t:\n    columns:\n      id: {rule}\n")
    with pytest.raises(ProfileError) as exc:
        load_profile(p)
    assert msg in str(exc.value) and "t.columns.id" in str(exc.value)


def test_value_outside_the_range_names_row_and_column_not_the_value():
    with pytest.raises(InputError) as exc:
        apply("pseudonymize", pa.array([3, None, 7, 98765], pa.int64()), R | {"range": [1, 9000]},
              table="orders", row_offset=100)
    text = str(exc.value)
    assert "row 104" in text and "orders.c" in text and "[1, 9000]" in text and "98765" not in text
    with pytest.raises(InputError, match="row 1,"):
        apply("pseudonymize", pa.array(["0"]), R)  # below lo
    with pytest.raises(InputError, match="without leading zeros"):
        apply("pseudonymize", pa.array(["-3"]), R)  # negative text only when lo < 0
    with pytest.raises(InputError, match="cannot hold"):
        apply("pseudonymize", pa.array([1, 2], pa.int8()), {"format": "int", "range": [1, 1000]})


def test_out_of_range_run_fails_cleanly_and_leaves_no_output(tmp_path, keyring):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "t.csv").write_text("id,n\n1,a\n2,b\n77777,c\n")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    primary_key: [id]\n    columns:\n"
                    "      id: {op: pseudonymize, format: int, range: [1, 1000]}\n      n: keep\n")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "veil", "run", str(tmp_path / "in"), "-p", str(prof),
                          "--keyring", str(keyring), "-o", str(out), "-q"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 5, res.stderr
    assert "t.id" in res.stderr and "row 3" in res.stderr and "77777" not in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


# -- capabilities, for validation ------------------------------------------------------------------

def test_declares_its_value_range_and_width():
    op = OPERATORS["pseudonymize"]
    full = op.with_defaults({"format": "int", "range": [1, 10000]})
    assert op.value_range(pa.int16(), full) == (1, 10000)
    assert op.max_output_length(pa.string(), full) == 5
    assert op.value_range(pa.int32(), op.with_defaults({"format": "int"})) == (0, 2**31 - 1)
    assert op.value_range(pa.string(), op.with_defaults({})) is None
    assert op.max_output_length(pa.string(), op.with_defaults({"format": "int", "range": [-99999, 5]})) == 6


# -- foreign keys, workers -------------------------------------------------------------------------

def test_foreign_keys_inherit_the_range_and_workers_agree(tmp_path, keyring):
    src = tmp_path / "in"
    src.mkdir()
    (src / "stores.csv").write_text("id,label\n" + "".join(f"{i},s{i}\n" for i in range(1, 41)))
    (src / "staff.csv").write_text("id,store_id\n" + "".join(f"{i},{i % 40 + 1}\n" for i in range(1, 301)))
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  stores:\n    primary_key: [id]\n    columns:\n"
                    "      id: {op: pseudonymize, format: int, range: [1, 100]}\n      label: keep\n"
                    "  staff:\n    primary_key: [id]\n    foreign_keys:\n"
                    "      - {columns: [store_id], references: {table: stores, columns: [id]}}\n"
                    "    columns:\n      id: {op: pseudonymize, format: int, range: [1, 1000]}\n")
    outs = []
    for workers, batch in (("1", "65536"), ("2", "7")):
        out = tmp_path / f"out{workers}"
        res = subprocess.run([sys.executable, "-m", "veil", "run", str(src), "-p", str(prof), "--keyring",
                              str(keyring), "-o", str(out), "-q", "--workers", workers, "--batch-size", batch],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        outs.append({f.name: f.read_text() for f in out.iterdir()})
    assert outs[0] == outs[1]
    stores = list(csv.reader(io.StringIO(outs[0]["stores.csv"])))[1:]
    staff = list(csv.reader(io.StringIO(outs[0]["staff.csv"])))[1:]
    store_ids = {int(i) for i, _ in stores}
    assert len(store_ids) == 40 and all(1 <= i <= 100 for i in store_ids)
    assert store_ids != set(range(1, 41))
    assert {int(i) for i, _ in staff} <= set(range(1, 1001)) and len({i for i, _ in staff}) == 300
    assert {int(s) for _, s in staff} == store_ids  # every staff row still joins a store


# -- the draft's default ---------------------------------------------------------------------------

def test_draft_range_rule():
    from veil.detect.draft import _flow, key_range, suggest
    from veil.detect.findings import Finding

    assert key_range(1, 40, 40, 40, 8) == [1, 100]  # tinyint unsigned, 40 ids
    assert key_range(1, 60, 60, 60, 8) == [1, 200]  # past the power of ten: 2 x 60 -> 200, room above
    assert key_range(1, 300, 300, 300, 15) == [1, 1000]  # smallint
    assert key_range(1, 15000, 15000, 15000, 15) == [1, 30000]
    assert key_range(0, 5000, 100_000, 20_000, 31) == [0, 1_000_000]  # a fifth sampled: extrapolated
    assert key_range(1, 250, 250, 250, 8) == [1, 250]  # 5 ids free above the source: the range stops at its ids
    assert key_range(-1, 3, 3, 3, 31) is None
    f = Finding("t", "id", "integer", "NONE", "none", 1.0,
                {"int_bits": 15, "plain_ints": True, "int_range": [1, 1000]}, "primary")
    rule = suggest(f, "t", {})
    assert rule == {"op": "pseudonymize", "format": "int", "domain": "t.id", "range": [1, 1000]}
    assert _flow(rule) == "{op: pseudonymize, format: int, domain: t.id, range: [1, 1000]}"


def _veil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veil", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def _scan_run(dump: Path, tmp_path: Path, keyring: Path) -> tuple[str, Path]:
    draft, out = tmp_path / "draft.yaml", tmp_path / "out.sql"
    res = _veil("scan", dump, "-o", draft, "-q", "--no-ner")
    assert res.returncode == 0, res.stderr
    res = _veil("run", dump, "-p", draft, "--keyring", keyring, "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    return draft.read_text(), out


# -- real pg_dump: smallint keys, the draft unchanged ----------------------------------------------

PG_SCHEMA = b"""
CREATE TABLE stores (id smallserial PRIMARY KEY, label text NOT NULL);
CREATE TABLE staff (id smallint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    store_id smallint NOT NULL REFERENCES stores(id), lvl integer NOT NULL);
INSERT INTO stores (label) SELECT 'store ' || g FROM generate_series(1, 40) g;
INSERT INTO staff (store_id, lvl) SELECT (g * 7) % 40 + 1, g % 3 FROM generate_series(1, 300) g;
"""
PG_JOIN = "SELECT string_agg(n::text, ',' ORDER BY n) FROM (SELECT count(*) AS n FROM staff JOIN stores " \
          "ON staff.store_id = stores.id GROUP BY stores.id) c"


def _pg_scalar(pg, db: str, sql: str):  # noqa: F811 - pg is the server handle
    with pg.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_pg_smallint_keys_with_the_draft_restore_join_and_insert(pg, tmp_path, keyring):  # noqa: F811
    src = pg.create("veil_src")
    assert psql_bytes(src, PG_SCHEMA).returncode == 0
    dump = pg_dump(src, tmp_path / "in.sql")
    draft, out = _scan_run(dump, tmp_path, keyring)
    assert "id: {op: pseudonymize, format: int, domain: public.stores.id, range: [1, 100]}" in draft
    assert "id: {op: pseudonymize, format: int, domain: public.staff.id, range: [1, 1000]}" in draft
    dst = pg.create("veil_dst")
    res = psql_file(dst, out)  # ON_ERROR_STOP: any error fails the restore
    assert res.returncode == 0, res.stderr
    ids = [r[0] for r in pg.connect(dst).execute("SELECT id FROM stores").fetchall()]
    assert len(ids) == 40 and max(ids) <= 100 and sorted(ids) != list(range(1, 41))
    assert _pg_scalar(pg, dst, "SELECT max(id) FROM staff") <= 1000
    assert _pg_scalar(pg, dst, PG_JOIN) == _pg_scalar(pg, src, PG_JOIN)  # same cardinalities per store
    assert _pg_scalar(pg, dst, "SELECT count(*) FROM staff JOIN stores ON staff.store_id = stores.id") == 300
    # the application's next inserts, without explicit ids: the sequences stand above the new maximum
    new_store = _pg_scalar(pg, dst, "INSERT INTO stores (label) VALUES ('new') RETURNING id")
    assert new_store > max(ids)
    _pg_scalar(pg, dst, f"INSERT INTO staff (store_id, lvl) VALUES ({new_store}, 1) RETURNING id")


# -- real mariadb-dump: tinyint unsigned and smallint keys, the draft unchanged ---------------------

MY_SCHEMA = """
CREATE TABLE regions (id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, label VARCHAR(40) NOT NULL)
  ENGINE=InnoDB;
CREATE TABLE shops (id SMALLINT NOT NULL AUTO_INCREMENT PRIMARY KEY, region_id TINYINT UNSIGNED NOT NULL,
  lvl INT NOT NULL, FOREIGN KEY (region_id) REFERENCES regions (id)) ENGINE=InnoDB;
INSERT INTO regions (label) SELECT CONCAT('region ', seq) FROM seq_1_to_40;
INSERT INTO shops (region_id, lvl) SELECT (seq * 7) % 40 + 1, seq % 3 FROM seq_1_to_300;
"""
MY_JOIN = "SELECT GROUP_CONCAT(n ORDER BY n) FROM (SELECT COUNT(*) AS n FROM shops JOIN regions " \
          "ON shops.region_id = regions.id GROUP BY regions.id) c"


def test_mariadb_tinyint_unsigned_keys_with_the_draft_restore_join_and_insert(server, tmp_path, keyring):  # noqa: F811
    import secrets

    tag = secrets.token_hex(4)
    src, dst = f"veil_src_{tag}", f"veil_dst_{tag}"
    try:
        client(f"CREATE DATABASE `{src}`; CREATE DATABASE `{dst}`;")
        client(MY_SCHEMA, src)
        dump = mysqldump(src, [], tmp_path / "in.sql")
        draft, out = _scan_run(dump, tmp_path, keyring)
        assert "id: {op: pseudonymize, format: int, domain: regions.id, range: [1, 100]}" in draft
        assert "id: {op: pseudonymize, format: int, domain: shops.id, range: [1, 1000]}" in draft
        restore(out, dst)  # the client stops at the first error
        assert scalar(dst, "SELECT MAX(id) FROM regions") <= 100
        assert scalar(dst, "SELECT MAX(id) FROM shops") <= 1000
        ids = client("SELECT id FROM regions ORDER BY id", dst).stdout.decode().split()
        assert len(ids) == 40 and ids != [str(i) for i in range(1, 41)]
        assert client(MY_JOIN, dst).stdout == client(MY_JOIN, src).stdout
        assert scalar(dst, "SELECT COUNT(*) FROM shops JOIN regions ON shops.region_id = regions.id") == 300
        # the application's next inserts, without explicit ids: AUTO_INCREMENT continues above the range
        client("INSERT INTO regions (label) VALUES ('new'); "
               "INSERT INTO shops (region_id, lvl) VALUES (LAST_INSERT_ID(), 1);", dst)
        assert scalar(dst, "SELECT COUNT(*) FROM shops JOIN regions ON shops.region_id = regions.id") == 301
    finally:
        client(f"DROP DATABASE IF EXISTS `{src}`; DROP DATABASE IF EXISTS `{dst}`;", check=False)


def test_validate_refuses_a_range_the_column_cannot_hold(tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": pa.array([1, 2, 3], pa.int16())}), src / "t.parquet")
    prof = tmp_path / "p.yaml"
    for hi, code in ((32767, 0), (100_000, 3)):
        prof.write_text(f"version: 1\ntables:\n  t:\n    primary_key: [id]\n    columns:\n"
                        f"      id: {{op: pseudonymize, format: int, range: [1, {hi}]}}\n")
        res = _veil("validate", prof, src)
        assert res.returncode == code, res.stderr
    assert "t.id is int16" in res.stderr and "100000" in res.stderr and "32767" in res.stderr
