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

from . import basic, dates, fake, generalize, kanon, pseudonymize, scrub
from .registry import (
    OPERATORS,
    PLUGINS,
    REKEY_MODES,
    REKEY_PASS,
    REKEY_REFUSE,
    REKEY_UNDO,
    REKEY_VAULT,
    REQUIRED,
    OpContext,
    Operator,
    Param,
    load_plugins,
    lookup,
    operator,
    plugin_problem,
    register_builtins,
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
    kanon.k_anonymity,
)


register_builtins(_ALL)

__all__ = ["OPERATORS", "PLUGINS", "REKEY_MODES", "REKEY_PASS", "REKEY_REFUSE", "REKEY_UNDO", "REKEY_VAULT",
           "REQUIRED", "OpContext", "Operator", "Param", "load_plugins", "lookup", "operator", "plugin_problem"]
