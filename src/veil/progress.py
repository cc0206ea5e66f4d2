"""Progress on stderr for ``veil run`` (rows per table) and ``veil scan`` (steps).

One line, rewritten in place (carriage return + erase line), at most every
``interval`` seconds. Silent when the stream is not a terminal (CI logs, pipes,
files) or with ``--quiet``. Lines name tables and columns, never a value.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

_ERASE = "\r\x1b[2K"


class Progress:
    """``progress(table, rows)`` counts rows done per table (a run); ``progress.step(text)`` shows
    where a scan is; ``finish()`` erases the line. Both methods cost a dictionary update when silent."""

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

    def __call__(self, table: str, rows: int) -> None:
        self.done[table] = self.done.get(table, 0) + rows
        if not self._due():
            return
        total = self.totals.get(table)
        n = self.done[table]
        self._show(f"{table}: {n:,}/{total:,} rows ({100 * n // max(total, 1)}%)" if total else
                   f"{table}: {n:,} rows")

    def step(self, text: str) -> None:
        if self._due():
            self._show(text)

    def finish(self) -> None:
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
