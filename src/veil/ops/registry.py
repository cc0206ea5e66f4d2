"""The operator model: a name, typed params, flags and a vectorised apply.

An operator is declared once with :func:`operator` (a decorator that turns a
function into an :class:`Operator`); ``veil.ops`` lists the declared
operators explicitly in one registry. Nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..keys import KeyProvider

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    choices: tuple[Any, ...] | None = None
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass
class OpContext:
    """What an operator sees besides the array it transforms."""

    keys: KeyProvider | None
    domain: str
    params: dict[str, Any]
    table: str = ""
    column: str = ""
    batch: pa.RecordBatch | None = None  # the untouched input batch (date_shift reads its subject)
    row_offset: int = 0  # rows of this table before this batch, for error row numbers
    key_version: str | None = None

    def key(self, purpose: str = "domain", domain: str | None = None) -> bytes:
        if self.keys is None:
            raise RuntimeError("a keyed operator ran without a key provider")
        return self.keys.subkey(purpose, domain or self.domain, self.key_version)


ApplyFn = Callable[[pa.Array, OpContext], pa.Array]


@dataclass(frozen=True)
class Operator:
    name: str
    apply: ApplyFn
    params: tuple[Param, ...] = ()
    help: str = ""
    keyed: bool = False  # uses the key: the report shows key_version, consistency spans a domain
    deterministic: bool = True
    # Whether distinct inputs always give distinct outputs, given these params.
    injective: Callable[[dict[str, Any]], bool] = field(default=lambda params: False)
    # The Arrow type written for an input type (None: the input type).
    out_type: Callable[[pa.DataType, dict[str, Any]], pa.DataType | None] = field(
        default=lambda t, params: None)
    # Cross-parameter checks: returns messages (no values from data involved).
    check: Callable[[dict[str, Any]], list[str]] = field(default=lambda params: [])
    drops_column: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def with_defaults(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {p.name: p.default for p in self.params if not p.required}
        out.update(params)
        return out

    def output_type(self, in_type: pa.DataType, params: dict[str, Any]) -> pa.DataType:
        return self.out_type(in_type, params) or in_type


def operator(
    name: str,
    *,
    params: tuple[Param, ...] = (),
    keyed: bool = False,
    deterministic: bool = True,
    injective: Callable[[dict[str, Any]], bool] | bool = False,
    out_type: Callable[[pa.DataType, dict[str, Any]], pa.DataType | None] | None = None,
    check: Callable[[dict[str, Any]], list[str]] | None = None,
    drops_column: bool = False,
) -> Callable[[ApplyFn], Operator]:
    """Declare an operator; the function's docstring is its help text."""

    def wrap(fn: ApplyFn) -> Operator:
        inj = injective if callable(injective) else (lambda p, v=bool(injective): v)
        return Operator(
            name=name,
            apply=fn,
            params=params,
            help=" ".join((fn.__doc__ or "").strip().split("\n\n")[0].split()),
            keyed=keyed,
            deterministic=deterministic,
            injective=inj,
            out_type=out_type or (lambda t, p: None),
            check=check or (lambda p: []),
            drops_column=drops_column,
        )

    return wrap
