"""The operator registry: every operator veil knows, listed once, explicitly.

Adding an operator: write it in a module of this package with the
``@operator`` decorator, add it to ``_ALL`` below, give it known-answer
vectors in tests/test_ops.py and a line in docs/operators.md.
"""

from __future__ import annotations

from . import basic, dates, fake, generalize, pseudonymize, scrub
from .registry import REQUIRED, OpContext, Operator, Param

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

OPERATORS: dict[str, Operator] = {op.name: op for op in _ALL}

__all__ = ["OPERATORS", "REQUIRED", "OpContext", "Operator", "Param"]
