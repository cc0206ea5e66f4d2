"""veil.detect's public API for transformation, and detection importing nothing from transformation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import veil.detect as detect
from veil.errors import UsageError

DETECT = Path(detect.__file__).resolve().parent


def _imports(path: Path, root: Path = DETECT.parent) -> set[str]:
    """Absolute names of the veil modules a file imports (relative imports resolved; ``root`` is src/veil)."""
    pkg = ["veil", *path.relative_to(root).with_suffix("").parts[:-1]]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg[: len(pkg) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


@pytest.mark.parametrize("path", sorted(DETECT.glob("*.py")), ids=lambda p: p.name)
def test_detection_imports_nothing_from_transformation(path):
    bad = {m for m in _imports(path) if m == "veil.ops" or m.startswith(("veil.ops.", "veil.profile"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_import_check_sees_relative_imports(tmp_path):
    """The check above can fail: a relative import of ..ops from a detect module is seen."""
    fake = tmp_path / "veil" / "detect" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..ops.scrub import ENTITY_NAMES\nfrom ..profile import _Checker\nimport veil.ops\n")
    assert {"veil.ops.scrub", "veil.profile._Checker", "veil.ops"} <= _imports(fake, tmp_path / "veil")


def test_span_finder_patterns_only():
    finder = detect.span_finder(None)
    text = "mail anna@example.com or call +49 151 12345678"
    spans = finder.spans(text, 0.3)
    assert [s.entity for s in spans][:1] == ["EMAIL"]
    assert text[spans[0].start:spans[0].end] == "anna@example.com"
    assert all(s.entity in detect.SPAN_ENTITIES or s.entity == detect.MIXED for s in spans)
    assert detect.span_finder(None) is finder  # built once per process


def test_entities_and_models():
    assert set(detect.NER_ENTITIES) <= set(detect.SPAN_ENTITIES)
    assert {"EMAIL", "PHONE", "IBAN", "PERSON_NAME", "LOCATION"} <= set(detect.SPAN_ENTITIES)
    assert not detect.nlp_model_installed("../x")
    assert not detect.nlp_model_installed("veil_no_such_pipeline")
    model = detect.default_nlp_model()
    assert model is None or detect.nlp_model_installed(model)
    with pytest.raises(UsageError):
        detect.span_finder("veil_no_such_pipeline")


def test_scrub_entity_names_match():
    """Scrub validates profile entity names against what detection can report."""
    from veil.ops.scrub import ENTITY_NAMES

    assert tuple(ENTITY_NAMES) == detect.SPAN_ENTITIES
