"""CSV: read as text, streamed; write back with the same header and column order.

Convention (docs/formats/csv.md): an empty unquoted field is null, a quoted
empty field ("") is the empty string. Every column is read as text, so values
a profile keeps are written back as they were (no number or date re-rendering,
leading zeros kept). A UTF-8 byte order mark on input is kept on output.
"""

from __future__ import annotations

import csv as pycsv
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from ..dataset import Table
from ..errors import InputError
from ..ops.arrays import temporal_text

BOM = b"\xef\xbb\xbf"


def _bad_utf8_line(path: Path) -> int | None:
    """Error path only: the physical line holding the first invalid UTF-8 byte."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _header(path: Path) -> tuple[list[str], bool]:
    with open(path, "rb") as fh:
        bom = fh.read(3) == BOM
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(pycsv.reader(fh), None)
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text", file=str(path), line=_bad_utf8_line(path),
                         hint="convert it to UTF-8 (e.g. iconv -t utf-8)") from None
    except pycsv.Error:
        raise InputError("the header line is not valid CSV", file=str(path), line=1) from None
    if not header:
        raise InputError("the CSV file is empty (no header line)", file=str(path), line=1)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise InputError(f"duplicate column names in the header: {', '.join(dupes)}",
                         file=str(path), line=1, hint="rename the columns so each is unique")
    return header, bom


def _problem(path: Path, ncols: int) -> InputError:
    """Error path only: find and describe the first bad line, without quoting it."""
    line = _bad_utf8_line(path)
    if line is not None:
        return InputError("the file is not UTF-8 text", file=str(path), line=line,
                          hint="convert it to UTF-8 (e.g. iconv -t utf-8)")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = pycsv.reader(fh, strict=True)
        try:
            for rec in reader:
                if len(rec) != ncols:
                    return InputError(f"malformed CSV row: expected {ncols} fields, found {len(rec)}",
                                      file=str(path), line=reader.line_num,
                                      hint="check for an unquoted comma or a stray quote on that line")
        except pycsv.Error:
            return InputError("malformed CSV quoting", file=str(path), line=reader.line_num,
                              hint="a quoted field is not closed, or a quote is not doubled")
    return InputError("the file is not valid CSV", file=str(path),
                      hint="check quoting and line endings")


class CsvFormat:
    name = "csv"
    extensions = (".csv",)

    def open(self, path: Path, name: str) -> Table:
        header, bom = _header(path)
        schema = pa.schema([(c, pa.string()) for c in header])

        def read(batch_size: int) -> Iterator[pa.RecordBatch]:
            bad: list[tuple[int | None, int, int]] = []

            def on_invalid(row) -> str:
                bad.append((row.number, row.expected_columns, row.actual_columns))
                return "skip"

            try:
                reader = pacsv.open_csv(
                    path,
                    read_options=pacsv.ReadOptions(use_threads=False,
                                                   block_size=max(1 << 20, batch_size * 160)),
                    # one column: an empty line is a null row, not a blank to skip
                    parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid,
                                                     ignore_empty_lines=len(header) > 1),
                    convert_options=pacsv.ConvertOptions(
                        column_types={c: pa.string() for c in header},
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                        null_values=[""],
                    ),
                )
                for batch in reader:
                    if bad:
                        break
                    yield from (batch.slice(i, batch_size) for i in range(0, batch.num_rows, batch_size))
            except (pa.ArrowInvalid, UnicodeDecodeError):
                # Arrow's message quotes the offending row: never pass it on.
                raise _problem(path, len(header)) from None
            if bad:
                line, expected, actual = bad[0]
                if line is None:
                    raise _problem(path, len(header))
                raise InputError(f"malformed CSV row: expected {expected} fields, found {actual}",
                                 file=str(path), line=line,
                                 hint="check for an unquoted comma or a stray quote on that line")

        return Table(name, path, self.name, schema, read, None, {"bom": bom})

    def writer(self, path: Path, schema: pa.Schema, source: Table | None) -> CsvWriter:
        return CsvWriter(path, schema, bool(source and source.options.get("bom")))


class CsvWriter:
    """Arrow's CSV writer; naive timestamps are written as 'YYYY-MM-DD HH:MM:SS' when whole seconds."""

    def __init__(self, path: Path, schema: pa.Schema, bom: bool):
        self._fh = open(path, "wb")
        if bom:
            self._fh.write(BOM)
        self._stamps = [i for i, f in enumerate(schema) if pa.types.is_timestamp(f.type) and f.type.tz is None]
        for i in self._stamps:
            schema = schema.set(i, schema.field(i).with_type(pa.string()))
        self._schema = schema
        self._writer = pacsv.CSVWriter(self._fh, schema,
                                       write_options=pacsv.WriteOptions(quoting_style="needed"))

    def write(self, batch: pa.RecordBatch) -> None:
        if self._stamps:
            cols = list(batch.columns)
            for i in self._stamps:
                cols[i] = temporal_text(cols[i])
            batch = pa.RecordBatch.from_arrays(cols, schema=self._schema)
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()
        self._fh.close()


__all__ = ["CsvFormat"]
