"""Vault records and forget lists on Spark: what the executors send the driver, and what it does with it.

Vault records are sealed under the vault key of their key version (veil.vault.segments), which never
leaves the driver. So an executor seals nothing: for every batch it builds the plain records exactly
as the local engine's main process does (:func:`veil.vault.records.vault_records`: pseudonym,
context, original, blind index, dedup key, subject), encrypts them under a **run-scoped** AES-256-GCM
key (random, made on the driver for this run, held in memory only, in the task closure as the
subkeys are) and writes them to a staging file of its own in a private directory. Once the output is
written, the driver reads the staging files table by table (the local engine's order: referenced
tables first), decrypts them, keeps the records the vault does not hold yet (``Vault.fresh``, one
staged batch at a time, as the local engine does per batch), seals them with the vault key and
stores them; the vault's commit writes the run's audit entry. The staging directory is removed at
the end of the run, whether it succeeded or failed.

Forget lists: the blind indexes of forgotten subjects travel to the executors (they are keyed
hashes, not values), with the blind-index keys of the subject domains. Rows referencing dropped
parent rows (``drop_refs``) need the parents' dropped keys first: one small Spark job per
referenced table that drops rows (its dropped rows' referenced columns, collected on the driver),
in the same order as the local engine, before the child tables are planned.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import VaultError
from ..ops.arrays import as_text
from ..pipeline.transform import BatchResult, RunContext, drop_mask, subject_blinds
from ..plan import TablePlan
from ..vault import PLAIN_SCHEMA, Vault, encrypt_records, rows16
from ..vault.crypto import blind_key
from ..vault.records import vault_records

STAGING_CONF = "spark.veil.staging.dir"  # a directory every executor and the driver see (a cluster)
_SUFFIX = ".rec"


class Staging:
    """A run's private staging directory and its run-scoped key. The key is made here, on the
    driver, and reaches the executors only inside the task closure (:class:`StageWriter`)."""

    def __init__(self, base: str | os.PathLike | None = None):
        if base is not None:
            Path(base).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="veil-staging-", dir=base))  # mode 0700
        self.key = AESGCM.generate_key(bit_length=256)

    def writer(self, table: str) -> StageWriter:
        return StageWriter(str(self.path), table, self.key)

    def batches(self, table: str) -> Iterator[tuple[str, str, pa.RecordBatch]]:
        """(domain, version, plain records) of every staged batch of ``table``, decrypted."""
        aes = AESGCM(self.key)
        folder = self.path / _folder(table)
        if not folder.is_dir():
            return
        for f in sorted(folder.iterdir()):
            if not f.name.endswith(_SUFFIX):
                continue  # a task that died mid-write left a temporary file: its retry wrote the records
            data = f.read_bytes()
            try:
                plain = aes.decrypt(data[:12], data[12:], _aad(table))
            except Exception:
                raise VaultError("a vault staging file failed authentication", table=table,
                                 hint="another process wrote to the run's staging directory; nothing was "
                                 "committed, run again") from None
            with pa.ipc.open_stream(plain) as reader:
                meta = reader.schema.metadata or {}
                domain, version = meta[b"domain"].decode(), meta[b"version"].decode()
                for batch in reader:
                    yield domain, version, batch

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _folder(table: str) -> str:
    return table.encode().hex()  # any table name, as a file name


def _aad(table: str) -> bytes:
    return b"veil spark staging\0" + table.encode()


class StageWriter:
    """What an executor holds to stage records: the directory, the table, the run-scoped key."""

    def __init__(self, path: str, table: str, key: bytes):
        self.path, self.table, self._key = path, table, key

    def __repr__(self) -> str:  # never the key
        return f"StageWriter({self.table!r})"

    def write(self, records: list[tuple[str, str, pa.RecordBatch]], where: tuple[int, int] = (0, 0)) -> None:
        """One file per record set (a reversible column) of a batch, named by ``where`` (the task's partition, the
        batch's number in it): a retried or speculative task writes the same names again, so its
        records replace the first attempt's instead of adding to them. Each file is written under
        a temporary name, then renamed: a file the driver reads is whole."""
        folder = Path(self.path) / _folder(self.table)
        folder.mkdir(exist_ok=True)
        aes = AESGCM(self._key)
        for i, (domain, version, batch) in enumerate(records):
            if not batch.num_rows:
                continue
            schema = PLAIN_SCHEMA.with_metadata({"domain": domain, "version": version})
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, schema) as w:
                w.write_batch(batch.replace_schema_metadata(schema.metadata))
            nonce = os.urandom(12)
            sealed = nonce + aes.encrypt(nonce, sink.getvalue().to_pybytes(), _aad(self.table))
            tmp = folder / (uuid.uuid4().hex + ".tmp")
            tmp.write_bytes(sealed)
            os.replace(tmp, folder / f"{where[0]:06d}-{where[1]:06d}-{i:03d}{_SUFFIX}")


def stage_batch(res: BatchResult, inp: pa.RecordBatch, writer: StageWriter, where: tuple[int, int]) -> None:
    """An executor's part: the plain records of one transformed batch (``inp``: its input), staged
    (``where``: its task's partition and its number there)."""
    if not res.vault:
        return
    if res.kept is not None:
        inp = inp.filter(res.kept)
    writer.write(vault_records(res.vault, inp, res.batch, res.contexts, res.subjects), where)


def partition_id() -> int:
    """The running Spark task's partition (0 outside a task)."""
    from pyspark import TaskContext

    tc = TaskContext.get()
    return tc.partitionId() if tc is not None else 0


def store_staged(vault: Vault, keys: Any, staging: Staging, table: str) -> int:
    """The driver's part: a table's staged records deduplicated against the vault, sealed with the
    vault key and stored (not committed). Returns the records stored."""
    stored = 0
    for domain, version, plain in staging.batches(table):
        blinds = rows16(plain.column("blind"))
        dedup = rows16(plain.column("key"))
        linked = plain.column("subject").is_valid().to_numpy(zero_copy_only=False)
        no_context = (blinds == dedup).all(axis=1)  # a dedup key is the blind index XOR the context's key (0: none)
        keep = vault.fresh(domain, version, dedup, linked, no_context)
        if not keep.any():
            continue
        if not keep.all():
            plain = plain.filter(pa.array(keep))
        stored += vault.store(domain, version, encrypt_records(keys, domain, version, plain))
    return stored


# -- forget lists: the keys of dropped parent rows ------------------------------------------

def record_vault_keys(tplan: TablePlan, recorder: Any, run: RunContext) -> None:
    """Ask ``recorder`` (veil.spark.keys.RecordingKeys) for every index key a table's vault records
    and forget list use, whatever rows the probe saw: blind indexes of the reversible columns'
    and the subject's domains, and the context keys."""
    if run.vault and any(c.reversible and not c.dropped for c in tplan.columns):
        for c in tplan.columns:
            if c.reversible and not c.dropped:
                blind_key(recorder, c.domain)
                if c.vault_context:
                    recorder.index_key("context")
                    recorder.index_key("context-block")
        if tplan.subject is not None:
            blind_key(recorder, tplan.subject.domain)
    if tplan.subject is not None and run.forgotten.get(tplan.subject.domain):
        blind_key(recorder, tplan.subject.domain)


def drops_rows(tplan: TablePlan, run: RunContext) -> bool:
    return bool((tplan.subject and run.forgotten.get(tplan.subject.domain)) or tplan.drop_refs)


def _forgotten_of(tplan: TablePlan, run: RunContext) -> dict[str, frozenset[bytes]]:
    subj = tplan.subject
    return {subj.domain: run.forgotten[subj.domain]} if subj and run.forgotten.get(subj.domain) else {}


def _drops(tplan: TablePlan, keys: Any, forgotten: dict[str, frozenset[bytes]], in_schema: pa.Schema,
           batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[pa.RecordBatch, np.ndarray, int, int]]:
    """Each batch (as ``in_schema``) with the mask of the rows the local engine drops from it, and
    how many of them are forgotten subjects' and how many reference dropped rows."""
    from . import conform

    ctx = RunContext(keys, forgotten)
    for batch in batches:
        batch = conform(batch, in_schema)
        subjects = subject_blinds(tplan, batch, ctx, {}) if forgotten else None
        yield batch, *drop_mask(tplan, batch, ctx, subjects)


def dropped_keys(tplan: TablePlan, spark_df: Any, keys: Any, run: RunContext,
                 in_schema: pa.Schema) -> dict[tuple[str, ...], set[tuple]]:
    """The referenced columns' values (as text, as the local engine keeps them) of the rows this
    table drops: one Spark job reading the table, its dropped rows' keys collected on the driver."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from . import _to_arrow

    cols = list(dict.fromkeys(c for ref in tplan.referenced for c in ref))
    if not cols or not drops_rows(tplan, run):
        return {}
    out_schema = pa.schema([pa.field(f"k{i}", pa.string()) for i in range(len(cols))])
    forgotten = _forgotten_of(tplan, run)

    def dropped(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch, drop, _, _ in _drops(tplan, keys, forgotten, in_schema, batches):
            if drop.any():
                rows = batch.filter(pa.array(drop))
                yield pa.RecordBatch.from_arrays([as_text(rows.column(c)) for c in cols], schema=out_schema)

    got = _to_arrow(spark_df.mapInArrow(dropped, from_arrow_schema(out_schema)))
    texts = {c: got.column(f"k{i}").to_pylist() for i, c in enumerate(cols)}
    return {ref: set(zip(*[texts[c] for c in ref], strict=True)) for ref in tplan.referenced}


def kept_input(tplan: TablePlan, spark_df: Any, keys: Any, run: RunContext, in_schema: pa.Schema) -> Any:
    """The input rows the table keeps (lazily): what its key columns' collision check counts."""
    forgotten = _forgotten_of(tplan, run)

    def kept(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch, drop, _, _ in _drops(tplan, keys, forgotten, in_schema, batches):
            yield batch.filter(pa.array(~drop)) if drop.any() else batch

    return spark_df.mapInArrow(kept, spark_df.schema)


def drop_counts(tplan: TablePlan, spark_df: Any, keys: Any, run: RunContext, in_schema: pa.Schema) -> tuple[int, int]:
    """The rows a table drops, counted as the local engine counts them: (forgotten subjects', by
    reference). One job over the input (only for a table that drops rows): a row of two counts per
    batch, summed by Spark; no value leaves the executors."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    if not drops_rows(tplan, run):
        return 0, 0
    schema = pa.schema([pa.field("forgotten", pa.int64()), pa.field("by_reference", pa.int64())])
    forgotten = _forgotten_of(tplan, run)

    def counts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for _, _, n_forgotten, n_ref in _drops(tplan, keys, forgotten, in_schema, batches):
            yield pa.RecordBatch.from_arrays([pa.array([n_forgotten], pa.int64()), pa.array([n_ref], pa.int64())],
                                             schema=schema)

    row = spark_df.mapInArrow(counts, from_arrow_schema(schema)).agg(
        F.sum("forgotten").alias("f"), F.sum("by_reference").alias("r")).collect()[0]
    return int(row["f"] or 0), int(row["r"] or 0)
