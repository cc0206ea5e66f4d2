"""The one progress helper (veil.progress) of run and scan: shown on a terminal, silent otherwise."""

from __future__ import annotations

import io

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
