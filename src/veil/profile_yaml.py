"""YAML with line numbers, for profiles: no aliases or anchors, no tags beyond the standard
scalars, bounded depth and size; every node's YAML path mapped to its line, and every problem
collected as a :class:`~veil.errors.Problem` instead of raised one by one."""

from __future__ import annotations

from typing import Any

import yaml

from .errors import Problem, ProfileError

# -- YAML with line numbers ------------------------------------------------

#: A profile deeper than this is refused (a real one is about 6 levels deep); the composer and
#: the conversion below are recursive, so this also keeps them far from Python's recursion limit.
MAX_DEPTH = 64
#: A profile larger than this is refused before it is parsed (a profile of 10,000 columns is < 1 MB).
MAX_BYTES = 16 * 1024 * 1024
_STD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Refused(yaml.MarkedYAMLError):
    """A YAML construct veil does not accept in a profile (not a syntax error)."""


class _ProfileLoader(yaml.SafeLoader):
    """The safe loader without anchors and aliases, and with a bounded depth.

    An alias makes the document a graph: a 1 KB profile of nested aliases
    ("billion laughs") expands to billions of nodes. Profiles do not need them,
    so they are refused where they stand (file:line) before anything expands.
    """

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(None, None, "YAML anchors and aliases (&name, *name) are not allowed in a profile",
                           event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise _Refused(None, None, f"the profile is nested more than {MAX_DEPTH} levels deep",
                           event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _scalar(node: yaml.Node) -> Any:
    """The Python value of a scalar node (plain YAML types only: str, int, float, bool, null, dates)."""
    if node.tag not in _STD_TAGS:
        raise ValueError("tag")
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _to_python(node: yaml.Node, path: str, lines: dict[str, int], problems: list[Problem]) -> Any:
    line = node.start_mark.line + 1
    lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            problems.append(Problem(f"unsupported YAML tag {node.tag[:40]!r}", path, line,
                                    "remove the tag: a profile holds plain mappings, lists and scalars"))
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                problems.append(Problem("a key must be a plain name, not a list or mapping", path,
                                        knode.start_mark.line + 1))
                continue
            key = str(_to_python(knode, path, {}, problems))
            sub = f"{path}.{key}" if path else key
            if key in out:
                problems.append(Problem("duplicate key", sub, knode.start_mark.line + 1))
            lines[sub] = knode.start_mark.line + 1
            out[key] = _to_python(vnode, sub, lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            problems.append(Problem(f"unsupported YAML tag {node.tag[:40]!r}", path, line,
                                    "remove the tag: a profile holds plain mappings, lists and scalars"))
        return [_to_python(v, f"{path}[{i}]", lines, problems) for i, v in enumerate(node.value)]
    try:
        return _scalar(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        # an unknown tag (!!python/object, !foo), or a malformed typed scalar (a date like
        # 2020-02-30, bad !!binary): named by position only, the value may be anything
        what = "unsupported YAML tag" if node.tag not in _STD_TAGS else "a value YAML cannot read as its type"
        problems.append(Problem(what, path, line, "write plain text, numbers, true/false or null"))
        return None


def load_yaml(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=_ProfileLoader)
    except _Refused as exc:
        mark = exc.problem_mark
        raise ProfileError([Problem(str(exc.problem), "", mark.line + 1 if mark else None,
                                    "write each rule out in full" if "alias" in str(exc.problem) else None)],
                           file=file) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ProfileError([Problem(f"invalid YAML: {problem}", "",
                                    mark.line + 1 if mark else None)], file=file) from None
    if node is None:
        raise ProfileError([Problem("the profile is empty", "", 1)], file=file)
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    data = _to_python(node, "", lines, problems)
    if problems:
        raise ProfileError(problems, file=file)
    return data, lines
