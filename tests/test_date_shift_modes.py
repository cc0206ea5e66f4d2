"""date_shift's modes (issue 18.4): ``resolution: second`` moves timestamps by keyed seconds (time of
day too), ``scope: table`` keys offsets per table; the default output is pinned (unchanged); every
mode is undone exactly (rekey).

Expected offsets are recomputed here from HKDF, HMAC-SHA256 and AES as docs/operators.md documents
them, not read back from veil.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.keys import Keyring
from veil.ops import OPERATORS, OpContext
from veil.ops.dates import MAX_SHIFT_DAYS

from . import dump_fixtures
from .dump_fixtures import pg_dump, psql_file
from .vault_fixtures import init_keyring_cli, rotate

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools

MASTER = bytes(range(32))
KEYS = Keyring.for_testing(MASTER)
OP = OPERATORS["date_shift"]
DAY = 86_400


# -- the documented construction, independently ---------------------------------------------------

def hkdf(master: bytes, purpose: str, domain: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"veil/v1/{purpose}/{domain}".encode()).derive(master)


INDEX_SECRET = hkdf(MASTER, "index", "")


def digest(subject: str, domain: str = "date_shift", table: str | None = None) -> bytes:
    """Per subject: blind key purpose "blind", subkey purpose "domain", in the domain. Per table
    (scope: table): purpose "date_shift-table" for both, domain the JSON text of [domain, table]."""
    if table is None:
        index_key, sub = hkdf(INDEX_SECRET, "blind", domain), hkdf(MASTER, "domain", domain)
    else:
        dom = json.dumps([domain, table], ensure_ascii=False)
        index_key, sub = hkdf(INDEX_SECRET, "date_shift-table", dom), hkdf(MASTER, "date_shift-table", dom)
    b = hmac.new(index_key, subject.encode(), hashlib.sha256).digest()[:16]
    out = b""
    for half in ("0", "1"):
        enc = Cipher(algorithms.AES(hkdf(sub, "digest", half)), modes.ECB()).encryptor()
        out += enc.update(b) + enc.finalize()
    return out


def word(d: bytes, i: int) -> int:
    return int.from_bytes(d[8 * i: 8 * i + 8], "little")


def day_offset(subject: str, max_days: int, domain: str = "date_shift", table: str | None = None) -> int:
    r = word(digest(subject, domain, table), 0) % (2 * max_days)
    return r - max_days if r < max_days else r - max_days + 1


def second_offset(subject: str, max_days: int, domain: str = "date_shift", table: str | None = None) -> int:
    k = day_offset(subject, max_days, domain, table)
    within = word(digest(subject, domain, table), 1) % DAY
    return (1 if k > 0 else -1) * (abs(k) * DAY - within)


def tick_offset(subject: str, max_days: int, per_second: int, domain: str = "date_shift",
                table: str | None = None) -> int:
    """In 1/per_second seconds: sign(s) * (|s| * P - word2 mod P)."""
    s = second_offset(subject, max_days, domain, table)
    return (1 if s > 0 else -1) * (abs(s) * per_second - word(digest(subject, domain, table), 2) % per_second)


# -- calling the operator ------------------------------------------------------------------------

def shift(values, typ, subjects, *, table="t", keys=KEYS, version=None, undo=False, **params):
    arr = values if isinstance(values, pa.Array) else pa.array(values, typ)
    batch = pa.record_batch([arr, pa.array(subjects, pa.string())], names=["d", "sid"])
    p = OP.with_defaults({"subject": "sid", **params})
    ctx = OpContext(keys, p["domain"] or "date_shift", p, table=table, column="d", batch=batch,
                    key_version=version)
    return (OP.undo if undo else OP.apply)(arr, ctx)


SUBJECTS = [str(i) for i in range(60)]
BASE_TS = dt.datetime(2020, 1, 23, 14, 39, 36)


# -- today's output is unchanged (pinned) ---------------------------------------------------------

PIN_SUBJECTS = ["1", "2", "67", "599", None]


def test_default_output_is_pinned():
    """Computed with the operator before the modes existed: a profile that does not opt in writes
    exactly what it wrote before."""
    assert shift([dt.date(2022, 12, 31)] * 5, pa.date32(), PIN_SUBJECTS).to_pylist() == [
        dt.date(2022, 11, 22), dt.date(2023, 4, 14), dt.date(2023, 7, 28), dt.date(2023, 6, 17),
        dt.date(2022, 12, 31)]
    assert shift([BASE_TS] * 5, pa.timestamp("us"), PIN_SUBJECTS, max_days=30,
                 domain="customer_shift").to_pylist() == [
        dt.datetime(2019, 12, 26, 14, 39, 36), dt.datetime(2020, 2, 4, 14, 39, 36),
        dt.datetime(2020, 1, 19, 14, 39, 36), dt.datetime(2020, 2, 2, 14, 39, 36), BASE_TS]
    assert shift(["2020-01-02 03:04:05.25+02"] * 5, pa.string(), PIN_SUBJECTS).to_pylist() == [
        "2019-11-24 03:04:05.25+02", "2020-04-15 03:04:05.25+02", "2020-07-29 03:04:05.25+02",
        "2020-06-18 03:04:05.25+02", "2020-01-02 03:04:05.25+02"]
    assert shift(["2020-02-29"] * 5, pa.string(), PIN_SUBJECTS, max_days=3650).to_pylist() == [
        "2017-01-21", "2023-06-12", "2013-09-26", "2027-08-14", "2020-02-29"]


def test_explicit_defaults_equal_the_old_rule():
    old = shift([BASE_TS] * 60, pa.timestamp("s"), SUBJECTS)
    assert shift([BASE_TS] * 60, pa.timestamp("s"), SUBJECTS, resolution="day", scope="subject").equals(old)
    assert old.to_pylist() == [BASE_TS + dt.timedelta(days=day_offset(s, 365)) for s in SUBJECTS]


# -- resolution: second ---------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_second_resolution_known_answers_on_timestamps(unit):
    ts = BASE_TS.replace(microsecond=250_000) if unit != "s" else BASE_TS
    out = shift([ts] * 60, pa.timestamp(unit), SUBJECTS, resolution="second", max_days=90)
    expected = [ts + dt.timedelta(seconds=second_offset(s, 90)) for s in SUBJECTS]
    got = [v.to_pydatetime() if hasattr(v, "to_pydatetime") else v for v in out.to_pylist()]
    assert got == expected


def test_second_resolution_on_timezone_aware_timestamps():
    ts = BASE_TS.replace(tzinfo=dt.UTC)
    out = shift([ts] * 60, pa.timestamp("ms", tz="UTC"), SUBJECTS, resolution="second")
    assert out.type == pa.timestamp("ms", tz="UTC")
    assert out.to_pylist() == [ts + dt.timedelta(seconds=second_offset(s, 365)) for s in SUBJECTS]


@pytest.mark.parametrize("text, fmt", [
    ("2020-01-23 14:39:36", "%Y-%m-%d %H:%M:%S"), ("2020-01-23T14:39:36", "%Y-%m-%dT%H:%M:%S")])
def test_second_resolution_on_datetime_text(text, fmt):
    out = shift([text] * 60, pa.string(), SUBJECTS, resolution="second", domain="orders")
    assert out.to_pylist() == [
        (dt.datetime.strptime(text, fmt) + dt.timedelta(seconds=second_offset(s, 365, "orders"))).strftime(fmt)
        for s in SUBJECTS]


def test_second_resolution_on_zoned_text_keeps_fraction_and_utc_offset():
    out = shift(["2020-01-02 03:04:05.25+02"] * 60, pa.string(), SUBJECTS, resolution="second")
    wall = dt.datetime(2020, 1, 2, 3, 4, 5)
    assert out.to_pylist() == [
        (wall + dt.timedelta(seconds=second_offset(s, 365))).strftime("%Y-%m-%d %H:%M:%S") + ".25+02"
        for s in SUBJECTS]


def test_second_resolution_leaves_dates_in_whole_days_as_today():
    dates = [dt.date(2022, 12, 31)] * 60
    for typ in (pa.date32(), pa.date64()):
        out = shift(dates, typ, SUBJECTS, resolution="second").to_pylist()
        assert out == shift(dates, typ, SUBJECTS).to_pylist()
        assert out == [dt.date(2022, 12, 31) + dt.timedelta(days=day_offset(s, 365)) for s in SUBJECTS]
    text = shift(["2022-12-31"] * 60, pa.string(), SUBJECTS, resolution="second").to_pylist()
    assert text == [d.isoformat() for d in out]


def test_second_resolution_moves_time_of_day():
    """The measured attack: one known event (its time of day) singled out every customer when the
    time of day was kept. With seconds, the target's row is no longer at its time of day."""
    rng = random.Random(18)
    n = 599
    events = [dt.datetime(2021, 5, 1) + dt.timedelta(seconds=x) for x in rng.sample(range(DAY), n)]
    subjects = [str(i) for i in range(n)]
    kept = shift(events, pa.timestamp("s"), subjects).to_pylist()
    moved = shift(events, pa.timestamp("s"), subjects, resolution="second").to_pylist()
    singled_kept = sum(sum(o.time() == e.time() for o in kept) == 1 and kept[i].time() == e.time()
                       for i, e in enumerate(events))
    assert singled_kept == n  # whole days: every event found by its time of day
    found = sum(moved[i].time() == e.time() for i, e in enumerate(events))
    assert found <= 2  # 1/86400 by chance
    assert len({m.time() for m in moved}) > 590  # times of day spread, not clustered on the originals


def test_same_day_originals_no_longer_give_whole_day_offsets():
    """All accounts created at the same instant: with whole days, every shifted value sits at the
    original time of day (so the offset is a whole number of days from a known day). With seconds,
    the time of day itself is moved."""
    created = [BASE_TS] * 60
    days = shift(created, pa.timestamp("s"), SUBJECTS).to_pylist()
    secs = shift(created, pa.timestamp("s"), SUBJECTS, resolution="second").to_pylist()
    assert all(d.time() == BASE_TS.time() for d in days)
    assert sum(s.time() == BASE_TS.time() for s in secs) <= 1


# -- resolution: column (fractions of a second move too) -------------------------------------------

@pytest.mark.parametrize("unit, per_second", [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)])
def test_column_resolution_known_answers_on_timestamps(unit, per_second):
    ticks = pa.array([BASE_TS.replace(microsecond=250_000 if unit != "s" else 0)], pa.timestamp(unit))
    base = ticks.view(pa.int64())[0].as_py()
    out = shift(ticks.to_pylist() * 60, pa.timestamp(unit), SUBJECTS, resolution="column", max_days=90)
    assert out.view(pa.int64()).to_pylist() == [base + tick_offset(s, 90, per_second) for s in SUBJECTS]
    secs = shift(ticks.to_pylist() * 60, pa.timestamp(unit), SUBJECTS, resolution="second", max_days=90)
    # nested: within one second of the second-resolution shift, and the fraction moved for most
    diffs = [(a - b) for a, b in zip(out.view(pa.int64()).to_pylist(), secs.view(pa.int64()).to_pylist(),
                                     strict=True)]
    assert all(abs(d) < per_second for d in diffs)
    if per_second > 1:
        assert sum(d != 0 for d in diffs) >= 50


def test_column_resolution_on_fraction_text_keeps_width_and_zone():
    values = ["2020-01-02 03:04:05.25+02", "2020-01-02 03:04:05+02", "2020-01-02 03:04:05.123456Z",
              "2020-01-02 03:04:05.999999999-03:30", None]
    subjects = ["7", "7", "8", "9", "9"]
    out = shift(values, pa.string(), subjects, resolution="column").to_pylist()
    wall = dt.datetime(2020, 1, 2, 3, 4, 5)

    def expect(subject, digits, fraction, sep, zone):
        p = 10 ** digits
        total = fraction + tick_offset(subject, 365, p)
        text = (wall + dt.timedelta(seconds=total // p)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        return text + (f".{total % p:0{digits}d}" if digits else "") + zone

    assert out == [expect("7", 2, 25, " ", "+02"), expect("7", 0, 0, " ", "+02"), expect("8", 6, 123456, " ", "Z"),
                   expect("9", 9, 999999999, " ", "-03:30"), None]


def test_column_resolution_moves_the_fraction_that_links_copies():
    """PostgreSQL's now() has microseconds: a kept fraction links a shifted row to its original (and
    to another copy, whatever the key). With resolution: column it is moved."""
    rng = random.Random(7)
    n = 500
    events = [dt.datetime(2021, 5, 1) + dt.timedelta(microseconds=x) for x in rng.sample(range(10**6), n)]
    subjects = [str(i) for i in range(n)]
    secs = shift(events, pa.timestamp("us"), subjects, resolution="second").to_pylist()
    cols = shift(events, pa.timestamp("us"), subjects, resolution="column").to_pylist()
    assert all(a.microsecond == b.microsecond for a, b in zip(events, secs, strict=True))
    assert sum(a.microsecond == b.microsecond for a, b in zip(events, cols, strict=True)) <= 2


# -- scope: table ---------------------------------------------------------------------------------

def test_table_scope_known_answers_and_offsets_differ_between_tables():
    per_table = {}
    for table in ("orders", "tickets"):
        out = shift([BASE_TS] * 60, pa.timestamp("s"), SUBJECTS, table=table, scope="table",
                    domain="customer_shift").to_pylist()
        assert out == [BASE_TS + dt.timedelta(days=day_offset(s, 365, "customer_shift", table))
                       for s in SUBJECTS]
        per_table[table] = [o - BASE_TS for o in out]
    shared = [o - BASE_TS for o in shift([BASE_TS] * 60, pa.timestamp("s"), SUBJECTS, table="orders",
                                         domain="customer_shift").to_pylist()]
    # one subject's offset in one table says nothing about another table (equal only by chance: 1/730)
    assert sum(a == b for a, b in zip(per_table["orders"], per_table["tickets"], strict=True)) <= 2
    assert sum(a == b for a, b in zip(per_table["orders"], shared, strict=True)) <= 2


def test_table_scope_keeps_intervals_within_a_table():
    a = shift([dt.date(2020, 1, 1)] * 60, pa.date32(), SUBJECTS, table="orders", scope="table").to_pylist()
    b = shift([dt.date(2020, 3, 1)] * 60, pa.date32(), SUBJECTS, table="orders", scope="table").to_pylist()
    assert all((y - x).days == 60 for x, y in zip(a, b, strict=True))


def test_table_scope_with_seconds():
    out = shift(["2020-01-23 14:39:36"] * 60, pa.string(), SUBJECTS, table="events", scope="table",
                resolution="second").to_pylist()
    assert out == [(BASE_TS + dt.timedelta(seconds=second_offset(s, 365, table="events"))).isoformat(" ")
                   for s in SUBJECTS]


# -- undo (rekey) ---------------------------------------------------------------------------------

MODES = [{}, {"resolution": "second"}, {"resolution": "column"}, {"scope": "table"},
         {"resolution": "second", "scope": "table"}, {"resolution": "column", "scope": "table"}]
VALUES = [
    ([dt.date(2021, 3, 15), dt.date(1999, 12, 31), None], pa.date32()),
    ([dt.date(2021, 3, 15), dt.date(1999, 12, 31), None], pa.date64()),
    ([BASE_TS, dt.datetime(1999, 12, 31, 23, 59, 59), None], pa.timestamp("s")),
    ([BASE_TS.replace(microsecond=123456), dt.datetime(2000, 2, 29), None], pa.timestamp("us")),
    ([BASE_TS.replace(microsecond=5), dt.datetime(2000, 2, 29), None], pa.timestamp("ns")),
    ([BASE_TS.replace(tzinfo=dt.UTC), dt.datetime(2000, 2, 29, tzinfo=dt.UTC), None], pa.timestamp("ms", tz="UTC")),
    (["2021-03-15", "1999-12-31", None], pa.string()),
    (["2021-03-15 10:11:12", "1999-12-31 23:59:59", None], pa.string()),
    (["2021-03-15T10:11:12", "1999-12-31T23:59:59", None], pa.string()),
    (["2021-03-15 10:11:12.5+02", "1999-12-31 23:59:59-03:30", None], pa.string()),
    (["2021-03-15T10:11:12.000001", "1999-12-31T23:59:59.999999999Z", None], pa.string()),
]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: "-".join(m.values()) or "default")
@pytest.mark.parametrize("values, typ", VALUES, ids=lambda v: str(v) if isinstance(v, pa.DataType) else "")
def test_undo_inverts_every_mode(mode, values, typ):
    keys = Keyring.for_testing(MASTER)
    old = keys.versions()[0].id
    new = keys.rotate()
    subjects = ["a", "b", "c"]
    orig = pa.array(values, typ)
    out = shift(values, typ, subjects, keys=keys, version=old, table="orders", **mode)
    assert not out.equals(orig)
    back = shift(out, typ, subjects, keys=keys, version=old, table="orders", undo=True, **mode)
    assert back.equals(orig)
    # the next version shifts differently
    assert not shift(values, typ, subjects, keys=keys, version=new, table="orders", **mode).equals(out)


def test_cli_rekey_of_every_mode_equals_a_fresh_run(tmp_path, cli):
    """veil rekey undoes each mode with the old version and shifts again with the new one: the result
    is what a fresh run under the new version writes."""
    src = tmp_path / "in"
    src.mkdir()
    rng = random.Random(4)
    for table in ("orders", "tickets"):
        rows = [(str(rng.randrange(40)), (dt.datetime(2022, 1, 1) + dt.timedelta(seconds=rng.randrange(400 * DAY))))
                for _ in range(200)]
        pacsv.write_csv(pa.table({"cid": [r[0] for r in rows],
                                  "day": [r[1].date().isoformat() for r in rows],
                                  "at": [r[1].isoformat(" ") for r in rows],
                                  "at2": [r[1].isoformat(" ") for r in rows],
                                  "us": [r[1].isoformat(" ") + f".{rng.randrange(10**6):06d}+02" for r in rows]}),
                        src / f"{table}.csv")
    rule = "{{op: date_shift, subject: cid, domain: c, {}}}"
    cols = {"cid": "keep", "day": rule.format("scope: table"), "at": rule.format("resolution: second"),
            "at2": rule.format("resolution: second, scope: table, max_days: 30"),
            "us": rule.format("resolution: column")}
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n" + "".join(
        f"  {t}:\n    columns:\n" + "".join(f"      {c}: {r}\n" for c, r in cols.items())
        for t in ("orders", "tickets")))
    keyring = tmp_path / "keys" / "ring.json"  # its own: it is rotated
    keyring.parent.mkdir()
    v1 = init_keyring_cli(cli, keyring)
    common = ("--profile", prof, "--keyring", keyring, "--workers", "1")
    res = cli("run", src, "--out", tmp_path / "o1", "--vault", tmp_path / "v.db", *common)
    assert res.exit_code == 0, res.stderr
    rotate(cli, keyring)
    res = cli("rekey", tmp_path / "o1", "--from", v1, "--out", tmp_path / "o2", "--vault", tmp_path / "v.db",
              *common)
    assert res.exit_code == 0, res.stderr
    assert cli("run", src, "--out", tmp_path / "o3", *common).exit_code == 0
    for table in ("orders", "tickets"):
        first, rekeyed, fresh = ((tmp_path / o / f"{table}.csv").read_bytes() for o in ("o1", "o2", "o3"))
        assert rekeyed == fresh and rekeyed != first


# -- bounds (hypothesis) --------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(max_days=st.integers(1, MAX_SHIFT_DAYS),
       subjects=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=20),
       table=st.sampled_from(["t", "orders", "schéma.table"]),
       scope=st.sampled_from(["subject", "table"]))
def test_offsets_within_bounds_never_zero_and_nested(max_days, subjects, table, scope):
    mid = dt.datetime(5000, 1, 1)
    n = len(subjects)
    days = shift([mid] * n, pa.timestamp("s"), subjects, table=table, scope=scope, max_days=max_days)
    secs = shift([mid] * n, pa.timestamp("s"), subjects, table=table, scope=scope, max_days=max_days,
                 resolution="second")
    us = shift([mid] * n, pa.timestamp("us"), subjects, table=table, scope=scope, max_days=max_days,
               resolution="column")
    for d, s, u in zip(days.to_pylist(), secs.to_pylist(), us.to_pylist(), strict=True):
        k, o = (d - mid) // dt.timedelta(days=1), int((s - mid).total_seconds())
        t = (u - mid) // dt.timedelta(microseconds=1)
        assert 1 <= abs(k) <= max_days and (d - mid) % dt.timedelta(days=1) == dt.timedelta(0)
        assert 1 <= abs(o) <= max_days * DAY
        assert (o > 0) == (k > 0) and (abs(k) - 1) * DAY < abs(o) <= abs(k) * DAY
        assert (t > 0) == (o > 0) and (abs(o) - 1) * 10**6 < abs(t) <= abs(o) * 10**6


def test_resolution_and_scope_are_validated(tmp_path, cli):
    for bad, name in (("resolution: minute", "resolution"), ("scope: row", "scope")):
        prof = tmp_path / "p.yaml"
        prof.write_text(f"version: 1\ntables:\n  t:\n    columns:\n      d: {{op: date_shift, subject: id, {bad}}}\n")
        res = cli("validate", prof)
        assert res.exit_code == 3 and name in res.stderr, res.stderr


# -- the examples of docs/operators.md ------------------------------------------------------------

def test_the_documented_examples():
    def one(value, table="t", **params):
        return shift([value], pa.string(), ["67"], table=table, **params).to_pylist()[0]

    assert [one("2020-01-23", resolution=r) for r in ("day", "second", "column")] == ["2020-08-19"] * 3
    assert [one("2020-01-23 14:39:36.25", resolution=r) for r in ("day", "second", "column")] == [
        "2020-08-19 14:39:36.25", "2020-08-19 00:15:34.25", "2020-08-19 00:15:33.58"]
    assert one("2020-01-23 14:39:36", "orders", scope="table") == "2019-12-12 14:39:36"
    assert one("2020-01-23 14:39:36", "tickets", scope="table") == "2020-03-30 14:39:36"


# -- a real pg_dump, restored by psql -------------------------------------------------------------

PG_SCHEMA = """
CREATE TABLE accounts (id integer PRIMARY KEY, created timestamptz NOT NULL, opened date NOT NULL);
CREATE TABLE events (id integer PRIMARY KEY, account_id integer REFERENCES accounts, at timestamp(6));
"""


def test_pg_dump_every_mode_restores_and_hides_the_shared_instant(pg, cli, tmp_path):
    """All accounts created at one instant (microseconds, as now() writes them): with resolution:
    column no two shifted creations share a time of day or a fraction, psql restores the output,
    and a subject's events keep their gaps (to within a second, the fraction's widths differ)."""
    rng = random.Random(11)
    src = pg.create("veil_h10ds_src")
    with pg.connect(src) as conn:
        conn.execute(PG_SCHEMA)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO accounts VALUES (%s, '2021-03-01 09:15:00.123456+00', '2021-03-01')",
                            [(i,) for i in range(60)])
            cur.executemany("INSERT INTO events VALUES (%s, %s, %s)",
                            [(i, i % 60, dt.datetime(2021, 3, 2) + dt.timedelta(microseconds=rng.randrange(10**13)))
                             for i in range(600)])
    dump = pg_dump(src, tmp_path / "src.sql")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n"
                    "  public.accounts:\n    columns:\n      id: keep\n"
                    "      created: {op: date_shift, subject: id, resolution: column}\n"
                    "      opened: {op: date_shift, subject: id}\n"
                    "  public.events:\n    columns:\n      id: keep\n      account_id: keep\n"
                    "      at: {op: date_shift, subject: account_id, resolution: column, scope: table}\n")
    keyring = tmp_path / "keys" / "ring.json"
    keyring.parent.mkdir()
    init_keyring_cli(cli, keyring)
    out = tmp_path / "anon.sql"
    res = cli("run", dump, "--profile", prof, "--keyring", keyring, "--out", out, "--workers", "1")
    assert res.exit_code == 0, res.stderr
    dst = pg.create("veil_h10ds_dst")
    restored = psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr
    q_acc = "SELECT id, created, opened FROM accounts ORDER BY id"
    q_ev = "SELECT id, account_id, at FROM events ORDER BY id"
    with pg.connect(src) as a, pg.connect(dst) as b:
        acc0, acc1 = a.execute(q_acc).fetchall(), b.execute(q_acc).fetchall()
        ev0, ev1 = a.execute(q_ev).fetchall(), b.execute(q_ev).fetchall()
    # no shared time of day, no shared fraction. Under a random key a time of day is one of 86400e6
    # microseconds: two of the 60 coincide with probability ~1770/8.64e10 = 2e-8 (was '== 60'), two
    # pairs with ~2e-16; a row keeps its fraction with 1e-6: two rows with 1.8e-9 (was '<= 1'), three
    # with 3.4e-14. Day or second resolution gives 1 time of day, or 60 kept fractions.
    assert len({r[1].timetz() for r in acc1}) >= 59
    assert sum(r1[1].microsecond == r0[1].microsecond for r0, r1 in zip(acc0, acc1, strict=True)) <= 2
    # created moved within the same day offset as opened (nesting), and the day really moved
    for r1 in acc1:
        k = (r1[2] - dt.date(2021, 3, 1)).days
        s = (r1[1] - acc0[0][1]).total_seconds()
        assert k != 0 and (abs(k) - 1) * DAY < abs(s) <= abs(k) * DAY and (s > 0) == (k > 0)
    # within the table a subject's gaps survive (to within a second); offsets differ per subject
    by_subject: dict[int, list] = {}
    for r0, r1 in zip(ev0, ev1, strict=True):
        by_subject.setdefault(r0[1], []).append(r1[2] - r0[2])
    assert all(max(d) - min(d) < dt.timedelta(seconds=1) for d in by_subject.values())
    assert len({round(d[0].total_seconds()) for d in by_subject.values()}) >= 55
