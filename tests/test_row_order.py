"""row_order: shuffle writes each table's rows in a keyed pseudo-random order (veil.formats.order);
keep (the default) leaves outputs as they were; verify does not pair a shuffled copy's rows."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE, run_module
from veil.errors import ProfileError
from veil.formats import order
from veil.keys import init_keyring
from veil.profile import load_profile

TABLES = ["addresses", "customers", "orders", "payments", "support_tickets"]
PKS = {"customers": "customer_id", "orders": "order_id", "addresses": "address_id"}


def _run(cli, out: Path, keyring: Path, *extra: str, src: Path = SAMPLES_PARQUET, profile: Path = SHOP_PROFILE):
    res = cli("run", src, "--profile", profile, "--keyring", keyring, "--out", out, "--workers", "1", "-q", *extra)
    assert res.exit_code == 0, res.output
    return out


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _permutation(shuffled: pa.Table, kept: pa.Table, key: str) -> np.ndarray:
    """Where each row of ``shuffled`` is in ``kept`` (by a unique key column)."""
    where = {v: i for i, v in enumerate(kept.column(key).to_pylist())}
    return np.array([where[v] for v in shuffled.column(key).to_pylist()])


def _sorted_rows(t: pa.Table) -> list[tuple]:
    return sorted(tuple(map(repr, r.values())) for r in t.to_pylist())


def test_keep_is_the_default_and_byte_identical(cli, keyring, tmp_path):
    plain = _run(cli, tmp_path / "plain", keyring)
    keep = _run(cli, tmp_path / "keep", keyring, "--row-order", "keep")
    assert _files(plain) == _files(keep)
    # in the input's order: a kept column reads as the input's, row for row
    src, out = pq.read_table(SAMPLES_PARQUET / "customers.parquet"), pq.read_table(plain / "customers.parquet")
    assert out.column("city").to_pylist() == src.column("city").to_pylist()


def test_shuffle_moves_rows_keeps_them_and_is_keyed(cli, keyring, tmp_path):
    keep = _run(cli, tmp_path / "keep", keyring)
    a = _run(cli, tmp_path / "a", keyring, "--row-order", "shuffle")
    b = _run(cli, tmp_path / "b", keyring, "--row-order", "shuffle")
    assert _files(a) == _files(b)  # same input and key: same order
    for name in TABLES:
        k, s = pq.read_table(keep / f"{name}.parquet"), pq.read_table(a / f"{name}.parquet")
        assert s.schema == k.schema and s.num_rows == k.num_rows
        assert _sorted_rows(s) == _sorted_rows(k)  # the same rows, as many times
        assert s.to_pylist() != k.to_pylist()
    for name, pk in PKS.items():
        k, s = pq.read_table(keep / f"{name}.parquet"), pq.read_table(a / f"{name}.parquet")
        perm = _permutation(s, k, pk)
        # a uniform permutation leaves about one row where it was (Poisson(1) many, whatever the size):
        # 20 or more with probability 1.6e-19 (the old bound, 5% of the 200 customers, failed at 10
        # or more: 1.1e-7)
        assert (perm == np.arange(len(perm))).sum() < 20, name
        # and no neighbourhood survives: the displacement is of the table's size, not a window's
        assert np.abs(perm - np.arange(len(perm))).mean() > len(perm) / 5, name


def test_another_key_gives_an_unrelated_order(cli, keyring, tmp_path):
    other = tmp_path / "keys2" / "keyring.json"
    other.parent.mkdir()
    init_keyring(other)
    perms = []
    for ring, tag in ((keyring, "1"), (other, "2")):
        keep = _run(cli, tmp_path / f"keep{tag}", ring)
        shuf = _run(cli, tmp_path / f"shuf{tag}", ring, "--row-order", "shuffle")
        perms.append(_permutation(pq.read_table(shuf / "orders.parquet"), pq.read_table(keep / "orders.parquet"),
                                  "order_id"))
    assert (perms[0] == perms[1]).mean() < 0.05


def test_the_profile_asks_and_the_option_overrides(cli, keyring, tmp_path):
    prof = tmp_path / "shuffle.yaml"
    prof.write_text("row_order: shuffle\n" + SHOP_PROFILE.read_text())
    assert load_profile(prof).row_order == "shuffle"
    by_profile = _run(cli, tmp_path / "p", keyring, profile=prof)
    by_option = _run(cli, tmp_path / "o", keyring, "--row-order", "shuffle")
    kept = _run(cli, tmp_path / "k", keyring, "--row-order", "keep", profile=prof)
    assert _files(by_profile) == _files(by_option)
    assert _files(kept) == _files(_run(cli, tmp_path / "plain", keyring))
    bad = tmp_path / "bad.yaml"
    bad.write_text("row_order: random\n" + SHOP_PROFILE.read_text())
    with pytest.raises(ProfileError, match="row_order must be keep or shuffle"):
        load_profile(bad)


def test_csv_shuffled_with_one_and_two_workers_is_the_same(cli, keyring, tmp_path):
    outs = []
    for w in ("1", "2"):
        out = tmp_path / f"w{w}"
        res = cli("run", SAMPLES_CSV, "--profile", SHOP_PROFILE, "--keyring", keyring, "--out", out,
                  "--workers", w, "--batch-size", "100", "--row-order", "shuffle", "-q")
        assert res.exit_code == 0, res.output
        outs.append(_files(out))
    assert outs[0] == outs[1]
    keep = _run(cli, tmp_path / "keep", keyring, "--batch-size", "100", src=SAMPLES_CSV)
    for name in [n for n in outs[0] if n.endswith(".csv")]:
        a, k = outs[0][name].splitlines(), _files(keep)[name].splitlines()
        assert a[0] == k[0] and sorted(a[1:]) == sorted(k[1:]) and a[1:] != k[1:]


def test_spilling_gives_the_in_memory_order_with_private_files(cli, keyring, tmp_path, monkeypatch):
    memory = _run(cli, tmp_path / "memory", keyring, "--row-order", "shuffle")
    seen: list[tuple[int, set[int], int]] = []
    close = order.ShuffleWriter._close_buckets

    def watch(self):
        if self.spill_dir is not None:
            files = list(self.spill_dir.iterdir())
            seen.append((stat.S_IMODE(self.spill_dir.stat().st_mode),
                         {stat.S_IMODE(f.stat().st_mode) for f in files}, len(files)))
            assert self.spill_dir.parent.parent == tmp_path  # inside the output's temporary directory
        close(self)

    monkeypatch.setattr(order, "MEMORY_BYTES", 1)
    monkeypatch.setattr(order.ShuffleWriter, "_close_buckets", watch)
    spilled = _run(cli, tmp_path / "spilled", keyring, "--row-order", "shuffle", "--batch-size", "50")
    assert len(seen) == len(TABLES) and all(n > 1 for _, _, n in seen)
    assert {d for d, _, _ in seen} == {0o700} and set().union(*(f for _, f, _ in seen)) == {0o600}
    for t in TABLES:  # the same rows in the same order (row groups differ: one per bucket)
        assert pq.read_table(spilled / f"{t}.parquet").equals(pq.read_table(memory / f"{t}.parquet"))
    assert sorted(p.name for p in spilled.iterdir() if not p.name.startswith(".")) == [f"{t}.parquet" for t in TABLES]
    assert not [p for p in spilled.rglob("*") if "row-order" in p.name]  # no spill left


class _Collect:
    def __init__(self):
        self.batches, self.closed = [], False

    def write(self, batch):
        self.batches.append(batch)

    def close(self):
        self.closed = True


def test_shuffle_writer_positions_memory_and_failure(tmp_path, monkeypatch):
    n = 20_000
    rows = pa.record_batch({"i": pa.array(np.arange(n))})
    key = bytes(range(32))

    def shuffled(limit: int) -> tuple[np.ndarray, order.ShuffleWriter]:
        monkeypatch.setattr(order, "MEMORY_BYTES", limit)
        out = _Collect()
        w = order.ShuffleWriter(out, key, tmp_path)
        for start in range(0, n, 1000):
            w.write(rows.slice(start, 1000))
        spilled = w.spilled
        w.close()
        assert out.closed and spilled == (limit < n * 8)
        return np.concatenate([b.column(0).to_numpy() for b in out.batches]), w

    perm, _ = shuffled(1 << 30)
    assert sorted(perm.tolist()) == list(range(n))
    assert (perm == np.arange(n)).mean() < 0.002  # ~1/n
    assert abs(np.corrcoef(perm, np.arange(n))[0, 1]) < 0.05
    spilled, _ = shuffled(4096)
    assert (spilled == perm).all()
    assert list(tmp_path.iterdir()) == []
    # a failed table: nothing written, the spill files gone, the format's writer closed
    monkeypatch.setattr(order, "MEMORY_BYTES", 4096)
    out = _Collect()
    w = order.ShuffleWriter(out, key, tmp_path)
    for start in range(0, n, 1000):
        w.write(rows.slice(start, 1000))
    assert w.spilled and any(tmp_path.iterdir())
    w.discard()
    assert out.closed and out.batches == [] and list(tmp_path.iterdir()) == []


def test_a_dump_output_is_shuffled_to_stdout_and_needs_a_keyring(tmp_path, keyring):
    dump = tmp_path / "in.sql"
    rows = "".join(f"{i}\tperson {i}\n" for i in range(1, 201))
    dump.write_text("CREATE TABLE public.t (id integer, name text);\n"
                    f"COPY public.t (id, name) FROM stdin;\n{rows}\\.\n")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      name: nullify\n")
    res = run_module("run", dump, "-p", prof, "--keyring", keyring, "-o", "-", "--row-order", "shuffle", "-q")
    assert res.returncode == 0, res.stderr
    out = res.stdout.split("FROM stdin;\n")[1].split("\\.\n")[0].splitlines()
    assert sorted(out) == sorted(f"{i}\t\\N" for i in range(1, 201)) and out != [f"{i}\t\\N" for i in range(1, 201)]
    res = run_module("run", dump, "-p", prof, "-o", tmp_path / "out.sql", "--row-order", "shuffle", "-q")
    assert res.returncode == 6, res.stderr  # the order is keyed: no keyring, no run
    assert "keyring" in res.stderr and "person" not in res.stderr
    assert not (tmp_path / "out.sql").exists()


def test_verify_does_not_pair_a_shuffled_copy(cli, keyring, tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text().replace(
        "  customers:\n", "  customers:\n    privacy: {quasi_identifiers: [birth_date, city], k: 1}\n", 1))
    reports = {}
    for mode in ("keep", "shuffle"):
        out = _run(cli, tmp_path / mode, keyring, "--row-order", mode, src=SAMPLES_CSV, profile=prof)
        if mode == "shuffle":  # a planted leak: an original email left in the shuffled copy
            email = (SAMPLES_CSV / "customers.csv").read_text().splitlines()[1].split(",")[1]
            assert "@" in email
            lines = (out / "customers.csv").read_text().splitlines()
            cells = lines[5].split(",")
            lines[5] = ",".join(cells[:1] + [email] + cells[2:])
            (out / "customers.csv").write_text("\n".join(lines) + "\n")
        rep = tmp_path / f"{mode}.json"
        res = cli("verify", SAMPLES_CSV, out, "-p", prof, "--report", rep, "-q")
        assert res.exit_code == (10 if mode == "shuffle" else 0), res.output  # 10: the leaks gate failed
        reports[mode] = json.loads(rep.read_text())
    keep, shuf = reports["keep"], reports["shuffle"]
    assert keep["paired"] is True and keep["reordered_tables"] == []
    assert shuf["paired"] is False
    assert set(shuf["reordered_tables"]) >= {"customers", "orders", "payments"}
    # leaks are still found in a shuffled copy (the planted one), none in the kept one
    assert keep["leaks"]["summary"]["leaks"] == 0
    assert shuf["leaks"]["tables"]["customers"]["columns"]["email"]["leaks"] == 1
    # risk is still measured; the linkage attack is paired on the kept order, a bound on the shuffled
    k_link = keep["risk"]["tables"]["customers"]["linkage"]
    s_link = shuf["risk"]["tables"]["customers"]["linkage"]
    assert k_link["paired"] is True and k_link["bound"] is None
    assert s_link["paired"] is False and s_link["bound"] == "upper"
    assert s_link["reidentified"] >= k_link["reidentified"]


def test_the_draft_shuffles_table_outputs(cli, tmp_path):
    draft = tmp_path / "draft.yaml"
    res = cli("scan", SAMPLES_CSV, "--out", draft, "--no-ner", "-q")
    assert res.exit_code == 0, res.output
    assert "\nrow_order: shuffle\n" in draft.read_text()
    assert load_profile(draft, strict=False).row_order == "shuffle"
