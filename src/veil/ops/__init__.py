"""The operator registry: every operator veil knows, listed once, explicitly.

An operator describes itself (``registry.Operator``): keyed, deterministic,
injective, reversible, accepted input types, parameters, whether it can replace
spans inside text, its preferred batch size, its longest output, the other
columns it reads, how ``veil rekey`` treats it, and so on. The plan, the run
loops, the dump rewriter, scrub, rekey and the CLI ask these capabilities and
never test an operator's name.

Adding an operator touches one file plus its tests and docs: write it in a
module of this package with the ``@operator`` decorator, declaring its
capabilities there, add it to ``_ALL`` below, give it known-answer vectors in
tests/test_ops.py and a section in docs/operators.md. A third-party operator
does the same in its own package and registers it under the ``veil.operators``
entry point group (see ``veil.plugins``).
"""

from __future__ import annotations

from dataclasses import replace

from ..plugins import OPERATORS_GROUP, PluginGroup, PluginProblem, origin
from . import basic, dates, fake, generalize, pseudonymize, scrub
from .registry import (
    REKEY_MODES,
    REKEY_PASS,
    REKEY_REFUSE,
    REKEY_UNDO,
    REKEY_VAULT,
    REQUIRED,
    OpContext,
    Operator,
    Param,
    operator,
    validate,
)

_ALL: tuple[Operator, ...] = (
    basic.keep,
    basic.drop,
    basic.nullify,
    basic.redact,
    basic.mask,
    pseudonymize.pseudonymize,
    fake.fake,
    generalize.generalize,
    dates.date_shift,
    scrub.scrub,
)


def _accept(name: str, obj: object) -> Operator:
    if not isinstance(obj, Operator):
        raise TypeError("a veil.operators entry point must give a veil.ops.Operator")
    if obj.name != name:
        raise ValueError("the operator's name must be its entry point's name")
    validate(obj)
    return obj


class _Registry(dict):
    """Name -> Operator: the built-ins, and plugin operators once looked up. A name that is not
    here yet is looked up among the plugins (``OPERATORS[name]``, also in worker processes)."""

    def __missing__(self, name: str) -> Operator:
        op = lookup(name)
        if op is None:
            raise KeyError(name)
        return op


OPERATORS: dict[str, Operator] = _Registry((op.name, op) for op in _ALL)
PLUGINS = PluginGroup(OPERATORS_GROUP, frozenset(op.name for op in _ALL), _accept)


def lookup(name: str) -> Operator | None:
    """The operator of this name: built in, or a plugin's (loaded on first use); None if unknown
    or unusable (``plugin_problem`` tells why)."""
    op = dict.get(OPERATORS, name)
    if op is not None or not isinstance(name, str):
        return op
    loaded = PLUGINS.load(name)
    if loaded is None:
        return None
    dist = next(iter(PLUGINS.entry_points()[name]))
    op = replace(loaded, origin=origin(dist))
    OPERATORS[name] = op
    return op


def plugin_problem(name: str) -> str | None:
    """Why a plugin operator of this name cannot be used (it failed to load, or clashes with a
    built-in or another plugin); None if there is no such problem."""
    problem = PLUGINS.problem(name) if isinstance(name, str) else None
    return problem.render() if problem else None


def load_plugins() -> list[PluginProblem]:
    """Load every plugin operator (for listing them); the problems of those that cannot be used."""
    for name in PLUGINS.names():
        lookup(name)
    return PLUGINS.load_all()[1]

__all__ = ["OPERATORS", "PLUGINS", "REKEY_MODES", "REKEY_PASS", "REKEY_REFUSE", "REKEY_UNDO", "REKEY_VAULT",
           "REQUIRED", "OpContext", "Operator", "Param", "load_plugins", "lookup", "operator", "plugin_problem"]
