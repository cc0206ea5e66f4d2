"""Plugins by entry points (issue 15 point 2): a tiny plugin package under tests/plugins/ is put on
the path (its .dist-info is what importlib.metadata discovers, as after `pip install`), and its
operator is used from a profile in real `veil run`s (in a subprocess, also with worker processes)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from veil import plugins

from .conftest import run_module

PLUGINS = Path(__file__).parent / "plugins"
GOOD = PLUGINS / "veil_example_plugin"
BROKEN = PLUGINS / "veil_broken_plugin"


def _env(*dirs: Path) -> dict[str, str]:
    paths = [str(d) for d in dirs] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(paths)}


def _input(tmp_path: Path, rows: int = 5) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    with open(src / "people.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "city"])
        for i in range(rows):
            w.writerow([i, f"ann lee {i}", "berlin"])
    return src


def _profile(tmp_path: Path, rule: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(f"version: 1\ntables:\n  people:\n    columns:\n      id: keep\n      name: {rule}\n"
                 "      city: keep\n")
    return p


def test_a_plugin_operator_is_used_from_a_profile_in_a_real_run(tmp_path, keyring):
    src = _input(tmp_path, rows=40)
    out = tmp_path / "out"
    profile = _profile(tmp_path, "{op: upper, suffix: '!'}")
    # --batch-size 8 and 2 workers: the plugin operator is looked up in worker processes too
    res = run_module("run", src, "-p", profile, "--keyring", keyring, "--out", out, "-q",
                     "--workers", "2", "--batch-size", "8", env=_env(GOOD))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(out / "people.csv")))
    assert [r["name"] for r in rows] == [f"ANN LEE {i}!" for i in range(40)]
    assert {r["city"] for r in rows} == {"berlin"}
    # validate knows it too, and checks its parameters like a built-in's
    assert run_module("validate", profile, src, env=_env(GOOD)).returncode == 0
    res = run_module("validate", _profile(tmp_path, "{op: upper, sufix: '!'}"), src, env=_env(GOOD))
    assert res.returncode == 3, res.stderr
    assert "unknown parameter 'sufix' for operator upper (hint: did you mean 'suffix'?)" in res.stderr


def test_without_the_plugin_its_operator_is_unknown(tmp_path, keyring):
    res = run_module("validate", _profile(tmp_path, "upper"))
    assert res.returncode == 3 and "unknown operator 'upper'" in res.stderr


def test_veil_operators_lists_plugin_operators_with_their_origin(tmp_path):
    res = run_module("operators", "--json", env=_env(GOOD))
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["upper"]["origin"] == "veil-example-plugin 1.0"
    assert rows["upper"]["params"][0]["name"] == "suffix"
    assert rows["pseudonymize"]["origin"] == "built-in" and rows["mask"]["origin"] == "built-in"
    assert res.stderr == ""
    text = run_module("operators", env=_env(GOOD)).stdout
    assert "upper [plugin: veil-example-plugin 1.0]: Upper-case text" in text


def test_broken_and_clashing_plugins_are_warned_about_and_refused_by_profiles(tmp_path, keyring):
    env = _env(GOOD, BROKEN)
    res = run_module("operators", "--json", env=env)
    assert res.returncode == 0, res.stderr
    names = {r["name"]: r for r in json.loads(res.stdout)}
    assert names["mask"]["origin"] == "built-in"  # a plugin never replaces a built-in
    assert "upper" not in names and "broken" not in names
    warnings = [line for line in res.stderr.splitlines() if line.startswith("veil: warning: plugin")]
    assert len(warnings) == 3, res.stderr
    assert "plugin broken (veil.operators, from veil-broken-plugin 0.1): it failed to load " \
           "(ModuleNotFoundError)" in res.stderr
    assert "plugin mask (veil.operators, from veil-broken-plugin 0.1): its name is a built-in's" in res.stderr
    assert "plugin upper" in res.stderr and "several distributions register this name" in res.stderr
    assert "Traceback" not in res.stderr
    src = _input(tmp_path)
    for rule, what in (("broken", "it failed to load"), ("mask", "its name is a built-in's"),
                       ("upper", "several distributions")):
        out = tmp_path / f"out-{rule}"
        res = run_module("run", src, "-p", _profile(tmp_path, rule), "--keyring", keyring, "--out", out,
                         env=env)
        assert res.returncode == 3, (rule, res.stderr)
        assert "p.yaml:6: tables.people.columns.name.op: plugin " + rule in res.stderr and what in res.stderr
        assert "Traceback" not in res.stderr and not out.exists()
    # a profile that does not name them runs
    res = run_module("run", src, "-p", _profile(tmp_path, "redact"), "--keyring", keyring,
                     "--out", tmp_path / "out", "-q", env=env)
    assert res.returncode == 0, res.stderr


def test_plugin_groups_load_once_and_check_what_they_load(monkeypatch):
    calls = []

    class EP:
        def __init__(self, name, value):
            self.name, self.value, self.dist = name, value, None

        def load(self):
            calls.append(self.name)
            return self.value

    class Fmt:
        name, extensions = "tsv", (".tsv",)

        def open(self, path, name):
            raise NotImplementedError

        def writer(self, path, schema, source):
            raise NotImplementedError

    eps = [EP("tsv", Fmt()), EP("csv", Fmt()), EP("bad", object()), EP("rec", lambda: object())]
    monkeypatch.setattr(plugins, "entry_points", lambda group: [e for e in eps if group == "g"])
    group = plugins.PluginGroup("g", {"csv"}, plugins.accept_format)
    assert group.load("tsv").name == "tsv" and group.load("tsv").name == "tsv"
    assert calls == ["tsv"]  # loaded once
    assert group.load("csv") is None and "built-in" in group.problem("csv").message
    assert "csv" not in calls  # a clash is refused before anything is imported
    assert group.load("bad") is None and "ValueError" in group.problem("bad").message
    assert group.load("nothing") is None and group.problem("nothing") is None
    recs = plugins.PluginGroup("g", (), plugins.accept_recognizer)
    assert recs.load("rec") is None and "TypeError" in recs.problem("rec").message

    class Recognizer:
        supported_entities = ["TICKET"]

        def analyze(self, text, entities, nlp_artifacts=None):
            return []

    eps.append(EP("cls", Recognizer))
    recs.reset()
    assert isinstance(recs.load("cls"), Recognizer)  # a class is instantiated


def test_a_plugin_format_reads_and_writes_its_tables_in_a_real_run(tmp_path, keyring):
    src = tmp_path / "in"
    src.mkdir()
    lines = ["id\tname\tcity"] + [f"{i}\tann lee {i}\tberlin" for i in range(30)]
    (src / "people.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    profile = _profile(tmp_path, "{op: upper}")
    res = run_module("run", src, "-p", profile, "--keyring", keyring, "--out", out, "-q",
                     "--workers", "2", "--batch-size", "8", env=_env(GOOD))
    assert res.returncode == 0, res.stderr
    got = (out / "people.tsv").read_text().splitlines()
    assert got[0].replace('"', "").split("\t") == ["id", "name", "city"]
    assert [r.replace('"', "").split("\t")[1] for r in got[1:]] == [f"ANN LEE {i}" for i in range(30)]
    # without the plugin the .tsv file is not a table veil can read
    res = run_module("run", src, "-p", profile, "--keyring", keyring, "--out", tmp_path / "o2", "-q")
    assert res.returncode != 0 and "Traceback" not in res.stderr


def test_a_plugin_recognizer_is_used_by_scan(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    with open(src / "staff.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "ref"])
        for i in range(50):
            w.writerow([i, f"EMP-{100000 + i * 7}"])
    found = {}
    for env, key in ((_env(GOOD), "with"), (None, "without")):
        js = tmp_path / f"{key}.json"
        res = run_module("scan", src, "--json", js, "--no-ner", "-q", env=env)
        assert res.returncode == 0, res.stderr
        cols = {c["column"]: c for c in json.loads(js.read_text())["columns"]}
        found[key] = cols["ref"]["entity"]
    assert found == {"with": "NATIONAL_ID", "without": "NONE"}
