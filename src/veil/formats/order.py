"""Row order: a table's rows written in a keyed pseudo-random order (``row_order: shuffle``).

Why: an output that keeps its input's row order links by position. Row 1,234 of a copy is row
1,234 of the original, and of any other copy made with another key, so every pseudonym is undone
by counting. A shuffled output's positions say nothing about the input's.

How, streaming with bounded memory:

- every row gets a 64-bit sort key from a keystream: AES-256-CTR (the ``cryptography`` library)
  under the table's subkey ``keys.subkey("row_order", table)``, 8 bytes per row in input order.
  Rows sorted by their sort key are a uniformly random permutation to anyone without the key;
  the same input and key give the same order (refreshes stay comparable), another key an
  unrelated one.
- while the table's rows fit in ``MEMORY_BYTES`` they are held and sorted at the end;
- beyond that, each row is routed to one of ``BUCKETS`` spill files by its sort key's top bits
  (Arrow IPC streams, 0600, in a private 0700 directory inside the output's temporary
  directory). At the end each bucket is read, sorted by the sort key and written, bucket after
  bucket. Sorting by the top bits and then by the full key is sorting by the key: the spilled
  order is the in-memory order, row for row. One bucket holds about 1/BUCKETS of the table.

A bounded window shuffle alone is not enough: a row leaves its window at most a window's length
from where it came in, so position still links a copy to its input to within a window.

The spill directory is removed when the table is written, and on failure (``discard``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..dataset import Writer

#: A table's rows held in memory (Arrow bytes) before they spill to bucket files.
MEMORY_BYTES = 256 << 20
#: Bucket files of a table that spills (the sort key's top bits). About 1/BUCKETS of the table is
#: in memory at once while the buckets are written.
BUCKET_BITS = 8
BUCKETS = 1 << BUCKET_BITS
#: Rows per batch handed to the output's writer.
WRITE_ROWS = 65_536
ORDER_PURPOSE = "row_order"
_SORT = "__veil_row_order"


def keystream(key: bytes) -> Any:
    """A table's keystream of sort keys: AES-256-CTR under its subkey, from counter 0."""
    return Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()


def permutation(key: bytes, rows: int) -> np.ndarray:
    """The keyed order of a table of ``rows`` rows held whole (as :class:`ShuffleWriter` writes it):
    the row indices sorted by their sort keys."""
    keys = np.frombuffer(keystream(key).update(bytes(8 * rows)), dtype="<u8")
    return np.argsort(keys, kind="stable")


class ShuffleWriter:
    """A table's writer that writes its rows in the keyed order when it is closed (see the module).

    ``writer``: the format's writer (write, close); ``key``: 32 bytes, the table's subkey;
    ``spill_parent``: where the private spill directory goes (the output's temporary directory);
    ``stream``: a keystream to continue (a table written in several parts), else a new one;
    ``memory_bytes``: rows held before they spill (default :data:`MEMORY_BYTES`)."""

    def __init__(self, writer: Writer, key: bytes, spill_parent: Path, stream: Any = None,
                 memory_bytes: int | None = None):
        self.writer = writer
        self.memory_bytes = MEMORY_BYTES if memory_bytes is None else memory_bytes
        self.stream = stream if stream is not None else keystream(key)
        self.spill_parent = Path(spill_parent)
        self.held: list[pa.RecordBatch] = []
        self.sort_keys: list[np.ndarray] = []
        self.held_bytes = 0
        self.spill_dir: Path | None = None
        self.buckets: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self._files: dict[int, object] = {}
        self.rows = 0

    @property
    def spilled(self) -> bool:
        return self.spill_dir is not None

    def _keys(self, n: int) -> np.ndarray:
        return np.frombuffer(self.stream.update(bytes(8 * n)), dtype="<u8")

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        keys = self._keys(batch.num_rows)
        self.rows += batch.num_rows
        if self.spilled:
            self._route(batch, keys)
            return
        self.held.append(batch)
        self.sort_keys.append(keys)
        self.held_bytes += batch.nbytes
        if self.held_bytes > self.memory_bytes:
            self.spill_dir = Path(tempfile.mkdtemp(prefix=".veil-row-order-", dir=self.spill_parent))
            held, keys_held = self.held, self.sort_keys
            self.held, self.sort_keys, self.held_bytes = [], [], 0
            for b, k in zip(held, keys_held, strict=True):
                self._route(b, k)

    def _route(self, batch: pa.RecordBatch, keys: np.ndarray) -> None:
        """Each row to its bucket's file, with its sort key (one take, then a slice per bucket)."""
        bucket = (keys >> np.uint64(64 - BUCKET_BITS)).astype(np.intp)
        order = np.argsort(bucket, kind="stable")
        counts = np.bincount(bucket, minlength=BUCKETS)
        rows = batch.take(pa.array(order)).append_column(_SORT, pa.array(keys[order]))
        start = 0
        for b in np.flatnonzero(counts):
            n = int(counts[b])
            self._bucket(int(b), rows.schema).write_batch(rows.slice(start, n))
            start += n

    def _bucket(self, b: int, schema: pa.Schema) -> pa.ipc.RecordBatchStreamWriter:
        w = self.buckets.get(b)
        if w is None:
            assert self.spill_dir is not None
            fd = os.open(self.spill_dir / f"{b:03d}.arrows", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            f = self._files[b] = os.fdopen(fd, "wb")
            w = self.buckets[b] = pa.ipc.new_stream(f, schema)
        return w

    def _emit(self, table: pa.Table, keys: np.ndarray) -> None:
        perm = np.argsort(keys, kind="stable")
        for b in table.take(pa.array(perm)).to_batches(max_chunksize=WRITE_ROWS):
            self.writer.write(b)

    def _close_buckets(self) -> None:
        for w in self.buckets.values():
            w.close()
        for f in self._files.values():
            f.close()  # type: ignore[attr-defined]
        self.buckets, self._files = {}, {}

    def close(self) -> None:
        """Write every row in the keyed order, then close the format's writer; the spill files go."""
        try:
            if not self.spilled:
                if self.held:
                    self._emit(pa.Table.from_batches(self.held), np.concatenate(self.sort_keys))
                self.held, self.sort_keys = [], []
            else:
                self._close_buckets()
                assert self.spill_dir is not None
                for b in range(BUCKETS):
                    path = self.spill_dir / f"{b:03d}.arrows"
                    if not path.exists():
                        continue
                    with pa.memory_map(str(path)) as src:
                        table = pa.ipc.open_stream(src).read_all()
                    keys = table.column(_SORT).to_numpy()
                    self._emit(table.drop_columns([_SORT]), keys)
                    del table
                    path.unlink()
            self.writer.close()
        finally:
            self._remove()

    def discard(self) -> None:
        """After a failure: no rows written, the spill files removed, the format's writer closed."""
        self.held, self.sort_keys = [], []
        try:
            self._close_buckets()
        finally:
            self._remove()
            self.writer.close()

    def _remove(self) -> None:
        if self.spill_dir is not None:
            shutil.rmtree(self.spill_dir, ignore_errors=True)
            self.spill_dir = None
