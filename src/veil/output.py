"""Atomic output: write beside the target, move into place only on success.

A run writes into a hidden temporary directory next to the target
(``.veil-tmp-<name>-<pid>-<random>``) and swaps it in at the very end, with
``renameat2(RENAME_EXCHANGE)`` where the kernel offers it (one atomic step).
A failed run removes its temporary directory; a killed run (kill -9) leaves
it behind under the hidden name, never under the target name, and the next
run into the same place removes it once its process is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
from pathlib import Path

from .errors import InputError

MARKER = ".veil-output"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(target: Path) -> None:
    prefix = f".veil-tmp-{target.name}-"
    if not target.parent.is_dir():
        return
    for p in target.parent.iterdir():
        if p.name.startswith(prefix):
            try:
                pid = int(p.name[len(prefix):].split("-")[0])
            except ValueError:
                continue
            if not _pid_alive(pid):
                shutil.rmtree(p, ignore_errors=True)


class AtomicOutput:
    """A temporary directory that becomes ``target`` (a directory or one file) on commit."""

    def __init__(self, target: Path, is_dir: bool):
        self.target = Path(target)
        self.is_dir = is_dir
        self.tmp: Path | None = None
        self.committed = False

    def check_target(self) -> None:
        t = self.target
        if self.is_dir and t.exists():
            if not t.is_dir():
                raise InputError("the output path exists and is not a directory", file=str(t),
                                 hint="choose a new directory for --out")
            if any(t.iterdir()) and not (t / MARKER).exists():
                raise InputError("the output directory is not empty and was not written by veil; "
                                 "refusing to replace it", file=str(t),
                                 hint="choose a new directory for --out")
        if not self.is_dir and t.is_dir():
            raise InputError("the output path is a directory", file=str(t),
                             hint="give a file name for --out")

    def __enter__(self) -> AtomicOutput:
        self.check_target()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale(self.target)
        self.tmp = self.target.parent / f".veil-tmp-{self.target.name}-{os.getpid()}-{secrets.token_hex(3)}"
        self.tmp.mkdir()
        return self

    def path_for(self, filename: str) -> Path:
        assert self.tmp is not None
        return self.tmp / filename

    def commit(self, single_file: str | None = None) -> None:
        assert self.tmp is not None
        if self.is_dir:
            (self.tmp / MARKER).write_text(json.dumps({"written_by": "veil"}) + "\n")
            _fsync_dir(self.tmp)
            if self.target.exists():
                if _exchange(self.tmp, self.target):
                    shutil.rmtree(self.tmp)  # now holds the previous output
                else:
                    old = self.target.parent / f".veil-old-{self.target.name}-{os.getpid()}"
                    os.rename(self.target, old)
                    os.rename(self.tmp, self.target)
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(self.tmp, self.target)
        else:
            assert single_file is not None
            os.replace(self.tmp / single_file, self.target)
            shutil.rmtree(self.tmp, ignore_errors=True)
        _fsync_dir(self.target.parent)
        self.committed = True

    def __exit__(self, *exc) -> None:
        if not self.committed and self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a small file (a report) via a temporary name and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
