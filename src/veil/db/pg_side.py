"""PostgreSQL → PostgreSQL: large tables nobody transforms copied beside the run, in parallel.

A table whose every column is kept (and that no subset, forget list or row order touches) comes
out of veil byte for byte as it went in. Through the run it costs a main process that only passes
its rows on, and a target that loads it only after the transformed tables before it. Here such a
table goes straight from the source's snapshot to the scratch database, ``pg_dump --section=data
--snapshot=S --table=T ... | psql``, with no Python in between, while veil transforms the others;
pg_restore ``--jobs`` loads tables side by side in the same way. To keep the order a restore needs,
the run is then split in three, each loaded by psql into the scratch database:

1. pre-data (the tables, types, functions), alone, before any row;
2. the data: the run's own stream (every other table, the sequences' setval lines) and, beside it,
   the side copy; the run waits for the side copy before its stream ends;
3. post-data (keys, indexes, foreign keys, triggers), once both are in.

The rows written are those of the whole run through veil; the report counts the side tables' rows
from psql's ``COPY n``. Only tables of at least ``SIDE_MIN_BYTES`` on the source
go beside (a small table costs more as its own pg_dump than through the run), and only those
whose schema and name are plain identifiers (pg_dump's --table takes patterns).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import tempfile
import threading
from typing import Any

from ..errors import OutputError
from ..formats.dump.rewrite import needs_work
from ..plan import Plan
from .pg_target import load_failed, psql_command
from .server import tool_path
from .url import DbUrl

SIDE_MIN_BYTES = 8 << 20  # VEIL_SIDE_MIN_BYTES overrides it (0: every table that qualifies)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

SIZES = """
SELECT n.nspname, c.relname, pg_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def side_tables(info: Any, plan: Plan, with_vault: bool, shuffle: bool) -> dict[str, list[tuple[str, str]]]:
    """The tables to copy beside the run: name -> its (schema, table) with data (itself, or its leaf
    partitions). Empty for a run with a subset or a shuffled row order."""
    if plan.subset is not None or shuffle:
        return {}
    leaves: dict[str, list[tuple[str, str]]] = {}
    size: dict[str, int] = {}
    for schema, rel, nbytes in info.conn.execute(SIZES).fetchall():
        name = info.parent_of(f"{schema}.{rel}")
        leaves.setdefault(name, []).append((schema, rel))
        size[name] = size.get(name, 0) + int(nbytes)
    least = int(os.environ.get("VEIL_SIDE_MIN_BYTES", SIDE_MIN_BYTES))
    # a sequence that feeds a column of another table too: its setval is the run's (not pg_dump's)
    shared = {info.parent_of(t) for seq in info.sequences.seqs.values()
              if len({info.parent_of(t2) for t2, _ in seq.links}) > 1 for t, _ in seq.links}
    out = {}
    for name, tplan in plan.tables.items():
        if needs_work(tplan, {}, False) or name in shared:
            continue
        if with_vault and (tplan.subject or tplan.foreign_keys):
            continue  # a forget list may drop its rows, or rows referencing a forgotten subject's
        parts = leaves.get(name, [])
        if parts and size.get(name, 0) >= least and all(_PLAIN.match(p) for leaf in parts for p in leaf):
            out[name] = parts
    return out


def _quoted(leaf: tuple[str, str]) -> str:
    return ".".join(f'"{p}"' for p in leaf)


def psql_argv(url: DbUrl, dbname: str) -> list[str]:
    argv = psql_command(url, dbname)
    if argv is None:
        raise OutputError("psql is not on PATH", file=str(url), hint="install the PostgreSQL client tools")
    return argv


def load_text(url: DbUrl, dbname: str, text: str) -> None:
    """Run ``text`` (a section of pg_dump's output) through psql into ``dbname``; an error stops it."""
    proc = subprocess.run(psql_argv(url, dbname), input=text.encode("utf-8", "surrogateescape"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=url.env())
    if proc.returncode != 0:
        raise load_failed(str(url), proc.stderr)


def _name_pattern(leaf: tuple[str, str]) -> str:
    """A table's name as pg_dump may write it: each part bare or double-quoted."""
    return r"\.".join(rf'(?:{re.escape(p)}|"{re.escape(p)}")' for p in leaf)


_SETTING = re.compile(r"\s*(?:SET\s|SELECT\s+pg_catalog\.set_config\s*\()", re.I)


def split_post(post: str, tables: dict[str, list[tuple[str, str]]]) -> tuple[dict[str, str], str]:
    """pg_dump's post-data split: per side table (not partitioned), the statements that only build its
    own primary key, unique constraints and indexes (run right after its rows are in, beside the run),
    each script headed by the section's session settings; and the rest of the section, as it was,
    for after the run (foreign keys, triggers, everything else, in its order)."""
    from ..formats.dump.lexer import PG, Scanner

    items = list(Scanner(iter(io.StringIO(post, newline="")), PG, "post-data").items())
    own = {name: re.compile(rf"\s*(?:ALTER\s+TABLE\s+ONLY\s+(?-i:{_name_pattern(leaves[0])})\s+ADD\s+CONSTRAINT\s+"
                            rf"(?:\w+|\"[^\"]*\")\s+(?:PRIMARY\s+KEY|UNIQUE)\s*\("
                            rf"|CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:\w+|\"[^\"]*\")\s+ON\s+(?-i:{_name_pattern(leaves[0])})"
                            rf"\s+USING\s)", re.I)
           for name, leaves in tables.items() if len(leaves) == 1}
    settings: list[str] = []  # the section's SET statements so far (each early script replays those
    early: dict[str, list[str]] = {}  # before its statements: the same session state, tablespace included)
    replayed: dict[str, int] = {}
    rest = []
    for it in items:  # (statements: one an item)
        if _SETTING.match(it.text):
            settings.append(it.text)
        name = next((n for n, rx in own.items() if rx.match(it.text)), None)
        if name is None:
            rest.append(it.text)
            continue
        script = early.setdefault(name, [])
        script += settings[replayed.get(name, 0):]
        replayed[name] = len(settings)
        script.append(it.text)
    return {n: "".join(stmts) for n, stmts in early.items()}, "".join(rest)


_COPIED = re.compile(rb"^COPY (\d+)$", re.M)


class SideCopy:
    """The side tables, one after the other in a thread: ``pg_dump --section=data --table=... | psql``,
    then the table's own keys and indexes (:func:`split_post`). Started at once; :meth:`finish` waits.
    ``post``: the rest of post-data, for the run to load once its stream and this copy are in."""

    def __init__(self, source: Any, tables: dict[str, list[tuple[str, str]]], target: DbUrl, scratch: str,
                 early: dict[str, str], post: str):
        self.source, self.tables, self.target, self.scratch, self.early = source, tables, target, scratch, early
        self.post = post
        tool_path("pg_dump", source.url, "source")  # on PATH: said here, not from the thread
        self.counts: list[tuple[str, int]] = []
        self.error: BaseException | None = None
        self.procs: list[subprocess.Popen] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="veil-side-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for name, leaves in self.tables.items():
                if self.stopped:
                    return
                self.counts.append((name, self._copy(leaves)))
                if name in self.early:
                    load_text(self.target, self.scratch, self.early[name])
        except BaseException as exc:  # handed to finish()
            self.error = exc

    def _copy(self, leaves: list[tuple[str, str]]) -> int:
        argv = [a for a in psql_argv(self.target, self.scratch) if a != "-q"]  # psql says "COPY n"
        dump_err = tempfile.TemporaryFile()
        self.procs = []
        dump = subprocess.Popen(self.source.data_dump([f"--table={_quoted(leaf)}" for leaf in leaves]),
                                env=self.source.url.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=dump_err)
        self.procs.append(dump)
        load = subprocess.Popen(argv, stdin=dump.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.target.env())
        self.procs.append(load)
        dump.stdout.close()  # psql holds it now: pg_dump sees a closed pipe if psql dies
        said, err = load.communicate()
        if load.returncode != 0:
            dump.kill()
            dump.wait()
            raise load_failed(str(self.target), err)
        if dump.wait() != 0:
            dump_err.seek(0)
            raise self.source.dump_failed(dump_err.read())
        return sum(int(n) for n in _COPIED.findall(said))

    def finish(self) -> list[tuple[str, int]]:
        """Wait for the copy; (table, rows) of each side table."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.counts

    def abort(self) -> None:
        self.stopped = True
        for proc in self.procs:
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    proc.kill()
        self.thread.join()
