"""veil.spark.verify: the integrity, risk and leak metrics of ``veil verify`` as Spark aggregations,
equal to the local report's on the same Parquet files (a generated multi-table set with orphans,
leaks, a subject table, a dropped column, a missing table; and the shop sample through veil run),
the same gate verdicts, and no value of the data in the report."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import veil
from veil.verify.gates import default_gates, evaluate, parse_gates

from .conftest import SAMPLES_PARQUET, SHOP_PROFILE

pytest.importorskip("pyspark", reason="the [spark] extra (pyspark) is not installed")

from veil.spark.verify import NOT_COMPUTED  # noqa: E402
from veil.spark.verify import verify as spark_verify  # noqa: E402

# -- a generated set --------------------------------------------------------------------------

RULES = {
    "people": {
        "primary_key": ["person_id"],
        "columns": {"person_id": {"op": "pseudonymize", "format": "int", "domain": "person"},
                    "email": {"op": "pseudonymize", "format": "email", "domain": "email"},
                    "phone": {"op": "fake", "kind": "phone_number"},
                    "zip": {"op": "generalize", "prefix": 3},
                    "birth_year": "keep", "gender": "keep", "diagnosis": "keep", "city": "keep",
                    "note": "drop"},
    },
    "visits": {
        "primary_key": ["visit_id"],
        "subject": {"column": "person_id", "domain": "person"},
        "foreign_keys": [{"columns": ["person_id"], "references": {"table": "people", "columns": ["person_id"]}}],
        "columns": {"visit_id": "keep", "clinic": "keep", "visit_year": "keep", "reason": "keep"},
    },
    "orders": {
        "primary_key": ["order_id"],
        "foreign_keys": [{"columns": ["person_id"], "references": {"table": "people", "columns": ["person_id"]}},
                         {"columns": ["email"], "references": {"table": "people", "columns": ["email"]}}],
        "columns": {"order_id": "keep", "total": "keep", "comment": "keep"},
    },
    "audit": {"columns": {"audit_id": "keep", "actor_email": {"op": "pseudonymize", "format": "email",
                                                               "domain": "email"}}},
}
PRIVACY = {
    "people": {"quasi_identifiers": ["zip", "birth_year", "gender"], "sensitive": ["diagnosis"], "k": 3, "l": 2,
               "population": 5000},
    "visits": {"quasi_identifiers": ["clinic", "visit_year"], "sensitive": ["reason"], "k": 2, "l": 2},
}


def _profile(privacy: bool) -> dict:
    tables = {}
    for name, rule in RULES.items():
        tables[name] = json.loads(json.dumps(rule))
        if privacy and name in PRIVACY:
            tables[name]["privacy"] = PRIVACY[name]
    return {"version": 1, "defaults": {"unknown_columns": "fail"}, "tables": tables}


def _original(rng: random.Random) -> dict[str, pa.Table]:
    n = 400
    people = {
        "person_id": list(range(1, n + 1)),
        "email": [f"qx{i}.person{i * 7}@mailhost{i % 13}.example" for i in range(n)],
        "phone": [f"+44 7700 9{i:05d}" for i in range(n)],
        "zip": [f"Z{rng.randrange(100, 130)}{rng.randrange(10)}" for _ in range(n)],
        "birth_year": [rng.choice([1950, 1960, 1970, 1980, 1990, None]) for _ in range(n)],
        "gender": [rng.choice(["gf", "gm", "gx"]) for _ in range(n)],
        "diagnosis": [rng.choice(["dg-asthma", "dg-flu", "dg-gout", None]) for _ in range(n)],
        "city": [rng.choice(["Qtown", "Wville"]) for _ in range(n)],
        "note": [f"ntext {i}" for i in range(n)],
    }
    for i in (3, 17):  # a null and a blank email: no value to seek
        people["email"][i] = None if i == 3 else "   "
    m = 900
    visits = {
        "visit_id": list(range(m)),
        "person_id": [rng.randrange(1, n + 1) if i % 50 else None for i in range(m)],
        "clinic": [rng.choice(["cl-north", "cl-south", "cl-east"]) for _ in range(m)],
        "visit_year": [rng.choice([2019, 2020, 2021, 2022]) for _ in range(m)],
        "reason": [rng.choice(["rs-check", "rs-pain", "rs-test"]) for _ in range(m)],
    }
    k = 600
    person = [rng.randrange(1, n + 1) for _ in range(k)]
    for i in (5, 6, 7):  # references dangling already in ORIGINAL
        person[i] = 10_000 + i
    orders = {
        "order_id": list(range(k)),
        "person_id": pa.array([None if i == 9 else p for i, p in enumerate(person)], pa.int64()),
        "email": [people["email"][p - 1] if p <= n else None for p in person],
        "total": [round(rng.uniform(1, 500), 2) for _ in range(k)],
        "comment": [rng.choice(["cm-ok", "cm-late", None]) for _ in range(k)],
    }
    audit = {"audit_id": list(range(50)),
             "actor_email": [people["email"][rng.randrange(n)] for _ in range(50)]}
    return {"people": pa.table(people), "visits": pa.table(visits), "orders": pa.table(orders),
            "audit": pa.table(audit)}


def _write(tables: dict[str, pa.Table], where) -> None:
    where.mkdir()
    for name, t in tables.items():
        pq.write_table(t, where / f"{name}.parquet")


def _set_rows(t: pa.Table, column: str, rows: dict[int, object]) -> pa.Table:
    values = t.column(column).to_pylist()
    for i, v in rows.items():
        values[i] = v
    return t.set_column(t.schema.get_field_index(column), column, pa.array(values, t.schema.field(column).type))


def people_value(tables: dict[str, pa.Table], column: str, row: int):
    return tables["people"].column(column)[row].as_py()


@pytest.fixture(scope="module")
def generated(tmp_path_factory, keyfile):
    """ORIGINAL, a COPY made by veil run then tampered with, and the verification profile."""
    from click.testing import CliRunner

    from veil.cli import main

    root = tmp_path_factory.mktemp("sparkverify")
    tables = _original(random.Random(7))
    _write(tables, root / "original")
    (root / "run.yaml").write_text(json.dumps(_profile(False)))
    res = CliRunner().invoke(main, ["run", str(root / "original"), "-p", str(root / "run.yaml"), "--keyring",
                                    str(keyfile), "--out", str(root / "made"), "--workers", "1", "--format",
                                    "parquet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    copy = {name: pq.read_table(root / "made" / f"{name}.parquet") for name in tables}
    emails = tables["people"].column("email").to_pylist()
    # leaks: three emails kept in their own row, one moved to another row, a blank left as it was
    copy["people"] = _set_rows(copy["people"], "email", {0: emails[0], 1: emails[1], 2: emails[2], 40: emails[41]})
    copy["people"] = copy["people"].drop_columns(["city"])  # a column the copy lacks
    # two references the copy breaks, and rows it loses
    copy["orders"] = _set_rows(copy["orders"], "person_id", {20: 987654321, 21: 987654322}).slice(0, 590)
    audit = tables["audit"].column("actor_email").to_pylist()
    copy["audit"] = _set_rows(copy["audit"], "actor_email", {4: audit[5]})  # another row's original
    # values left whole in a kept column (found elsewhere), one inside text (not sought by Spark)
    comment = {30: people_value(tables, "phone", 30), 31: emails[31], 32: f"call qq at {emails[32]} today",
               33: people_value(tables, "note", 33), 34: emails[34].upper()}
    comment[35] = "cm person287"  # a rare word of an email (row 41's), in a column of no prose: weak
    copy["orders"] = _set_rows(copy["orders"], "comment", comment)
    # a table only the copy has: an email whole; free text with a rare word of an email (row 12's),
    # a word three notes share (the column's vocabulary, not a leak), a one-word zip alone (weak)
    zips = tables["people"].column("zip").to_pylist()
    memo = ["the letter from person84 arrived late today", "we met qx5 at the desk", "we met qx5 at the door",
            "we met qx5 at the gate", "nothing to report here at all", next(z for z in zips if zips.count(z) == 1)]
    copy["backup"] = pa.table({"x": list(range(6)), "contact": [emails[50]] + ["nobody"] * 5, "memo": memo})
    _write(copy, root / "copy")
    (root / "verify.yaml").write_text(json.dumps(_profile(True)))
    return root, tables


# -- comparison -----------------------------------------------------------------------------------

RISK_KEYS = ("k", "k_rows", "unit", "classes", "rows_below_k", "share_below_k", "unique_rows", "unique_share",
             "prosecutor", "class_sizes", "l_diversity", "rows_below_l", "rows", "original_rows",
             "quasi_identifiers", "quasi_identifiers_absent", "sensitive", "missing", "journalist")
LEAK_KEYS = ("treatment", "checked", "distinct", "expected_overlap", "leaks", "leaked_share")
INTEGRITY_KEYS = ("in_copy", "rows_original", "rows_copy", "missing_columns", "extra_columns",
                  "dropped_by_profile", "not_dropped", "summary")


def assert_same_metrics(local: dict, spark: dict) -> None:
    """Every metric the Spark report computes equals the local report's."""
    assert spark["engine"] == "spark" and spark["not_computed"] == NOT_COMPUTED
    assert spark["tables"] == local["tables"] and spark["extra_tables"] == local["extra_tables"]
    assert spark["integrity"]["summary"] == local["integrity"]["summary"]
    for name, t in local["integrity"]["tables"].items():
        s = spark["integrity"]["tables"][name]
        assert {k: s[k] for k in INTEGRITY_KEYS} == {k: t[k] for k in INTEGRITY_KEYS}, name
        assert s["foreign_keys"] == t["foreign_keys"], name
    for metric in ("k", "risk", "l", "unique_share"):
        assert spark["risk"]["summary"][metric] == local["risk"]["summary"][metric], metric
    for name, t in local["risk"]["tables"].items():
        s = spark["risk"]["tables"][name]
        if t.get("privacy") is None:
            assert s == {"privacy": None}
            continue
        assert {k: s.get(k) for k in RISK_KEYS} == {k: t.get(k) for k in RISK_KEYS}, name
        for c, e in t["l_entropy"].items():
            assert s["l_entropy"][c] == pytest.approx(e, abs=2e-6), (name, c)
        assert {k: v for k, v in s["summary"].items() if k not in ("linkage", "inference")} == \
            {k: v for k, v in t["summary"].items() if k not in ("linkage", "inference")}
    # leaks: a strict column's own leaks are the same paired or not; the others' same-row judgement
    # needs the pairing (not computed): compared on what unpaired counting gives
    for name, t in local["leaks"]["tables"].items():
        for c, col in t["columns"].items():
            s = spark["leaks"]["tables"][name]["columns"][c]
            assert s["checked"] == col["checked"] and s["distinct"] == col["distinct"], (name, c)
            found = ("elsewhere", "in_text", "found_in")
            assert {k: s[k] for k in found} == {k: col[k] for k in found}, (name, c)
            if col["treatment"] in ("strict", "removed"):
                assert {k: s[k] for k in LEAK_KEYS} == {k: col[k] for k in LEAK_KEYS}, (name, c)
                # unpaired, a cell kept in its own row is counted with the other rows' matches
                assert s["same_column"] == col["same_column"] + (col["kept_same_row"] or 0), (name, c)
            else:  # a value kept in its own row is judged with the pairing (not computed)
                assert s["leaks"] == col["elsewhere"] + col["in_text"], (name, c)


def _local(original, copy, profile, fail_on=None) -> dict:
    return veil.verify(original, copy, profile, fail_on=fail_on)


@pytest.fixture(scope="module")
def reports(spark, generated) -> tuple[dict, dict]:
    """The local and the Spark report of the generated set (default gates)."""
    root, _tables = generated
    profile = veil.load_profile(root / "verify.yaml")
    return _local(root / "original", root / "copy", profile), spark_verify(root / "original", root / "copy",
                                                                           profile, spark=spark)


def test_generated_set_matches_the_local_report(reports):
    local, got = reports
    assert_same_metrics(local, got)
    # what the set was built to show, so the comparison is not of empty sections
    integrity = got["integrity"]
    assert integrity["summary"]["missing_columns"] == 1 and integrity["summary"]["row_count_changes"] == 1
    assert integrity["summary"]["fk_lost"] > 0 and integrity["summary"]["fk"] < 1
    orders = {tuple(fk["columns"]): fk for fk in integrity["tables"]["orders"]["foreign_keys"]}
    assert orders[("person_id",)]["resolved_share_original"] < 1  # dangling in ORIGINAL already
    assert orders[("person_id",)]["unresolved"] == 5  # 3 dangling before, 2 broken by the copy
    people = got["leaks"]["tables"]["people"]["columns"]
    assert people["email"]["treatment"] == "strict" and people["email"]["same_column"] == 4
    assert people["email"]["elsewhere"] == 3  # 31, 34 (case ignored) and the backup table's
    assert people["email"]["found_in"] == ["backup.contact", "backup.memo", "orders.comment"]
    assert people["email"]["in_text"] == 2  # inside a comment, and person84 in prose
    # person287 in a comment (no prose) and a zip alone in a note are weak, not leaks
    assert local["leaks"]["tables"]["people"]["columns"]["email"]["weak"] == 1 and people["email"]["weak"] is None
    assert local["leaks"]["tables"]["people"]["columns"]["zip"]["weak"] == 1 and people["zip"]["leaks"] == 0
    assert people["phone"]["elsewhere"] == 1 and people["note"]["elsewhere"] == 1
    assert got["leaks"]["tables"]["audit"]["columns"]["actor_email"]["same_column"] == 1
    assert people["note"]["treatment"] == "removed" and people["note"]["checked"] == 400
    assert people["email"]["checked"] == 398  # a null and a blank are not values
    visits = got["risk"]["tables"]["visits"]
    assert visits["unit"] == "subject" and visits["k"] < visits["k_rows"]
    assert got["risk"]["tables"]["people"]["journalist"]["source"] == "population"
    assert got["extra_tables"] == ["backup"]
    # the gates: the same verdict and values, default and asked for
    assert [g["failed"] for g in got["gates"]] == [g["failed"] for g in local["gates"]]
    assert got["leaks"]["summary"] == local["leaks"]["summary"]
    assert [g["value"] for g in got["gates"]] == [g["value"] for g in local["gates"]]
    assert got["verdict"] == local["verdict"] == "fail"
    asked = "k<2,l<1,risk>0.9,unique_share>0.9,fk<0.5,fk_lost>0.5,leaks>0,missing_tables>0,row_count_changes>1"
    mine = evaluate(got, parse_gates(asked))
    theirs = evaluate(local, parse_gates(asked))
    assert [(g["value"], g["failed"]) for g in mine] == [(g["value"], g["failed"]) for g in theirs]
    # a gate on what Spark does not compute is unmeasured: asked for, it fails
    linkage = evaluate(got, parse_gates("linkage>0.5"))
    assert all(not g["measured"] and g["failed"] for g in linkage)
    utility = [evaluate(r, parse_gates("utility<0.5")) for r in (got, local)]  # measured on Spark too
    assert utility[0][0]["measured"] and [g["value"] for g in utility[0]] == [g["value"] for g in utility[1]]


def test_missing_table_and_dataframes_in_memory(spark, generated, tmp_path):
    """DataFrames given as a dict; a table the copy lacks; the default gates of the profile."""
    root, _tables = generated
    profile = veil.load_profile(root / "verify.yaml")
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in (root / "copy").iterdir():
        if f.name != "visits.parquet":
            (copy / f.name).write_bytes(f.read_bytes())
    local = _local(root / "original", copy, profile)
    frames = {side: {f.name.rsplit(".", 1)[0]: spark.read.parquet(str(f)) for f in sorted(d.iterdir())}
              for side, d in (("original", root / "original"), ("copy", copy))}
    got = spark_verify(frames["original"], frames["copy"], profile)
    assert_same_metrics(local, got)
    assert got["integrity"]["summary"]["missing_tables"] == 1
    assert got["risk"]["tables"]["visits"]["missing"] is True and got["risk"]["tables"]["visits"]["k"] is None
    gates = default_gates(profile)
    assert [g["failed"] for g in evaluate(got, gates)] == [g["failed"] for g in evaluate(local, gates)]


def test_no_value_in_the_report(generated, reports):
    _root, tables = generated
    text = json.dumps(reports[1])
    values = set()
    for t in tables.values():
        for col in t.columns:
            if pa.types.is_string(col.type):
                values.update(v for v in pc.unique(col).to_pylist() if v and v.strip())
    assert values and not [v for v in values if v in text]


def test_shop_sample_through_veil_run(spark, keyfile, tmp_path):
    """The shop sample's copy as veil run writes it, verified with a privacy section added to the
    sample profile (it has none): the same metrics as the local verification, and a pass."""
    from click.testing import CliRunner

    from veil.cli import main

    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(SAMPLES_PARQUET), "-p", str(SHOP_PROFILE), "--keyring", str(keyfile),
                                    "--out", str(out), "--workers", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    profile = yaml.safe_load(SHOP_PROFILE.read_text())
    profile["tables"]["customers"]["privacy"] = {"quasi_identifiers": ["birth_date", "city", "country"], "k": 2}
    local = _local(SAMPLES_PARQUET, out, profile)
    got = spark_verify(SAMPLES_PARQUET, out, profile, spark=spark)
    assert_same_metrics(local, got)
    fks = [fk for t in got["integrity"]["tables"].values() for fk in t["foreign_keys"]]
    assert len(fks) == 5 and all(fk["resolved_share"] == 1.0 for fk in fks)
    assert got["risk"]["tables"]["customers"]["k"] >= 1
    assert got["leaks"]["summary"]["values_checked"] > 0


def test_cli_engine_spark_exit_codes(spark, generated, tmp_path):
    """``veil verify --engine spark``: the JSON report of veil.spark.verify, exit 10 when a gate
    fails (the report still written), 0 when the gates asked for hold, 2 for --html."""
    from click.testing import CliRunner

    from veil.cli import main

    root, _tables = generated
    args = ["verify", str(root / "original"), str(root / "copy"), "-p", str(root / "verify.yaml"), "--engine", "spark"]
    runner = CliRunner()
    res = runner.invoke(main, [*args, "--report", str(tmp_path / "r.json")])
    assert res.exit_code == 10, res.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["engine"] == "spark" and doc["verdict"] == "fail" and doc["not_computed"] == NOT_COMPUTED
    res = runner.invoke(main, [*args, "--fail-on", "missing_tables>0,k<1", "--report", str(tmp_path / "r2.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r2.json").read_text())["verdict"] == "pass"
    res = runner.invoke(main, [*args, "--html", str(tmp_path / "v.html")])
    assert res.exit_code == 2 and not (tmp_path / "v.html").exists()


def test_workers_without_a_fixed_hash_seed_are_refused(monkeypatch):
    """Fingerprints of long values use Python's hash of bytes: workers with different seeds would
    miss every match, so a worker without PYTHONHASHSEED stops with a usage error."""
    from veil.errors import UsageError
    from veil.spark.verify import _require_hash_seed

    monkeypatch.setenv("PYTHONHASHSEED", "0")
    _require_hash_seed()
    for seed in (None, "random"):
        if seed is None:
            monkeypatch.delenv("PYTHONHASHSEED")
        else:
            monkeypatch.setenv("PYTHONHASHSEED", seed)
        with pytest.raises(UsageError, match="PYTHONHASHSEED"):
            _require_hash_seed()


def test_hive_partitioned_and_part_file_tables_as_locally(spark, keyfile, tmp_path):
    """Tables as directories: people in three part files, visits in Hive ``clinic=`` folders (the
    partition column a quasi-identifier, kept by the run as folders): the same metrics as the local
    verification of the same directories, every reference resolved."""
    from click.testing import CliRunner

    from veil.cli import main

    tables = _original(random.Random(11))
    original = tmp_path / "original"
    original.mkdir()
    people = tables["people"]
    (original / "people").mkdir()
    for i, start in enumerate((0, 150, 300)):
        pq.write_table(people.slice(start, 150), original / "people" / f"part-{i}.parquet")
    visits = tables["visits"]
    for clinic in sorted(set(visits.column("clinic").to_pylist())):
        folder = original / "visits" / f"clinic={clinic}"
        folder.mkdir(parents=True)
        part = visits.filter(pc.equal(visits.column("clinic"), clinic)).drop_columns(["clinic"])
        pq.write_table(part, folder / "part-0.parquet")
    for name in ("orders", "audit"):
        pq.write_table(tables[name], original / f"{name}.parquet")
    (tmp_path / "run.yaml").write_text(json.dumps(_profile(False)))
    res = CliRunner().invoke(main, ["run", str(original), "-p", str(tmp_path / "run.yaml"), "--keyring", str(keyfile),
                                    "--out", str(tmp_path / "copy"), "--workers", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "copy" / "visits").iterdir() if p.is_dir()) == \
        ["clinic=cl-east", "clinic=cl-north", "clinic=cl-south"]
    profile = veil.load_profile(json.dumps(_profile(True)))
    local = _local(original, tmp_path / "copy", profile)
    got = spark_verify(original, tmp_path / "copy", profile, spark=spark)
    assert_same_metrics(local, got)
    assert got["integrity"]["tables"]["visits"]["rows_copy"] == visits.num_rows
    assert got["risk"]["tables"]["visits"]["quasi_identifiers"] == ["clinic", "visit_year"]
    fks = got["integrity"]["tables"]["orders"]["foreign_keys"]
    assert fks and all(fk["resolved_share"] is not None for fk in fks)


def test_free_text_spans_the_scrub_wrote_as_locally(spark, tmp_path):
    """A scrubbed free-text column: spans with a word its original text never held were written by
    the scrub (a fake that is a real name by chance), not left: neither engine counts them; names
    the original text held stay leaks. The same counts on Spark as locally, across part files."""
    names = [f"Zbyszko{i} Wojtaszek{i}" for i in range(40)] + ["Piotr Wojciechowski", "Søren Kierkegaard"]
    bodies = ([f"ticket {i}: the parcel arrived late again" for i in range(30)]
              + ["no answer from Piotr Wojciechowski, will call back", "Wojciechowski called about it twice",
                 "Zbyszko3 Wojtaszek3"])
    copy = list(bodies)
    copy[0] = "ticket 0: the parcel arrived late again, says Søren Kierkegaard"  # written by the scrub
    copy[1] = "Søren Kierkegaard"  # a whole cell the scrub wrote
    copy[2] = "ticket 2: Kierkegaard says the parcel arrived late"  # a rare word, new to the column
    copy[3] = "ticket 3: Wojciechowski says the parcel arrived late"  # a rare word the column held: a leak
    copy[31] = "Piotr Wojciechowski called about it twice"  # a sequence the column held: a leak
    people = {"pid": list(range(len(names))), "name": names}
    for side, body in (("original", bodies), ("copy", copy)):
        (tmp_path / side / "tickets").mkdir(parents=True)
        t = pa.table({"tid": list(range(len(body))), "body": body})
        for i in range(3):
            pq.write_table(t.slice(i * 11, 11), tmp_path / side / "tickets" / f"part-{i}.parquet")
        faked = names if side == "original" else [f"fake {i}" for i in people["pid"]]
        pq.write_table(pa.table({**people, "name": faked}), tmp_path / side / "people.parquet")
    profile = {"version": 1, "tables": {
        "people": {"columns": {"pid": "keep", "name": {"op": "fake", "kind": "name"}}},
        "tickets": {"columns": {"tid": "keep", "body": {"op": "scrub", "entities": {"EMAIL": {"op": "redact"}}}}}}}
    local = _local(tmp_path / "original", tmp_path / "copy", profile)
    got = spark_verify(tmp_path / "original", tmp_path / "copy", profile, spark=spark)
    assert_same_metrics(local, got)
    name = got["leaks"]["tables"]["people"]["columns"]["name"]
    # left: a rare word, a sequence, and a whole cell ("Zbyszko3 Wojtaszek3", kept as it was)
    assert (name["in_text"], name["elsewhere"], name["found_in"]) == (2, 1, ["tickets.body"])
