"""The one run driver (issue 15 point 3): any Source into any Sink; dumps report each table's own time;
the pipeline and formats packages hold no function-local import and import no private name."""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import veil
from veil.dataset import Barrier, Batch, Begin, Copied, End
from veil.keys import Keyring
from veil.pipeline import drive

KEYS = Keyring.for_testing(bytes(range(32)))
SRC = Path(veil.__file__).parent

PG_DUMP = """--
-- PostgreSQL database dump
--
CREATE TABLE public.big (
    id integer NOT NULL,
    email text
);
CREATE TABLE public.small (
    id integer NOT NULL,
    email text
);
COPY public.big (id, email) FROM stdin;
{big}\\.
COPY public.small (id, email) FROM stdin;
{small}\\.
"""

PROFILE = """version: 1
tables:
  big:
    columns:
      id: keep
      email: {op: pseudonymize, format: email, domain: email}
  small:
    columns:
      id: keep
      email: {op: pseudonymize, format: email, domain: email}
"""


def _plan(tmp_path: Path, data: Path):
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    ds = veil.open_dataset(data)
    return ds, veil.compile_plan(veil.load_profile(prof), ds, KEYS.active_version)


def test_dump_tables_report_their_own_seconds(tmp_path: Path) -> None:
    """A dump run used to give every table the whole run's time as its ``seconds``."""
    big = "".join(f"{i}\tu{i}@x.example\n" for i in range(60_000))
    small = "".join(f"{i}\ts{i}@x.example\n" for i in range(3))
    dump = tmp_path / "d.sql"
    dump.write_text(PG_DUMP.format(big=big, small=small))
    ds, plan = _plan(tmp_path, dump)
    result = veil.run_plan(plan, ds, tmp_path / "out.sql", KEYS, batch_size=4096)
    by = {t.name: t for t in result.tables}
    assert by["public.big"].rows_out == 60_000 and by["public.small"].rows_out == 3
    assert sum(t.seconds for t in result.tables) <= result.seconds
    assert by["public.small"].seconds < by["public.big"].seconds


class ListSource:
    """A source of its own: text, a table in two blocks, copied rows and a barrier."""

    def __init__(self, batches: list[pa.RecordBatch]):
        self.batches = batches
        self.names = ["people"]

    def items(self, plan, batch_size, forgotten):
        yield b"head\n"
        yield Begin("people", file="mem")
        yield Batch(self.batches[0], "first")
        yield End("people", last=False)
        yield b"middle\n"
        yield Barrier()
        yield Begin("people", file="mem")
        yield Batch(self.batches[1], "second")
        yield Copied("people", 5)
        yield End("people")
        yield b"tail\n"


class ListSink:
    """Records what it is given, in order; writes one file."""

    is_dir = False
    takes_text = True

    def __init__(self) -> None:
        self.events: list = []

    def open(self, target) -> None:
        self.path = target.path_for("out.txt")
        self.path.write_text("")

    def begin(self, table: str) -> None:
        self.events.append(("begin", table))

    def write(self, table, batch, kept, carry) -> None:
        self.events.append(("write", table, batch.num_rows, carry, batch.column("email").to_pylist()))

    def text(self, data: bytes) -> None:
        self.events.append(("text", data))

    def end(self, table: str) -> None:
        self.events.append(("end", table))

    def close(self) -> str | None:
        return "out.txt"

    def abort(self) -> None:
        self.events.append(("abort",))


def test_any_source_into_any_sink(tmp_path: Path) -> None:
    data = tmp_path / "people.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "email": ["a@x.example", "b@x.example", "c@x.example"]}), data)
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  people:\n    columns:\n      id: keep\n"
                    "      email: {op: pseudonymize, format: email, domain: email}\n")
    ds = veil.open_dataset(data)
    plan = veil.compile_plan(veil.load_profile(prof), ds, KEYS.active_version)
    table = next(iter(ds.tables[0].batches(2)))
    rest = pa.RecordBatch.from_pydict({"id": [3], "email": ["c@x.example"]}, schema=table.schema)
    sink = ListSink()
    result = drive(plan, ListSource([table, rest]), sink, tmp_path / "out.txt", KEYS, workers=1)
    kinds = [e[0] for e in sink.events]
    assert kinds == ["text", "begin", "write", "text", "begin", "write", "end", "text"]
    assert [e[1] for e in sink.events if e[0] == "text"] == [b"head\n", b"middle\n", b"tail\n"]
    writes = [e for e in sink.events if e[0] == "write"]
    assert [w[3] for w in writes] == ["first", "second"]  # each batch's carry comes back with its result
    assert all("@x.example" not in v for w in writes for v in w[4]) and writes[0][4][0] != "a@x.example"
    (people,) = result.tables
    assert (people.rows_in, people.rows_out) == (3 + 5, 3 + 5)
    assert (tmp_path / "out.txt").exists()


def test_driver_names_the_source_file_on_a_worker_error(tmp_path: Path) -> None:
    """A value an operator refuses, in a dump: the error names the dump, and no output is left."""
    dump = tmp_path / "d.sql"
    dump.write_text(PG_DUMP.format(big="1\tu@x.example\n", small="x\ts@x.example\n"))
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE.replace("id: keep", "id: {op: pseudonymize, format: int}"))
    ds = veil.open_dataset(dump)
    plan = veil.compile_plan(veil.load_profile(prof), ds, KEYS.active_version)
    try:
        veil.run_plan(plan, ds, tmp_path / "out.sql", KEYS)
    except veil.VeilError as err:
        assert err.file == str(dump)
    else:
        raise AssertionError("a non-integer id under format int must fail")
    assert not (tmp_path / "out.sql").exists()


def _modules(*packages: str):
    for pkg in packages:
        for path in sorted((SRC / pkg).rglob("*.py")):
            yield path, ast.parse(path.read_text())


def test_no_function_local_import_and_no_private_import() -> None:
    """Point 3: no cycle that needs a function-local import, no import of another module's private names."""
    problems = []
    for path, tree in _modules("pipeline", "formats"):
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                problems += [f"{path.name}:{n.lineno} imports inside {fn.name}" for n in ast.walk(fn)
                             if isinstance(n, ast.ImportFrom) and n.level]
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.level:
                problems += [f"{path.name}:{n.lineno} imports private {a.name}" for a in n.names
                             if a.name.startswith("_") and not a.name.startswith("__")]
    assert not problems, problems


def test_no_module_over_500_lines_or_function_over_80() -> None:
    """Point 4, for the run driver's packages."""
    problems = []
    for path, tree in _modules("pipeline"):
        lines = len(path.read_text().splitlines())
        if lines > 500:
            problems.append(f"{path.name}: {lines} lines")
        problems += [f"{path.name}: {n.name} {n.end_lineno - n.lineno + 1} lines" for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno >= 80]
    assert not problems, problems
