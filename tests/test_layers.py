"""What imports what: transformation (veil.ops) imports nothing from detection (veil.detect);
only the planner and the pipeline see both (the other direction: tests/test_scan_api.py). The
operators, the vault check and the keyring import at module level (no cycle to dodge), and
importing the CLI loads neither Presidio nor spaCy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import veil.ops as ops

from .test_scan_api import _imports

OPS = Path(ops.__file__).resolve().parent
SRC = OPS.parent


def _detection(path: Path, root: Path = SRC) -> set[str]:
    return {m for m in _imports(path, root) if m == "veil.detect" or m.startswith("veil.detect.")}


@pytest.mark.parametrize("path", sorted(OPS.rglob("*.py")), ids=lambda p: str(p.relative_to(OPS)))
def test_operators_import_nothing_from_detection(path):
    bad = _detection(path)
    assert not bad, f"ops/{path.relative_to(OPS)} imports {sorted(bad)}"


def test_the_check_sees_detection_imports(tmp_path):
    """The check above can fail: absolute, relative and function-local imports of detection are seen."""
    probe = tmp_path / "veil" / "ops" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..detect.engine import detector\n"
                     "def f():\n    from .. import detect\n    import veil.detect.entities\n")
    assert _detection(probe, tmp_path / "veil") == {
        "veil.detect.engine", "veil.detect.engine.detector", "veil.detect", "veil.detect.entities"}


def test_planner_and_pipeline_see_both():
    """The span finder reaches scrub through the pipeline (OpContext.spans), the scrub column's
    model and entities are resolved by the plan: both import detection and the operators."""
    for path in (SRC / "plan.py", SRC / "pipeline" / "transform.py"):
        names = _imports(path)
        assert "veil.detect" in names and any(m.startswith("veil.ops") for m in names), path.name


# -- no function-local imports (a sign of a cycle dodged) -----------------------

MODULE_LEVEL_ONLY = [*sorted(OPS.rglob("*.py")), SRC / "vault" / "verify.py", SRC / "keys.py"]


def _local_imports(source: str) -> list[int]:
    """Lines of the imports inside a function (anything under ``if TYPE_CHECKING`` is module level)."""
    out = []
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            out += [n.lineno for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]
    return sorted(set(out))


@pytest.mark.parametrize("path", MODULE_LEVEL_ONLY, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_are_at_module_level(path):
    lines = _local_imports(path.read_text())
    assert not lines, f"{path.relative_to(SRC)}: function-local import(s) at line(s) {lines}"


def test_the_local_import_check_can_fail():
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .vault import Vault\n"
              "def f():\n    from . import lookup\n    def g():\n        import os\n")
    assert _local_imports(source) == [5, 7]


def test_importing_the_cli_loads_no_presidio_or_spacy():
    code = ("import sys, veil.cli, veil.ops.scrub, veil.pipeline.transform, veil.plan\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'presidio_analyzer', 'spacy', 'thinc'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
