"""Adversarial CSV: generated hostile files through the reader and through `veil run`.

Three fuzz tests (hypothesis, budget from VEIL_FUZZ_EXAMPLES through the harness's FUZZ):

- the reader against an oracle: a table of any text (quotes, commas, CR, LF, NUL, BOM, any
  Unicode), written as valid CSV in several styles, must read back exactly, whatever the batch size;
- the reader on damaged files (bytes cut, inserted or flipped; stray quotes; invalid UTF-8):
  either rows or an InputError, never another exception, and no marker value in the message;
- `veil run` (in-process) on generated files with hostile headers (duplicates, empty names, names
  with ``;``, quotes, newlines) and marker values in every field, with a profile that
  pseudonymizes every column: exit 0 with no marker anywhere, or a clean failure (exit 3, 4 or 5, no
  traceback, no marker in any stream or file, no output). ``hypothesis.event`` tags each outcome;
  ``pytest --hypothesis-show-statistics`` shows the counts.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from veil.errors import InputError, VeilError
from veil.formats.csv import CsvFormat
from veil.keys import init_keyring

from .harness import FUZZ, assert_clean_failure, assert_no_marker, invoke, marker

pytestmark = pytest.mark.adversarial

PIECES = ['"', '""', ",", "\n", "\r", "\r\n", "\x00", ";", " ", "\ufeff", "\t", "'", "\\", "é", "€", "𝄞"]
text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=6).map("".join)
value = st.one_of(st.none(), text)


def quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def plain_ok(s: str, delim: str = ",") -> bool:
    return bool(s) and not any(c in s for c in '"\r\n' + delim) and s.strip() == s


def render(s: str | None, style: str, delim: str = ",") -> str:
    """One field as valid CSV: null is an empty unquoted field, every text is quoted unless it is
    safe bare (style "minimal")."""
    if s is None:
        return ""
    return s if style == "minimal" and plain_ok(s, delim) else quote(s)


@st.composite
def tables(draw):
    ncols = draw(st.integers(1, 4))
    names = draw(st.lists(text.filter(lambda s: s and not s.startswith("\ufeff")), min_size=ncols,
                          max_size=ncols, unique=True))
    rows = draw(st.lists(st.lists(value, min_size=ncols, max_size=ncols), max_size=12))
    if ncols == 1:  # a null in a one-column file is a blank line, which reads back as null: fine;
        pass        # but in a file with several columns a blank line is skipped, so no all-null row
    else:
        rows = [r if any(v is not None for v in r) else [""] + r[1:] for r in rows]
    return names, rows


def to_csv(names, rows, style: str, eol: str, bom: bool, delim: str = ",") -> bytes:
    """``delim`` is sniffed back from the header (docs/formats/csv.md): a header name holding any
    of , ; tab | is quoted, so the header's bare delimiters are the real ones (a one-column file
    is read with ',')."""
    if len(names) == 1:
        delim = ","
    lines = [delim.join(quote(n) if style == "all" or not plain_ok(n, ",;\t|") else n for n in names)]
    lines += [delim.join(render(v, style, delim) for v in r) for r in rows]
    return (b"\xef\xbb\xbf" if bom else b"") + (eol.join(lines) + eol).encode("utf-8")


def read_all(path: Path, batch_size: int) -> pa.Table:
    table = CsvFormat().open(path, "t")
    batches = list(table.batches(batch_size))
    assert all(b.num_rows == batch_size for b in batches[:-1])
    return pa.Table.from_batches(batches, schema=table.schema)


@FUZZ
@given(tables(), st.sampled_from(["all", "minimal"]), st.sampled_from(["\n", "\r\n"]), st.booleans(),
       st.integers(1, 5), st.sampled_from([",", ";", "\t", "|"]))
def test_reader_reads_valid_csv_exactly(tmp_path_factory, table, style, eol, bom, batch_size, delim) -> None:
    names, rows = table
    path = tmp_path_factory.mktemp("oracle") / "t.csv"
    path.write_bytes(to_csv(names, rows, style, eol, bom, delim))
    if any("\n" in n or "\r" in n for n in names):  # a CSV line break in a name is refused
        with pytest.raises(InputError, match="line break in its name"):
            read_all(path, batch_size)
        return
    got = read_all(path, batch_size)
    assert got.schema.names == names
    assert [list(r.values()) for r in got.to_pylist()] == rows


def damage(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for pos, cut, insert in edits:
        pos %= len(data) + 1
        data = data[:pos] + insert + data[pos + cut:]
    return data


edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3),
                           st.sampled_from([b"", b'"', b'""', b",", b"\n", b"\r", b"\x00", b"\xff", b"\xc3",
                                            b"\xef\xbb\xbf", b"\xe2\x82", b'"\n"', b"a"])), max_size=4)


@FUZZ
@given(tables(), edits, st.integers(1, 5))
def test_reader_on_damaged_files(tmp_path_factory, table, changes, batch_size) -> None:
    names, rows = table
    rows = [[None if v is None else f"{v}{marker(i * 10 + j)}" for j, v in enumerate(r)] for i, r in enumerate(rows)]
    marks = [marker(i * 10 + j) for i in range(len(rows)) for j in range(len(names))]
    data = damage(to_csv(names, rows, "minimal", "\n", False), changes)
    path = tmp_path_factory.mktemp("damaged") / "t.csv"
    path.write_bytes(data)
    try:
        read_all(path, batch_size)
        event("read")
    except InputError as err:
        event(f"refused: {str(err).split(':', 2)[-1].split('(')[0].strip()[:40]}")
        assert_no_marker(marks, str(err), err.hint or "")


# -- through the CLI ----------------------------------------------------------------------------

HEADER_ODDITIES = ["id", "id", "", "a;b", 'q"uote', "new\nline", "semi;", " sp ace ", "ünï", "x,y", "\ufeffb"]


@st.composite
def hostile_files(draw):
    ncols = draw(st.integers(1, 4))
    names = draw(st.lists(st.one_of(st.sampled_from(HEADER_ODDITIES), st.text(min_size=1, max_size=6)),
                          min_size=ncols, max_size=ncols))
    nrows = draw(st.integers(0, 8))
    rows, marks = [], []
    for i in range(nrows):
        row = []
        for j in range(ncols):
            m = marker(i * 10 + j)
            marks.append(m)
            decor = draw(text)
            row.append(draw(st.sampled_from([m, decor + m, m + decor, decor[:1] + m + decor])))
        rows.append(row)
    style = draw(st.sampled_from(["all", "minimal", "raw"]))  # raw: no quoting at all (breaks freely)
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    header = ",".join(n if style == "raw" else quote(n) for n in names)
    body = [",".join(v if style == "raw" else render(v, style) for v in r) for r in rows]
    if rows and draw(st.integers(0, 9)) == 0:  # a huge field: past Python's 128 KiB, sometimes past a block
        size = draw(st.sampled_from([150_000, 1_200_000]))
        body[-1] = body[-1] + "," + quote((marks[-1] + "x") * (size // 15))
    data = (header + eol + eol.join(body) + draw(st.sampled_from([eol, ""]))).encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    data = damage(data, draw(edits))
    # what the first physical line holds is the header: names, which messages may print (a
    # damaged file can pull a value up into it); a value further down must never show
    first = data.replace(b"\r", b"\n").split(b"\n", 1)[0]
    return names, data, [m for m in marks if m.encode() not in first]


@pytest.fixture(scope="module")
def keyring(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keyring.json"
    init_keyring(path)
    return path


@FUZZ
@given(hostile_files())
def test_run_on_hostile_csv(tmp_path_factory, keyring, case) -> None:
    names, data, marks = case
    work = tmp_path_factory.mktemp("run")
    (work / "in").mkdir()
    src = work / "in" / "t.csv"
    src.write_bytes(data)
    columns = {n: {"op": "pseudonymize", "format": "token", "domain": "d"} for n in names}
    prof = work / "profile.yaml"
    prof.write_text(yaml.safe_dump({"version": 1, "defaults": {"unknown_columns": "fail"},
                                    "tables": {"t": {"columns": columns}}}, allow_unicode=True))
    out = work / "out.csv"
    res = invoke("run", src, "--profile", prof, "--keyring", keyring, "--out", out, "--workers", "1",
                 "--batch-size", "3", "--report", work / "report.json")
    if res.exit_code == 0:
        event("exit 0")
        assert_no_marker(marks, res.stdout, res.stderr, out, work / "report.json")
    else:
        event(f"exit {res.exit_code}")
        assert_clean_failure(res, codes=(3, 4, 5), markers=marks, paths=[work / "report.json"], out=out)


def test_marker_survives_a_kept_column(tmp_path: Path, keyring: Path) -> None:
    """The leak check can fail: a kept column's marker is found in the output."""
    src = tmp_path / "t.csv"
    src.write_text(f"a\n{marker(1)}\n")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      a: keep\n")
    out = tmp_path / "o.csv"
    res = invoke("run", src, "--profile", prof, "--keyring", keyring, "--out", out, "--workers", "1")
    assert res.exit_code == 0, res.stderr
    with pytest.raises(AssertionError):
        assert_no_marker([marker(1)], out)


def test_errors_are_veil_errors(tmp_path: Path) -> None:
    """InputError is what the reader raises for bad input (a VeilError: clean exit 5)."""
    path = tmp_path / "t.csv"
    path.write_bytes(b'a,b\n1,"x')
    with pytest.raises(VeilError) as err:
        read_all(path, 2)
    assert isinstance(err.value, InputError) and err.value.exit_code == 5
