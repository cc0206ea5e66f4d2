"""SQL dumps (pg_dump plain/custom, mysqldump): read as a stream, written back faithfully.

``open_dump`` makes a first pass over the dump to learn its tables: columns and
SQL types from CREATE TABLE, keys from CREATE/ALTER TABLE (sqlglot), leaf
partitions from ATTACH PARTITION, and which tables hold data (COPY or
INSERT). Those keys feed the plan like profile-declared ones. The second
pass (``veil.formats.dump.rewrite``, a source for the run driver) rewrites the data.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from ...dataset import Dataset, Table
from ...errors import InputError, OutputError, UsageError
from ...profile import ForeignKey
from ...sqltypes import sql_arrow_type, sql_output_type
from ..typed import SQL_MYSQL, SQL_PG, Source
from .blocks import Chain
from .classify import parse_copy
from .ddl import TableDef, name_parts, parse_alter, parse_create, parse_unique_index, table_foreign_keys
from .lexer import MYSQL, PG, CopyData, Scanner, Statement, Text
from .sequences import Sequences
from .values import INSERT_HEADER, split_identifiers

DIALECTS = (PG, MYSQL)
PGDMP_MAGIC = b"PGDMP"

def is_archive_dir(path: Path) -> bool:
    """A pg_dump directory-format archive (-Fd): a directory holding toc.dat."""
    return path.is_dir() and (path / "toc.dat").is_file()


def is_dump(path: Path) -> bool:
    if path.is_dir():
        return is_archive_dir(path)
    name = path.name.lower()
    if name.endswith((".sql", ".sql.gz", ".dump", ".pgdump")):
        return True
    with open(path, "rb") as fh:
        return fh.read(5) == PGDMP_MAGIC


@dataclass
class DumpInfo:
    path: Path
    dialect: str
    compressed: bool
    custom: bool  # pg_dump -Fc or -Fd (a directory), read through pg_restore
    tables: dict[str, TableDef] = field(default_factory=dict)
    sequences: Sequences = field(default_factory=Sequences)
    #: a dump read from a pipe: its private spool (an unlinked temporary file), read from the start
    #: by each pass; ``path`` is then the name given (``-`` or the FIFO's)
    spool: Any = field(default=None, repr=False)

    def parent_of(self, name: str) -> str:
        td = self.tables.get(name)
        seen = set()
        while td is not None and td.parent and td.parent not in seen:
            seen.add(td.parent)
            name = td.parent
            td = self.tables.get(name)
        return name

    @contextmanager
    def lines(self) -> Iterator[Iterator[str]]:
        """The dump's text lines, any byte kept (surrogateescape), line endings kept."""
        if self.custom:
            exe = shutil.which("pg_restore")
            if exe is None:
                raise InputError("this is a pg_dump custom-format archive, and pg_restore is not on PATH",
                                 file=str(self.path), hint="install the PostgreSQL client tools, or dump with -Fp")
            feed: int = subprocess.DEVNULL
            if self.spool is not None:
                feed = os.dup(self.spool.fileno())
                os.lseek(feed, 0, os.SEEK_SET)  # the file object's seek may stay inside its buffer
            try:
                proc = subprocess.Popen([exe, "--file=-"] + ([] if self.spool is not None else [str(self.path)]),
                                        stdin=feed, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            finally:
                if feed != subprocess.DEVNULL:
                    os.close(feed)
            assert proc.stdout is not None
            try:
                yield Chain(iter([proc.stdout]))  # bytes, read in blocks (veil.formats.dump.blocks)
            except BaseException:
                proc.kill()  # the original error matters, not pg_restore's broken pipe
                proc.wait()
                proc.stdout.close()
                raise
            proc.stdout.close()
            if proc.wait() != 0:
                raise InputError("pg_restore could not read the archive", file=str(self.path),
                                 hint="check that it is a complete pg_dump -Fc file or -Fd directory")
            return
        src: Any = self.path
        if self.spool is not None:
            src = os.fdopen(os.dup(self.spool.fileno()), "rb")  # shares the offset: one pass at a time
            src.seek(0)
        try:
            with gzip.open(src, "rb") if self.compressed else (open(src, "rb") if src is self.path else src) as fh:
                yield Chain(iter([fh]), fh)  # bytes, read in blocks; lines split as a text file's (newline="")
        except (gzip.BadGzipFile, EOFError, zlib.error):
            raise InputError("the compressed dump is damaged or truncated", file=str(self.path)) from None
        finally:
            if src is not self.path:
                src.close()  # GzipFile leaves the file it was given open


def is_stream(path: Path) -> bool:
    """``-`` (standard input), or a FIFO or character device (``/dev/stdin`` of a pipe)."""
    if str(path) == "-":
        return True
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def spool_stream(path: Path, directory: Path | None) -> IO[bytes]:
    """Copy a piped dump into a private temporary file (unlinked at once, so deleted however veil
    ends; mode 0600; in ``directory``, else the system's temporary directory): a dump is read
    twice (its DDL first, then its data), and a pipe can be read once. Bounded by the disk."""
    name = str(path)
    if name == "-" and sys.stdin is not None and sys.stdin.isatty():
        raise UsageError("INPUT is '-' (standard input), but standard input is a terminal",
                         hint="pipe a dump into veil: pg_dump DB | veil run - ...")
    spool = tempfile.TemporaryFile(prefix=".veil-stdin-", dir=directory if directory and directory.is_dir()
                                   else None)
    try:
        src = sys.stdin.buffer if name == "-" else open(path, "rb")
        try:
            shutil.copyfileobj(src, spool, 1 << 20)
        finally:
            if name != "-":
                src.close()
        spool.flush()
    except OSError as exc:
        spool.close()
        raise OutputError(f"cannot keep the piped dump in a temporary file ({exc.strerror})",
                          file=str(directory) if directory else tempfile.gettempdir(),
                          hint="free some space there, or write the dump to a file first") from None
    spool.seek(0)
    if not spool.read(1):
        spool.close()
        raise InputError("the piped input is empty", file=name, hint="check the command that feeds veil")
    return spool


@dataclass(kw_only=True)
class DumpDataset(Dataset):
    """A SQL dump's tables, with the dump itself: its dialect, table definitions and how to read it."""
    dump: DumpInfo

    def not_null(self, name: str) -> set[str]:
        """Columns declared NOT NULL, and the primary key's, in the table's CREATE TABLE."""
        td = self.dump.tables.get(name)
        return set(td.not_null) | set(td.primary_key) if td is not None else set()


def sniff_dialect(head: str) -> str | None:
    if "PostgreSQL database dump" in head or re.search(r"^COPY .* FROM stdin;", head, re.M) or \
            "SET standard_conforming_strings" in head:
        return PG
    if re.search(r"MySQL dump|MariaDB dump|^/\*!\d{5}", head, re.M) or "`" in head:
        return MYSQL
    return None


def open_dump(path: Path, dialect: str | None = None, spool: IO[bytes] | None = None) -> DumpDataset:
    if spool is not None:
        spool.seek(0)
        magic = spool.read(5)
    elif is_archive_dir(path):
        magic = PGDMP_MAGIC  # toc.dat of a -Fd archive starts with it; pg_restore reads the directory
    else:
        with open(path, "rb") as fh:
            magic = fh.read(5)
    custom = magic == PGDMP_MAGIC
    compressed = magic[:2] == b"\x1f\x8b"
    info = DumpInfo(path, dialect or PG, compressed, custom, spool=spool)
    if dialect is None:
        if custom:
            info.dialect = PG
        else:
            with info.lines() as lines:
                head = "".join(line for _, line in zip(range(200), lines, strict=False))
            found = sniff_dialect(head)
            if found is None:
                raise InputError("cannot tell the SQL dialect of this dump", file=str(path), line=1,
                                 hint="pass --dialect postgresql or --dialect mysql")
            info.dialect = found
    elif dialect not in DIALECTS:
        raise InputError(f"unknown dialect '{dialect}'", file=str(path), hint="use postgresql or mysql")
    _first_pass(info)
    return _dataset(info)


def _same_name(owners: dict[str, tuple[str, ...]], name: str, parts: tuple[str, ...], file: str, line: int) -> None:
    """Two tables whose names only differ in where the dots are (schema "x.y" table "z", schema "x"
    table "y.z") would be one table to veil: refuse."""
    if not parts:
        return
    prev = owners.setdefault(name, parts)
    if prev != parts:
        shown = " and ".join(".".join(f'"{p}"' for p in ps) for ps in (prev, parts))
        raise InputError(f"two tables of the dump have the same name {name} once their quotes are removed "
                         f"({shown})", file=file, line=line, hint="rename one of them before dumping")


def dump_dataset(info: DumpInfo) -> DumpDataset:
    """The dataset of a DumpInfo made elsewhere (veil.db: a live database read as its dump): its
    first pass (tables, keys, partitions, sequences from the DDL), then its tables."""
    _first_pass(info)
    return _dataset(info)


def _first_pass(info: DumpInfo) -> None:
    owners: dict[str, tuple[str, ...]] = {}
    file = str(info.path)
    with info.lines() as lines:
        for item in Scanner(lines, info.dialect, str(info.path)).items():
            if isinstance(item, CopyData):
                item.skip()
            elif isinstance(item, Text):  # schema and code: a CREATE UNIQUE INDEX is a key
                parse_unique_index(item.text, info.dialect, info.tables)
            elif isinstance(item, Statement):
                if item.kind in ("create_table", "alter_table", "sequence"):
                    info.sequences.statement(item.text, item.kind, info.dialect)
                if item.kind == "create_table":
                    td = parse_create(item.text, info.dialect)
                    if td is not None:
                        _same_name(owners, td.name, td.parts, file, item.line)
                        info.tables[td.name] = td
                elif item.kind == "alter_table":
                    parse_alter(item.text, info.dialect, info.tables)
                elif item.kind in ("copy", "insert"):
                    parts, cols = data_header_parts(item, info.dialect, str(info.path))
                    name = ".".join(parts)
                    _same_name(owners, name, parts, file, item.line)
                    if name not in info.tables:
                        if cols is None:
                            raise InputError(f"INSERT into {name} without a column list, and the dump has no "
                                             "CREATE TABLE for it", file=str(info.path), line=item.line,
                                             hint="dump with the schema, or with column lists (mysqldump "
                                             "--complete-insert, pg_dump --column-inserts)")
                        info.tables[name] = TableDef(name, [(c, "") for c in cols])


def data_header(stmt: Statement, dialect: str, file: str) -> tuple[str, list[str] | None]:
    """(table, column list or None) of a COPY or INSERT statement."""
    parts, cols = data_header_parts(stmt, dialect, file)
    return ".".join(parts), cols


def data_header_parts(stmt: Statement, dialect: str, file: str) -> tuple[tuple[str, ...], list[str] | None]:
    """(the table name's parts as the dump quotes them, column list or None) of a COPY or INSERT."""
    if stmt.kind == "copy":
        head = parse_copy(stmt.text, dialect)
        if head is None or head.options:
            raise InputError("malformed COPY statement", file=file, line=stmt.line)
        return tuple(head.table), head.columns
    m = INSERT_HEADER.match(stmt.text)
    if m is None:
        raise InputError("malformed INSERT statement: expected INSERT INTO table [(columns)] VALUES",
                         file=file, line=stmt.line)
    return name_parts(m.group("table")), split_identifiers(m.group("cols")) if m.group("cols") else None


def _dataset(info: DumpInfo) -> DumpDataset:
    tables: list[Table] = []
    for name, td in info.tables.items():
        if td.parent:
            continue  # a leaf partition: its rows follow its parent's rules
        schema = pa.schema([pa.field(c, sql_arrow_type(t, info.dialect), metadata={b"veil.sql_type": t.encode()})
                            for c, t in td.columns])

        def read(batch_size: int, _n=name):
            raise InputError("a dump table is read by the dump runner", table=_n)

        tables.append(Table(name, info.path, "dump", schema, read))
    bare: dict[str, list[str]] = {}
    for t in tables:
        bare.setdefault(t.name.rsplit(".", 1)[-1], []).append(t.name)
    aliases = {b: names[0] for b, names in bare.items() if len(names) == 1 and names[0] != b}
    ambiguous = {b: names for b, names in bare.items() if len(names) > 1}
    return DumpDataset(info.path, False, tables, dump=info, aliases=aliases, ambiguous=ambiguous)


DUMP_HINT = "declare `type: string` for this column in the profile"  # a value that does not fit its type


def dump_sources(info: DumpInfo, fields: list[pa.Field]) -> dict[str, Source]:
    """The source types of a dump table's columns for typed (Parquet) output: each column's DDL
    type (field metadata ``veil.sql_type``) mapped by ``sqltypes.sql_output_type``, its text read
    in the dump's dialect (PostgreSQL's t/f booleans and \\x hex bytea)."""
    how = SQL_MYSQL if info.dialect == MYSQL else SQL_PG
    out = {}
    for f in fields:
        sql = (f.metadata or {}).get(b"veil.sql_type", b"").decode()
        t = sql_output_type(sql, info.dialect) if sql else None
        if t is not None:
            out[f.name] = Source(t, how)
    return out


def ddl_keys(info: DumpInfo, name: str) -> tuple[list[str], list[list[str]], list[ForeignKey]]:
    """Primary key, unique keys and foreign keys of a table as the DDL declares them."""
    td = info.tables.get(name)
    if td is None:
        return [], [], []
    fks = [ForeignKey(fk.columns, info.parent_of(fk.ref_table), fk.ref_columns, f"ddl:{name}", None)
           for fk in table_foreign_keys(info.tables, name)]
    return td.primary_key, td.unique, fks
