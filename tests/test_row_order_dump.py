"""row_order: shuffle for SQL dump outputs (veil.formats.dump.shuffle): each data block's rows in a
keyed order, the dump's text around them untouched; restored by the real servers with errors fatal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_module
from veil.formats import order

from .schemas.harness import MySQL, Postgres, scratch_databases


@pytest.fixture
def pgsrv():
    yield from scratch_databases(Postgres, "veil_shuf")


@pytest.fixture
def mysrv():
    yield from scratch_databases(MySQL, "veil_shuf")


PG_SCHEMA = """
CREATE TABLE emp (id int PRIMARY KEY, name text NOT NULL, boss int REFERENCES emp(id));
INSERT INTO emp SELECT g, 'person ' || g, CASE WHEN g > 1 THEN g / 2 END FROM generate_series(1, 600) g;
CREATE TABLE ev (id int, at date, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ev_2023 PARTITION OF ev FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO ev SELECT g, DATE '2023-01-01' + (g % 700), 'note ' || g FROM generate_series(1, 1400) g;
CREATE TABLE tag (code text PRIMARY KEY);
INSERT INTO tag SELECT 'tag' || g FROM generate_series(1, 50) g;
"""

PG_PROFILE = """version: 1
tables:
  emp:
    primary_key: [id]
    foreign_keys: [{columns: [boss], references: {table: emp, columns: [id]}}]
    columns:
      id: {op: pseudonymize, domain: emp, format: int}
      name: {op: fake, kind: name, domain: person}
      boss: {op: pseudonymize, domain: emp, format: int}
  ev:
    columns: {id: keep, at: keep, note: keep}
  tag:
    columns: {code: keep}
"""


def _copy_blocks(sql: str) -> dict[str, list[str]]:
    """Each COPY block's rows, by the table it names."""
    return {m.group(1): m.group(2).splitlines() for m in
            re.finditer(r"^COPY (\S+) \([^)]*\) FROM stdin;\n(.*?)^\\\.$", sql, re.S | re.M)}


def _skeleton(sql: str) -> str:
    """The dump without its rows: what shuffling must leave as it is."""
    return re.sub(r"(FROM stdin;\n).*?(^\\\.$)", r"\1\2", sql, flags=re.S | re.M)


def _run(dump: Path, prof: Path, keyring: Path, out: Path, mode: str, *extra: str) -> Path:
    res = run_module("run", dump, "-p", prof, "--keyring", keyring, "-o", out, "--row-order", mode, "-q", *extra)
    assert res.returncode == 0, res.stderr
    return out


def _pg_case(pgsrv, tmp_path: Path, *flags: str) -> tuple[Path, Path]:
    src = pgsrv.new()
    with pgsrv.connect(src) as conn:
        conn.execute(PG_SCHEMA)
    dump = tmp_path / "in.sql"
    pgsrv.dump(src, dump, flags)
    prof = tmp_path / "p.yaml"
    prof.write_text(PG_PROFILE)
    return dump, prof


def test_a_pg_dump_is_shuffled_per_block_and_restores(pgsrv, tmp_path, keyring):
    dump, prof = _pg_case(pgsrv, tmp_path)
    keep = _run(dump, prof, keyring, tmp_path / "keep.sql", "keep").read_text()
    shuf = _run(dump, prof, keyring, tmp_path / "shuf.sql", "shuffle").read_text()
    again = _run(dump, prof, keyring, tmp_path / "again.sql", "shuffle", "--workers", "2").read_text()
    assert shuf == again  # keyed and deterministic, whatever the workers
    assert _skeleton(shuf) == _skeleton(keep)  # only rows move, and only inside their block
    kb, sb = _copy_blocks(keep), _copy_blocks(shuf)
    assert set(kb) == set(sb) == {"public.emp", "public.ev_2023", "public.ev_2024", "public.tag"}
    for table in kb:
        assert sorted(kb[table]) == sorted(sb[table]), table  # the same rows in each block ...
        assert kb[table] != sb[table], table  # ... in another order (a table nobody transforms too)
    # the order is a permutation unrelated to the input's: few rows keep their neighbour
    pos = {r: i for i, r in enumerate(kb["public.ev_2023"])}
    moved = [pos[r] for r in sb["public.ev_2023"]]
    assert sum(abs(a - b) == 1 for a, b in zip(moved, moved[1:], strict=False)) < 20
    # partitions: the two blocks of one table are not put in the same order
    n = min(len(kb["public.ev_2023"]), len(kb["public.ev_2024"]))
    p23 = [pos[r] for r in sb["public.ev_2023"][:n]]
    pos24 = {r: i for i, r in enumerate(kb["public.ev_2024"])}
    assert p23 != [pos24[r] for r in sb["public.ev_2024"][:n]]
    # restored with errors fatal: the self-reference and every partition hold
    dst = pgsrv.new()
    ok, err = pgsrv.restore(tmp_path / "shuf.sql", dst)
    assert ok, err
    assert pgsrv.rows(dst, "SELECT count(*) FROM emp e JOIN emp b ON e.boss = b.id") == [("599",)]
    assert pgsrv.rows(dst, "SELECT count(*) FROM ev_2023") == [(str(len(kb["public.ev_2023"])),)]
    assert pgsrv.rows(dst, "SELECT count(*) FROM ev") == [("1400",)]


def test_pg_inserts_keep_one_row_per_statement(pgsrv, tmp_path, keyring):
    dump, prof = _pg_case(pgsrv, tmp_path, "--inserts")
    keep = _run(dump, prof, keyring, tmp_path / "keep.sql", "keep").read_text()
    shuf = _run(dump, prof, keyring, tmp_path / "shuf.sql", "shuffle").read_text()
    k = [line for line in keep.splitlines() if line.startswith("INSERT INTO public.emp ")]
    s = [line for line in shuf.splitlines() if line.startswith("INSERT INTO public.emp ")]
    assert len(k) == len(s) == 600 and sorted(k) == sorted(s) and k != s
    # the same order as the COPY dump of the same data gets (one keystream per table)
    (tmp_path / "copy").mkdir()
    copy_dump, _ = _pg_case(pgsrv, tmp_path / "copy")
    copy = _copy_blocks(_run(copy_dump, prof, keyring, tmp_path / "copy.sql", "shuffle").read_text())
    assert [line.split("\t")[0] for line in copy["public.emp"]] == \
        [re.match(r"INSERT INTO public.emp VALUES \((\d+),", line).group(1) for line in s]
    dst = pgsrv.new()
    ok, err = pgsrv.restore(tmp_path / "shuf.sql", dst)
    assert ok, err
    assert pgsrv.rows(dst, "SELECT count(*) FROM emp e JOIN emp b ON e.boss = b.id") == [("599",)]


def test_mysqldump_statements_stay_within_the_original_bounds(mysrv, tmp_path, keyring):
    src = mysrv.new()
    mysrv.client("CREATE TABLE emp (id int PRIMARY KEY AUTO_INCREMENT, name varchar(40) NOT NULL, boss int, "
                 "FOREIGN KEY (boss) REFERENCES emp(id));\n"
                 "INSERT INTO emp (id, name, boss) SELECT seq, CONCAT('person ', seq), IF(seq > 1, seq DIV 2, NULL) "
                 "FROM seq_1_to_3000;", src)
    dump = tmp_path / "my.sql"
    mysrv.dump(src, dump, ("--net-buffer-length=4096",))
    prof = tmp_path / "p.yaml"
    prof.write_text(PG_PROFILE.split("  ev:")[0])
    keep = _run(dump, prof, keyring, tmp_path / "keep.sql", "keep").read_bytes()
    shuf = _run(dump, prof, keyring, tmp_path / "shuf.sql", "shuffle").read_bytes()
    stmt = re.compile(rb"INSERT INTO `emp` VALUES.*?\);\n", re.S)
    ks, ss = stmt.findall(keep), stmt.findall(shuf)
    assert len(ks) > 5
    assert max(map(len, ss)) <= max(map(len, re.findall(rb"INSERT INTO `emp` VALUES.*?\);\n", dump.read_bytes(),
                                                        re.S)))
    rows = re.compile(rb"\((\d+),'([^']*)',(\d+|NULL)\)")
    kr, sr = [r for s in ks for r in rows.findall(s)], [r for s in ss for r in rows.findall(s)]
    assert len(kr) == len(sr) == 3000 and sorted(kr) == sorted(sr) and kr != sr
    assert stmt.sub(b"", keep) == stmt.sub(b"", shuf)  # LOCK TABLES, DISABLE KEYS ... where they were
    dst = mysrv.new()
    ok, err = mysrv.restore(tmp_path / "shuf.sql", dst)
    assert ok, err
    assert mysrv.rows(dst, "SELECT count(*) FROM emp e JOIN emp b ON e.boss = b.id") == [("2999",)]


def test_a_spilled_dump_block_is_the_in_memory_order(tmp_path, keyring, cli, monkeypatch):
    rows = "".join(f"{i}\tperson {i}\n" for i in range(1, 5001))
    dump = tmp_path / "in.sql"
    dump.write_text("CREATE TABLE public.t (id integer, name text);\n"
                    f"COPY public.t (id, name) FROM stdin;\n{rows}\\.\n"
                    "CREATE INDEX t_id ON public.t (id);\n")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      name: {op: mask, keep_last: 2}\n")
    args = ("--keyring", keyring, "--row-order", "shuffle", "-q", "--workers", "1")
    res = cli("run", dump, "-p", prof, "-o", tmp_path / "mem.sql", *args)
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(order, "MEMORY_BYTES", 4096)
    spilled: list[Path] = []
    real = order.ShuffleWriter._route

    def route(self, batch, keys):
        spilled.append(self.spill_dir)
        return real(self, batch, keys)

    monkeypatch.setattr(order.ShuffleWriter, "_route", route)
    res = cli("run", dump, "-p", prof, "-o", tmp_path / "spill.sql", *args)
    assert res.exit_code == 0, res.output
    assert spilled and all(not p.exists() for p in spilled)  # it spilled, and cleaned up
    mem, spill = (tmp_path / "mem.sql").read_text(), (tmp_path / "spill.sql").read_text()
    assert mem == spill
    lines = mem.split("FROM stdin;\n")[1].split("\\.\n")[0].splitlines()
    assert len(lines) == 5000 and lines != sorted(lines, key=lambda x: int(x.split("\t")[0]))
    assert mem.endswith("\\.\nCREATE INDEX t_id ON public.t (id);\n")
