"""The operator model: a name, typed params, flags and a vectorised apply.

An operator is declared once with :func:`operator` (a decorator that turns a
function into an :class:`Operator`); ``veil.ops`` lists the declared
operators explicitly in one registry. Nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ..keys import KeyProvider
from .arrays import DigestKey, blind_digests, expand, map_distinct

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
class Distinct:
    """What a keyed operator saw of a column: each row's index into the distinct values (null for
    a null row), the distinct values, and their blind indexes (n x 16, stage 1 of the digest).
    The vault's records reuse them instead of hashing every value a second time."""
    indices: pa.Array
    values: pa.Array
    blinds: np.ndarray

    def filter(self, mask: pa.Array) -> Distinct:
        return Distinct(self.indices.filter(mask), self.values, self.blinds)


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
    distinct: Distinct | None = None  # set by map_distinct when its function took digests of the values
    _blinds: tuple[pa.Array, np.ndarray] | None = field(default=None, repr=False)

    def key(self, purpose: str = "domain", domain: str | None = None) -> bytes:
        if self.keys is None:
            raise RuntimeError("a keyed operator ran without a key provider")
        return self.keys.subkey(purpose, domain or self.domain, self.key_version)

    def digest_key(self, domain: str | None = None) -> DigestKey:
        if self.keys is None:
            raise RuntimeError("a keyed operator ran without a key provider")
        dom = domain or self.domain
        return DigestKey(self.keys.index_key("blind", dom), self.key(domain=dom))

    def digests(self, values: pa.Array, domain: str | None = None) -> np.ndarray:
        """The keyed digests of the values (arrays.digests) in the column's domain, or another."""
        key = self.digest_key(domain)
        blinds = blind_digests(key.index, values)
        if domain in (None, self.domain):
            self._blinds = (values, blinds)
        return expand(key.version, blinds)

    def map_distinct(self, arr: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
        """arrays.map_distinct, remembering the distinct values and their blind indexes (``distinct``)
        when ``fn`` took their digests in the column's domain."""
        def remember(enc: pa.DictionaryArray) -> None:
            if self._blinds is not None and self._blinds[0] is enc.dictionary:
                self.distinct = Distinct(enc.indices, enc.dictionary, self._blinds[1])
            self._blinds = None

        self._blinds = None
        return map_distinct(arr, fn, remember)


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
