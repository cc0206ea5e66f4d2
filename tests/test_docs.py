"""Docs that must say what the code does: the exit-code table, every command's help, example and README row."""

from __future__ import annotations

import re

import click
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


# -- every command documents itself (STYLE.md habit 2) ---------------------------------------------

def _commands(group: click.Group, path: tuple[str, ...] = ()):
    """Every command and subcommand under GROUP, as (path, command), the groups themselves included."""
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


def _readme_commands(text: str) -> str:
    """The first column of README.md's command table."""
    section = text[text.index("## Commands"):].split("\n## ")[0]
    return "\n".join(m for m in re.findall(r"^\| (.+?) \| .+ \|$", section, re.M))


def _undocumented(group: click.Group, readme: str) -> list[str]:
    """What a command lacks: a help text, an "Example:"/"Examples:" block in --help whose next line
    runs it (`veil <command> ...`, maybe after VAR=...), a row of README's command table naming it."""
    table = _readme_commands(readme)
    problems = []
    for path, cmd in _commands(group):
        name = " ".join(path)
        out = CliRunner().invoke(group, [*path, "--help"]).output
        if not (cmd.help or "").strip():
            problems.append(f"{name}: no help")
        example = re.search(r"^\s+Examples?:\n\s+(?:\S+=\S*\s+)*veil (.+)$", out, re.M)
        if example is None or not f"{example.group(1)} ".startswith(f"{name} "):
            problems.append(f"{name}: no example in --help")
        if not re.search(rf"`veil {re.escape(name)}[ `]", table):
            problems.append(f"{name}: not in README's command table")
    return problems


def test_every_command_has_help_with_an_example_and_a_readme_row():
    assert _undocumented(main, (ROOT / "README.md").read_text()) == []


def test_the_documentation_check_can_fail():
    @click.group()
    def probe() -> None:
        """A group.

        \b
        Example:
          veil probe ok
        """

    @probe.command("ok")
    def ok() -> None:
        """Documented.

        \b
        Example:
          veil probe ok --now
        """

    @probe.command("bare")
    def bare() -> None:
        pass

    @probe.command("wrong")
    def wrong() -> None:
        """Its example runs another command.

        \b
        Examples:
          veil probe ok
        """

    root = click.Group(commands={"probe": probe})
    readme = ("## Commands\n\n| command | what |\n|---|---|\n| `veil probe ok` | x |\n"
              "| `veil probe wrongly` | not this one |\n\n## Next\n| `veil probe bare` | outside the table |\n")
    assert _undocumented(root, readme) == [  # "probe" itself is named by `veil probe ok`
        "probe bare: no help", "probe bare: no example in --help", "probe bare: not in README's command table",
        "probe wrong: no example in --help", "probe wrong: not in README's command table"]


def _broken_examples(group: click.Group) -> list[str]:
    """Example lines of every command's rendered --help that lost their line continuation: a line
    ending in `\\` must be followed by an indented continuation line, and no example line may hold a
    run of spaces inside it (what a docstring's bare `\\` + newline becomes: Python joins the lines
    and click prints the indentation of the next one in the middle)."""
    problems = []
    for path, _cmd in _commands(group):
        out = CliRunner().invoke(group, [*path, "--help"], terminal_width=200).output
        block = re.search(r"^(\s+)Examples?:\n((?:\1\s+\S.*\n)+)", out, re.M)
        lines = block.group(2).splitlines() if block else []
        for i, line in enumerate(lines):
            where = f"{' '.join(path)}: {line.strip()[:40]}"
            if re.search(r"\S {3,}\S", line):
                problems.append(f"{where}: lines run together")
            indent = len(line) - len(line.lstrip())
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if line.endswith("\\") and len(nxt) - len(nxt.lstrip()) <= indent:
                problems.append(f"{where}: no continuation line after \\")
    return problems


def test_examples_keep_their_line_continuations():
    """`veil vault reveal --help` and `veil rekey --help` printed their two-line examples on one line."""
    assert _broken_examples(main) == []


def test_the_continuation_check_can_fail():
    @click.group()
    def probe() -> None:
        """A group.

        \b
        Example:
          veil probe joined --a 1 \
              --b 2
        """

    @probe.command("kept")
    def kept() -> None:
        """Kept.

        \b
        Example:
          veil probe kept --a 1 \\
              --b 2
        """

    @probe.command("dangling")
    def dangling() -> None:
        """Dangling.

        \b
        Example:
          veil probe dangling --a 1 \\
        """

    root = click.Group(commands={"probe": probe})
    assert [p.split(":")[0] + ":" + p.rsplit(":", 1)[1] for p in _broken_examples(root)] == [
        "probe: lines run together", "probe dangling: no continuation line after \\"]
