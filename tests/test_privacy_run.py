"""k-anonymity enforced by ``veil run`` end to end: CSV and Parquet, one and two workers, a real
pg_dump restored by psql, ``veil verify`` confirming k, profile problems, no value in any report."""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import dump_fixtures, test_dump_mysql

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools
mysql_server = test_dump_mysql.server

PRIVACY = "{quasi_identifiers: [zip, birth_date, gender, age], sensitive: [diagnosis], k: 5, l: 2, " \
          "max_suppression: 0.05}"


def people_rows(n: int = 800, seed: int = 18) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        born = np.datetime64("1940-01-01") + int(rng.integers(0, 365 * 60))
        rows.append({"id": i, "name": f"person{i:05d}x", "zip": f"{int(rng.integers(10000, 99999)):05d}",
                     "birth_date": str(born), "gender": str(rng.choice(["F", "M"])),
                     "age": 2026 - int(str(born)[:4]), "diagnosis": str(rng.choice(["flu", "cold", "asthma"]))})
    return rows


def profile(path: Path, table: str = "people", name_rule: str = "{op: fake, kind: name}",
            zip_rule: str = "keep") -> Path:
    path.write_text(f"""version: 1
tables:
  {table}:
    primary_key: [id]
    columns:
      id: keep
      name: {name_rule}
      zip: {zip_rule}
      birth_date: keep
      gender: keep
      age: keep
      diagnosis: keep
    privacy: {PRIVACY}
""", encoding="utf-8")
    return path


def write_csv(d: Path, rows: list[dict]) -> Path:
    d.mkdir()
    with (d / "people.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return d


def _no_value(text: str, rows: list[dict]) -> None:
    for r in rows[:200]:
        assert r["name"] not in text and f'"{r["zip"]}"' not in text


def test_csv_run_is_k_anonymous_verified_and_the_same_with_two_workers(tmp_path, cli, keyring):
    rows = people_rows()
    src = write_csv(tmp_path / "in", rows)
    p = profile(tmp_path / "p.yaml")
    reports = []
    for workers in ("1", "2"):
        out, rep = tmp_path / f"out{workers}", tmp_path / f"r{workers}.json"
        res = cli("run", src, "--profile", p, "--keyring", keyring, "--out", out, "--report", rep, "-q",
                  "--workers", workers, "--batch-size", "100")
        assert res.exit_code == 0, res.output
        reports.append(json.loads(rep.read_text()))
        _no_value(rep.read_text() + res.output, rows)
    assert (tmp_path / "out1" / "people.csv").read_bytes() == (tmp_path / "out2" / "people.csv").read_bytes()
    priv = reports[0]["tables"]["people"]["privacy"]
    assert priv == reports[1]["tables"]["people"]["privacy"]
    assert priv["k_target"] == 5 and priv["k"] >= 5
    assert set(priv["levels"]) == {"zip", "birth_date", "gender", "age"}
    assert priv["suppressed_rows"] <= 0.05 * len(rows)
    assert reports[0]["tables"]["people"]["columns"]["zip"]["op"] == "k_anonymity"
    # the output's classes, counted here: every class holds k rows, two diagnoses
    with (tmp_path / "out1" / "people.csv").open(encoding="utf-8") as f:
        out_rows = list(csv.DictReader(f))
    classes: dict[tuple, list] = {}
    for r in out_rows:
        classes.setdefault((r["zip"], r["birth_date"], r["gender"], r["age"]), []).append(r["diagnosis"])
    assert min(len(v) for v in classes.values()) == priv["k"]
    assert min(len(set(v)) for v in classes.values()) >= 2
    assert len(classes) == priv["classes"]
    # veil verify on the copy confirms k and l
    vrep = tmp_path / "v.json"
    res = cli("verify", src, tmp_path / "out1", "-p", p, "--report", vrep, "-q")
    assert res.exit_code == 0, res.output
    risk = json.loads(vrep.read_text())["risk"]["tables"]["people"]
    assert risk["k"] == priv["k"] and risk["rows_below_k"] == 0 and risk["l_diversity"]["diagnosis"] >= 2


def test_parquet_keeps_column_types(tmp_path, cli, keyring):
    rows = people_rows(600, seed=3)
    d = tmp_path / "in"
    d.mkdir()
    t = pa.table({
        "id": pa.array([r["id"] for r in rows], pa.int64()), "name": [r["name"] for r in rows],
        "zip": [r["zip"] for r in rows],
        "birth_date": pa.array([datetime.date.fromisoformat(r["birth_date"]) for r in rows], pa.date32()),
        "gender": [r["gender"] for r in rows], "age": pa.array([r["age"] for r in rows], pa.int32()),
        "diagnosis": [r["diagnosis"] for r in rows]})
    pq.write_table(t, d / "people.parquet")
    p = profile(tmp_path / "p.yaml")
    out, rep = tmp_path / "out", tmp_path / "r.json"
    res = cli("run", d, "--profile", p, "--keyring", keyring, "--out", out, "--report", rep, "-q")
    assert res.exit_code == 0, res.output
    got = pq.read_table(out / "people.parquet")
    assert got.schema.field("birth_date").type == pa.date32() and got.schema.field("age").type == pa.int32()
    priv = json.loads(rep.read_text())["tables"]["people"]["privacy"]
    keys = got.select(["zip", "birth_date", "gender", "age"]).group_by(["zip", "birth_date", "gender", "age"])
    sizes = keys.aggregate([([], "count_all")]).column("count_all").to_pylist()
    assert min(sizes) == priv["k"] >= 5
    if priv["levels"]["birth_date"] not in ("value", "suppressed"):  # first days of periods
        days = {d.day for d in got.column("birth_date").to_pylist() if d is not None}
        assert days == {1}


def test_a_quasi_identifier_is_kept_or_coarsened(tmp_path, cli, keyring):
    src = write_csv(tmp_path / "in", people_rows(300))
    p = profile(tmp_path / "p.yaml", zip_rule="{op: fake, kind: postcode}")
    res = cli("validate", p, src)
    assert res.exit_code == 3
    assert "people.zip is a quasi-identifier" in res.output and "give zip keep" in res.output
    p = profile(tmp_path / "p2.yaml", zip_rule="drop")  # dropped: no quasi-identifier of the copy
    out, rep = tmp_path / "out", tmp_path / "r.json"
    res = cli("run", src, "--profile", p, "--keyring", keyring, "--out", out, "--report", rep, "-q")
    assert res.exit_code == 0, res.output
    assert "zip" not in json.loads(rep.read_text())["tables"]["people"]["privacy"]["levels"]
    # coarsened by its own rule: the chosen level applies to what the rule writes ("021**")
    p = profile(tmp_path / "p3.yaml", zip_rule="{op: generalize, prefix: 3}")
    out, rep = tmp_path / "out3", tmp_path / "r3.json"
    res = cli("run", src, "--profile", p, "--keyring", keyring, "--out", out, "--report", rep, "-q")
    assert res.exit_code == 0, res.output
    priv = json.loads(rep.read_text())["tables"]["people"]["privacy"]
    with (out / "people.csv").open(encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert all(r["zip"] == "" or r["zip"].endswith("*") for r in got)
    classes: dict[tuple, int] = {}
    for r in got:
        key = (r["zip"], r["birth_date"], r["gender"], r["age"])
        classes[key] = classes.get(key, 0) + 1
    assert min(classes.values()) == priv["k"] >= 5


def test_an_unreachable_target_is_a_profile_error(tmp_path, cli, keyring):
    src = write_csv(tmp_path / "in", people_rows(4))
    p = profile(tmp_path / "p.yaml")
    res = cli("run", src, "--profile", p, "--keyring", keyring, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 3, res.output
    assert "fewer than k = 5" in res.output and not (tmp_path / "out").exists()


def test_a_pg_dump_is_k_anonymous_restores_and_verifies(pg, cli, keyring, tmp_path):
    rows = people_rows(700, seed=5)
    db = pg.create("veil_kanon_src")
    with pg.connect(db) as conn:
        # NOT NULL quasi-identifiers: a suppressed value must not be null there (the restore would fail)
        conn.execute("CREATE TABLE people (id integer PRIMARY KEY, name text, zip char(5) NOT NULL, "
                     "birth_date date NOT NULL, gender char(1) NOT NULL, age smallint, diagnosis text)")
        with conn.cursor().copy("COPY people FROM STDIN") as cp:
            for r in rows:
                cp.write_row([r["id"], r["name"], r["zip"], r["birth_date"], r["gender"], r["age"], r["diagnosis"]])
    dump = dump_fixtures.pg_dump(db, tmp_path / "in.sql")
    p = profile(tmp_path / "p.yaml", table="public.people")
    out, rep = tmp_path / "out.sql", tmp_path / "r.json"
    res = cli("run", dump, "--profile", p, "--keyring", keyring, "--out", out, "--report", rep, "-q",
              "--workers", "2")
    assert res.exit_code == 0, res.output
    priv = json.loads(rep.read_text())["tables"]["public.people"]["privacy"]
    assert priv["k"] >= 5
    _no_value(rep.read_text(), rows)
    dst = pg.create("veil_kanon_dst")
    restored = dump_fixtures.psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr
    with pg.connect(dst) as conn:
        smallest = conn.execute("SELECT min(n) FROM (SELECT count(*) n FROM people "
                                "GROUP BY zip, birth_date, gender, age) c").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == len(rows)
        nulls = conn.execute("SELECT count(*) FROM people WHERE age IS NULL").fetchone()[0]
        placeheld = conn.execute("SELECT count(*) FROM people WHERE zip = '*'").fetchone()[0]
    assert smallest >= priv["k"] >= 5  # a placeholder may merge classes, never split them
    assert nulls == placeheld or priv["levels"]["zip"] == "suppressed"  # suppressed rows: '*', not null
    vrep = tmp_path / "v.json"
    res = cli("verify", dump, out, "-p", p, "--report", vrep, "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(vrep.read_text())["risk"]["tables"]["public.people"]["k"] >= priv["k"]


def test_a_mariadb_dump_is_k_anonymous_and_restores(mysql_server, cli, keyring, tmp_path):
    client, mysqldump, restore = test_dump_mysql.client, test_dump_mysql.mysqldump, test_dump_mysql.restore
    rows = people_rows(600, seed=2)
    tag = np.random.default_rng().integers(1 << 30)
    src, dst = f"veil_kanon_src_{tag}", f"veil_kanon_dst_{tag}"
    values = ",".join(f"({r['id']},'{r['name']}','{r['zip']}','{r['birth_date']}','{r['gender']}',{r['age']},"
                      f"'{r['diagnosis']}')" for r in rows)
    try:
        client(f"CREATE DATABASE `{src}`; CREATE DATABASE `{dst}`;")
        client("CREATE TABLE people (id int PRIMARY KEY, name varchar(40), zip varchar(5), birth_date date, "
               f"gender char(1), age smallint, diagnosis varchar(20)); INSERT INTO people VALUES {values};", src)
        dump = mysqldump(src, [], tmp_path / "in.sql")
        p = profile(tmp_path / "p.yaml")
        out, rep = tmp_path / "out.sql", tmp_path / "r.json"
        res = cli("run", dump, "--profile", p, "--keyring", keyring, "--out", out, "--report", rep, "-q")
        assert res.exit_code == 0, res.output
        priv = json.loads(rep.read_text())["tables"]["people"]["privacy"]
        restore(out, dst)
        got = client("SELECT min(n), sum(n) FROM (SELECT count(*) n FROM people "
                     "GROUP BY zip, birth_date, gender, age) c", dst).stdout.decode().split()
        assert [int(x) for x in got] == [priv["k"], len(rows)] and priv["k"] >= 5
        genders = set(client("SELECT DISTINCT IFNULL(gender, '-') FROM people", dst).stdout.decode().split())
        assert genders <= {"F", "M", "*", "-"}  # a char(1) column: "other" would not fit
    finally:
        client(f"DROP DATABASE IF EXISTS `{src}`; DROP DATABASE IF EXISTS `{dst}`;", check=False)


def test_a_directory_of_part_files_is_one_table_for_the_first_pass(tmp_path, cli, keyring):
    rows = people_rows(600, seed=5)
    t = pa.Table.from_pylist(rows)
    one, parts = tmp_path / "one", tmp_path / "parts"
    one.mkdir()
    (parts / "people").mkdir(parents=True)
    pq.write_table(t, one / "people.parquet")
    for i, b in enumerate(t.to_batches(max_chunksize=150)):
        pq.write_table(pa.Table.from_batches([b]), parts / "people" / f"part-{i}.parquet")
    p = profile(tmp_path / "p.yaml")
    reports = []
    for src in (one, parts):
        rep = tmp_path / f"{src.name}.json"
        res = cli("run", src, "--profile", p, "--keyring", keyring, "--out", tmp_path / f"out-{src.name}",
                  "--report", rep, "-q")
        assert res.exit_code == 0, res.output
        reports.append(json.loads(rep.read_text())["tables"]["people"]["privacy"])
    assert reports[0] == reports[1] and reports[0]["k"] >= 5
    want = pq.read_table(tmp_path / "out-one" / "people.parquet")
    assert pq.read_table(tmp_path / "out-parts" / "people").sort_by("id").equals(want.sort_by("id"))
