"""A run whose output is a live database: the plan's source (any SQL dump, or a live database read
as its dump) rewritten into the target's scratch database, swapped in on success (veil.db.pg_target)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError, UsageError
from ..formats.dump import DumpDataset
from ..formats.dump.rewrite import DumpSource, dump_counters
from ..formats.order import ORDER_PURPOSE
from ..keys import KeyProvider
from ..output import STDOUT
from ..pipeline.driver import Progress, drive
from ..pipeline.report import RunResult
from ..plan import Plan
from ..privacy.enforce import enforce as enforce_privacy
from ..subset.run import apply_subset
from ..vault import Vault
from .pg_side import load_text
from .url import MYSQL, PG, DbUrl


def refuse_same(dataset: DumpDataset, url: DbUrl, server_id: tuple | None) -> None:
    """The target must not be the source (by URL, and by the server's own identity when both are live)."""
    src = getattr(dataset.dump, "url", None)
    same = src is not None and src.same_place(url)
    if not same and server_id is not None and hasattr(dataset.dump, "server_id"):
        same = dataset.dump.server_id() == server_id
    if same:
        raise UsageError("the target database is the source database", file=str(url),
                         hint="write to another database (the source is only ever read)")


def _side_copy(info: Any, plan: Plan, source: DumpSource, url: DbUrl, scratch: str, with_vault: bool,
               row_order: str) -> Any:
    """Start copying the large untransformed tables beside the run (veil.db.pg_side), the pre-data
    loaded first; None when there are none (the run then loads its one stream as it is)."""
    from .pg_side import SideCopy, side_tables, split_post

    tables = side_tables(info, plan, with_vault, row_order == "shuffle")
    if not tables:
        return None
    early, post = split_post(info.post, tables)
    load_text(url, scratch, info.pre)
    info.split, info.side_leaves = True, [leaf for leaves in tables.values() for leaf in leaves]
    source.side = SideCopy(info, tables, url, scratch, early, post)
    return source.side


def run_into(plan: Plan, dataset: Any, url: DbUrl, keys: KeyProvider | None, *, if_exists: str = "fail",
             batch_size: int = 65_536, workers: int = 1, progress: Progress | None = None,
             vault: Vault | None = None, purpose: str = "", row_order: str = "keep") -> RunResult:
    """Run ``plan`` over ``dataset`` (a SQL dump or a live database) into the database at ``url``."""
    if not isinstance(dataset, DumpDataset):
        raise UsageError("a database output needs a SQL dump or a database as input", file=str(url),
                         hint="write Parquet or CSV (--format) for an input of table files")
    dialect = dataset.dump.dialect
    if (url.kind == PG) != (dialect == PG):
        raise UsageError(f"a {dialect} source cannot be written into a {url.kind} database", file=str(url),
                         hint="write into a database of the source's kind, or write Parquet (--format parquet)")
    dropped = [f"{t.name}.{c.name}" for t in plan.tables.values() for c in t.columns if c.dropped]
    if dropped:
        raise InputError(f"drop would change the tables of the target ({', '.join(dropped)})",
                         hint="use nullify or redact, or write files with --format parquet|csv")
    refuse_same(dataset, url, None)  # by URL, before anything is touched
    if url.kind == MYSQL:
        from .my_target import ClientSink as LoadSink
        from .my_target import MyTarget as TargetCls
    else:
        from .pg_target import PgTarget as TargetCls
        from .pg_target import PsqlSink as LoadSink
    target = TargetCls(url, if_exists)
    try:
        refuse_same(dataset, url, target.server_id())  # and by asking both servers
        plan.subset_report = apply_subset(plan, dataset, keys)
        enforce_privacy(plan, dataset)
        info = dataset.dump
        counters = dump_counters(info, plan)
        source = DumpSource(info, plan, False, counters)
        sink = LoadSink(plan, counters, url, target.scratch)
        if row_order == "shuffle":
            if keys is None:
                raise UsageError("row_order: shuffle needs a keyring (the order is keyed)", hint="pass --keyring")
            source.shuffle = True
            sink.order = lambda table: keys.subkey(ORDER_PURPOSE, table)
        target.create()
        side = None
        try:
            if url.kind == PG and getattr(info, "snapshot", None) is not None:  # a live PostgreSQL source
                side = _side_copy(info, plan, source, url, target.scratch, vault is not None, row_order)
            result = drive(plan, source, sink, STDOUT, keys, batch_size=batch_size, workers=workers,
                           progress=progress, vault=vault, purpose=purpose)
            if side is not None:
                load_text(url, target.scratch, side.post)
            target.swap()
        except BaseException:
            if side is not None:
                side.abort()
            target.discard()
            raise
    finally:
        target.close()
    result.output = url  # type: ignore[assignment]
    return result
