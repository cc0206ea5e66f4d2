"""CSV reading, hardened (issue 14, points 11 and 12).

- Streaming: Arrow's CSV reader reads up to 32 blocks ahead of the one it parses; with 10 MiB
  blocks the main process held most of the file (+89 MB per extra million rows). Blocks are now
  1 MiB and re-cut into --batch-size batches; a row longer than a block is read with larger ones.
- An unclosed quote in the last field at the end of the file was accepted silently: exit 5 now,
  naming the file and the line of the opening quote.
- A header-only file without a line ending was "not valid CSV" while with one it was accepted:
  both are a table without rows, typed alike.
- Neighbours: empty files, a BOM, CRLF and CR line endings, blank first lines, NUL bytes, ragged
  rows, very long fields and header names, invalid UTF-8 (line numbers across 1 MiB chunks).
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from veil.formats import csv as vcsv
from veil.formats.csv import CsvFormat

from .adversarial.harness import assert_clean_failure, assert_no_marker, invoke, marker

PROFILE = """\
version: 1
defaults:
  unknown_columns: fail
tables:
  t:
    columns:
      id: keep
      email: {op: pseudonymize, format: email, domain: email}
"""


def rows_of(path: Path, batch_size: int = 65_536) -> list[pa.RecordBatch]:
    return list(CsvFormat().open(path, "t").batches(batch_size))


def run(tmp_path: Path, keyring: Path, data: bytes, *extra: str, name: str = "t.csv"):
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    (src / name).write_bytes(data)
    prof = tmp_path / "profile.yaml"
    prof.write_text(PROFILE)
    out = tmp_path / ("out" + (".parquet" if "parquet" in extra else ".csv"))
    res = invoke("run", src / name, "--profile", prof, "--keyring", keyring, "--out", out, "-q", "--workers", "1",
                 *extra)
    return res, out


# -- streaming (point 11) ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    """~100 MB: 1M rows of about 100 bytes."""
    path = tmp_path_factory.mktemp("big") / "t.csv"
    n = 1_000_000
    ids = pa.array(range(n)).cast(pa.string())
    email = pa.compute.binary_join_element_wise("someone.with.a.long.name.", ids, "@example.com", "")
    note = pa.compute.binary_join_element_wise("a note of some length about row ", ids, " ........", "")
    pacsv.write_csv(pa.table({"id": ids, "email": email, "note": note}), path)
    assert path.stat().st_size > 90 << 20
    return path


def test_reader_holds_a_bounded_part_of_the_file(big_csv: Path) -> None:
    """After the first batch: at most 32 blocks of 1 MiB read ahead and a batch, not the file
    (it held 32 blocks of 10 MiB: 100 MB of this file before the fix)."""
    before = pa.total_allocated_bytes()
    batches = CsvFormat().open(big_csv, "t").batches(65_536)
    first = next(batches)
    peak = 0
    for _ in range(20):  # let the read-ahead thread fill its queue
        time.sleep(0.05)
        peak = max(peak, pa.total_allocated_bytes() - before)
    assert first.num_rows == 65_536
    assert peak < 64 << 20, f"{peak >> 20} MiB held after one batch"
    batches.close()


def test_batches_are_cut_to_the_batch_size(big_csv: Path) -> None:
    sizes = [b.num_rows for b in CsvFormat().open(big_csv, "t").batches(100_000)]
    assert sizes == [100_000] * 10


def test_batch_size_does_not_change_what_is_read(tmp_path: Path) -> None:
    lines = ["id,email"] + [f'{i},"mail {i}\nsecond line, ""quoted"""' if i % 7 == 0 else f"{i},m{i}"
                            for i in range(5000)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    whole = pa.Table.from_batches(rows_of(path, 1_000_000))
    for size in (1, 7, 999, 4096):
        batches = rows_of(path, size)
        assert all(b.num_rows == size for b in batches[:-1])
        assert pa.Table.from_batches(batches).equals(whole)
    assert whole.num_rows == 5000
    assert whole.column("email")[7].as_py() == 'mail 7\nsecond line, "quoted"'


@pytest.mark.parametrize("length", [3 << 20, 20 << 20])
def test_rows_longer_than_a_block(tmp_path: Path, length: int) -> None:
    """A value longer than the 1 MiB block: read again with larger blocks, nothing lost or doubled."""
    long_value = "x" * length
    body = [f"{i},v{i}" for i in range(50_000)]
    body.insert(30_000, f'-1,"{long_value}"')
    path = tmp_path / "t.csv"
    path.write_text("id,email\n" + "\n".join(body) + "\n")
    table = pa.Table.from_batches(rows_of(path, 4096))
    assert table.num_rows == 50_001
    assert table.column("id").to_pylist() == [r.split(",")[0] for r in body]
    assert table.column("email")[30_000].as_py() == long_value
    # a bad row after the long one is still reported at its physical line
    path.write_text("id,email\n" + "\n".join(body) + "\n1,2,3\n")
    with pytest.raises(vcsv.InputError) as err:
        rows_of(path)
    assert err.value.line == 50_003


def test_long_header_name(tmp_path: Path) -> None:
    name = "c" * (2 << 20)
    path = tmp_path / "t.csv"
    path.write_text(f"id,{name}\n1,2\n")
    (batch,) = rows_of(path)
    assert batch.schema.names == ["id", name]
    assert batch.num_rows == 1


# -- unclosed quote at the end of the file (point 12) ----------------------------------------------

M = marker(1)


@pytest.mark.parametrize("data, line", [
    (f'id,email\n1,"{M}', 2),
    (f'id,email\n1,"{M}\n', 2),
    (f'id,email\r\n1,"a"\r\n2,"{M}\r\nmore', 3),
    (f'id,email\n1,"a"\n2,"{M}""', 3),
    (f'id,email\n1,"a"\n2,"{M}""\nmore', 3),
    (f'id,email\n1,a\n2,"{M}\n3,b\n4,c\n', 3),  # the open quote swallows the rows after it
    (f'\ufeffid,email\n1,"{M}', 2),
    ("id,email\n" + "".join(f"{i},m{i}\n" for i in range(100_000)) + f'x,"{M}', 100_002),  # past blocks
])
def test_unclosed_quote_at_end_of_file(tmp_path: Path, keyring: Path, data: str, line: int) -> None:
    res, out = run(tmp_path, keyring, data.encode())
    assert_clean_failure(res, codes=(5,), markers=[M], out=out)
    assert f"t.csv:{line}: malformed CSV quoting" in res.stderr
    assert "not closed" in res.stderr


def test_unclosed_quote_in_a_one_column_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f'email\n\n"{M}')
    with pytest.raises(vcsv.InputError) as err:
        rows_of(path)
    assert err.value.line == 3
    assert M not in str(err.value)


@pytest.mark.parametrize("data, values", [
    ('id,email\n1,""""', ['"']),
    ('id,email\n1,""""\n', ['"']),
    ('id,email\n1,"a"""', ['a"']),
    ('id,email\n1,""', [""]),
    ('id,email\n1,"a,""b""\nc"', ['a,"b"\nc']),
    ('id,email\n1,a"b', ['a"b']),
    ('id,email\r\n1,"\r\n"\r\n', ["\r\n"]),  # the tail looks like an open quote (found by fuzzing)
    ('id,email\n1,"\n"\n', ["\n"]),
    ('id,email\n1,"x"\n2,"\r"\r', ["x", "\r"]),
    ('id,email\n1,', [None]),
    ('id\n""""', None),
])
def test_closed_quotes_at_end_of_file_are_read(tmp_path: Path, data: str, values) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(data.encode())
    table = pa.Table.from_batches(rows_of(path))
    assert table.column(table.num_columns - 1).to_pylist() == (values or ['"'])


# -- header only (point 12) ----------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"id,email", b"id,email\n", b"id,email\r\n", b"id,email\r",
                                  b"\xef\xbb\xbfid,email", b"\xef\xbb\xbfid,email\n", b'"id","email"'])
def test_header_only_is_a_table_without_rows(tmp_path: Path, keyring: Path, data: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    table = CsvFormat().open(path, "t")
    assert table.schema == pa.schema([("id", pa.string()), ("email", pa.string())])
    assert list(table.batches(10)) == []

    res, out = run(tmp_path, keyring, data)
    assert res.exit_code == 0, res.stderr
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    assert out.read_bytes() == bom + b'"id","email"\n'

    res, out = run(tmp_path, keyring, data, "--format", "parquet")
    assert res.exit_code == 0, res.stderr
    got = pq.read_table(out)
    assert got.num_rows == 0
    assert got.schema.remove_metadata() == pa.schema([("id", pa.string()), ("email", pa.string())])


# -- neighbours ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, line, words", [
    (b"", 1, "empty"),
    (b"\xef\xbb\xbf", 1, "empty"),
    (b"\n", 1, "blank"),
    (b"\r\n\r\nid,email\n1,a\n", 1, "blank"),
    (b"id,email\n1,a\n2,b,c\n", 3, "expected 2 fields, found 3"),
    (b"id,email\n1,a\n2\n", 3, "expected 2 fields, found 1"),
    (b"id,email\r\n1,a\r\n2,\xff\r\n", 3, "not UTF-8"),
    (b"id,email\r1,a\r2,\xff\r", 3, "not UTF-8"),  # CR line endings
    (b"id,email\n" + b"1,abcdefgh\n" * 200_000 + b"2,\xe2\x82\n", 200_002, "not UTF-8"),  # across 1 MiB reads
    (b"id,\xffemail\n1,a\n", 1, "not UTF-8"),
    (b"id,id\n1,2\n", 1, "duplicate column names in the header: id"),
    (b",\n1,2\n", 1, 'duplicate column names in the header: "" (empty)'),
    (b'id,"email\n1,a\n2,b\n', 1, "column 2 of the header has a line break"),  # data pulled into a name
    (b'"i\rd",email\n1,a\n', 1, "column 1 of the header has a line break"),
])
def test_bad_files_fail_cleanly(tmp_path: Path, keyring: Path, data: bytes, line: int, words: str) -> None:
    data = data.replace(b"1,a", f"1,{M}".encode())
    res, out = run(tmp_path, keyring, data)
    assert_clean_failure(res, codes=(5,), markers=[M], out=out)
    assert f"t.csv:{line}: " in res.stderr
    assert words in res.stderr


@pytest.mark.parametrize("data, emails", [
    (b"id,email\r1,a\r2,b\r", ["a", "b"]),  # CR only
    (b"id,email\r\n1,a\r\n\r\n2,b\r\n", ["a", "b"]),  # CRLF, blank line skipped
    (b"\xef\xbb\xbfid,email\n1,a\n", ["a"]),
    (b"id,email\n1,a\x00b\n", ["a\x00b"]),  # NUL is a character like any other
    (b'id,email\n1,"a\x00\n\x00"\n', ["a\x00\n\x00"]),
])
def test_odd_but_valid_files(tmp_path: Path, keyring: Path, data: bytes, emails: list[str]) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    assert pa.Table.from_batches(rows_of(path)).column("email").to_pylist() == emails
    res, out = run(tmp_path, keyring, data)
    assert res.exit_code == 0, res.stderr
    got = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(column_types={"email": pa.string()}))
    assert got.num_rows == len(emails)
    assert_no_marker(["a\x00b"], out)
