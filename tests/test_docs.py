"""Docs that must say what the code does: the exit-code table."""

from __future__ import annotations

import re

from click.testing import CliRunner

from veil.cli import main
from veil.errors import EXIT_CODES, VeilError

from .conftest import ROOT


def test_readme_exit_code_table_is_the_code_table():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Exit codes"):]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section.split("\n## ")[0], re.M)
    assert {int(code): meaning for code, meaning in rows} == EXIT_CODES


def test_help_lists_every_exit_code():
    out = CliRunner().invoke(main, ["--help"]).output
    for code, meaning in EXIT_CODES.items():
        first_words = " ".join(meaning.replace("`", "").split()[:3])
        assert re.search(rf"^\s+{code}\s+{re.escape(first_words)}", out, re.M), code


def test_every_error_class_has_a_documented_code():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in [VeilError, *subclasses(VeilError)]:
        if isinstance(cls.exit_code, property):  # ProfileError: 3, or 4 for unclassified columns
            continue
        assert cls.exit_code in EXIT_CODES, cls.__name__
