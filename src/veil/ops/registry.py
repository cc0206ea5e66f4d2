"""The operator model: a name, typed params, flags and a vectorised apply; the registry.

An operator is declared once with :func:`operator` (a decorator that turns a
function into an :class:`Operator`); ``veil.ops`` lists the declared
operators explicitly and hands them to :func:`register_builtins`. Nothing
registers itself on import. :data:`OPERATORS` and :func:`lookup` live here, so
an operator that calls others (scrub) imports them without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from ..keys import KeyProvider
from ..plugins import OPERATORS_GROUP, PluginGroup, PluginProblem, origin
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


class FoundSpan(Protocol):
    """A span found inside a text: ``text[start:end]`` holds an entity (veil's name)."""

    start: int
    end: int
    entity: str


class SpanFinder(Protocol):
    """What finds entities inside text for an operator that replaces spans (scrub). Operators get
    one through ``OpContext.spans`` and never import detection themselves."""

    def spans(self, text: str, min_score: float) -> Sequence[FoundSpan]:
        """The non-overlapping spans of ``text`` scored at least ``min_score``, in order."""
        ...


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
    # nlp_model param ("auto", "none" or a spaCy package) -> its SpanFinder, built lazily and cached:
    # given by the pipeline (veil.pipeline.transform.span_finder) to operators that find spans
    spans: Callable[[str], SpanFinder] | None = None
    _blinds: tuple[pa.Array, np.ndarray] | None = field(default=None, repr=False)

    def key(self, purpose: str = "domain", domain: str | None = None) -> bytes:
        if self.keys is None:
            raise RuntimeError("a keyed operator ran without a key provider")
        return self.keys.subkey(purpose, domain or self.domain, self.key_version)

    def span_finder(self, nlp_model: str) -> SpanFinder:
        """The span finder for ``nlp_model`` (scrub's parameter), from ``spans``."""
        if self.spans is None:
            raise RuntimeError("an operator that finds spans ran without a span finder (OpContext.spans)")
        return self.spans(nlp_model)

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


#: How ``veil rekey`` treats a column of this operator (Operator.rekey).
REKEY_PASS = "pass"  # the output holds no key: it passes through unchanged
REKEY_VAULT = "vault"  # originals come back from the vault (old version), then the operator runs again
REKEY_UNDO = "undo"  # Operator.undo reverses it with the old key (date_shift), then it runs again
REKEY_REFUSE = "refuse"  # neither: a re-key is refused with Operator.rekey_refusal
REKEY_MODES = (REKEY_PASS, REKEY_VAULT, REKEY_UNDO, REKEY_REFUSE)

Params = dict[str, Any]


def _never(params: Params) -> bool:
    return False


def _no_problem(*args: Any) -> None:
    return None


def _unknown_length(t: pa.DataType, params: Params) -> int | None:
    return None


def _no_columns(params: Params) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Operator:
    """An operator and everything the rest of veil may ask about it.

    The plan, the run loops, the dump rewriter, scrub, rekey and the CLI ask
    these capabilities; none of them tests an operator's name. Callables take
    the rule's full parameters (``with_defaults``).
    """

    name: str
    apply: ApplyFn
    params: tuple[Param, ...] = ()
    help: str = ""
    keyed: bool = False  # uses the key: the report shows key_version, consistency spans a domain
    deterministic: bool = True
    # Whether distinct inputs always give distinct outputs, given these params.
    injective: Callable[[Params], bool] = field(default=_never)
    # The Arrow type written for an input type (None: the input type).
    out_type: Callable[[pa.DataType, Params], pa.DataType | None] = field(
        default=lambda t, params: None)
    # Cross-parameter checks: returns messages (no values from data involved).
    check: Callable[[Params], list] = field(default=lambda params: [])
    drops_column: bool = False  # the column is left out of the output (drop)
    keeps_value: bool = False  # the output is the input, unchanged (keep): nothing to decode or write
    nulls_column: bool = False  # every output value is null (nullify): the input need not be read
    # False: the output depends only on whether each input is null (redact, nullify), so a
    # reader may hand it any stand-in for the values (the dump rewriter does not parse them)
    reads_values: bool = True
    # Whether the originals may be written to the vault (profile ``reversible: true``).
    reversible: Callable[[Params], bool] = field(default=_never)
    # Injective only with high probability (HMAC tokens): key columns get a uniqueness check.
    collision_checked: Callable[[Params], bool] = field(default=_never)
    nested: bool = False  # accepts nested columns (list, struct, map)
    # Why a (non-nested) input type is refused, given the params; None: accepted.
    accepts: Callable[[pa.DataType, Params], str | None] = field(default=_no_problem)
    # Why it cannot replace a span found inside text (scrub entities); None: it can.
    span_problem: Callable[[Params], str | None] = field(default=_no_problem)
    # For an operator that replaces spans of text it finds (scrub): the rules in its params that
    # replace them, by path below the column rule ({"entities.EMAIL": {"op": "redact"}}). The
    # profile checks each like a column rule (and that its operator can replace spans); the plan
    # resolves their table.column references. None: not such an operator.
    span_rules: Callable[[Params], dict[str, Any]] | None = None
    batch_size: int | None = None  # preferred largest batch (rows), when values are costly (scrub)
    # The longest text output (characters) for an input type, when known without the data.
    max_output_length: Callable[[pa.DataType, Params], int | None] = field(default=_unknown_length)
    # The [lowest, highest] integers it writes for an input type, when known without the data
    # (pseudonymize format: int: its range, or [0, 2**bits - 1]); None: not an integer output or unknown.
    value_range: Callable[[pa.DataType, Params], tuple[int, int] | None] = field(default=_unknown_length)
    # Other columns of the same row the operator reads (ctx.batch): date_shift's subject.
    context_columns: Callable[[Params], tuple[str, ...]] = field(default=_no_columns)
    # Whether it parses dates out of text columns (date_shift, generalize to: year|month).
    parses_dates: Callable[[Params], bool] = field(default=_never)
    rekey: str = REKEY_PASS  # one of REKEY_MODES; keyed operators must not keep REKEY_PASS
    rekey_refusal: str = ""  # with REKEY_REFUSE: why (ends the message "<table>.<column> ...")
    undo: ApplyFn | None = None  # with REKEY_UNDO: the inverse under ctx.key_version
    origin: str = "built-in"  # "built-in", or the plugin's "distribution version"

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def with_defaults(self, params: Params) -> Params:
        out = {p.name: p.default for p in self.params if not p.required}
        out.update(params)
        return out

    def output_type(self, in_type: pa.DataType, params: Params) -> pa.DataType:
        return self.out_type(in_type, params) or in_type

    @property
    def transforms(self) -> bool:
        """Whether the column's values change (everything but keep)."""
        return not self.keeps_value

    @property
    def own_domain(self) -> bool:
        """The operator names its domain in a parameter (date_shift's offset domain)."""
        return self.param("domain") is not None

    def column_domain(self, domain: str | None, params: Params) -> str | None:
        """The domain a column of this operator is keyed in: the rule's, or (for an operator with a
        ``domain`` parameter) that parameter, defaulting to the operator's name."""
        if self.own_domain:
            return params.get("domain") or self.name
        return domain

    def type_problem(self, t: pa.DataType, params: Params) -> str | None:
        """Why this operator cannot take a column of type ``t`` (None: it can)."""
        if pa.types.is_nested(t) and not self.nested:
            return f"operator {self.name} does not support nested columns ({t}); use keep, drop or nullify"
        return self.accepts(t, params)


def operator(
    name: str,
    *,
    injective: Callable[[Params], bool] | bool = False,
    reversible: Callable[[Params], bool] | bool = False,
    collision_checked: Callable[[Params], bool] | bool = False,
    parses_dates: Callable[[Params], bool] | bool = False,
    span_problem: Callable[[Params], str | None] | str | None = None,
    out_type: Callable[[pa.DataType, Params], pa.DataType | None] | None = None,
    check: Callable[[Params], list] | None = None,
    **capabilities: Any,
) -> Callable[[ApplyFn], Operator]:
    """Declare an operator; the function's docstring is its help text.

    Callable capabilities may be given as constants (``injective=True``,
    ``span_problem="why not"``); any other keyword is an :class:`Operator` field.
    """

    def const(value: Any) -> Callable[..., Any]:
        return value if callable(value) else (lambda *args, v=value: v)

    def wrap(fn: ApplyFn) -> Operator:
        op = Operator(
            name=name,
            apply=fn,
            help=" ".join((fn.__doc__ or "").strip().split("\n\n")[0].split()),
            injective=const(bool(injective) if not callable(injective) else injective),
            reversible=const(bool(reversible) if not callable(reversible) else reversible),
            collision_checked=const(bool(collision_checked) if not callable(collision_checked)
                                    else collision_checked),
            parses_dates=const(bool(parses_dates) if not callable(parses_dates) else parses_dates),
            span_problem=const(span_problem),
            out_type=out_type or (lambda t, p: None),
            check=check or (lambda p: []),
            **capabilities,
        )
        validate(op)
        return op

    return wrap


def validate(op: Operator) -> None:
    """Consistency of an operator's declaration (built-ins and plugins alike): a TypeError
    or ValueError names what is wrong."""
    if not isinstance(op, Operator):
        raise TypeError(f"expected a veil.ops.Operator, got {type(op).__name__}")
    if not isinstance(op.name, str) or not op.name.isidentifier():
        raise ValueError("an operator's name must be an identifier (letters, digits, _)")
    if op.rekey not in REKEY_MODES:
        raise ValueError(f"operator {op.name}: rekey must be one of {', '.join(REKEY_MODES)}")
    if op.rekey == REKEY_UNDO and op.undo is None:
        raise ValueError(f"operator {op.name}: rekey 'undo' needs an undo function")
    if op.keyed and op.rekey == REKEY_PASS:
        raise ValueError(f"operator {op.name}: a keyed operator's output changes with the key; "
                         "its rekey must be vault, undo or refuse")
    if op.batch_size is not None and (not isinstance(op.batch_size, int) or op.batch_size < 1):
        raise ValueError(f"operator {op.name}: batch_size must be a positive integer")
    for p in op.params:
        if not isinstance(p, Param):
            raise TypeError(f"operator {op.name}: params must be veil.ops.Param")


# -- the registry --------------------------------------------------------------

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


OPERATORS: dict[str, Operator] = _Registry()
_BUILTIN_NAMES: set[str] = set()
PLUGINS = PluginGroup(OPERATORS_GROUP, lambda: frozenset(_BUILTIN_NAMES), _accept)


def register_builtins(ops: Iterable[Operator]) -> None:
    """Register veil's own operators (``veil.ops`` lists them, once)."""
    for op in ops:
        validate(op)
        OPERATORS[op.name] = op
        _BUILTIN_NAMES.add(op.name)


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
