"""Inputs as they come (issue 16 point 7): CSV with ';', tab or '|' delimiters (sniffed from the
header or given with --delimiter, kept on output), pg_dump -Fd, dumps from stdin."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from veil.formats import open_dataset
from veil.formats.csv import sniff_delimiter

from . import dump_fixtures
from .conftest import run_module

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools

SECRET = "zq-marker-7f3a@example.org"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


@pytest.mark.parametrize("header, expected", [
    ("id,email,name", ","),
    ("id;email;name", ";"),
    ("id\temail\tname", "\t"),
    ("id|email|name", "|"),
    ("id", ","),                       # one column: no delimiter, the default
    ("a;b,c", ","),                    # a tie: ','
    ('"a,b";"c,d";e', ";"),            # commas inside quotes do not count
    ('"x"";y";a,b', ","),              # a doubled quote keeps the field quoted
    ("\ufeffid;email", ";"),           # a byte order mark is not part of the header
])
def test_sniff_rule(tmp_path, header, expected):
    path = _write(tmp_path / "t.csv", header + "\n1;2,3\t4|5\n")
    assert sniff_delimiter(path) == expected


@pytest.mark.parametrize("delim, name", [(";", "semicolon"), ("\t", "tab")])
def test_scan_run_keep_the_delimiter(tmp_path, keyring, cli, delim, name):
    """Without sniffing, the ';' file was one column 'id;email;name' and its second row failed
    with 'expected 1 fields, found 2'."""
    src = _write(tmp_path / f"people_{name}.csv", delim.join(["id", "email", "note"]) + "\n"
                 + delim.join(["1", SECRET, '"a, b; c"']) + "\n"
                 + delim.join(["2", "bob@example.net", "plain"]) + "\n")
    profile = tmp_path / "p.yaml"
    res = cli("scan", src, "-o", profile, "--quiet")
    assert res.exit_code == 0, res.stderr
    text = profile.read_text()
    assert "email: {op: pseudonymize" in text and "note:" in text
    out = tmp_path / "out.csv"
    res = cli("run", src, "-p", profile, "--keyring", keyring, "-o", out, "--quiet")
    assert res.exit_code == 0, res.stderr
    lines = out.read_text().splitlines()
    assert lines[0].replace('"', "").split(delim) == ["id", "email", "note"]
    assert len(lines) == 3 and all(len(line.split(delim)) == 3 for line in lines[1:] if "a, b" not in line)
    assert SECRET not in out.read_text()
    assert '"a, b; c"' in out.read_text()  # a value holding the delimiter stays one field
    # the output reads back as the same table shape, with its delimiter sniffed again
    assert [f.name for f in open_dataset(out).tables[0].schema] == ["id", "email", "note"]


def test_delimiter_option_overrides_the_sniff(tmp_path, keyring, cli):
    # the header has as many ',' as '|' (a tie gives ','): --delimiter says it is '|'
    src = _write(tmp_path / "t.csv", "id|a,b\n1|x,y\n")
    assert [f.name for f in open_dataset(src).tables[0].schema] == ["id|a", "b"]
    assert [f.name for f in open_dataset(src, delimiter="|").tables[0].schema] == ["id", "a,b"]
    profile = _write(tmp_path / "p.yaml", "version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                     "      'a,b': keep\n")
    out = tmp_path / "o.csv"
    res = cli("run", src, "-p", profile, "--keyring", keyring, "-o", out, "--delimiter", "|", "--quiet")
    assert res.exit_code == 0, res.stderr
    assert out.read_text().replace('"', "").splitlines() == ["id|a,b", "1|x,y"]


def test_delimiter_tab_word(tmp_path):
    src = _write(tmp_path / "t.csv", "a\tb\n1\t2\n")
    assert [f.name for f in open_dataset(src, delimiter="tab").tables[0].schema] == ["a", "b"]
    assert [f.name for f in open_dataset(src, delimiter="\\t").tables[0].schema] == ["a", "b"]


@pytest.mark.parametrize("bad", ["", ";;", '"', "\n"])
def test_bad_delimiter_is_a_usage_of_input(tmp_path, keyring, bad):
    src = _write(tmp_path / "t.csv", "a;b\n1;2\n")
    res = run_module("scan", src, "--delimiter", bad, "--quiet")
    assert res.returncode == 5, res.stderr
    assert "Traceback" not in res.stderr and "delimiter" in res.stderr


def test_malformed_semicolon_row_names_the_semicolon(tmp_path, keyring):
    src = _write(tmp_path / "t.csv", f"id;email\n1;{SECRET}\n2;{SECRET};extra\n")
    profile = _write(tmp_path / "p.yaml", "version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                     "      email: {op: pseudonymize, format: email, domain: email}\n")
    out = tmp_path / "o.csv"
    res = run_module("run", src, "-p", profile, "--keyring", keyring, "-o", out, "--quiet")
    assert res.returncode == 5
    assert "t.csv:3:" in res.stderr and "semicolon" in res.stderr
    assert "Traceback" not in res.stderr and SECRET not in res.stderr + res.stdout
    assert not out.exists()


# -- pg_dump -Fd (directory format), read through pg_restore like -Fc ---------------------------

def _pg_source(pg, tmp_path):
    src = pg.create("veil_src")
    dump_fixtures.populate(pg, src)
    prof = tmp_path / "profile.yaml"
    prof.write_text(dump_fixtures.profile_text(), encoding="utf-8")
    return src, prof


def _restored_and_joined(pg, tmp_path, out_sql: bytes, src: str) -> None:
    dst = pg.create("veil_dst")
    res = dump_fixtures.psql_bytes(dst, out_sql)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    for table, n in dump_fixtures.ROW_COUNTS.items():
        assert dump_fixtures.count(pg, dst, f'SELECT count(*) FROM "{table}"') == n
    for sql in FK_ORPHANS:
        assert dump_fixtures.count(pg, dst, sql) == 0
    assert dump_fixtures.count(pg, dst, "SELECT count(*) FROM customers WHERE email NOT LIKE '%@example.com'") == 0
    assert not dump_fixtures.PII_MARKER.findall(out_sql)


FK_ORPHANS = (
    "SELECT count(*) FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id "
    "WHERE c.customer_id IS NULL",
    "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.email = o.customer_email WHERE c.email IS NULL",
)


def test_directory_format_round_trip(pg, cli, keyring, tmp_path):
    """Before: 'no .csv or .parquet files in the input directory' (exit 5)."""
    src, prof = _pg_source(pg, tmp_path)
    archive = dump_fixtures.pg_dump(src, tmp_path / "src.dir", "-Fd")
    assert (archive / "toc.dat").is_file()
    out = tmp_path / "anon.sql"
    res = cli("run", archive, "-p", prof, "--keyring", keyring, "-o", out, "-q")
    assert res.exit_code == 0, res.stderr
    data = out.read_bytes()
    assert data.startswith(b"--")
    _restored_and_joined(pg, tmp_path, data, src)
    # a directory as --out gets the dump under the archive's name, as plain SQL
    outdir = tmp_path / "outdir"
    res = cli("run", archive, "-p", prof, "--keyring", keyring, "-o", f"{outdir}/", "-q")
    assert res.exit_code == 0, res.stderr
    assert (outdir / "src.sql").read_bytes().startswith(b"--")
    # scan reads it too
    res = cli("scan", archive, "--json", tmp_path / "f.json", "-q")
    assert res.exit_code == 0, res.stderr
    found = json.loads((tmp_path / "f.json").read_text())
    assert {c["table"] for c in found["columns"]} >= {"public.customers", "public.accounts"}


def test_directory_format_output_inside_it_refused(pg, keyring, tmp_path):
    src, prof = _pg_source(pg, tmp_path)
    archive = dump_fixtures.pg_dump(src, tmp_path / "src.dir", "-Fd")
    before = sorted(p.name for p in archive.iterdir())
    res = run_module("run", archive, "-p", prof, "--keyring", keyring, "-o", archive / "anon.sql", "-q")
    assert res.returncode == 5, res.stderr
    assert "Traceback" not in res.stderr and "inside" in res.stderr
    assert sorted(p.name for p in archive.iterdir()) == before


def test_damaged_directory_archive_is_clean(tmp_path, keyring):
    bad = tmp_path / "bad.dir"
    bad.mkdir()
    (bad / "toc.dat").write_bytes(b"PGDMP" + b"\0" * 40)
    prof = tmp_path / "p.yaml"
    prof.write_text(dump_fixtures.profile_text(), encoding="utf-8")
    res = run_module("run", bad, "-p", prof, "--keyring", keyring, "-o", tmp_path / "o.sql", "-q")
    assert res.returncode == 5, res.stderr
    assert "Traceback" not in res.stderr and "pg_restore" in res.stderr
    assert not (tmp_path / "o.sql").exists()


@pytest.mark.parametrize("flag, name", [("-Fc", "src.dump"), ("-Fd", "src.dir")])
@pytest.mark.parametrize("out_name", ["anon.dump", "anon.pgdump", "anon.backup", "anon.tar"])
def test_archive_to_archive_name_refused(pg, keyring, tmp_path, flag, name, out_name):
    """Before: a -Fc input written to anon.dump silently held plain SQL (pg_restore then fails)."""
    src, prof = _pg_source(pg, tmp_path)
    archive = dump_fixtures.pg_dump(src, tmp_path / name, flag)
    out = tmp_path / out_name
    res = run_module("run", archive, "-p", prof, "--keyring", keyring, "-o", out, "-q")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "--out anon.sql" in res.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".veil-tmp-*"))


# -- a dump from a pipe: `veil run -` or a FIFO, spooled to a private temporary file --------------

def _veil_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "veil", *map(str, args)]


def _pipe(producer: list[str], veil_args: list, *, gzip_it: bool = False) -> tuple[int, bytes, bytes]:
    """producer | [gzip -c |] veil ... ; veil's exit code, stdout and stderr."""
    env = {**os.environ, **dump_fixtures.pg_env()}
    prod = subprocess.Popen(producer, stdout=subprocess.PIPE, env=env)
    feed = prod.stdout
    gz = None
    if gzip_it:
        gz = subprocess.Popen(["gzip", "-c"], stdin=feed, stdout=subprocess.PIPE)
        feed.close()
        feed = gz.stdout
    veil = subprocess.run(_veil_cmd(*veil_args), stdin=feed, capture_output=True, env=env, timeout=300)
    feed.close()
    assert prod.wait(60) == 0
    if gz is not None:
        assert gz.wait(60) == 0
    return veil.returncode, veil.stdout, veil.stderr


@pytest.mark.parametrize("gzip_it", [False, True], ids=["plain", "gzip"])
def test_pg_dump_piped_into_run_dash(pg, keyring, tmp_path, gzip_it):
    """Before: INPUT '-' was 'input not found' (exit 5), /dev/stdin of a pipe an internal error."""
    src, prof = _pg_source(pg, tmp_path)
    out = tmp_path / ("anon.sql.gz" if gzip_it else "anon.sql")
    code, _, err = _pipe(["pg_dump", "--no-owner", src],
                         ["run", "-", "-p", prof, "--keyring", keyring, "-o", out, "-q"], gzip_it=gzip_it)
    assert code == 0, err.decode()
    data = gzip.decompress(out.read_bytes()) if gzip_it else out.read_bytes()
    _restored_and_joined(pg, tmp_path, data, src)
    assert not list(tmp_path.glob(".veil-stdin-*")), "the spool is left behind"


def test_pg_dump_custom_piped_and_dev_stdin(pg, keyring, tmp_path):
    src, prof = _pg_source(pg, tmp_path)
    outdir = tmp_path / "outdir"
    code, _, err = _pipe(["pg_dump", "--no-owner", "-Fc", src],
                         ["run", "/dev/stdin", "-p", prof, "--keyring", keyring, "-o", f"{outdir}/", "-q"])
    assert code == 0, err.decode()
    _restored_and_joined(pg, tmp_path, (outdir / "stdin.sql").read_bytes(), src)


def test_fifo_input(pg, keyring, tmp_path):
    src, prof = _pg_source(pg, tmp_path)
    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(f"pg_dump --no-owner {src} > {fifo}", shell=True,
                              env={**os.environ, **dump_fixtures.pg_env()})
    out = tmp_path / "anon.sql"
    res = run_module("run", fifo, "-p", prof, "--keyring", keyring, "-o", out, "-q")
    assert writer.wait(60) == 0
    assert res.returncode == 0, res.stderr
    _restored_and_joined(pg, tmp_path, out.read_bytes(), src)


@pytest.mark.parametrize("feed, code, words", [
    (b"", 5, "empty"),
    (b"\x1f\x8b\x08\x00garbage-not-gzip" + SECRET.encode(), 5, "damaged"),
    (b"hello " + SECRET.encode() + b"\n", 5, "dialect"),
    (b"PGDMP" + SECRET.encode(), 5, "pg_restore"),
])
def test_bad_piped_input_is_clean(tmp_path, keyring, feed, code, words):
    prof = tmp_path / "p.yaml"
    prof.write_text(dump_fixtures.profile_text(), encoding="utf-8")
    out = tmp_path / "o.sql"
    res = subprocess.run(_veil_cmd("run", "-", "-p", prof, "--keyring", keyring, "-o", out, "-q"),
                         input=feed, capture_output=True, timeout=120)
    err = res.stderr.decode()
    assert res.returncode == code, err
    assert "Traceback" not in err and words in err
    assert SECRET.encode() not in res.stderr + res.stdout
    assert not out.exists() and not list(tmp_path.glob(".veil-*"))


# -- --out -: the rewritten dump to standard output (| psql); not atomic, fails non-zero ------------

def test_pipe_through_veil_into_psql(pg, keyring, tmp_path):
    """pg_dump | veil run - --out - | psql -v ON_ERROR_STOP=1"""
    src, prof = _pg_source(pg, tmp_path)
    dst = pg.create("veil_dst")
    env = {**os.environ, **dump_fixtures.pg_env()}
    cmd = (f"pg_dump --no-owner {src} | {sys.executable} -m veil run - -p {prof} --keyring {keyring} "
           f"--out - -q | psql -X -q -v ON_ERROR_STOP=1 -d {dst}")
    res = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr.decode()
    for table, n in dump_fixtures.ROW_COUNTS.items():
        assert dump_fixtures.count(pg, dst, f'SELECT count(*) FROM "{table}"') == n
    for sql in FK_ORPHANS:
        assert dump_fixtures.count(pg, dst, sql) == 0
    assert dump_fixtures.count(pg, dst, "SELECT count(*) FROM customers WHERE email NOT LIKE '%@example.com'") == 0
    assert not list(tmp_path.glob(".veil-*"))


def test_stdout_failure_midway_is_non_zero_and_psql_stops(pg, keyring, tmp_path):
    """Not atomic: a dump that breaks after some rows were written leaves a partial stream, veil
    exits non-zero, and psql (ON_ERROR_STOP) fails on the cut COPY block."""
    src, prof = _pg_source(pg, tmp_path)
    dump = dump_fixtures.pg_dump(src, tmp_path / "src.sql").read_bytes()
    cut = dump.index(b"\\.\n", dump.index(b"COPY public.customers"))  # inside the customers block
    # a row with the wrong field count: the first pass (DDL) does not split rows, the rewrite does
    bad = dump[:cut] + b"one-field\n" + dump[cut:]
    res = subprocess.run(_veil_cmd("run", "-", "-p", prof, "--keyring", keyring, "--out", "-", "-q",
                                   "--batch-size", "1", "--workers", "1"),
                         input=bad, capture_output=True, timeout=120)
    err = res.stderr.decode()
    assert res.returncode == 5, err
    assert "Traceback" not in err
    assert b"CREATE TABLE" in res.stdout, "the stream was written as it went"
    assert not dump_fixtures.PII_MARKER.findall(res.stdout)
    dst = pg.create("veil_dst")
    restored = dump_fixtures.psql_bytes(dst, res.stdout)
    assert restored.returncode != 0


def test_stdout_reader_gone_is_clean(pg, keyring, tmp_path):
    src, prof = _pg_source(pg, tmp_path)
    dump = dump_fixtures.pg_dump(src, tmp_path / "src.sql")
    cmd = (f"{sys.executable} -m veil run {dump} -p {prof} --keyring {keyring} --out - -q "
           f"--batch-size 1 --workers 1 | head -c 10 > /dev/null; echo \"${{PIPESTATUS[0]}}\" >&2")
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=300)
    err = res.stderr.decode()
    assert err.strip().splitlines()[-1] == "9", err
    assert "Traceback" not in err and "standard output was closed" in err


@pytest.mark.parametrize("args, words", [
    (("--report", "-"), "standard output"),
    (("--format", "parquet"), "--format"),
])
def test_stdout_refusals(pg, keyring, tmp_path, args, words):
    src, prof = _pg_source(pg, tmp_path)
    dump = dump_fixtures.pg_dump(src, tmp_path / "src.sql")
    res = run_module("run", dump, "-p", prof, "--keyring", keyring, "--out", "-", "-q", *args)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and words in res.stderr and res.stdout == ""


def test_stdout_needs_a_dump(tmp_path, keyring):
    src = _write(tmp_path / "t.csv", "id;email\n1;x@y.org\n")
    profile = _write(tmp_path / "p.yaml", "version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                     "      email: {op: pseudonymize, format: email, domain: email}\n")
    res = run_module("run", src, "-p", profile, "--keyring", keyring, "--out", "-", "-q")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "not a dump" in res.stderr and res.stdout == ""


def test_validate_takes_the_delimiter(tmp_path, cli):
    src = _write(tmp_path / "t.csv", "id|a,b\n1|x,y\n")
    profile = _write(tmp_path / "p.yaml", "version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                     "      'a,b': keep\n")
    assert cli("validate", profile, src).exit_code != 0  # sniffed ',' (a tie): columns id|a and b
    res = cli("validate", profile, src, "--delimiter", "|")
    assert res.exit_code == 0, res.stdout + res.stderr
