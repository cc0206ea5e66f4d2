"""Progress on stderr for ``veil run`` (rows per table) and ``veil scan`` (steps).

One line, rewritten in place (carriage return + erase line), at most every
``interval`` seconds. Silent when the stream is not a terminal (CI logs, pipes,
files) or with ``--quiet``. Lines name tables and columns, never a value.

Where the input's size is known the line shows a percentage and an ETA: from
the table's row count (Parquet), else from the bytes its source has read
(``bytes_read``: a CSV file per table, a SQL dump for the whole input). The
ETA is the elapsed time of the table (or of the dump) scaled by what is left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

_ERASE = "\r\x1b[2K"
WHOLE_INPUT = ""  # bytes_read's name for an input that holds every table (a dump)

_listening: Progress | None = None  # the shown Progress that sources report bytes read to


def bytes_read(name: str, done: int, total: int | None) -> None:
    """A source has read ``done`` of the ``total`` bytes of table ``name``'s file (or of the whole
    input: ``WHOLE_INPUT``). Costs one test when no progress line is shown."""
    if _listening is not None and total:
        _listening.read(name, done, total)


def listening() -> bool:
    """Whether bytes_read is heard (a source may skip measuring otherwise)."""
    return _listening is not None


def eta(seconds: float) -> str:
    """'0:07', '12:34', '1:02:03'."""
    s = max(0, int(seconds + 0.5))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class Progress:
    """``progress(table, rows)`` counts rows done per table (a run); ``progress.step(text)`` shows
    where a scan is; ``finish()`` erases the line. Both methods cost a dictionary update when silent.
    While shown, it hears the bytes sources read (``bytes_read``) for a percentage and an ETA."""

    def __init__(self, totals: dict[str, int | None] | None = None, *, quiet: bool = False,
                 stream: TextIO | None = None, interval: float = 0.2,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and _is_tty(self.stream)
        self.totals = totals or {}
        self.done: dict[str, int] = {}
        self.interval = interval
        self.clock = clock
        self.last = 0.0
        self.shown = False
        self.bytes: dict[str, tuple[int, int]] = {}  # table (or WHOLE_INPUT) -> (bytes read, size)
        self.started: dict[str, float] = {}  # when each table (or the whole input) started
        self.previous = clock()  # the last event: a new table started then
        if self.enabled:
            global _listening
            _listening = self

    def __call__(self, table: str, rows: int) -> None:
        self.done[table] = self.done.get(table, 0) + rows
        if not self.enabled:
            return
        self._start(table)
        if not self._due():
            return
        total = self.totals.get(table)
        n = self.done[table]
        if total:
            self._show(f"{table}: {n:,}/{total:,} rows ({self._share(table, n / total)})")
        elif table in self.bytes or WHOLE_INPUT in self.bytes:
            key = table if table in self.bytes else WHOLE_INPUT
            done, size = self.bytes[key]
            self._show(f"{table}: {n:,} rows ({'dump ' if key == WHOLE_INPUT else ''}"
                       f"{self._share(key, done / size)})")
        else:
            self._show(f"{table}: {n:,} rows")

    def read(self, name: str, done: int, total: int) -> None:
        """``bytes_read`` for this progress line: ``done`` of ``total`` bytes of ``name``'s input."""
        self._start(name)
        self.bytes[name] = (min(done, total), total)

    def _start(self, key: str) -> None:
        now = self.clock()
        if key not in self.started:
            self.started[key] = self.previous
        self.previous = now

    def _share(self, key: str, fraction: float) -> str:
        """'42%', with ', ETA 1:05' once some time has passed."""
        fraction = min(max(fraction, 0.0), 1.0)
        text = f"{int(100 * fraction)}%"
        elapsed = self.clock() - self.started.get(key, self.clock())
        if 0 < fraction < 1 and elapsed > 0:
            text += f", ETA {eta(elapsed * (1 - fraction) / fraction)}"
        return text

    def step(self, text: str) -> None:
        if self._due():
            self._show(text)

    def finish(self) -> None:
        global _listening
        if _listening is self:
            _listening = None
        if self.shown:
            self._write(_ERASE)
            self.shown = False

    def _due(self) -> bool:
        if not self.enabled:
            return False
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True

    def _show(self, text: str) -> None:
        self._write(_ERASE + text)
        self.shown = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal or stream: progress is not worth failing for
            self.enabled = False


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
