"""Tables of files as a run's source and sink: a directory of CSV/Parquet files (or one file) is
read table by table, and written one file per table."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..dataset import Batch, Begin, Dataset, End, Item, Table, Target
from ..errors import InputError, OutputError
from . import FORMATS
from .order import ShuffleWriter
from .partitions import refuse_partition_rules
from .typed import SAMPLE_ROWS, OutputTypes, Source, infer_types, output_types


def check_paths(dataset: Dataset, out: Path) -> None:
    src, dst = dataset.root.resolve(), out.resolve()
    if src == dst or src in dst.parents or (dataset.is_dir and dst in src.parents):
        raise InputError("the output must not be the input, inside it, or contain it",
                         file=str(out), hint="choose an output path outside the input")


def output_name(table: Table, fmt: str | None) -> str:
    if fmt is None or fmt == table.format:
        return table.path.name
    return table.name + FORMATS[fmt].extensions[0]


class FileSource:
    """The tables of a dataset of files, in the plan's order (referenced tables first)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.names = [t.name for t in dataset.tables]

    def items(self, plan: Any, batch_size: int, forgotten: dict[str, frozenset[bytes]]) -> Iterator[Item]:
        by_name = {t.name: t for t in self.dataset.tables}
        for name in plan.order():
            if name in plan.omitted:  # a subset's others: omit (veil.subset): not read, not written
                continue
            table, tplan = by_name[name], plan.tables[name]
            # an operator whose values are costly (scrub: milliseconds per distinct text) asks for
            # smaller batches, which keep every worker busy
            size = min([batch_size] + [c.operator.batch_size for c in tplan.columns if c.operator.batch_size])
            yield Begin(name, table.num_rows, str(table.path), table.num_rows is None or table.num_rows > size)
            for values in table.batches(size):
                yield Batch(values)
            yield End(name)


class BackgroundWriter:
    """A format's writer run in a thread of its own: Arrow's Parquet and CSV writers release the GIL
    while they encode, compress and write, so the main process meanwhile takes the next results
    and, with a vault, seals and stores records. Batches are written in order; at most ``depth``
    wait. An error of the writer is raised by the next ``write`` or by ``close``. ``typing``: each
    batch is first cast to the typed output schema (in the thread too)."""

    def __init__(self, writer, depth: int = 4, typing: OutputTypes | None = None):
        self._writer = writer
        self._typing = typing if typing is not None and not typing.identity else None
        self._queue: queue.Queue = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="veil-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                batch, first_row, kept = item
                try:
                    if self._typing is not None:
                        batch = self._typing.cast(batch, first_row, kept)
                    self._writer.write(batch)
                except BaseException as exc:  # handed to the main thread
                    self._error = exc

    def write(self, batch: pa.RecordBatch, first_row: int = 0, kept: pa.Array | None = None) -> None:
        """``first_row``, ``kept``: where the batch's rows are in the table's input (for an error's row)."""
        if self._error is not None:
            raise self._error
        self._queue.put((batch, first_row, kept))

    def wrap(self, wrapper: Callable[[Any], Any]) -> None:
        """Put ``wrapper(writer)`` between the cast and the format's writer (before the first write):
        veil.formats.order's ShuffleWriter."""
        self._writer = wrapper(self._writer)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
        finally:
            if self._error is not None and hasattr(self._writer, "discard"):
                self._writer.discard()  # a shuffled table that failed: its held rows are not written
            else:
                self._writer.close()

    def abort(self) -> None:
        """Stop after a failure elsewhere: what is queued is not written (a shuffle's rows neither)."""
        if self._error is None:
            self._error = OutputError("the run stopped before this table was written")
        self.close()


Opener = Callable[[Path], BackgroundWriter]
#: a table's source types (veil.formats.typed), asked when its file is opened
Sources = Callable[[], dict[str, Source]]
CSV_HINT = "declare `type: string` for this column in the profile, or run with --csv-types string"


def file_sources(table: Table) -> dict[str, Source]:
    """The source types of a table of files: inferred from its first SAMPLE_ROWS rows when its format
    asks for it and offers a sample (``options["types"] == "infer"``: a CSV file read as text)."""
    sample = table.options.get("sample")
    if table.options.get("types") != "infer" or sample is None:
        return {}
    return infer_types(sample(SAMPLE_ROWS))


def table_writer(fmt: str, path: Path, tplan: Any, source: Table | None, sources: Sources,
                 file: str | None, hint: str) -> BackgroundWriter:
    """The writer of one output table: a format that declares ``typed`` (Parquet) gets the typed
    output schema (veil.formats.typed) and each batch cast to it; any other the plan's schema."""
    out = FORMATS[fmt]
    typing = output_types(tplan, sources(), file, hint) if getattr(out, "typed", False) else None
    schema = typing.schema if typing is not None else tplan.out_schema
    return BackgroundWriter(out.writer(path, schema, source), typing=typing)


class TableFilesSink:
    """One file per table: ``files`` maps each table to its file name and how to open its writer.
    A table without rows still gets its file (with its schema). ``single``: the one file of a
    one-file output (None: a directory)."""

    takes_text = False

    def __init__(self, files: dict[str, tuple[str, Opener]], single: str | None = None):
        self.files = files
        self.single = single
        self.is_dir = single is None
        self.writers: dict[str, BackgroundWriter] = {}
        self.rows: dict[str, int] = {}  # input rows of each table so far (an error's row number)
        self.done: set[str] = set()
        self.target: Target | None = None
        # row_order: shuffle (veil.formats.order): the table's subkey for its rows' order
        self.order: Callable[[str], bytes] | None = None

    @classmethod
    def for_dataset(cls, dataset: Dataset, plan: Any, fmt: str | None) -> TableFilesSink:
        """The files of a run of a dataset of files: same names, or the new format's extension."""
        def opener(table: Table) -> Opener:
            return lambda path: table_writer(fmt or table.format, path, plan.tables[table.name], table,
                                             lambda: file_sources(table), str(table.path), CSV_HINT)

        files = {t.name: (output_name(t, fmt), opener(t)) for t in dataset.tables}
        return cls(files, None if dataset.is_dir else output_name(dataset.tables[0], fmt))

    def open(self, target: Target) -> None:
        self.target = target

    def begin(self, table: str) -> None:
        if table not in self.writers and table in self.files:
            assert self.target is not None
            name, opener = self.files[table]
            path = self.target.path_for(name)
            writer = self.writers[table] = opener(path)
            if self.order is not None:
                key = self.order(table)
                writer.wrap(lambda w: ShuffleWriter(w, key, path.parent))

    def write(self, table: str, batch: pa.RecordBatch, kept: pa.Array | None, carry: Any) -> None:
        first = self.rows.get(table, 0)
        self.rows[table] = first + (len(kept) if kept is not None else batch.num_rows)
        self.writers[table].write(batch, first, kept)

    def text(self, data: bytes) -> None:
        """Table files have no place for a dump's text."""

    def end(self, table: str) -> None:
        writer = self.writers.pop(table, None)
        self.done.add(table)
        if writer is not None:
            writer.close()

    def close(self) -> str | None:
        for table in self.files:
            if table not in self.done:
                self.begin(table)
                self.end(table)
        return self.single

    def abort(self) -> None:
        writers, self.writers = self.writers, {}
        for writer in writers.values():
            with contextlib.suppress(Exception):  # closing after a failure; the first error is what matters
                writer.abort()


def file_run(plan: Any, dataset: Dataset, out: Path, fmt: str | None) -> tuple[FileSource, TableFilesSink, Path]:
    """The source, sink and output path of a run of a dataset of files."""
    if not dataset.is_dir and out.is_dir():
        out = out / output_name(dataset.tables[0], fmt)
    check_paths(dataset, out)
    for t in dataset.tables:  # a partition column's values are folder names: only keep
        refuse_partition_rules(plan.tables[t.name], t.options.get("partitioning", ()))
    return FileSource(dataset), TableFilesSink.for_dataset(dataset, plan, fmt), out
