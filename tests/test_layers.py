"""What imports what: transformation (veil.ops) imports nothing from detection (veil.detect);
only the planner and the pipeline see both. (The other direction: tests/test_scan_api.py.)"""

from __future__ import annotations

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
