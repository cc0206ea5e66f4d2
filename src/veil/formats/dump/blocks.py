"""A dump's text for the lexer, and its COPY data read in blocks rather than line by line.

Most of a pg_dump is COPY rows. Handing them to Python one line at a time (decode, a tuple, an
encode per line) cost more than everything else the main process does with a table nobody
transforms. :func:`copy_chunks` reads the text a megabyte at a time, encodes it once, and finds
row ends and the ``\\.`` terminator with bytes searches and numpy: each chunk it yields holds
whole rows, at most ``max_rows`` of them, as the bytes the lines would have joined to.

:class:`TextSource` is what the :class:`~veil.formats.dump.lexer.Scanner` reads: a text file (or
any iterator of lines) plus text handed back (what followed a block's terminator in the last block
read), served first, as lines.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import islice
from typing import Any

import numpy as np

BLOCK_CHARS = 1 << 20
_TERM = b"\\."


class TextSource:
    """Lines of a dump (universal newlines, line ends kept, as a text file with ``newline=""``
    gives them), and blocks of its text (:meth:`read`), from a file or any iterator of lines."""

    def __init__(self, lines: Iterator[str] | Any):
        self._it = iter(lines)
        self._read = getattr(lines, "read", None)
        self._head: io.StringIO | None = None

    def __iter__(self) -> TextSource:
        return self

    def __next__(self) -> str:
        if self._head is not None:
            line = self._head.readline()
            if line:
                at_end = self._head.tell() == len(self._head.getvalue())
                if at_end and not line.endswith("\n"):  # the block ended inside this line (or between
                    self._head = None                    # a CR and its LF): the line's rest
                    nxt = next(self._it, "")
                    if not line.endswith("\r"):
                        return line + nxt
                    if nxt.startswith("\n"):
                        line, nxt = line + "\n", nxt[1:]
                    if nxt:
                        self._head = io.StringIO(nxt, newline="")
                return line
            self._head = None
        return next(self._it)

    def lines(self) -> Iterator[str]:
        """The lines from here on, the file's iterated directly once the handed-back text is used."""
        while self._head is not None:
            line = next(self, None)
            if line is None:
                return
            yield line
        for line in self._it:  # (not ``yield from``: closing this generator would close the file)
            yield line

    def read_bytes(self, n: int) -> bytes:
        """About ``n`` bytes of the text as UTF-8 (fewer at a seam; a character may be cut, which
        surrogateescape turns back into the same bytes), b"" at the end. Straight from the file when
        it is binary (veil.db's pipes: no decoding and encoding again)."""
        if self._head is not None:
            text = self._head.read(n)
            if text:
                return _enc(text)
            self._head = None
        read_bytes = getattr(self._it, "read_bytes", None)
        if read_bytes is not None:
            return read_bytes(n)
        if self._read is not None:
            return _enc(self._read(n))
        return _enc("".join(islice(self._it, max(1, n // 64))))

    def hand_back(self, data: bytes) -> None:
        """What was read past a block's end: served again before the file's next line."""
        if data:
            rest = self._head.read() if self._head is not None else ""
            self._head = io.StringIO(data.decode("utf-8", "surrogateescape") + rest, newline="")


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dec(data: bytes | str) -> str:
    return data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data


class Chain:
    """One text stream made of ``parts``, an iterator of strings (any text: lines or pieces) and text
    or binary (UTF-8) files, read in blocks, in order: what a live database source hands the lexer (veil.db). The
    iterator is resumed only once a part is used up, so a generator can clean up after its file."""

    def __init__(self, parts: Iterator[Any], file: Any = None):
        self.buffer = file  # the one file under it, if any (how far it has been read: progress)
        self._parts = iter(parts)
        self._cur: Any = None
        self._split: list[str] = []  # the rest of a binary line a lone CR split

    def _current(self) -> Any:
        while self._cur is None:
            part = next(self._parts, None)
            if part is None:
                return None
            self._cur = io.StringIO(part, newline="") if isinstance(part, str) else part
        return self._cur

    def __iter__(self) -> Chain:
        return self

    def close(self) -> None:
        close = getattr(self._parts, "close", None)
        if close is not None:
            close()

    def __next__(self) -> str:
        if self._split:
            return self._split.pop(0)
        while (cur := self._current()) is not None:
            line = cur.readline()
            if line:
                line = _dec(line)
                if "\r" in line.rstrip("\r\n"):  # a lone CR ends a line too, as in a text file with
                    # newline="" and for PostgreSQL's lexer (a "-- comment\rINSERT ..." is two lines)
                    self._split = io.StringIO(line, newline="").readlines()
                    return self._split.pop(0)
                return line
            self._cur = None
        raise StopIteration

    def read_bytes(self, n: int) -> bytes:
        if self._split:
            text, self._split = "".join(self._split), []
            return _enc(text)
        while (cur := self._current()) is not None:
            data = cur.read(n)
            if data:
                return data if isinstance(data, bytes) else _enc(data)
            self._cur = None
        return b""


def line_ends(data: bytes | bytearray, stop: int | None = None) -> np.ndarray:
    """The offsets of the newlines in ``data`` (up to ``stop``)."""
    return np.flatnonzero(np.frombuffer(data, np.uint8, count=len(data) if stop is None else stop) == 10)


def _terminator(buf: bytes, eof: bool, frm: int) -> tuple[int, int] | int | None:
    """Where the ``\\.`` line is in ``buf`` (which starts at a line start), looking from ``frm`` on:
    (start, end) of the line; None when there is none; an int (where to look again) when one may
    start at the end of ``buf`` but its line is not complete yet."""
    pos = 0 if frm == 0 and buf.startswith(_TERM) else buf.find(b"\n" + _TERM, frm) + 1
    while pos > 0 or (pos == 0 and buf.startswith(_TERM)):
        end = buf.find(b"\n", pos)
        if end < 0 and not eof:
            return max(0, pos - 1)
        stop = len(buf) if end < 0 else end + 1
        if buf[pos:stop].rstrip(b"\r\n") == _TERM:
            return pos, stop
        nxt = buf.find(b"\n" + _TERM, pos)
        if nxt < 0:
            return None
        pos = nxt + 1
    return None


def copy_chunks(source: TextSource, max_rows: int, first_line: int) -> Iterator[tuple[int, bytes, int]]:
    """A COPY block's rows from ``source`` (positioned after its COPY statement), as (line number of
    the chunk's first row, its rows' bytes, how many rows), up to its terminator. Returns the
    terminator line (as text), or None when the text ended first (the caller reports the cut dump);
    what followed the terminator in the last block read is handed back to ``source``."""
    buf = bytearray()  # (grown in place: a bytes concatenation copied it all for every block)
    newlines = 0  # in buf
    frm = 0  # where the terminator search goes on from
    line = first_line
    eof = False
    while True:
        term = _terminator(buf, eof, frm)
        found = isinstance(term, tuple)
        if not found:
            frm = term if isinstance(term, int) else max(0, len(buf) - 2)
            if not eof and newlines < max_rows:
                block = source.read_bytes(BLOCK_CHARS)
                if block:
                    buf += block
                    newlines += block.count(b"\n")
                else:
                    eof = True
                continue
        stop = term[0] if found else (len(buf) if eof else buf.rfind(b"\n") + 1)
        ends = line_ends(buf, stop)
        start = 0
        for k in range(max_rows - 1, len(ends), max_rows):
            cut = int(ends[k]) + 1
            yield line, bytes(buf[start:cut]), max_rows
            line += max_rows
            start = cut
        if found or eof:
            left = len(ends) - (len(ends) // max_rows) * max_rows
            if start < stop:
                rows = left + (0 if buf[stop - 1:stop] == b"\n" else 1)
                yield line, bytes(buf[start:stop]), rows
                line += rows
            if not found:
                return None
            source.hand_back(bytes(buf[term[1]:]))
            return bytes(buf[term[0]:term[1]]).decode("utf-8", "surrogateescape")
        del ends
        del buf[:start]
        newlines = buf.count(b"\n")
        frm = max(0, frm - start)
