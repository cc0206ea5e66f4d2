"""The one progress helper (veil.progress) of run and scan: shown on a terminal, silent otherwise."""

from __future__ import annotations

import io
import re

import pytest

from veil import progress as progress_mod
from veil.progress import Progress

from .conftest import SHOP_PROFILE

ERASE = "\r\x1b[2K"


class FakeTty(io.StringIO):
    def __init__(self, tty: bool = True):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rows_per_table_on_a_terminal():
    out, clock = FakeTty(), Clock()
    p = Progress({"customers": 200, "orders": None}, stream=out, clock=clock)
    p("customers", 50)
    assert out.getvalue() == ERASE + "customers: 50/200 rows (25%)"
    p("customers", 50)  # within the interval: counted, not shown
    assert out.getvalue().count(ERASE) == 1 and p.done == {"customers": 100}
    clock.now += 0.25
    p("orders", 7)
    assert out.getvalue().endswith(ERASE + "orders: 7 rows")  # no total known
    p.finish()
    assert out.getvalue().endswith(ERASE)


def test_steps_for_scan():
    out, clock = FakeTty(), Clock()
    p = Progress(stream=out, clock=clock)
    p.step("scanning t.a")
    clock.now += 0.1
    p.step("scanning t.b")
    clock.now += 0.2
    p.step("scanning t.c")
    assert out.getvalue() == ERASE + "scanning t.a" + ERASE + "scanning t.c"
    p.finish()
    p.finish()  # once erased, nothing more
    assert out.getvalue() == ERASE + "scanning t.a" + ERASE + "scanning t.c" + ERASE


@pytest.mark.parametrize("quiet", [False, True])
@pytest.mark.parametrize("tty", [False, True])
def test_silent_unless_a_terminal_and_not_quiet(tty, quiet):
    out = FakeTty(tty)
    p = Progress({"t": 10}, quiet=quiet, stream=out)
    p("t", 5)
    p.step("scanning t.a")
    p.finish()
    assert (out.getvalue() != "") == (tty and not quiet)
    assert p.done == {"t": 5}  # counted either way


def test_a_closed_stream_turns_it_off():
    out = FakeTty()
    p = Progress(stream=out)
    out.close()
    p.step("scanning t.a")  # no exception
    assert not p.enabled


def test_run_and_scan_commands_use_it(cli, shop_csv, keyring, tmp_path, monkeypatch):
    """Both commands go through veil.progress (made to believe stderr is a terminal), and --quiet silences it."""
    monkeypatch.setattr(progress_mod, "_is_tty", lambda stream: True)
    res = cli("scan", str(shop_csv), "--no-ner")
    assert res.exit_code == 0, res.output
    # the first step is always shown; later ones at most every 0.2 s, so which table shows is timing
    assert ERASE + "scanning " in res.stderr
    res = cli("run", str(shop_csv), "-p", str(SHOP_PROFILE), "--keyring", str(keyring), "-o",
              str(tmp_path / "out"), "--workers", "1")
    assert res.exit_code == 0, res.output
    assert " rows" in res.stderr and ERASE in res.stderr
    for args in (("scan", str(shop_csv), "--no-ner", "-q"),
                 ("run", str(shop_csv), "-p", str(SHOP_PROFILE), "--keyring", str(keyring), "-o",
                  str(tmp_path / "out2"), "--workers", "1", "-q")):
        res = cli(*args)
        assert res.exit_code == 0, res.output
        assert ERASE not in res.stderr


# -- percentage and ETA where the input's size is known (issue 16 point 8) ----------------------------

def test_percentage_and_eta_from_row_counts():
    out, clock = FakeTty(), Clock()
    p = Progress({"customers": 400}, stream=out, clock=clock)
    clock.now += 10  # the first 100 rows took 10 s: 300 more take 30 s
    p("customers", 100)
    assert out.getvalue().endswith(ERASE + "customers: 100/400 rows (25%, ETA 0:30)")
    clock.now += 290
    p("customers", 100)  # half done after 300 s: 300 s to go
    assert out.getvalue().endswith(ERASE + "customers: 200/400 rows (50%, ETA 5:00)")
    clock.now += 26700  # 27000 s for 300 rows: 9000 s for the last 100
    p("customers", 100)
    assert out.getvalue().endswith(ERASE + "customers: 300/400 rows (75%, ETA 2:30:00)")
    p("customers", 100)
    clock.now += 1
    p("customers", 0)
    assert out.getvalue().endswith(ERASE + "customers: 400/400 rows (100%)")  # no ETA once done
    p.finish()


def test_percentage_and_eta_from_bytes_read():
    """A file per table (CSV): its bytes; a dump: the whole input's, said so."""
    out, clock = FakeTty(), Clock()
    p = Progress({"a": None, "b": None, "c": None}, stream=out, clock=clock)
    clock.now += 4
    progress_mod.bytes_read("a", 250, 1000)
    p("a", 10)
    assert out.getvalue().endswith(ERASE + "a: 10 rows (25%, ETA 0:12)")
    clock.now += 1
    progress_mod.bytes_read(progress_mod.WHOLE_INPUT, 500, 2000)
    p("b", 20)  # b started when a's last event was (1 s ago)
    assert out.getvalue().endswith(ERASE + "b: 20 rows (dump 25%, ETA 0:03)")
    clock.now += 1
    p("c", 5)  # nothing known of c's own bytes: the dump's share
    assert out.getvalue().endswith(ERASE + "c: 5 rows (dump 25%, ETA 0:06)")
    p.finish()
    progress_mod.bytes_read("a", 1000, 1000)  # no longer heard once finished
    assert p.bytes["a"] == (250, 1000) and not progress_mod.listening()


def test_bytes_are_not_heard_when_silent():
    p = Progress({"a": None}, stream=FakeTty(tty=False))
    assert not progress_mod.listening()
    progress_mod.bytes_read("a", 1, 2)
    assert p.bytes == {}


def _recorder(monkeypatch) -> list[tuple[str, int, int]]:
    calls: list[tuple[str, int, int]] = []
    monkeypatch.setattr(progress_mod, "listening", lambda: True)
    monkeypatch.setattr(progress_mod, "bytes_read", lambda name, done, total: calls.append((name, done, total)))
    return calls


def test_csv_source_reports_bytes_read(cli, shop_csv, keyring, tmp_path, monkeypatch):
    calls = _recorder(monkeypatch)
    res = cli("run", str(shop_csv), "-p", str(SHOP_PROFILE), "--keyring", str(keyring), "-o",
              str(tmp_path / "out"), "--workers", "1", "-q")
    assert res.exit_code == 0, res.output
    for f in shop_csv.glob("*.csv"):
        mine = [(done, total) for name, done, total in calls if name == f.stem]
        assert mine and all(total == f.stat().st_size for _, total in mine)
        assert [d for d, _ in mine] == sorted(d for d, _ in mine) and mine[-1][0] == f.stat().st_size


PG_DUMP = """--
-- PostgreSQL database dump
--
SET standard_conforming_strings = on;
CREATE TABLE public.t (
    id integer NOT NULL,
    name text
);
COPY public.t (id, name) FROM stdin;
""" + "".join(f"{i}\tname {i}\n" for i in range(1, 3001)) + """\\.

ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);
"""


@pytest.mark.parametrize("gz", [False, True])
def test_dump_source_reports_bytes_read(cli, keyring, tmp_path, monkeypatch, gz):
    """Plain and gzip dumps: the bytes of the file read (compressed bytes for .gz), up to its size."""
    import gzip

    dump = tmp_path / ("d.sql.gz" if gz else "d.sql")
    dump.write_bytes(gzip.compress(PG_DUMP.encode()) if gz else PG_DUMP.encode())
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  public.t:\n    columns:\n      id: keep\n"
                       "      name: {op: pseudonymize}\n")
    calls = _recorder(monkeypatch)
    res = cli("run", str(dump), "-p", str(profile), "--keyring", str(keyring), "-o",
              str(tmp_path / ("o.sql.gz" if gz else "o.sql")), "--workers", "1", "-q", "--batch-size", "500")
    assert res.exit_code == 0, res.output
    size = dump.stat().st_size
    assert len(calls) >= 2 and {(name, total) for name, _, total in calls} == {(progress_mod.WHOLE_INPUT, size)}
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and 0 < done[-1] <= size


def test_run_shows_a_percentage_on_a_terminal(cli, shop_csv, keyring, tmp_path, monkeypatch):
    monkeypatch.setattr(progress_mod, "_is_tty", lambda stream: True)
    res = cli("run", str(shop_csv), "-p", str(SHOP_PROFILE), "--keyring", str(keyring), "-o",
              str(tmp_path / "out"), "--workers", "1")
    assert res.exit_code == 0, res.output
    assert re.search(r"\w+: [\d,]+ rows \(\d+%", res.stderr), res.stderr
