"""Shared checks for the adversarial suite.

Every hostile input is seeded with *markers*: unique strings that must never
appear in anything veil writes (stdout, stderr, output files, reports) unless
the column they sit in is kept on purpose. A failure must be clean: an
expected exit code (never 0 for a refused input, never 1 which is an internal
error), no traceback, no partial output, and every earlier file untouched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from veil.cli import main

#: hypothesis settings for fuzz tests; VEIL_FUZZ_EXAMPLES raises the budget for long runs.
FUZZ = settings(
    max_examples=int(os.environ.get("VEIL_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=os.environ.get("VEIL_FUZZ_RANDOM") != "1",
)


def marker(i: int) -> str:
    """A unique marker: letters and digits only, so every format keeps it intact."""
    return f"Zq{i:04d}vEiLmArK"


def run_veil(*args, env: dict | None = None, cwd: Path | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m veil ARGS`` in a subprocess, text mode."""
    full_env = dict(os.environ)
    full_env.pop("VEIL_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "veil", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)


class Result:
    """What one in-process invocation gave (same fields for both runners)."""

    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code = self.returncode = exit_code
        self.stdout = stdout
        self.stderr = stderr


def invoke(*args, env: dict | None = None) -> Result:
    """The CLI in-process (fast enough for hypothesis loops)."""
    r = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)
    code = r.exit_code
    stderr = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        # an exception escaped the CLI's handler: that is a crash, report it as exit 1
        code = 1
        stderr += f"\nTraceback (escaped): {type(r.exception).__name__}"
    return Result(code, r.stdout, stderr)


def snapshot(path: Path) -> dict[str, str]:
    """sha256 of a file, or of every file under a directory, keyed by relative path."""
    path = Path(path)
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    out: dict[str, str] = {}
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(path))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _texts(items: Iterable) -> Iterable[tuple[str, bytes]]:
    for item in items:
        if isinstance(item, Path):
            if item.is_file():
                yield str(item), item.read_bytes()
            elif item.is_dir():
                for p in item.rglob("*"):
                    if p.is_file() and not p.is_symlink():
                        yield str(p), p.read_bytes()
        elif isinstance(item, bytes):
            yield "<bytes>", item
        elif item is not None:
            yield "<text>", str(item).encode("utf-8", "surrogateescape")


def assert_no_marker(markers: Iterable[str], *paths_or_texts) -> None:
    """No marker appears in any text given or any file under any path given."""
    marks = [m.encode() for m in markers]
    for where, data in _texts(paths_or_texts):
        for m in marks:
            assert m not in data, f"marker {m.decode()} leaked into {where}"


def assert_clean_failure(result, *, codes: Iterable[int], markers: Iterable[str] = (),
                         paths: Iterable[Path] = (), unchanged: dict | None = None,
                         out: Path | None = None) -> None:
    """A refused input: expected exit code, no traceback, no leak, no partial output."""
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    codes = tuple(codes)
    assert code in codes, f"exit {code}, expected one of {codes}; stderr: {result.stderr[-2000:]}"
    assert code not in (0, 1), "a refused input must not exit 0 or 1"
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in (stream or ""), f"traceback shown: {stream[-2000:]}"
    markers = list(markers)
    assert_no_marker(markers, result.stdout, result.stderr, *[Path(p) for p in paths])
    for path, before in (unchanged or {}).items():
        assert snapshot(Path(path)) == before, f"{path} changed"
    if out is not None:
        out = Path(out)
        left = [p.name for p in out.parent.glob(f".veil-tmp-{out.name}-*")] if out.parent.is_dir() else []
        assert not left, f"temporary output left beside {out}: {left}"
        if unchanged is None or out not in {Path(p) for p in unchanged}:
            assert not out.exists(), f"{out} was created by a failed run"


def invoke_input(*args, input: bytes, env: dict | None = None) -> Result:
    """The CLI in-process with ``input`` as standard input (``veil run -``)."""
    r = CliRunner().invoke(main, [str(a) for a in args], input=input, env=env, catch_exceptions=True)
    code, stderr = r.exit_code, r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        code = 1
        stderr += f"\nTraceback (escaped): {type(r.exception).__name__}"
    return Result(code, r.stdout, stderr)
