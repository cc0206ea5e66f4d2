"""Run a plan: stream each table's batches through its operators, write atomically.

- :mod:`.transform`: one batch through a table's plan (the workers' job; its vault records are
  built by :mod:`veil.vault.records`);
- :mod:`.engine`: in process or a pool of worker processes that end with the run;
- :mod:`.driver`: the one run loop, any Source into any Sink (veil.dataset);
- :mod:`.report`: what a run produced, and its JSON report.

:func:`run_plan` picks the source and sink of a dataset (table files, or a SQL dump
rewritten or written as table files) and drives them.
"""

from __future__ import annotations

from pathlib import Path

from ..dataset import Dataset, Source
from ..errors import InputError, UsageError
from ..formats.dump import DumpDataset
from ..formats.dump.rewrite import DumpSource, dump_run
from ..formats.dump.sinks import DumpSink
from ..formats.files import BackgroundWriter, TableFilesSink, file_run, output_name
from ..formats.order import ORDER_PURPOSE
from ..keys import KeyProvider
from ..plan import Plan
from ..privacy.enforce import enforce as enforce_privacy
from ..subset.run import apply_subset
from ..vault import Vault
from ..vault.records import RowContext, VaultPart, vault_part, vault_records
from .driver import Driver, KeyCheck, Prepare, Prepared, Progress, VaultWriter, drive
from .engine import Engine, worker_init
from .report import ColumnStats, RunResult, TableResult, report_dict
from .transform import BatchResult, RunContext, run_context, transform_batch

__all__ = [
    "BackgroundWriter", "BatchResult", "ColumnStats", "Driver", "Engine", "KeyCheck", "Prepare", "Prepared", "Progress",
    "RowContext", "RunContext", "RunResult", "TableResult", "VaultPart", "VaultWriter", "drive", "output_name",
    "report_dict", "run_context", "run_plan", "transform_batch", "vault_part", "vault_records", "worker_init",
]


def run_plan(plan: Plan, dataset: Dataset, out: Path, keys: KeyProvider | None, *,
             fmt: str | None = None, batch_size: int = 65_536, workers: int = 1,
             progress: Progress | None = None, vault: Vault | None = None,
             prepare: Prepare | None = None, action: str = "run", purpose: str = "",
             actor: str | None = None, row_order: str = "keep") -> RunResult:
    """Transform every table of ``dataset`` into ``out`` (a directory, or a file for one-file input
    or a dump).

    With a ``vault``, reversible columns write their (pseudonym -> original) records, and rows of
    forgotten subjects (and rows referencing them) are dropped, and the vault's commit writes the
    run's audit entry (``action`` "run" or "rekey", ``purpose``, ``actor``; the records it stored)
    in the records' transaction. ``prepare`` rewrites each input batch first (re-keying uses it).
    """
    source: Source
    if prepare is None:  # a re-key keeps the copy's rows and generalized quasi-identifiers as they are
        plan.subset_report = apply_subset(plan, dataset, keys)  # the subset's closure (veil.subset)
        enforce_privacy(plan, dataset)  # k-anonymity: the quasi-identifiers' first pass, of the subset
    if isinstance(dataset, DumpDataset):
        if prepare is not None:
            raise InputError("re-keying a SQL dump is not supported yet", file=str(dataset.root),
                             hint="re-key a Parquet or CSV output (veil run --format parquet)")
        source, sink, out = dump_run(plan, dataset.dump, Path(out), fmt)
    else:
        source, sink, out = file_run(plan, dataset, Path(out), fmt)
    if plan.omitted:  # subset others: omit: those tables get no file
        if not isinstance(sink, TableFilesSink):
            raise UsageError("subset others: omit leaves tables out of table files; a rewritten SQL dump keeps "
                             "every table's DDL (views, triggers and constraints may depend on it)",
                             hint="use others: empty (the tables keep their DDL and no rows), or --format parquet|csv")
        sink.files = {t: f for t, f in sink.files.items() if t not in plan.omitted}
    if row_order == "shuffle":
        _shuffle(source, sink, keys)
    if prepare is not None:
        source = Prepared(source, prepare)
    return drive(plan, source, sink, out, keys, batch_size=batch_size, workers=workers, progress=progress,
                 vault=vault, action=action, purpose=purpose, actor=actor)


def _shuffle(source: Source, sink: object, keys: KeyProvider | None) -> None:
    """row_order: shuffle: a sink of table files (veil.formats.order) or a rewritten SQL dump
    (veil.formats.dump.shuffle, whose source then renders every block's rows)."""
    if keys is None:
        raise UsageError("row_order: shuffle needs a keyring (the order is keyed)", hint="pass --keyring")
    if isinstance(sink, DumpSink):
        assert isinstance(source, DumpSource)
        source.shuffle = True
    elif not isinstance(sink, TableFilesSink):
        raise UsageError("row_order: shuffle is not supported for this output", hint="run with --row-order keep")
    sink.order = lambda table: keys.subkey(ORDER_PURPOSE, table)  # type: ignore[attr-defined]
