"""CSV: read as text, streamed; write back with the same header and column order.

Convention (docs/formats/csv.md): an empty unquoted field is null, a quoted
empty field ("") is the empty string. Every column is read as text, so values
a profile keeps are written back as they were (no number or date re-rendering,
leading zeros kept). A UTF-8 byte order mark on input is kept on output.
"""

from __future__ import annotations

import codecs
import contextlib
import csv as pycsv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from .. import progress
from ..dataset import Table
from ..errors import InputError
from ..ops.arrays import temporal_text

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t", "|")  # the ones sniffed, in the order ties are broken


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, from its header line (docs/formats/csv.md): the most frequent of
    ``,`` ``;`` tab ``|`` outside double quotes; a tie (or none of them: one column) gives ``,``."""
    # every byte looked at is ASCII, which UTF-8 never uses inside another character: the bytes
    # are scanned as they are, a chunk at a time, up to the header's end (at most MAX_BLOCK)
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    read = 0
    with open(path, "rb") as fh:
        while read < MAX_BLOCK and (chunk := fh.read(min(1 << 16, MAX_BLOCK - read))):
            if read == 0 and chunk.startswith(BOM):
                chunk = chunk[3:]
                read = 3
            read += len(chunk)
            for c in chunk.decode("latin-1"):
                if c == '"':
                    quoted = not quoted  # a doubled quote closes and opens again: the same state after it
                elif quoted:
                    continue
                elif c in "\r\n":
                    return _most_frequent(counts)
                elif c in counts:
                    counts[c] += 1
    return _most_frequent(counts)


def _most_frequent(counts: dict[str, int]) -> str:
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


def check_delimiter(delimiter: str) -> str:
    """A --delimiter value: one character, not a quote or a line ending (``\\t`` or ``tab``: a tab)."""
    delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise InputError("the CSV delimiter must be one character, not a quote or a line ending",
                         hint="e.g. --delimiter ';' or --delimiter tab")
    return delimiter


def _bad_utf8_line(path: Path) -> int | None:
    """Error path only: the physical line holding the first invalid UTF-8 byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            pending = len(decoder.getstate()[0])  # the previous chunk's unfinished character
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return _line_at(path, done - pending + exc.start)
            done += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _line_at(path, done)
    return None


@contextmanager
def _long_fields() -> Iterator[None]:
    """Python's csv module refuses fields over 128 KiB; Arrow reads them (up to MAX_BLOCK)."""
    old = pycsv.field_size_limit()
    pycsv.field_size_limit(max(old, MAX_BLOCK))
    try:
        yield
    finally:
        pycsv.field_size_limit(old)


def _header(path: Path, delimiter: str = ",") -> tuple[list[str], bool, bool]:
    with open(path, "rb") as fh:
        bom = fh.read(3) == BOM
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh, _long_fields():
            rows = pycsv.reader(fh, delimiter=delimiter)
            header = next(rows, None)
            # nothing after the header (not even a blank line): a table without rows
            empty = header is not None and fh.read(1) == ""
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text", file=str(path), line=_bad_utf8_line(path),
                         hint="convert it to UTF-8 (e.g. iconv -t utf-8)") from None
    except pycsv.Error:
        raise InputError("the header line is not valid CSV", file=str(path), line=1) from None
    if header is None:
        raise InputError("the CSV file is empty (no header line)", file=str(path), line=1)
    if not header:
        raise InputError("the first line is blank; the header must be the first line", file=str(path), line=1,
                         hint="remove the blank lines before the header")
    # only \n and \r end CSV lines, so only they can come from a quote left open (U+2028 and
    # other Unicode line separators are ordinary characters of a name)
    broken = [i for i, c in enumerate(header, 1) if "\n" in c or "\r" in c]
    if broken:
        # not printed: a quote left open in the header takes the next lines (data) into a name
        raise InputError(f"column {broken[0]} of the header has a line break in its name", file=str(path),
                         line=1, hint="check for an unclosed quote in the header, or rename the column")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        names = ", ".join(c or '"" (empty)' for c in dupes)
        raise InputError(f"duplicate column names in the header: {names}",
                         file=str(path), line=1, hint="rename the columns so each is unique")
    return header, bom, empty


def _problem(path: Path, ncols: int, delimiter: str = ",") -> InputError:
    """Error path only: find and describe the first bad line, without quoting it."""
    line = _bad_utf8_line(path)
    if line is not None:
        return InputError("the file is not UTF-8 text", file=str(path), line=line,
                          hint="convert it to UTF-8 (e.g. iconv -t utf-8)")
    with open(path, newline="", encoding="utf-8-sig") as fh, _long_fields():
        reader = pycsv.reader(fh, strict=True, delimiter=delimiter)
        try:
            for rec in reader:
                if len(rec) != ncols:
                    return InputError(f"malformed CSV row: expected {ncols} fields, found {len(rec)}",
                                      file=str(path), line=reader.line_num,
                                      hint=f"check for an unquoted {_NAMES.get(delimiter, repr(delimiter))} or a "
                                      "stray quote on that line")
        except pycsv.Error:
            return InputError("malformed CSV quoting", file=str(path), line=reader.line_num,
                              hint="a quoted field is not closed, or a quote is not doubled")
    return InputError("the file is not valid CSV", file=str(path),
                      hint="check quoting and line endings")


MIN_BLOCK = 1 << 20  # bytes parsed at a time; Arrow reads up to 32 blocks ahead, so this bounds memory
MAX_BLOCK = 1 << 28  # a row (or header) longer than this is refused
_BLOCK_TOO_SMALL = ("straddl", "Empty CSV file or block")  # Arrow: a row does not fit in one block


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    concat = getattr(pa, "concat_batches", None)  # pyarrow >= 19
    if concat is not None:
        return concat(batches)
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``size`` rows (the last one shorter) from blocks of any length."""
    buf: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(size - held, batch.num_rows)
            buf.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == size:
                yield _concat(buf)
                buf, held = [], 0
    if held:
        yield _concat(buf)


def _line_at(path: Path, offset: int) -> int:
    """Error path only: the physical line (LF, CR or CRLF endings) holding byte ``offset``."""
    lines, prev_cr, done = 1, False, 0
    with open(path, "rb") as fh:
        while done < offset:
            chunk = fh.read(min(1 << 20, offset - done))
            if not chunk:
                break
            lf, cr = chunk.count(b"\n"), chunk.count(b"\r")
            lines += lf + cr - chunk.count(b"\r\n") - (prev_cr and chunk.startswith(b"\n"))
            prev_cr = chunk.endswith(b"\r")
            done += len(chunk)
    return lines


_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_START, _BARE, _QUOTED, _QUOTE = range(4)  # field start, unquoted field, quoted field, quote in a quoted field


def _open_quote_at_end(path: Path, delimiter: str = ",") -> int | None:
    """Error path (and rare look-alikes) only: the offset of the quote that opens a field still
    open at the end of the file, or None. Arrow's rules: a quote opens a field only at its start,
    is literal in an unquoted field, ``""`` is a quote inside a quoted field, and text after the
    closing quote is added to the value."""
    special = re.compile(b'["\r\n' + re.escape(delimiter.encode()) + b"]")
    state, opened, done, prev = _START, None, 0, -1
    with open(path, "rb") as fh:
        if fh.read(3) != BOM:
            fh.seek(0)
        done = fh.tell()
        prev = done - 1
        while chunk := fh.read(1 << 20):
            for m in special.finditer(chunk):
                at = done + m.start()
                if at > prev + 1:  # ordinary characters since the last special one
                    if state in (_START, _QUOTE):
                        state = _BARE
                prev = at
                c = m.group()
                if state == _QUOTED:
                    if c == b'"':
                        state = _QUOTE
                elif c == b'"':
                    if state == _START:
                        state, opened = _QUOTED, at
                    elif state == _QUOTE:
                        state = _QUOTED  # a doubled quote
                else:  # a delimiter or a line ending ends the field
                    state = _START
            done += len(chunk)
    if done > prev + 1 and state == _QUOTE:
        state = _BARE
    return opened if state == _QUOTED else None


def _unclosed_quote(path: Path, last: str | None, delimiter: str = ",") -> InputError | None:
    """Whether the file ends inside a quoted field: Arrow then takes the rest of the file as the
    last value silently. That value is then the raw tail of the file after an opening quote at a
    field start: compared byte for byte first (reading no more than the value's length), and
    only when they match, the file's quoting is followed to its end to be sure."""
    if last is None:
        return None
    raw = b'"' + last.encode("utf-8", "surrogatepass").replace(b'"', b'""')
    size = path.stat().st_size
    start = size - len(raw)
    if start < 0:
        return None
    with open(path, "rb") as fh:
        fh.seek(max(0, start - 1))
        tail = fh.read()
    if not tail.endswith(raw) or (start > 0 and tail[:1] not in (delimiter.encode(), b"\n", b"\r")):
        return None
    opened = _open_quote_at_end(path, delimiter)
    if opened is None:
        return None
    return InputError("malformed CSV quoting: a quoted field is not closed before the end of the file",
                      file=str(path), line=_line_at(path, opened),
                      hint="close the quote (or double a quote inside a quoted value)")


CSV_TYPES = ("infer", "string")  # --csv-types: typed output inferred from a sample, or text throughout


class CsvFormat:
    name = "csv"
    extensions = (".csv",)
    typed = False  # written back as the text it was read as: CSV to CSV stays byte-faithful

    def open(self, path: Path, name: str, delimiter: str | None = None, types: str = "infer") -> Table:
        """``delimiter``: given (--delimiter), else sniffed from the header line. ``types`` (--csv-types):
        ``infer`` lets a typed output (Parquet) infer each column's type from the first rows
        (veil.formats.typed), ``string`` keeps every column text there too."""
        if types not in CSV_TYPES:
            raise InputError(f"unknown CSV typing '{types}'", file=str(path), hint="use infer or string")
        delimiter = sniff_delimiter(path) if delimiter is None else check_delimiter(delimiter)
        header, bom, empty = _header(path, delimiter)
        schema = pa.schema([(c, pa.string()) for c in header])

        def blocks(block_size: int, skip: int, state: dict, measured: bool) -> Iterator[pa.RecordBatch]:
            """Arrow's streaming reader, one batch per block; the first ``skip`` rows (given by a
            pass with smaller blocks) are left out."""
            bad: list[tuple[int | None, int, int]] = []

            def on_invalid(row) -> str:
                bad.append((row.number, row.expected_columns, row.actual_columns))
                return "skip"

            # on a progress line: read through a file whose position tells the bytes read so far
            size = path.stat().st_size if measured and progress.listening() else None
            source = pa.OSFile(str(path)) if size else path
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
                # one column: an empty line is a null row, not a blank to skip
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                                 invalid_row_handler=on_invalid,
                                                 ignore_empty_lines=len(header) > 1),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in header},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    null_values=[""],
                ),
            )
            seen = 0
            for batch in reader:
                if bad:
                    break
                if size:
                    progress.bytes_read(name, source.tell(), size)
                if batch.num_rows:
                    state["last"] = batch
                drop = min(batch.num_rows, max(0, skip - seen))
                seen += batch.num_rows
                if drop < batch.num_rows:
                    yield batch.slice(drop) if drop else batch
            if size:
                source.close()
            if bad:
                line, expected, actual = bad[0]
                if line is None:
                    raise _problem(path, len(header), delimiter)
                raise InputError(f"malformed CSV row: expected {expected} fields, found {actual}",
                                 file=str(path), line=line,
                                 hint=f"check for an unquoted {_NAMES.get(delimiter, repr(delimiter))} or "
                                 "a stray quote on that line")

        def read(batch_size: int, measured: bool = True) -> Iterator[pa.RecordBatch]:
            """The rows in batches; ``measured``: the bytes read go to the progress line."""
            if empty:  # a header and nothing else, with or without a line ending after it
                return
            # Small blocks: Arrow's reader reads up to 32 blocks ahead of the one being parsed, so
            # the block size, not the file, bounds the memory. A row longer than a block makes
            # Arrow fail; the file is then read again with larger blocks, skipping the rows given.
            state: dict = {"last": None}
            block, given = MIN_BLOCK, 0
            while True:
                try:
                    for batch in _rebatch(blocks(block, given, state, measured), batch_size):
                        yield batch
                        given += batch.num_rows
                    break
                except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                    if isinstance(exc, pa.ArrowInvalid) and any(m in str(exc) for m in _BLOCK_TOO_SMALL):
                        if block < MAX_BLOCK:
                            block *= 8
                            continue
                        raise InputError(f"a row (or the header) is longer than {MAX_BLOCK >> 20} MiB",
                                         file=str(path), hint="split the long values, or check for an "
                                         "unclosed quote that runs to the end of the file") from None
                    # Arrow's message quotes the offending row: never pass it on.
                    raise _problem(path, len(header), delimiter) from None
            last = state["last"]
            if last is not None:
                value = last.column(len(header) - 1)[last.num_rows - 1].as_py()
                err = _unclosed_quote(path, value, delimiter)
                if err is not None:
                    raise err

        def sample(rows: int) -> pa.RecordBatch | None:
            """The first ``rows`` rows (typed output infers from them), off the progress line."""
            with contextlib.closing(read(rows, measured=False)) as batches:
                return next(batches, None)

        return Table(name, path, self.name, schema, read, None,
                     {"bom": bom, "delimiter": delimiter, "types": types, "sample": sample})

    def writer(self, path: Path, schema: pa.Schema, source: Table | None) -> CsvWriter:
        opts = source.options if source is not None and source.format == self.name else {}
        return CsvWriter(path, schema, bool(opts.get("bom")), opts.get("delimiter", ","))


class CsvWriter:
    """Arrow's CSV writer; naive timestamps are written as 'YYYY-MM-DD HH:MM:SS' when whole seconds."""

    def __init__(self, path: Path, schema: pa.Schema, bom: bool, delimiter: str = ","):
        self._fh = open(path, "wb")
        if bom:
            self._fh.write(BOM)
        self._stamps = [i for i, f in enumerate(schema) if pa.types.is_timestamp(f.type) and f.type.tz is None]
        for i in self._stamps:
            schema = schema.set(i, schema.field(i).with_type(pa.string()))
        self._schema = schema
        self._writer = pacsv.CSVWriter(self._fh, schema,
                                       write_options=pacsv.WriteOptions(quoting_style="needed", delimiter=delimiter))

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


__all__ = ["CSV_TYPES", "CsvFormat"]
