"""Atomic output: write beside the target, move into place only on success.

A run writes into a hidden temporary directory next to the target
(``.veil-tmp-<name>-<pid>-<random>``) and swaps it in at the very end, with
``renameat2(RENAME_EXCHANGE)`` where the kernel offers it (one atomic step).
A failed run removes its temporary directory; a killed run (kill -9) leaves
it behind under the hidden name, never under the target name, and the next
run into the same place removes it once its process is gone.

Every file veil writes goes through this module:

- :func:`check_targets` is the one check of every path a command will write
  (``--out``, ``--report``, scan's ``-o/--json/--markdown``), done before any
  data is touched: a target must not be, lead to, contain or sit inside a path
  the command reads (keyring, vault, profile, input) or another of its
  outputs; it must be a regular file (a directory for directory outputs);
  an existing file veil did not write needs ``--force``.
- :func:`write_atomic` writes a small file (a report, a keyring) under a random
  temporary name created with ``O_EXCL|O_NOFOLLOW`` in the same directory,
  fsyncs it and renames it into place.
- :func:`target_lock` serialises runs into the same output (``flock`` on
  ``.veil-lock-<name>`` beside it); a second run is refused with exit 9.
- A full disk or the file-size limit becomes :class:`OutputError` (exit 9,
  "no space left while writing <path>"), after the temporary files are gone.

"Written by veil": a directory holding ``.veil-output``; a file carrying the
extended attribute ``user.veil`` with its own size and modification time (set on
everything veil writes, where the file system has user extended attributes; an
edit in place no longer matches); a JSON run report (``veil_version`` and
``tables``), a JSON scan (``generated``, ``sample``, ``columns``) or a Markdown
data map (``# Data map`` … ``by veil scan``) written by an older veil.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, OutputError, UsageError

MARKER = ".veil-output"
XATTR = "user.veil"
LOCK_PREFIX = ".veil-lock-"
TMP_PREFIX = ".veil-tmp-"
STDOUT = Path("-")  # --out -: a dump written to standard output, as it goes (not atomic)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
NO_SPACE = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


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


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(p: Path) -> None:
    """Remove a leftover: a symbolic link or a file is unlinked (never followed), a directory
    is removed with rmtree (which does not follow the links inside it)."""
    with contextlib.suppress(OSError):
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(p, ignore_errors=True)
        else:
            os.unlink(p)


def _clean_stale(target: Path) -> None:
    """Remove what dead runs into ``target`` left beside it (temporary directories or files)."""
    prefix = f"{TMP_PREFIX}{target.name}-"
    if not target.parent.is_dir():
        return
    for p in target.parent.iterdir():
        if p.name.startswith(prefix):
            try:
                pid = int(p.name[len(prefix):].split("-")[0])
            except ValueError:
                continue
            if not pid_alive(pid):
                _remove(p)


def is_no_space(exc: BaseException | None) -> bool:
    """A full disk, a quota or the file-size limit (RLIMIT_FSIZE with SIGXFSZ ignored)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def no_space(path: Path | str | None) -> OutputError:
    """The error for a full disk or the file-size limit while writing ``path`` (None: not known)."""
    return OutputError("no space left while writing the output (disk full, quota or file-size limit); "
                       "nothing was replaced", file=None if path is None else str(path),
                       hint="free some space (or raise `ulimit -f`) and run again")


# -- written by veil ---------------------------------------------------------

def _stamp_value(kind: str, st: os.stat_result) -> bytes:
    return f"veil {kind} {st.st_size} {st.st_mtime_ns}".encode()


def _stamp(fd: int, kind: str) -> None:
    """Mark a file as written by veil as ``kind`` (output, report, scan-json, data-map): an
    extended attribute holding also its size and modification time once written, so a later
    edit in place unmarks it (skipped where unsupported). Keyrings are never marked."""
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(fd, XATTR, _stamp_value(kind, os.fstat(fd)))


def _has_stamp(path: Path, kind: str) -> bool:
    try:
        return os.getxattr(path, XATTR) == _stamp_value(kind, os.stat(path))
    except (OSError, AttributeError):
        return False


def _head(path: Path, limit: int = 16 << 20) -> bytes | None:
    try:
        if path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _json_with(path: Path, keys: tuple[str, ...]) -> bool:
    data = _head(path)
    try:
        doc = json.loads(data) if data is not None else None
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and all(k in doc for k in keys)


def looks_like_report(path: Path) -> bool:
    return _json_with(path, ("veil_version", "tables"))


def looks_like_verify_report(path: Path) -> bool:
    return _json_with(path, ("report", "version", "verdict"))


def looks_like_scan_json(path: Path) -> bool:
    return _json_with(path, ("generated", "sample", "columns"))


def looks_like_data_map(path: Path) -> bool:
    data = _head(path, 1 << 16) or b""
    return data.startswith(b"# Data map\n") and b"by veil scan" in data[:4096]


def never(path: Path) -> bool:
    """For files someone may have edited by hand (a draft profile): any existing one needs --force."""
    return False


def written_by_veil(path: Path, kind: str = "output", recognise: Callable[[Path], bool] | None = None) -> bool:
    """A directory veil wrote (or an empty one), or a file veil wrote as ``kind``."""
    if path.is_dir():
        return (path / MARKER).is_file() or not any(path.iterdir())
    if recognise is never:
        return False
    return _has_stamp(path, kind) or (recognise is not None and recognise(path))


# -- the one check of every target -------------------------------------------

@dataclass
class Target:
    """A path a command will write. ``option`` names it in messages (``--report``)."""

    option: str
    path: Path | None
    is_dir: bool = False
    kind: str = "output"  # what veil marks the file as (see _stamp)
    recognise: Callable[[Path], bool] | None = None
    needs_force: str = "a file veil did not write"


def _real(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _related(a: Path, b: Path) -> str | None:
    """How target ``a`` (real path) relates to ``b`` (real path): None when unrelated."""
    if a == b:
        return "is"
    with contextlib.suppress(OSError):
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return "is"
    if b in a.parents:
        return "is inside"
    if a in b.parents:
        return "contains"
    return None


def resolve_target(path: Path, option: str) -> Path:
    """The path to write: a symbolic link is followed to what it points to (written there
    atomically; the link stays), a link pointing nowhere is refused."""
    path = Path(path)
    if path.is_symlink():
        real = _real(path)
        if not real.parent.is_dir():
            raise UsageError(f"{option} is a symbolic link that points nowhere", file=str(path),
                             hint=f"remove the link or give {option} a real path")
        return real
    return path


def check_targets(targets: Iterable[Target], *, reads: dict[str, Path | str | None],
                  force: bool = False, input_error: bool = True) -> dict[str, Path]:
    """Check every path a command writes before anything is touched; return them resolved.

    ``reads`` maps a description ("the keyring") to a path the command reads
    (``None`` and ``env:``/URL specs are skipped). Refusals are usage errors
    (exit 2) naming the option and the path, never a value; an ``--out`` that is, sits
    inside or contains ``"the input"`` stays an input error (exit 5) as it always was
    (``input_error``).
    """
    read_paths = [(what, _real(Path(p).expanduser())) for what, p in reads.items()
                  if p is not None and str(p) not in ("", "-") and "://" not in str(p)
                  and not str(p).startswith("env:")]
    done: dict[str, Path] = {}
    seen: list[tuple[str, Path]] = []
    for t in targets:
        if t.path is None or str(t.path) == "-":
            continue
        path = resolve_target(Path(t.path).expanduser(), t.option)
        real = _real(path)
        for what, rp in read_paths:
            how = _related(real, rp)
            if how:
                error = InputError if input_error and what == "the input" and t.option == "--out" else UsageError
                raise error(f"{t.option} must not be {what}, inside it, or contain it ({t.option} {how} "
                            f"{what}; veil never writes over what it reads)", file=str(t.path),
                            hint=f"give {t.option} another path")
        for opt, other in seen:
            how = _related(real, other)
            if how:
                raise UsageError(f"{t.option} {how} the path of {opt}: each output needs its own path",
                                 file=str(t.path), hint=f"give {t.option} another path")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as err:
            raise UsageError(f"{t.option} cannot be checked ({errno.errorcode.get(err.errno, 'error')})",
                             file=str(t.path), hint="check the path and its permissions") from None
        if st is not None:
            if t.is_dir:
                if not stat.S_ISDIR(st.st_mode):
                    raise UsageError(f"{t.option} exists and is {_kind(st.st_mode)}, not a directory",
                                     file=str(t.path), hint=f"choose a new directory for {t.option}")
                if not written_by_veil(path):
                    raise UsageError("the output directory is not empty and was not written by veil; "
                                     "refusing to replace it", file=str(t.path),
                                     hint=f"choose a new directory for {t.option}")
            else:
                if not stat.S_ISREG(st.st_mode):
                    raise UsageError(f"{t.option} is {_kind(st.st_mode)}: veil writes regular files only",
                                     file=str(t.path), hint=f"give {t.option} a file path")
                if not force and not written_by_veil(path, t.kind, t.recognise):
                    raise UsageError(f"{t.option} exists and is {t.needs_force}; refusing to replace it",
                                     file=str(t.path), hint="choose another path, or pass --force to replace it")
        seen.append((t.option, real))
        done[t.option] = path
    return done


# -- the lock on an output ---------------------------------------------------

_held: dict[str, list[int]] = {}  # lock file -> [fd, depth]: reentrant within one process


def lock_path(target: Path) -> Path:
    return _real(Path(target).parent) / f"{LOCK_PREFIX}{Path(target).name}"


@contextlib.contextmanager
def target_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``target`` (``flock`` on ``.veil-lock-<name>`` beside it).

    A second veil run into the same target is refused at once (exit 9). The lock
    file is removed while still locked, and a run that locked a file already
    unlinked by its previous holder tries again, so removal never lets two runs in.
    A killed run's lock file stays behind, unlocked, and is taken and removed by
    the next run.
    """
    target = Path(target)
    lp = lock_path(target)
    key = str(lp)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    lp.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(lp, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as err:
            why = "a symbolic link" if err.errno == errno.ELOOP else errno.errorcode.get(err.errno, "error")
            raise UsageError(f"the lock file of the output cannot be opened ({why})",
                             file=str(lp), hint="remove it if no veil run is writing this output") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise OutputError("another veil run is writing this output; refusing to run at the same time",
                                  file=str(target), hint="wait for the other run to finish, or choose "
                                  "another output path") from None
            raise
        try:
            same = os.stat(lp, follow_symlinks=False)
            mine = os.fstat(fd)
            if (same.st_dev, same.st_ino) == (mine.st_dev, mine.st_ino):
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed it meanwhile: lock the new one
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        _held[key][1] -= 1
        if _held[key][1] == 0:
            del _held[key]
            with contextlib.suppress(OSError):
                os.unlink(lp)
            os.close(fd)


# -- atomic outputs ----------------------------------------------------------

class AtomicOutput:
    """A temporary directory that becomes ``target`` (a directory or one file) on commit."""

    def __init__(self, target: Path, is_dir: bool):
        self.target = Path(target)
        self.is_dir = is_dir
        self.tmp: Path | None = None
        self.committed = False
        self._lock: contextlib.AbstractContextManager | None = None
        #: --out -: the sink writes to standard output as it goes; nothing to rename, and a
        #: failure leaves a partial stream (the run still exits non-zero)
        self.stream = self.target == STDOUT

    def check_target(self) -> None:
        """The type checks for library callers (the CLI has done them all, see check_targets)."""
        t = self.target
        if self.is_dir and t.exists():
            if not t.is_dir():
                raise InputError("the output path exists and is not a directory", file=str(t),
                                 hint="choose a new directory for --out")
            if not written_by_veil(t):
                raise InputError("the output directory is not empty and was not written by veil; "
                                 "refusing to replace it", file=str(t),
                                 hint="choose a new directory for --out")
        if not self.is_dir and t.exists():
            if t.is_dir():
                raise InputError("the output path is a directory", file=str(t),
                                 hint="give a file name for --out")
            if not t.is_file():
                raise InputError("the output path is not a regular file", file=str(t),
                                 hint="give a file name for --out")

    def __enter__(self) -> AtomicOutput:
        if self.stream:
            return self
        self.target = resolve_target(self.target, "--out")
        self.check_target()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._lock = target_lock(self.target)
        self._lock.__enter__()
        try:
            _clean_stale(self.target)
            self.tmp = self.target.parent / f"{TMP_PREFIX}{self.target.name}-{os.getpid()}-{secrets.token_hex(3)}"
            self.tmp.mkdir()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def path_for(self, filename: str) -> Path:
        assert self.tmp is not None
        return self.tmp / filename

    def commit(self, single_file: str | None = None) -> None:
        if self.stream:
            self.committed = True
            return
        assert self.tmp is not None
        if self.is_dir:
            (self.tmp / MARKER).write_text(json.dumps({"written_by": "veil"}) + "\n")
            _fsync_dir(self.tmp)
            if self.target.exists():
                if _exchange(self.tmp, self.target):
                    shutil.rmtree(self.tmp)  # now holds the previous output
                else:
                    old = self.target.parent / f"{TMP_PREFIX}{self.target.name}-{os.getpid()}-old"
                    os.rename(self.target, old)
                    os.rename(self.tmp, self.target)
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(self.tmp, self.target)
        else:
            assert single_file is not None
            src = self.tmp / single_file
            with contextlib.suppress(OSError):
                fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    os.fsync(fd)
                    _stamp(fd, "output")
                finally:
                    os.close(fd)
            os.replace(src, self.target)
            shutil.rmtree(self.tmp, ignore_errors=True)
        _fsync_dir(self.target.parent)
        self.committed = True

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self.committed and self.tmp is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
                self._lock = None
        if is_no_space(exc):
            raise no_space(self.target) from exc


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def write_atomic(path: Path, data: bytes, *, private: bool = False, kind: str | None = None) -> None:
    """Write a small file (a report, a keyring) atomically.

    The temporary file gets a random name in the target's directory, created with
    ``O_CREAT|O_EXCL|O_NOFOLLOW`` (:func:`tempfile.mkstemp`), so a file or link planted
    beside the target is never written through; it is fsynced, then renamed over the
    target. ``private``: mode 0600 (keyrings); otherwise the umask's usual mode. ``kind``:
    mark the file as written by veil (report, scan-json, data-map; None: unmarked). A target
    that is a symbolic link is written where the link points (the link stays).
    """
    path = resolve_target(Path(path), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}-{os.getpid()}-", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o600 if private else 0o666 & ~_umask())
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            if kind is not None:
                _stamp(fd, kind)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if is_no_space(exc):
            raise no_space(path) from None
        raise
    _fsync_dir(path.parent)
