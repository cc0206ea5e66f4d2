"""RiskCheck (veil verify's re-identification risk): hand-computed k, l, risks, linkage and inference
on small in-memory tables, a hypothesis property (linkage on a k-anonymous copy re-identifies at
most 1/k of rows), and no value of the data in the section."""

from __future__ import annotations

import datetime
import json
import math
from collections import Counter

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.keys import Keyring
from veil.ops import OPERATORS
from veil.pipeline.transform import transform_batch
from veil.plan import ColumnPlan, TablePlan
from veil.profile import Privacy
from veil.verify.base import TableInfo, VerifyContext
from veil.verify.risk import DEFAULT_K, RiskCheck

from . import dump_fixtures

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools  # fixtures of a real PostgreSQL

KEYS = Keyring.for_testing(bytes(range(32)))
MARKER = "ZZMARKERZZ"


def table_info(name: str, original: pa.Table, rules: dict[str, tuple[str, dict]], privacy: Privacy | None,
               primary_key: list[str] | None = None) -> TableInfo:
    """A TableInfo whose plan gives each column its rule (op, params); unnamed columns are kept."""
    cols = []
    for f in original.schema:
        op, params = rules.get(f.name, ("keep", {}))
        full = OPERATORS[op].with_defaults(params)
        cols.append(ColumnPlan(f.name, op, full, f.name if OPERATORS[op].keyed else None, "rule", f.type,
                               OPERATORS[op].output_type(f.type, full), key_version="k-test"))
    plan = TablePlan(name, cols)
    return TableInfo(name, original.schema, plan.out_schema, plan, primary_key=primary_key or [],
                     privacy=privacy)


def run_copy(info: TableInfo, original: pa.Table) -> pa.Table:
    """The copy veil run writes: the plan applied batch by batch (under the test keyring)."""
    batches = [transform_batch(info.plan, b, KEYS, 0).batch for b in original.to_batches()]
    return pa.Table.from_batches(batches, schema=info.plan.out_schema)


def verify(infos: list[TableInfo], originals: dict[str, pa.Table], copies: dict[str, pa.Table],
           paired: bool = True, chunk: int | None = None) -> dict:
    """Phase 1 then phase 2 into a RiskCheck; returns finish() after a JSON round trip."""
    ctx = VerifyContext({i.name: i for i in infos}, None)
    check = RiskCheck(ctx)
    for name, t in originals.items():
        for b in t.to_batches(max_chunksize=chunk):
            check.original(name, b)
    for name, t in copies.items():
        offset = 0
        for b in t.to_batches(max_chunksize=chunk):
            pairing = originals[name].slice(offset, b.num_rows).combine_chunks().to_batches()
            check.copy(name, b, pairing[0] if paired and pairing else None)
            offset += b.num_rows
    section = check.finish()
    assert json.loads(json.dumps(section)) == section  # plain JSON types only
    return section


# -- k-anonymity, prosecutor and journalist risk, by hand ---------------------------------------

def ten_rows() -> pa.Table:
    """Classes over (zip, gender) of sizes 1, 2, 3 and 4."""
    zips = ["10001"] + ["10002"] * 2 + ["10003"] * 3 + ["10004"] * 4
    return pa.table({"id": list(range(10)), "zip": zips, "gender": ["f"] * 10,
                     "diagnosis": ["flu"] + ["flu", "cold"] + ["flu", "cold", "asthma"] + ["flu"] * 4})


def test_k_shares_histogram_and_risks_by_hand():
    t = ten_rows()
    info = table_info("p", t, {"id": ("drop", {})},
                      Privacy(["zip", "gender"], ["diagnosis"], k=3, population=100))
    sec = verify([info], {"p": t}, {"p": run_copy(info, t)})
    r = sec["tables"]["p"]
    assert r["quasi_identifiers"] == ["zip", "gender"] and r["rows"] == 10 and r["classes"] == 4
    assert r["k"] == 1
    assert r["rows_below_k"] == 3 and r["share_below_k"] == 0.3  # classes of 1 and 2 rows, k=3
    assert r["unique_rows"] == 1 and r["unique_share"] == 0.1
    assert r["class_sizes"]["edges"] == [1, 2, 3, 4, 5, 10, 20, 50, 100, 1000]
    assert r["class_sizes"]["rows"] == [1, 2, 3, 4, 0, 0, 0, 0, 0, 0]
    assert r["class_sizes"]["classes"] == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert r["prosecutor"] == {"highest": 1.0, "average": 0.4, "rows_at_highest": 1}
    # population 100, copy 10 rows: F = 10 f -> 10, 20, 30, 40; highest 1/10, average classes/N
    assert r["journalist"] == {"source": "population", "population": 100, "highest": 0.1, "average": 0.04}
    # the sensitive attribute: the 4-row class holds only "flu"
    assert r["l_diversity"] == {"diagnosis": 1} and r["l_entropy"] == {"diagnosis": 1.0}
    assert r["summary"] == {"k": 1, "risk": 1.0, "linkage": 0.1, "l": 1, "unique_share": 0.1, "inference": 0}
    assert sec["summary"]["k"] == 1 and sec["summary"]["risk"] == 1.0 and sec["summary"]["l"] == 1


def test_default_k_and_a_table_without_privacy():
    t = ten_rows()
    with_privacy = table_info("p", t, {}, Privacy(["zip"]))
    without = table_info("q", t, {}, None)
    sec = verify([with_privacy, without], {"p": t, "q": t}, {"p": t, "q": t})
    assert sec["tables"]["q"] == {"privacy": None}
    r = sec["tables"]["p"]
    assert r["privacy"]["k"] == DEFAULT_K == 5
    assert r["rows_below_k"] == 10 and r["share_below_k"] == 1.0
    assert r["journalist"] is None  # no population, and the copy is not a subset
    assert r["l_diversity"] == {} and r["summary"]["l"] is None


def test_no_privacy_anywhere_gives_null_metrics():
    t = ten_rows()
    sec = verify([table_info("q", t, {}, None)], {"q": t}, {"q": t})
    assert set(sec["summary"]) >= {"k", "risk", "linkage", "l", "unique_share"}
    assert all(sec["summary"][m] is None for m in ("k", "risk", "linkage", "l", "unique_share"))


def test_nulls_are_a_value_and_batches_merge():
    t = pa.table({"zip": ["1", None, None, "1", "2", None], "age": [30, 30, 30, 30, 40, 30]})
    info = table_info("p", t, {}, Privacy(["zip", "age"]))
    sec = verify([info], {"p": t}, {"p": t}, chunk=2)
    r = sec["tables"]["p"]
    # classes (1,30): 2, (null,30): 3, (2,40): 1
    assert r["classes"] == 3 and r["k"] == 1 and r["class_sizes"]["rows"][:4] == [1, 2, 3, 0]


def test_a_dropped_quasi_identifier_is_not_in_the_class_key():
    t = ten_rows()
    info = table_info("p", t, {"zip": ("drop", {})}, Privacy(["zip", "gender"]))
    r = verify([info], {"p": t}, {"p": run_copy(info, t)})["tables"]["p"]
    assert r["quasi_identifiers"] == ["gender"] and r["quasi_identifiers_absent"] == ["zip"]
    assert r["k"] == 10 and r["classes"] == 1 and r["prosecutor"]["highest"] == 0.1


def test_a_table_missing_from_the_copy():
    t = ten_rows()
    info = table_info("p", t, {}, Privacy(["zip"]))
    info.copy_schema = None
    r = verify([info], {"p": t}, {})["tables"]["p"]
    assert r["missing"] is True and r["rows"] == 0 and r["k"] is None
    assert r["summary"]["k"] is None and r["linkage"]["share"] is None


# -- l-diversity -------------------------------------------------------------------------------

def test_distinct_and_entropy_l_by_hand():
    # class A: flu flu cold cold (l 2, entropy ln 2); B: flu cold asthma (3, ln 3);
    # C: flu flu flu cold (2, entropy -(3/4 ln 3/4 + 1/4 ln 1/4))
    t = pa.table({"zip": ["A"] * 4 + ["B"] * 3 + ["C"] * 4,
                  "dx": ["flu", "flu", "cold", "cold", "flu", "cold", "asthma", "flu", "flu", "flu", "cold"]})
    info = table_info("p", t, {}, Privacy(["zip"], ["dx"], l=3))
    r = verify([info], {"p": t}, {"p": t}, chunk=3)["tables"]["p"]
    assert r["l_diversity"] == {"dx": 2}
    h_c = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert r["l_entropy"] == {"dx": round(math.exp(h_c), 6)}
    assert r["rows_below_l"] == {"dx": 8}  # A and C have fewer than 3 distinct values
    assert r["summary"]["l"] == 2


def test_homogeneous_class_has_l_one():
    t = pa.table({"zip": ["A", "A", "A", "B", "B"], "dx": ["flu", "flu", "flu", "flu", "cold"]})
    info = table_info("p", t, {}, Privacy(["zip"], ["dx"]))
    r = verify([info], {"p": t}, {"p": t})["tables"]["p"]
    assert r["l_diversity"] == {"dx": 1} and r["l_entropy"] == {"dx": 1.0}


# -- the linkage attack ------------------------------------------------------------------------

def eight_people() -> pa.Table:
    return pa.table({
        "zip": pa.array([94101, 94102, 94103, 94201, 94202, 10001, 10002, 10003], pa.int64()),
        "age": [30, 30, 40, 30, 30, 50, 50, 50],
        "city": ["Springfield"] * 8,
        "dx": ["a", "b", "c", "d", "e", "f", "g", "h"],
    })


def test_linkage_with_a_generalized_zip_by_hand():
    # copy QIs (zip prefix 3, age): (941**,30) x2, (941**,40) x1, (942**,30) x2, (100**,50) x3;
    # the attacker generalizes the original's ZIPs the same way: only (941**,40) is unique -> 1 of 8
    t = eight_people()
    info = table_info("p", t, {"zip": ("generalize", {"prefix": 3}), "city": ("fake", {"kind": "city"})},
                      Privacy(["zip", "age", "city"], ["dx"]))
    copy = run_copy(info, t)
    assert copy.column("zip").to_pylist()[:3] == ["941**", "941**", "941**"]
    r = verify([info], {"p": t}, {"p": copy})["tables"]["p"]
    assert r["k"] == 1 and r["classes"] == 4
    link = r["linkage"]
    assert link["attacker_columns"] == ["zip", "age"] and link["left_out"] == ["city"]  # fake is keyed
    assert link["paired"] is True and link["bound"] is None
    assert link["reidentified"] == 1 and link["share"] == 0.125
    # unpaired: the copy's attacker tuples that occur once in the original -> the same one, a bound
    u = verify([info], {"p": t}, {"p": copy}, paired=False)["tables"]["p"]["linkage"]
    assert u["paired"] is False and u["bound"] == "upper" and u["reidentified"] == 1


def test_linkage_misses_rows_whose_copy_tuple_is_not_their_own():
    # the copy's ages were changed (not by the profile's operator): no row matches its original
    t = eight_people()
    info = table_info("p", t, {"zip": ("generalize", {"prefix": 3})}, Privacy(["zip", "age"]))
    copy = run_copy(info, t).set_column(1, "age", pa.array([31, 31, 41, 31, 31, 51, 51, 51]))
    r = verify([info], {"p": t}, {"p": copy})["tables"]["p"]["linkage"]
    assert r["reidentified"] == 0 and r["share"] == 0.0


def test_journalist_risk_with_the_original_as_population():
    # a subset of the generalized copy (rows 0, 2, 3, 5, 6): classes 1, 1, 1, 2 rows; in the
    # original those tuples have 2, 1, 2, 3 rows
    t = eight_people().select(["zip", "age"])
    info = table_info("p", t, {"zip": ("generalize", {"prefix": 3})}, Privacy(["zip", "age"]))
    copy = run_copy(info, t).take([0, 2, 3, 5, 6])
    r = verify([info], {"p": t}, {"p": copy}, paired=False)["tables"]["p"]
    assert r["rows"] == 5 and r["original_rows"] == 8 and r["k"] == 1
    j = r["journalist"]
    assert j["source"] == "original" and j["population"] == 8 and j["highest"] == 1.0
    assert j["average"] == round((1 / 2 + 1 / 1 + 1 / 2 + 2 / 3) / 5, 6)
    assert r["linkage"]["reidentified"] == 1 and r["linkage"]["bound"] == "upper"


def brute_force_linkage(orig_ages: list[int], copy_ages: list[int]) -> int:
    counts = Counter(orig_ages)
    return sum(1 for o, c in zip(orig_ages, copy_ages, strict=True) if o == c and counts[o] == 1)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 5), data=st.data())
def test_linkage_on_a_k_anonymous_copy_reidentifies_at_most_one_in_k(k, data):
    # microaggregation by construction: groups of >= k rows; each group's copy age is the original
    # age of one of its members (the profile says keep, so the attacker joins on raw ages)
    sizes = data.draw(st.lists(st.integers(k, 2 * k + 1), min_size=1, max_size=8))
    orig, copy = [], []
    for size in sizes:
        ages = data.draw(st.lists(st.integers(18, 40), min_size=size, max_size=size))
        shown = ages[data.draw(st.integers(0, size - 1))]
        orig += ages
        copy += [shown] * size
    t = pa.table({"age": orig})
    info = table_info("p", t, {}, Privacy(["age"], k=k))
    c = pa.table({"age": copy})
    r = verify([info], {"p": t}, {"p": c}, chunk=data.draw(st.sampled_from([None, 3])))["tables"]["p"]
    assert r["k"] >= k
    link = r["linkage"]
    assert link["reidentified"] == brute_force_linkage(orig, copy)
    assert link["reidentified"] <= len(copy) / k
    u = verify([info], {"p": t}, {"p": c}, paired=False)["tables"]["p"]["linkage"]
    assert link["reidentified"] <= u["reidentified"] <= len(copy) / k


# -- inference leaks ---------------------------------------------------------------------------

def test_inference_by_hand():
    # K has 4 values of 4 rows; T's years: a -> 1990 x3 1991, b -> 1980 x4, c -> 1970 x3 1971,
    # d -> 1960 x4. sum of max = 3+4+3+4 = 14, most common year 4 rows: lambda = (14-4)/(16-4)
    years = [1990, 1990, 1990, 1991, 1980, 1980, 1980, 1980, 1970, 1970, 1970, 1971, 1960, 1960, 1960, 1960]
    t = pa.table({"k": [x for x in "abcd" for _ in range(4)],
                  "born": pa.array([datetime.date(y, 6, 1) for y in years], pa.date32()),
                  "born_text": [f"{y}-06-{i % 28 + 1:02d}" for i, y in enumerate(years)]})
    info = table_info("p", t, {"born": ("fake", {"kind": "date_of_birth"}), "born_text": ("redact", {})},
                      Privacy(["k"]))
    r = verify([info], {"p": t}, {"p": run_copy(info, t)})["tables"]["p"]
    expected = round(10 / 12, 6)
    assert r["inference"] == [{"kept": "k", "transformed": "born", "score": expected},
                              {"kept": "k", "transformed": "born_text", "score": expected}]
    assert r["summary"]["inference"] == 2


def test_inference_flags_a_kept_age_beside_a_faked_birth_date():
    import random
    rng = random.Random(7)
    today = datetime.date(2026, 12, 5)
    rows = []
    for _ in range(400):
        born = today - datetime.timedelta(days=rng.randrange(20 * 365, 60 * 365))
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        rows.append((age, born, rng.randrange(36, 47)))
    t = pa.table({"age": [r[0] for r in rows], "birth_date": pa.array([r[1] for r in rows], pa.date32()),
                  "shoe": [r[2] for r in rows]})
    info = table_info("p", t, {"birth_date": ("fake", {"kind": "date_of_birth"})}, Privacy(["age"]))
    r = verify([info], {"p": t}, {"p": run_copy(info, t)})["tables"]["p"]
    flagged = {(i["kept"], i["transformed"]): i["score"] for i in r["inference"]}
    assert set(flagged) == {("age", "birth_date")}  # the random shoe size predicts nothing
    assert flagged[("age", "birth_date")] >= 0.8


def test_inference_ignores_key_columns_and_near_unique_kept_columns():
    years = [1990 + i for i in range(16)]
    t = pa.table({"id": list(range(16)), "serial": [f"s{i}" for i in range(16)],
                  "born": pa.array([datetime.date(y, 1, 1) for y in years], pa.date32())})
    info = table_info("p", t, {"born": ("fake", {"kind": "date_of_birth"})}, Privacy(["serial"]),
                      primary_key=["id"])
    r = verify([info], {"p": t}, {"p": run_copy(info, t)})["tables"]["p"]
    assert r["inference"] == []


# -- privacy of the section --------------------------------------------------------------------

@pytest.mark.parametrize("paired", [True, False])
def test_no_value_in_the_section(paired):
    n = 40
    t = pa.table({
        "zip": [f"{MARKER}{i % 3}" for i in range(n)],
        "age": [30 + i % 4 for i in range(n)],
        "dx": [MARKER if i % 2 else f"{MARKER}-x" for i in range(n)],
        "born": [f"{1980 + i % 4}-01-0{1 + i % 9}" for i in range(n)],
        "note": [MARKER] * n,
    })
    info = table_info("p", t, {"zip": ("generalize", {"prefix": 4}), "born": ("fake", {"kind": "date_of_birth"}),
                               "note": ("mask", {})},
                      Privacy(["zip", "age", "note"], ["dx"], k=2, l=2, population=1000))
    section = verify([info], {"p": t}, {"p": run_copy(info, t)}, paired=paired)
    text = json.dumps(section)
    assert MARKER not in text and "ZZMA" not in text
    assert section["tables"]["p"]["inference"]  # age predicts born's year: it was measured


# -- end to end: veil run, then the runner's two phases over the files ------------------------

PROFILE = """\
version: 1
tables:
  people:
    primary_key: [id]
    privacy: {quasi_identifiers: [zip, age, born], sensitive: [dx], k: 2}
    columns:
      id: {op: pseudonymize, domain: person}
      zip: {op: generalize, prefix: 3}
      age: keep
      born: {op: generalize, to: year}
      email: {op: fake, kind: email}
      dx: keep
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_end_to_end_through_veil_run(tmp_path, keyring, cli, fmt):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from veil.profile import load_profile
    from veil.verify.runner import verify_paths

    t = eight_people().select(["zip", "age", "dx"])
    t = t.append_column("id", pa.array(range(8), pa.int64()))
    t = t.append_column("born", pa.array([datetime.date(1990 + i % 2, 3, 1) for i in range(8)], pa.date32()))
    t = t.append_column("email", pa.array([f"{MARKER}{i}@example.org" for i in range(8)]))
    src = tmp_path / "in"
    src.mkdir()
    if fmt == "csv":
        pacsv.write_csv(t, src / "people.csv")
    else:
        pq.write_table(t, src / "people.parquet")
    (tmp_path / "p.yaml").write_text(PROFILE)
    # the copy is made without k (veil run would enforce it, docs/privacy.md): verify must find k = 1
    (tmp_path / "run.yaml").write_text(PROFILE.replace(", k: 2", ""))
    res = cli("run", src, "--profile", tmp_path / "run.yaml", "--keyring", keyring, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    report = verify_paths(src, tmp_path / "out", load_profile(tmp_path / "p.yaml"), [RiskCheck])
    section = report["risk"]
    assert MARKER not in json.dumps(section)
    r = section["tables"]["people"]
    # (zip prefix, age, birth year): rows 0..7 -> (941,30,1990) (941,30,1991) (941,40,1990)
    # (942,30,1991) (942,30,1990) (100,50,1991) (100,50,1990) (100,50,1991): all unique but the last pair
    assert r["rows"] == 8 and r["classes"] == 7 and r["k"] == 1 and r["unique_rows"] == 6
    assert r["linkage"]["attacker_columns"] == ["zip", "age", "born"]
    assert r["linkage"]["paired"] is True and r["linkage"]["reidentified"] == 6
    assert r["l_diversity"] == {"dx": 1}


def test_end_to_end_on_a_postgres_dump(pg, cli, keyring, tmp_path):
    """A real pg_dump: both sides are read as text; the attacker's generalize of the original's text
    reproduces the copy's values."""
    from veil.profile import load_profile
    from veil.verify.runner import verify_paths

    db = pg.create("veil_risk")
    t = eight_people()
    values = ", ".join(f"({i}, {z}, {a}, '{1990 + i % 2}-03-01', '{MARKER}{i}@example.org', '{d}')"
                       for i, (z, a, d) in enumerate(zip(t.column("zip").to_pylist(), t.column("age").to_pylist(),
                                                         t.column("dx").to_pylist(), strict=True)))
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE people (id integer PRIMARY KEY, zip integer, age integer, born date, "
                     "email text, dx text)")
        conn.execute(f"INSERT INTO people VALUES {values}")
    dump = dump_fixtures.pg_dump(db, tmp_path / "src.sql")
    (tmp_path / "p.yaml").write_text(PROFILE)
    (tmp_path / "run.yaml").write_text(PROFILE.replace(", k: 2", ""))  # made without k (run would enforce it)
    res = cli("run", dump, "--profile", tmp_path / "run.yaml", "--keyring", keyring, "--out", tmp_path / "out.sql")
    assert res.exit_code == 0, res.output
    section = verify_paths(dump, tmp_path / "out.sql", load_profile(tmp_path / "p.yaml"), [RiskCheck])["risk"]
    assert MARKER not in json.dumps(section)
    r = section["tables"]["public.people"]
    assert r["rows"] == 8 and r["classes"] == 7 and r["k"] == 1
    assert r["linkage"]["paired"] is True and r["linkage"]["reidentified"] == 6


# -- the counting underneath ---------------------------------------------------------------------

def test_fingerprints_agree_across_formats_and_dictionary_chunks():
    from veil.verify.linkage import NULL_FP, column_fingerprints

    ctx = VerifyContext({}, None)
    typed = column_fingerprints(ctx, pa.array([42, None, 7, 42]))
    assert (typed == column_fingerprints(ctx, pa.array(["42", None, "7", "42"]))).all()
    chunks = pa.chunked_array([pa.array(["42", None]).dictionary_encode(), pa.array(["7", "42"]).dictionary_encode()])
    assert (typed == column_fingerprints(ctx, chunks)).all()
    assert typed[1] == NULL_FP and typed[0] == typed[3] != typed[2]
    assert column_fingerprints(ctx, pa.array([""]))[0] != NULL_FP  # an empty string is a value


def test_counts_merge_across_batches_and_compactions():
    import numpy as np

    from veil.verify.linkage import Counts

    rng = np.random.default_rng(3)
    parts = [rng.integers(0, 400_000, 150_000, dtype=np.uint64) for _ in range(4)]  # compacts midway
    counts = Counts(tagged=True)
    for p in parts:
        counts.add(p, tags=p // np.uint64(2))
    keys, expected = np.unique(np.concatenate(parts), return_counts=True)
    assert (counts.keys == keys).all() and (counts.counts == expected).all()
    assert (counts.tags == keys // np.uint64(2)).all() and counts.rows == 600_000
    probe = np.array([keys[0], keys[-1], np.uint64(2**63)], dtype=np.uint64)
    assert counts.lookup(probe).tolist() == [expected[0], expected[-1], 0]
