"""Every command that writes a file x every path it must never write over: a clean refusal
(exit 2; 5 for the input, 6/8 when the keyring's or vault's own placement check sees the output
on it, as always), no traceback, no marker in any stream, the victim's
bytes (or its node type) unchanged, no output created, nothing left beside the target."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.keys import init_keyring, load_keyring
from veil.vault import open_vault

from .harness import FUZZ, assert_clean_failure, invoke, marker, snapshot

pytestmark = pytest.mark.adversarial

MARK = marker(4242)
PROFILE = ("version: 1\ntables:\n  people:\n    columns:\n      id: keep\n"
           "      email: {op: pseudonymize, format: email}\n")
COMMANDS = ["run --report", "run --out", "rekey --report", "rekey --out", "scan -o", "scan --json",
            "scan --markdown"]
TARGETS = ["keyring", "vault", "profile", "input", "output", "/dev/null", "fifo", "directory",
           "symlink to keyring", "unrelated file"]


@dataclass
class World:
    root: Path
    keyring: Path
    vault: Path
    profile: Path
    in_dir: Path
    in_file: Path
    out_dir: Path      # a previous veil output (directory)
    out_file: Path     # a previous veil output (one file)
    report: Path       # a previous veil report


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("paths-adv")
    keys = root / "keys"
    keys.mkdir()
    ring = keys / "keyring.json"
    init_keyring(ring)
    in_dir = root / "in"
    in_dir.mkdir()
    in_file = in_dir / "people.csv"
    in_file.write_text("id,email\n" + "".join(f"{i},{MARK}{i}@corp.example\n" for i in range(30)))
    profile = root / "people.yaml"
    profile.write_text(PROFILE)
    vault = root / "vault.db"  # a real (empty) vault, so a run gets past opening it
    v = open_vault(vault, load_keyring(ring), create=True)
    v.commit()
    v.close()
    out_dir, out_file, report = root / "prev", root / "prev.csv", root / "prev-report.json"
    for args in (("--out", out_dir, "--report", report), ("--out", out_file)):
        src = in_dir if args[1] == out_dir else in_file
        res = invoke("run", src, "-p", profile, "--keyring", ring, "-q", *args)
        assert res.exit_code == 0, res.stderr
    return World(root, ring, vault, profile, in_dir, in_file, out_dir, out_file, report)


def _target(w: World, cmd: str, name: str, case: Path) -> Path:
    if name == "keyring":
        return w.keyring
    if name == "vault":
        return w.vault
    if name == "profile":
        return w.profile
    if name == "input":
        if cmd.startswith("rekey"):
            return w.out_dir / "people.csv" if cmd == "rekey --report" else w.out_file
        return w.in_file
    if name == "output":
        # another output of the same command
        return {"run --report": w.out_dir, "rekey --report": case / "new-out",
                "run --out": w.report, "rekey --out": w.report}.get(cmd, case / "other.json")
    if name == "/dev/null":
        return Path("/dev/null")
    if name == "fifo":
        p = case / "fifo"
        os.mkfifo(p)
        return p
    if name == "directory":
        d = case / "dir"
        d.mkdir()
        for n in (w.in_file.name, w.out_file.name):  # a one-file output goes inside a directory
            (d / n).write_text("not veil's\n")
        return d
    if name == "symlink to keyring":
        p = case / "link.json"
        p.symlink_to(w.keyring)
        return p
    p = case / "unrelated.txt"
    p.write_text("years of work\n")
    return p


def _args(w: World, cmd: str, target: Path, case: Path) -> tuple[list, Path | None]:
    """The command line, and the --out it would create (None when it must exist already)."""
    keys = ["--keyring", w.keyring]
    if cmd == "run --report":
        return ["run", w.in_dir, "-p", w.profile, *keys, "--vault", w.vault, "--out", w.out_dir, "-q",
                "--report", target], None
    if cmd == "run --out":
        return ["run", w.in_file, "-p", w.profile, *keys, "--vault", w.vault, "--out", target, "-q",
                "--report", w.report], None
    if cmd == "rekey --report":
        out = case / "new-out"
        return ["rekey", w.out_dir, "--from", "k-00000000", "-p", w.profile, *keys, "--vault", w.vault,
                "--out", out, "-q", "--report", target], out
    if cmd == "rekey --out":
        return ["rekey", w.out_file, "--from", "k-00000000", "-p", w.profile, *keys, "--vault", w.vault,
                "--out", target, "-q", "--report", w.report], None
    scan = ["scan", w.in_dir, "-q", "--no-ner"]
    if target == case / "other.json":  # two outputs of one scan on one path
        other = {"scan -o": "--json", "scan --json": "--markdown", "scan --markdown": "-o"}[cmd]
        return [*scan, other, target, cmd.split()[1], target], None
    return [*scan, cmd.split()[1], target], None


def _node(p: Path):
    st = os.lstat(p)
    return stat.S_IFMT(st.st_mode), st.st_ino, st.st_size


CODES = (2, 5, 6, 8)


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("cmd", COMMANDS)
def test_forbidden_target_is_refused_cleanly(world, tmp_path, cmd, name):
    w = world
    case = tmp_path
    target = _target(w, cmd, name, case)
    args, creates = _args(w, cmd, target, case)
    watched = [w.keyring, w.vault, w.profile, w.in_dir, w.out_dir, w.out_file, w.report, target]
    if target.is_symlink():
        watched.append(target.resolve())
    before = {p: snapshot(p) for p in watched if p != Path("/dev/null")}
    nodes = {p: _node(p) for p in watched if os.path.lexists(p)}
    if (name, target) == ("output", case / "other.json"):
        target.write_text('{"generated": 1, "sample": 1, "columns": []}\n')
        before[target] = snapshot(target)
        nodes[target] = _node(target)
    res = invoke(*args)
    assert_clean_failure(res, codes=CODES, markers=[MARK], unchanged=before, out=creates)
    assert {p: _node(p) for p in nodes} == nodes, "a path changed type, inode or size"
    option = {"-o": "--out"}.get(cmd.split()[1], cmd.split()[1])  # scan's -o is --out
    if name == "output" and cmd.startswith("scan"):
        option = "--"  # two options on one path: either may be named
    placement = "sits inside the input or output location"  # the keyring's or vault's own check
    if res.exit_code in (6, 8):
        assert name in ("keyring", "vault", "symlink to keyring") and placement in res.stderr, res.stderr
    else:
        assert res.exit_code in (2, 5) and option in res.stderr, f"the message names {option}: {res.stderr}"
    for d in {target.parent, w.root, w.out_dir.parent}:
        if d.is_dir():
            assert not [p.name for p in d.iterdir() if p.name.startswith((".veil-tmp", ".veil-lock"))]


def test_force_never_unlocks_a_forbidden_target(world, tmp_path):
    """--force lets veil replace an unrelated file, never what it reads, a device or a link to the keyring."""
    w = world
    for name in ("keyring", "vault", "profile", "input", "/dev/null", "symlink to keyring"):
        target = _target(w, "run --report", name, tmp_path)
        args, _ = _args(w, "run --report", target, tmp_path)
        before = {p: snapshot(p) for p in (w.keyring, w.vault, w.profile, w.in_dir)}
        res = invoke(*args, "--force")
        assert_clean_failure(res, codes=CODES, markers=[MARK], unchanged=before)


@pytest.fixture(scope="module")
def names_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("odd-names")


_NAME = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1,
                max_size=40).filter(lambda n: n not in (".", "..") and not n.startswith(".veil-")
                                    and len(os.fsencode(n)) < 200)


@FUZZ
@given(name=_NAME, exists=st.sampled_from(["no", "foreign", "link-to-keyring", "dir"]))
def test_odd_report_names_are_written_or_refused_cleanly(world, names_dir, name, exists):
    """Any file name for --report: written where asked, or refused with exit 2, never a crash."""
    w = world
    case = Path(tempfile.mkdtemp(dir=names_dir))
    target = case / name
    if exists == "foreign":
        target.write_text("years of work\n")
    elif exists == "link-to-keyring":
        target.symlink_to(w.keyring)
    elif exists == "dir":
        target.mkdir()
    before = {p: snapshot(p) for p in (w.keyring, w.profile, w.in_dir, target)}
    res = invoke("run", w.in_file, "-p", w.profile, "--keyring", w.keyring, "--out", case / "o.csv", "-q",
                 "--report", target)
    if exists == "no" and name != "o.csv":
        assert res.exit_code == 0, res.stderr
        assert json.loads(target.read_text())["veil_version"]
    else:
        assert_clean_failure(res, codes=(2,), markers=[MARK], unchanged=before, out=case / "o.csv")
    assert not [p for p in case.iterdir() if p.name.startswith((".veil-tmp", ".veil-lock"))]
