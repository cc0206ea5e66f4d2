"""row_order: shuffle for a SQL dump output: each data block's rows written back in a keyed order.

A dump keeps its text; only the order of the rows inside each data block changes. A *block* is what
the dump holds between two pieces of other text: one COPY block (PostgreSQL), or one run of INSERT
statements of a table (mysqldump's extended INSERTs, pg_dump --inserts). Rows never move between
blocks: a partition's rows stay in its own COPY block (the partition constraint holds on restore),
and the statements around the data (LOCK TABLES, DISABLE KEYS, setval) stay where they are.

Each block's rendered rows (COPY lines, INSERT tuples) go through :class:`veil.formats.order.
ShuffleWriter` as a one-column Arrow table, so the order and its bounded memory (held in memory up
to a limit, :data:`MEMORY_BYTES`, then spilled to keyed buckets) are the table files' (see that
module): the same rows in the same order whether a block spilled or not. The sort keys
come from one AES-CTR keystream per table under ``keys.subkey("row_order", table)``, continued from
block to block, so two blocks of one table (partitions) are not put in the same order.

INSERT rows are framed again as statements with the block's first statement's head (``INSERT INTO
`t` VALUES ``) and tail (``;``), each statement no longer (in bytes) and with no more rows than
the block's longest statement: what the server accepted from the original dump (max_allowed_packet)
it accepts from the copy, and a dump with one row per INSERT keeps one row per INSERT.

Restoring a shuffled block assumes the dump's tools' usual order of constraints: pg_dump adds
foreign keys after the data, mysqldump sets FOREIGN_KEY_CHECKS=0. A hand-written dump with an
inline self-referencing foreign key checked row by row may fail to restore (a child before its
parent): keep its order (``--row-order keep``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import order
from ..order import ShuffleWriter

_ROW = "row"
#: A block's rendered rows held in memory before they spill to bucket files. Lower than the table
#: files' limit: a dump's rows are written by the main process after the block's last batch, while
#: the workers wait; routing rows to buckets as they come spreads that work over the run (100 MB
#: pg_dump, bench/bench_row_order.py: 1.38x a run without shuffle held in memory, 1.02x spilled).
MEMORY_BYTES = 16 << 20


@dataclass
class Rows:
    """A batch's rendered rows for a shuffled block: ``rows`` (binary: a COPY line without its newline,
    or an INSERT tuple), and for INSERTs the statement framing (``head`` … ``tail``, bounds)."""

    rows: pa.Array
    head: bytes | None = None
    tail: bytes = b""
    sep: bytes = b","  # between two rows of a statement (mysqldump: ",", MariaDB's: ",\n")
    max_bytes: int = 0
    max_rows: int = 0


class _Frame:
    """Writes a block's sorted rows (ShuffleWriter's format writer): COPY lines, or INSERTs."""

    def __init__(self, write: Callable[[bytes], None], rows: Rows):
        self.out, self.head, self.tail, self.sep = write, rows.head, rows.tail, rows.sep
        self.max_bytes, self.max_rows = 0, 1
        self.pending: list[bytes] = []
        self.size = 0

    def bound(self, rows: Rows) -> None:
        self.max_bytes = max(self.max_bytes, rows.max_bytes)
        self.max_rows = max(self.max_rows, rows.max_rows)

    def write(self, batch: pa.RecordBatch) -> None:
        rows = batch.column(0).to_pylist()
        if self.head is None:
            self.out(b"\n".join(rows) + b"\n")
            return
        fixed = len(self.head) + len(self.tail)
        for r in rows:
            if self.pending and (len(self.pending) >= self.max_rows
                                 or fixed + self.size + len(self.sep) + len(r) > self.max_bytes):
                self._flush()
            self.pending.append(r)
            self.size += len(r) + (len(self.sep) if len(self.pending) > 1 else 0)

    def _flush(self) -> None:
        if self.pending:
            self.out(self.head + self.sep.join(self.pending) + self.tail)  # type: ignore[operator]
            self.pending, self.size = [], 0

    def close(self) -> None:
        self._flush()


class BlockShuffle:
    """The shuffled blocks of one dump output: ``add`` a batch's rows, ``flush`` at the block's end
    (any text after it, or the end of the dump), ``discard`` after a failure."""

    def __init__(self, order: Callable[[str], bytes], write: Callable[[bytes], None], spill_parent: Path | None):
        self.order, self.write = order, write
        self.spill_parent = spill_parent if spill_parent is not None else Path(tempfile.gettempdir())
        self.streams: dict[str, Any] = {}  # table -> its keystream, continued from block to block
        self.block: tuple[str, bytes | None] | None = None
        self.shuffler: ShuffleWriter | None = None
        self.frame: _Frame | None = None

    def add(self, table: str, rows: Rows) -> None:
        if self.block != (table, rows.head):  # another table, or INSERTs with another column list
            self.flush()
            self.block = (table, rows.head)
            self.frame = _Frame(self.write, rows)
            self.shuffler = ShuffleWriter(self.frame, self.order(table), self.spill_parent, self.streams.get(table),
                                          memory_bytes=min(MEMORY_BYTES, order.MEMORY_BYTES))
            self.streams[table] = self.shuffler.stream
        assert self.frame is not None and self.shuffler is not None
        self.frame.bound(rows)
        if len(rows.rows):
            self.shuffler.write(pa.record_batch([rows.rows], names=[_ROW]))

    def flush(self) -> None:
        shuffler, self.shuffler, self.block, self.frame = self.shuffler, None, None, None
        if shuffler is not None:
            shuffler.close()

    def discard(self) -> None:
        shuffler, self.shuffler, self.block, self.frame = self.shuffler, None, None, None
        if shuffler is not None:
            shuffler.discard()
