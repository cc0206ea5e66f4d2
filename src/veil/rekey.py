"""Re-key a pseudonymized dataset from one key version to another, using the vault alone.

Keyed columns are mapped back to their originals through the vault (under the
old version) and transformed again under the new one; date shifts are undone
with the old offsets and applied with the new; every other column is already
in its final form and passes through unchanged. The result equals, byte for
byte, a fresh run of the same profile on the original extract under the new
version, and the new pseudonyms are written to the vault.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .dataset import Dataset
from .errors import KeyringError, Problem, ProfileError, VaultError
from .keys import KeyProvider
from .ops import OPERATORS, REKEY_REFUSE, REKEY_UNDO, REKEY_VAULT, OpContext
from .ops.arrays import blank_mask, canonical, map_distinct, with_blanks, without_blanks
from .pipeline import Progress, RunResult, run_plan
from .plan import ColumnPlan, Plan, TablePlan, compile_plan
from .profile import Profile
from .vault import Vault


def _without_dropped(profile: Profile) -> Profile:
    """Dropped columns are absent from a pseudonymized dataset: leave their rules out."""
    p = copy.deepcopy(profile)
    for t in p.tables.values():
        t.columns = {c: r for c, r in t.columns.items() if not OPERATORS[r.op].drops_column}
    return p


def _rekey_problems(table: str, c: ColumnPlan, by_name: dict[str, ColumnPlan]) -> list[Problem]:
    """Why a keyed column cannot be re-keyed from the vault (its operator's rekey mode says how)."""
    op = c.operator
    if op.rekey == REKEY_VAULT and not c.reversible:
        return [Problem(f"{table}.{c.name} uses keyed operator {c.op} but is not reversible: "
                        "it cannot be re-keyed from the vault",
                        hint="set reversible: true on it (new runs), or re-run from the extract")]
    if op.rekey == REKEY_REFUSE:
        return [Problem(f"{table}.{c.name} {op.rekey_refusal}",
                        hint=f"re-run from the extract to re-key a dataset with {op.name} columns")]
    if op.rekey == REKEY_UNDO:
        out = []
        for name in c.context_columns:
            subj = by_name.get(name)
            if subj is not None and subj.key_version is not None and not subj.reversible:
                out.append(Problem(f"{table}.{c.name} is shifted by subject {subj.name}, which is "
                                   "not reversible: the old shift cannot be undone",
                                   hint="make the subject column reversible"))
        return out
    return []


def rekey_plan(profile: Profile, dataset: Dataset, to_version: str) -> tuple[Plan, dict[str, dict[str, ColumnPlan]]]:
    """The plan for a re-key: keyed columns under ``to_version``, everything else kept.

    Returns the plan and, per table, the original plan of the columns that
    need their originals back (keyed reversible columns, date shifts).
    """
    plan = compile_plan(_without_dropped(profile), dataset, to_version)
    problems: list[Problem] = []
    keyed: dict[str, dict[str, ColumnPlan]] = {}
    for tplan in plan.tables.values():
        by_name = {c.name: c for c in tplan.columns}
        keyed[tplan.name] = {}
        for i, c in enumerate(tplan.columns):
            if c.key_version is None:
                tplan.columns[i] = ColumnPlan(c.name, "keep", {}, None, c.source, c.in_type, c.in_type)
                continue
            keyed[tplan.name][c.name] = c
            problems += _rekey_problems(tplan.name, c, by_name)
    if problems:
        raise ProfileError(problems, file=profile.file)
    return plan, keyed


class _Originals:
    """Pseudonym -> original text per (domain, version), decrypted once per run."""

    def __init__(self, vault: Vault, version: str):
        self.vault = vault
        self.version = version
        self.maps: dict[str, dict[str, str]] = {}

    def reveal(self, arr: pa.Array, domain: str, table: str, column: str, context: pa.Array | None) -> pa.Array:
        if domain not in self.maps:
            mapping, ambiguous = self.vault.load_map(domain, self.version)
            self.maps[domain] = ({k: v.decode("utf-8") for k, v in mapping.items()}, ambiguous)
        mapping, ambiguous = self.maps[domain]
        raw = text = pc.cast(canonical(arr), pa.string())
        blanks = blank_mask(text)  # kept blanks (rule blank: keep) were never pseudonyms: they stay
        if blanks is not None:
            text = without_blanks(text, blanks)
        if text.null_count == len(text):
            nulls = pa.nulls(len(text), pa.string())
            return nulls if blanks is None else with_blanks(nulls, raw, blanks)
        ctx = pc.fill_null(pc.cast(canonical(context), pa.string()), "") if context is not None else ""
        keys = pc.binary_join_element_wise(text, ctx, "\0")
        missing = unsure = 0

        def back(uniques: pa.Array) -> pa.Array:
            nonlocal missing, unsure
            names = uniques.to_pylist()
            vals = [mapping.get(k) for k in names]
            missing += sum(v is None for v in vals)
            unsure += sum(k in ambiguous for k in names)
            return pa.array(vals, pa.string())

        out = map_distinct(keys, back)
        if missing:
            raise VaultError(f"{missing} pseudonym(s) of key version {self.version} are not in the vault",
                             table=table, column=column,
                             hint="they were forgotten, recorded in another vault, or never reversible; "
                             "re-run from the extract")
        if unsure:
            raise VaultError(f"{unsure} pseudonym(s) map to several originals (the operator is not injective "
                             "and the table has no single-column primary key to tell them apart)",
                             table=table, column=column, hint="declare a primary key, or re-run from the extract")
        return out if blanks is None else with_blanks(out, raw, blanks)


def _check_keys(c: ColumnPlan, given: pa.Array, restored: pa.RecordBatch, keys: KeyProvider, table: str,
                version: str, sample: int = 64) -> None:
    """The originals the vault gave back must pseudonymize, under ``version`` and these keys (their
    scope: veil.scope), to the values the dataset holds: else the dataset was made in another scope
    (or with another profile), and date shifts would be undone with the wrong offsets. Checked on
    the first rows of a table's first batch."""
    n = min(sample, len(given))
    text = pc.cast(canonical(given.slice(0, n)), pa.string())
    keep = pc.is_valid(text)
    blanks = blank_mask(text)
    if blanks is not None:
        keep = pc.and_(keep, pc.invert(blanks))
    part = restored.slice(0, n)
    ctx = OpContext(keys, c.domain or "", c.params, table, c.name, part, 0, version)
    again = pc.cast(canonical(c.operator.apply(part.column(c.name), ctx)), pa.string())
    if pc.all(pc.equal(again.filter(keep), text.filter(keep))).as_py() not in (True, None):
        raise KeyringError(f"the originals the vault holds for {table}.{c.name} do not give its pseudonyms back "
                           f"under key version {version} in this scope: the dataset was made in another scope "
                           "(or with another profile)",
                           hint="re-key in the scope the dataset was made in (the profile's scope:, or --scope NAME)")


def rekey(profile: Profile, dataset: Dataset, out: Path, keys: KeyProvider, vault: Vault, *,
          from_version: str, to_version: str, fmt: str | None = None, batch_size: int = 65_536,
          workers: int = 1, progress: Progress | None = None) -> tuple[RunResult, Plan]:
    keys.subkey("domain", "", from_version)  # fails clearly if the old version was destroyed
    keys.vault_key(to_version)
    plan, keyed = rekey_plan(profile, dataset, to_version)
    if from_version == to_version:
        raise KeyringError(f"--from and --to are the same key version ({to_version})",
                           hint="rotate first (veil keys rotate), then re-key to the new version")
    originals = _Originals(vault, from_version)
    checked: set[str] = set()

    def prepare(tplan: TablePlan, batch: pa.RecordBatch, offset: int) -> pa.RecordBatch:
        cols = dict(zip(batch.schema.names, batch.columns, strict=True))
        given = dict(cols)  # the pseudonymized values, which vault contexts refer to
        for name, c in keyed[tplan.name].items():
            if c.operator.rekey == REKEY_VAULT:
                context = given[c.vault_context] if c.vault_context else None
                cols[name] = originals.reveal(given[name], c.domain or "", tplan.name, name, context)
        restored = pa.RecordBatch.from_pydict(cols)
        if tplan.name not in checked:
            checked.add(tplan.name)
            for name, c in keyed[tplan.name].items():
                if c.operator.rekey == REKEY_VAULT:
                    _check_keys(c, given[name], restored, keys, tplan.name, from_version)
        for name, c in keyed[tplan.name].items():
            if c.operator.rekey == REKEY_UNDO:
                ctx = OpContext(keys, "", c.params, tplan.name, name, restored, offset, from_version)
                cols[name] = c.operator.undo(cols[name], ctx)
        return pa.RecordBatch.from_pydict(cols)

    result = run_plan(plan, dataset, out, keys, fmt=fmt, batch_size=batch_size, workers=workers,
                      progress=progress, vault=vault, prepare=prepare, action="rekey",
                      purpose=f"{from_version} -> {to_version}", row_order=profile.row_order)
    return result, plan
