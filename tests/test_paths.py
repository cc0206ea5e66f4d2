"""Paths veil writes: never over what it reads, temp files that cannot be hijacked, one run per
output at a time, a full disk, --out through a symbolic link, and what --debug may show."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veil.output import lock_path, write_atomic

from .conftest import SAMPLES_CSV, SHOP_PROFILE

MARK = "Zq9931vEiLmArK"
PROFILE = ("version: 1\ntables:\n  people:\n    columns:\n      id: keep\n"
           "      email: {op: pseudonymize, format: email}\n")


def snap(path: Path) -> dict[str, bytes]:
    path = Path(path)
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return {".": path.read_bytes()}


def people(d: Path, rows: int = 50) -> tuple[Path, Path]:
    """A one-table CSV input (marker-seeded) and its profile."""
    d.mkdir(parents=True, exist_ok=True)
    data = d / "people.csv"
    data.write_text("id,email\n" + "".join(f"{i},{MARK}{i}@corp.example\n" for i in range(rows)))
    prof = d / "people.yaml"
    prof.write_text(PROFILE)
    return data, prof


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith((".veil-tmp", ".veil-lock")))


# -- 1. files clobbered --------------------------------------------------------------------------

@pytest.mark.parametrize("victim", ["keyring", "profile", "input", "vault", "out-dir", "inside-out"])
def test_report_never_replaces_what_the_run_reads_or_writes(tmp_path, shop_csv, keyring, cli, victim):
    out = tmp_path / "out"
    assert cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    vault = tmp_path / "vault.db"
    vault.write_bytes(b"SQLite format 3\x00 pretend")
    profile = tmp_path / "shop.yaml"
    shutil.copy(SHOP_PROFILE, profile)
    target = {"keyring": keyring, "profile": profile, "input": shop_csv / "customers.csv", "vault": vault,
              "out-dir": out, "inside-out": out / "report.json"}[victim]
    watched = [keyring, profile, shop_csv, vault, out]
    before = {p: snap(p) for p in watched}
    res = cli("run", shop_csv, "-p", profile, "--keyring", keyring, "--out", out, "--vault", vault,
              "--report", target)
    assert res.exit_code in (2, 5), res.stderr
    assert "--report" in res.stderr and "Traceback" not in res.stderr
    assert {p: snap(p) for p in watched} == before
    assert leftovers(tmp_path) == [] and not (out / "report.json").exists()


def test_one_file_out_replaces_its_own_output_but_not_a_foreign_file(tmp_path, keyring, cli):
    data, prof = people(tmp_path / "in")
    out = tmp_path / "o.csv"
    run = ("run", data, "-p", prof, "--keyring", keyring, "-q", "--out")
    assert cli(*run, out).exit_code == 0
    assert cli(*run, out).exit_code == 0, "a veil output is replaced by the next run"
    foreign = tmp_path / "notes.csv"
    foreign.write_text("years of work\n")
    res = cli(*run, foreign)
    assert res.exit_code == 2 and "--force" in res.stderr and "did not write" in res.stderr
    assert foreign.read_text() == "years of work\n"
    assert cli(*run, foreign, "--force").exit_code == 0
    assert MARK not in foreign.read_text() and "email" in foreign.read_text().splitlines()[0]
    # the profile and the input themselves, as one-file outputs
    for victim in (prof, data):
        before = victim.read_bytes()
        res = cli(*run, victim, "--force")
        assert res.exit_code in (2, 5) and "must not be" in res.stderr, res.stderr
        assert victim.read_bytes() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="replacing /dev/null needs root, which is what is tested")
def test_device_fifo_and_directory_are_never_targets(tmp_path, keyring, cli):
    data, prof = people(tmp_path / "in")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    dnull = os.stat("/dev/null")
    for target, word in ((Path("/dev/null"), "device"), (fifo, "named pipe")):
        for opt in ("--out", "--report"):
            args = ["run", data, "-p", prof, "--keyring", keyring, "-q", "--force"]
            args += ["--out", target] if opt == "--out" else ["--out", tmp_path / "o.csv", "--report", target]
            res = cli(*args)
            assert res.exit_code == 2 and word in res.stderr, res.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.stat("/dev/null").st_ino == dnull.st_ino
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    res = cli("scan", data, "--json", tmp_path, "--force", "-q", "--no-ner")
    assert res.exit_code == 2 and "directory" in res.stderr


def test_previous_report_is_replaced_foreign_json_needs_force(tmp_path, keyring, cli):
    data, prof = people(tmp_path / "in")
    rep = tmp_path / "r.json"
    run = ("run", data, "-p", prof, "--keyring", keyring, "--out", tmp_path / "o.csv", "-q", "--report", rep)
    assert cli(*run).exit_code == 0 and json.loads(rep.read_text())["veil_version"]
    assert cli(*run).exit_code == 0
    rep.write_text('{"mine": true}\n')
    assert cli(*run).exit_code == 2 and rep.read_text() == '{"mine": true}\n'
    assert cli(*run, "--force").exit_code == 0
    # a report written by an older veil (no extended attribute) is still recognised
    shutil.copyfile(rep, tmp_path / "old.json")
    assert cli(*run[:-1], tmp_path / "old.json").exit_code == 0


# -- 2. temporary files cannot be hijacked -------------------------------------------------------

def test_keyring_save_never_writes_through_a_planted_link(tmp_path, cli):
    """The old writer opened `.NAME.PID.tmp` without O_EXCL|O_NOFOLLOW: a planted link got the secrets."""
    ring = tmp_path / "keys" / "keyring.json"
    assert cli("keys", "init", ring).exit_code == 0
    victim = tmp_path / "attacker-owned"
    victim.write_text("")
    os.symlink(victim, ring.parent / f".{ring.name}.{os.getpid()}.tmp")  # in-process: this pid
    assert cli("keys", "rotate", "--keyring", ring).exit_code == 0
    assert victim.read_text() == "", "key material was written into the attacker's file"
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    assert [p.name for p in ring.parent.iterdir() if p.name.startswith(".veil-tmp")] == []


def test_write_atomic_uses_random_exclusive_names(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(victim, tmp_path / f".r.json.{os.getpid()}.tmp")
    write_atomic(target, b"{}\n")
    assert victim.read_text() == "keep" and target.read_bytes() == b"{}\n"
    write_atomic(target, b"secret\n", private=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_keyring_in_world_writable_directory_without_sticky_bit(tmp_path, shop_csv, cli):
    shared = tmp_path / "shared"
    shared.mkdir()
    ring = shared / "keyring.json"
    assert cli("keys", "init", ring).exit_code == 0
    os.chmod(shared, 0o777)
    try:
        for args in (("keys", "rotate", "--keyring", ring),
                     ("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", ring, "--out", tmp_path / "o", "-q")):
            res = cli(*args)
            assert res.exit_code == 6 and "sticky" in res.stderr, res.stderr
        os.chmod(shared, 0o1777)  # like /tmp
        assert cli("keys", "rotate", "--keyring", ring).exit_code == 0
    finally:
        os.chmod(shared, 0o700)


def test_stale_cleaner_never_follows_a_planted_link(tmp_path, shop_csv, keyring, cli):
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    (victim_dir / "precious.txt").write_text("years of work")
    victim_file = tmp_path / "victim.txt"
    victim_file.write_text("keep")
    os.symlink(victim_dir, tmp_path / ".veil-tmp-out-999999999-aaaaaa")  # a dead pid
    os.symlink(victim_file, tmp_path / ".veil-tmp-out-999999998-bbbbbb")
    assert cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "out", "-q"
               ).exit_code == 0
    assert (victim_dir / "precious.txt").read_text() == "years of work" and victim_file.read_text() == "keep"
    assert leftovers(tmp_path) == [], "the planted links are removed (unlinked, not followed)"


# -- 3. one run per output at a time -------------------------------------------------------------

_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_second_run_into_the_same_output_is_refused(tmp_path, shop_csv, keyring, cli):
    out = tmp_path / "out"
    run = ("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q")
    assert cli(*run).exit_code == 0
    before = snap(out)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock_path(out))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = cli(*run)
        assert res.exit_code == 9 and "another veil run is writing this output" in res.stderr, res.stderr
        assert snap(out) == before
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".veil-tmp")] == []
    finally:
        holder.kill()
        holder.wait()
    # the holder died (like a kill -9'd run): its lock file is left, unlocked, and does not block
    assert lock_path(out).exists()
    assert cli(*run).exit_code == 0
    assert leftovers(tmp_path) == [], "the lock file is removed by the run that holds it"


def test_two_concurrent_runs_one_wins_the_other_is_refused(tmp_path, keyring):
    data, prof = people(tmp_path / "in", rows=100_000)
    out = tmp_path / "o.csv"
    cmd = [sys.executable, "-m", "veil", "run", str(data), "-p", str(prof), "--keyring", str(keyring),
           "--out", str(out), "-q", "--workers", "1", "--batch-size", "5000"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".veil-tmp-o.csv-*")) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.poll() is None, "the first run ended before the second could start"
    os.kill(first.pid, signal.SIGSTOP)  # keep it mid-run, deterministically, while the second starts
    try:
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first_err = first.communicate(timeout=300)[1]
    assert first.returncode == 0, first_err
    assert second.returncode == 9 and "another veil run" in second.stderr and "Traceback" not in second.stderr
    assert out.read_text().count("\n") == 100_001
    assert leftovers(tmp_path) == []


def test_lock_file_planted_as_a_link_is_refused(tmp_path, shop_csv, keyring, cli):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(victim, tmp_path / ".veil-lock-out")
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 2 and "lock file" in res.stderr and "symbolic link" in res.stderr
    assert victim.read_text() == "keep" and not (tmp_path / "out").exists()


# -- 4. disk full --------------------------------------------------------------------------------

def _limited(limit: int):
    def pre() -> None:  # SIGXFSZ left at its default: veil itself must ignore it
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    return pre


def _veil(*args, preexec=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("VEIL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "veil", *map(str, args)], capture_output=True, text=True,
                          timeout=300, preexec_fn=preexec, env=env)


@pytest.mark.parametrize("kind", ["csv-dir", "one-file", "report"])
def test_file_size_limit_is_a_clean_no_space_error(tmp_path, keyring, kind):
    data, prof = people(tmp_path / "in", rows=20_000)  # about 0.7 MB of output
    out = tmp_path / ("o.csv" if kind != "csv-dir" else "o")
    inp = data if kind != "csv-dir" else data.parent
    if kind == "csv-dir":
        (data.parent / "people.yaml").rename(tmp_path / "people.yaml")
        prof = tmp_path / "people.yaml"
    args = ["run", inp, "-p", prof, "--keyring", keyring, "--out", out, "-q"]
    if kind == "report":
        args += ["--report", tmp_path / "r.json"]
    assert _veil(*args).returncode == 0
    before = snap(out)
    if kind == "report":
        (tmp_path / "r.json").unlink()
        data.write_text("id,email\n" + "".join(f"{i},{MARK}{i}@corp.example\n" for i in range(10)))
        limit = 800  # the small output (~370 bytes) fits, the report (~1 KB) does not
    else:
        data.write_text(data.read_text() + f"20000,{MARK}x@corp.example\n")
        limit = 200_000
    res = _veil(*args, preexec=_limited(limit))
    assert res.returncode == 9, (res.returncode, res.stderr)
    assert "no space left while writing" in res.stderr and "Traceback" not in res.stderr
    assert MARK not in res.stderr + res.stdout
    if kind != "report":
        assert snap(out) == before, "the previous output is intact"
    assert leftovers(tmp_path) == [] and not (tmp_path / "r.json").exists()
    assert _veil(*args).returncode == 0, "a rerun with room succeeds"
    assert leftovers(tmp_path) == []


PG_DUMP_HEAD = ("-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\n"
                "CREATE TABLE public.t (\n    id integer,\n    email text\n);\n\n"
                "COPY public.t (id, email) FROM stdin;\n")


@pytest.mark.parametrize("fmt", [None, "parquet"])
def test_file_size_limit_on_a_dump_output(tmp_path, keyring, fmt):
    dump = tmp_path / "d.sql"
    dump.write_text(PG_DUMP_HEAD + "".join(f"{i}\t{MARK}{i}@corp.example\n" for i in range(30_000)) + "\\.\n\n")
    prof = tmp_path / "d.yaml"
    prof.write_text("version: 1\ntables:\n  public.t:\n    columns:\n      id: keep\n"
                    "      email: {op: pseudonymize, format: email}\n")
    out = tmp_path / ("o.sql" if fmt is None else "o")
    args = ["run", dump, "-p", prof, "--keyring", keyring, "--out", out, "-q"] + (["--format", fmt] if fmt else [])
    res = _veil(*args, preexec=_limited(200_000))
    assert res.returncode == 9 and "no space left while writing" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and MARK not in res.stderr
    assert not out.exists() and leftovers(tmp_path) == []
    assert _veil(*args).returncode == 0 and leftovers(tmp_path) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights); "
                    "RLIMIT_FSIZE tests cover the no-space path")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_is_a_clean_no_space_error(tmp_path, keyring, tiny_tmpfs):
    data, prof = people(tmp_path / "in", rows=40_000)  # about 1.4 MB: does not fit in 1 MB
    small, _ = people(tmp_path / "small", rows=10)
    out = tiny_tmpfs / "o.csv"
    assert _veil("run", small, "-p", prof, "--keyring", keyring, "--out", out, "-q").returncode == 0
    before = snap(out)
    res = _veil("run", data, "-p", prof, "--keyring", keyring, "--out", out, "-q")
    assert res.returncode == 9 and "no space left while writing" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and MARK not in res.stderr
    assert snap(out) == before and leftovers(tiny_tmpfs) == []
    assert _veil("run", small, "-p", prof, "--keyring", keyring, "--out", out, "-q").returncode == 0


# -- 5. --out a symbolic link --------------------------------------------------------------------

def test_out_a_symlink_to_a_directory_writes_into_its_target(tmp_path, keyring, cli):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    run = ("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", link, "-q")
    for _ in range(2):  # the second run replaces the first output through the link
        res = cli(*run)
        assert res.exit_code == 0, res.stderr
        assert link.is_symlink() and (real / "customers.csv").is_file() and (real / ".veil-output").is_file()
        assert leftovers(tmp_path) == []
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "out")
    res = cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", dangling, "-q")
    assert res.exit_code == 2 and "points nowhere" in res.stderr
    assert not (tmp_path / "nowhere").exists()


# -- 6. --debug ----------------------------------------------------------------------------------

def test_debug_traceback_hides_messages_that_may_quote_values(tmp_path, shop_csv, keyring, cli, monkeypatch):
    import veil.cli.data

    def boom(*a, **k):
        try:
            raise ValueError(f"Float value {MARK} was truncated")
        except ValueError as inner:
            raise RuntimeError(f"while converting {MARK}") from inner

    monkeypatch.setattr(veil.cli.data, "compile_plan", boom)
    run = ("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "o")
    res = cli("--debug", *run)
    assert res.exit_code == 1
    assert "Traceback (most recent call last)" in res.stderr and "RuntimeError" in res.stderr
    assert "ValueError" in res.stderr and "in boom" in res.stderr and "message hidden" in res.stderr
    assert MARK not in res.stderr + res.stdout
    res = cli("--debug", *run, env={"VEIL_DEBUG_UNSAFE": "1"})
    assert res.exit_code == 1 and f"Float value {MARK}" in res.stderr


def test_debug_shows_veil_error_messages_but_hides_their_causes(tmp_path, shop_csv, keyring, cli, monkeypatch):
    import veil.cli.data
    from veil.errors import InputError

    def boom(*a, **k):
        try:
            int(MARK)
        except ValueError:
            raise InputError("not a number", file="t.csv", row=3) from None
        raise AssertionError

    def chained(*a, **k):
        try:
            int(MARK)
        except ValueError as err:
            raise InputError("not a number", file="t.csv", row=3) from err

    for fn in (boom, chained):
        monkeypatch.setattr(veil.cli.data, "compile_plan", fn)
        res = cli("--debug", "run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "o")
        assert res.exit_code == 5 and "t.csv, row 3: not a number" in res.stderr
        assert "Traceback" in res.stderr and MARK not in res.stderr
