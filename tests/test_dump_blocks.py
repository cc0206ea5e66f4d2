"""COPY data read in blocks (veil.formats.dump.blocks): the same rows, line numbers and terminator as
reading the block line by line, whatever the block and chunk sizes, and the text after the block
handed back to the lexer intact."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import InputError
from veil.formats.dump import blocks
from veil.formats.dump.blocks import Chain
from veil.formats.dump.lexer import PG, CopyData, Scanner

_field = st.lists(st.sampled_from(list("ab\\.Né€\r") + ["\\N", "\\.", "\\\\"]), max_size=6).map("".join)
_row = st.lists(_field, min_size=2, max_size=2).map(lambda f: "\t".join(f) + "\n")


def _dump(rows: list[str], tail: str) -> str:
    return "SET x = 1;\nCOPY t (a, b) FROM stdin;\n" + "".join(rows) + "\\.\n" + tail


def _by_lines(text: str):
    out = []
    for item in Scanner(iter(io.StringIO(text, newline="")), PG, "f").items():
        if isinstance(item, CopyData):
            out.append(("rows", [ln for _, ln in item.lines], item.end[0]))
        else:
            out.append(("text", item.text))
    return out


def _by_chunks(source, max_rows: int):
    out, lines = [], []
    for item in Scanner(source, PG, "f").items():
        if isinstance(item, CopyData):
            got = []
            for first, data, rows in item.chunks(max_rows):
                assert 0 < rows <= max_rows and data.count(b"\n") in (rows, rows - 1)  # (a cut last row)
                lines.append((first, rows))
                got += [ln + "\n" for ln in data.decode("utf-8", "surrogateescape").split("\n")[:-1]]
            out.append(("rows", got, item.end[0]))
        else:
            out.append(("text", item.text))
    return out, lines


_TAILS = ["", "\nCREATE TABLE u (c int);\n", "COPY u (c) FROM stdin;\n1\n\\.\n"]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(_row, max_size=40), tail=st.sampled_from(_TAILS),
       max_rows=st.integers(1, 7), block=st.integers(1, 64), as_chain=st.booleans())
def test_blocks_give_the_lines_rows_and_terminator_of_the_line_reader(rows, tail, max_rows, block, as_chain):
    # (the \r-free rows: a lone \r is a line end to the text reader, not to a COPY block)
    rows = [r.replace("\r", "") for r in rows]
    text = _dump(rows, tail)
    old, blocks.BLOCK_CHARS = blocks.BLOCK_CHARS, block  # small blocks: every seam is tried
    source = Chain(iter([io.BytesIO(text.encode())])) if as_chain else iter(io.StringIO(text, newline=""))
    try:
        got, lines = _by_chunks(source, max_rows)
    finally:
        blocks.BLOCK_CHARS = old
    assert got == _by_lines(text)
    first = [n for n, _ in lines[: (len(rows) + max_rows - 1) // max_rows]]
    assert first == list(range(3, 3 + len(rows), max_rows))  # line numbers of each chunk's first row


def test_a_block_without_terminator_is_a_cut_dump(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_CHARS", 5)
    text = "COPY t (a) FROM stdin;\n1\n2\n\\.x\n3"
    with pytest.raises(InputError, match="ends inside a COPY data block"):
        _by_chunks(iter(io.StringIO(text, newline="")), 2)


def test_a_chain_reads_text_parts_and_binary_files_in_order():
    chain = Chain(iter(["a\nb", io.BytesIO(b"c\nd\n"), io.StringIO("e\n")]))
    assert next(chain) == "a\n" and chain.read_bytes(100) == b"b" and next(chain) == "c\n"
    assert chain.read_bytes(100) == b"d\n" and list(chain) == ["e\n"]


def test_a_lone_cr_ends_a_line_read_from_a_binary_part_as_from_a_text_file():
    """A comment line hiding a statement behind a lone CR: the lexer sees the statement, as psql would."""
    text = "-- x\rINSERT INTO t VALUES ('v');\nSELECT 2;\n"
    from_text = list(iter(io.StringIO(text, newline="")))
    assert list(Chain(iter([io.BytesIO(text.encode())]))) == from_text == ["-- x\r", "INSERT INTO t VALUES ('v');\n",
                                                                          "SELECT 2;\n"]


def test_crlf_split_at_a_block_seam_stays_one_line_end():
    """A CRLF dump whose block ends between a CR and its LF: the lines after the block are the line
    reader's (no empty line, no shifted line numbers), at every block size."""
    text = ("COPY t (a) FROM stdin;\r\n1\r\n2\r\n\\.\r\nCREATE TABLE u (c int);\r\n"
            "COPY u (c) FROM stdin;\r\n7\r\n\\.\r\n")
    want = _by_lines(text)
    old = blocks.BLOCK_CHARS
    try:
        for size in range(1, 40):
            blocks.BLOCK_CHARS = size
            got, _ = _by_chunks(iter(io.StringIO(text, newline="")), 5)
            assert got == want, size
    finally:
        blocks.BLOCK_CHARS = old


@pytest.mark.parametrize("rest", ["x\n", "\rINSERT INTO public.users VALUES ('v');\n"])
def test_text_after_a_copy_statement_on_its_line_is_refused(rest):
    """psql runs what follows ``COPY ... FROM stdin;`` on its line as SQL after the rows: it is no row
    veil may copy through as kept data."""
    text = "COPY public.kept (a) FROM stdin;" + rest + "1\n\\.\n"
    for read in ("lines", "chunks"):
        with pytest.raises(InputError, match="on the same line"):
            for item in Scanner(iter(io.StringIO(text, newline="")), PG, "f").items():
                if isinstance(item, CopyData):
                    list(item.lines if read == "lines" else item.chunks(10))


_pg_lit = st.sampled_from(["1", "-2.5", "NULL", "true", "DEFAULT", "'a''b'", "E'x\\\\'y'", "'t'::text", "''",
                           "'(,)'", "1e5", "B'101'"])
_my_lit = st.sampled_from(["1", "-2.5", "NULL", "'a\\\\'b'", "'x''y'", "0x1F", "_binary 'q'", "''", "'(,)'", "b'1'"])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dialect=st.sampled_from(["postgresql", "mysql"]), cols=st.integers(1, 4))
def test_insert_rows_in_one_match_give_the_token_loops_spans(data, dialect, cols):
    """A statement's rows after its first are read by one pattern per row (values.InsertStatement):
    the spans are those the value-by-value loop finds, spaces and odd rows included."""
    from veil.formats.dump import values

    lit = _pg_lit if dialect == "postgresql" else _my_lit
    rows = data.draw(st.lists(st.lists(lit, min_size=cols, max_size=cols + data.draw(st.integers(0, 1))),
                              min_size=1, max_size=6))
    space = data.draw(st.sampled_from(["", " ", "\n"]))
    text = "INSERT INTO t VALUES " + f",{space}".join(f"({space}" + f"{space},".join(r) + ")" for r in rows) + ";\n"

    def parse():
        try:
            st_ = values.InsertStatement(text, 1, dialect, "f")
            return st_.rows, st_.row_spans
        except InputError as e:
            return str(e)

    fast = parse()
    old, values._row_pattern = values._row_pattern, lambda *a: values.re.compile(r"(?!)")
    try:
        slow = parse()
    finally:
        values._row_pattern = old
    assert fast == slow
