"""scrub: find entities inside free text and replace them span by span.

Each distinct text of a batch is analysed once by the span finder the
pipeline gives the operator (``OpContext.spans``: Presidio, from ``veil.detect``;
scrub never imports detection), which gives non-overlapping spans (overlapping results are merged first, so no
part of an entity is left behind). Every span is then replaced according to
its entity's rule:

- a reference ``table.column`` (resolved by the plan into that column's
  compiled operator, parameters and domain), so an email inside a note becomes
  exactly the pseudonym the structured column gives the same email;
- an inline rule (``{op: fake, kind: name, domain: person}``) or an operator
  name (``redact``, ``mask``, ``keep``);
- unlisted entities, and ``MIXED`` spans (overlapping results of different
  kinds), get the placeholder (``[EMAIL]``, ``[MIXED]``).

The span texts of one rule are collected over all distinct texts of the batch
and go through that rule's operator once, as one Arrow array; each text is then
rebuilt with its spans replaced right to left. Every replacement is therefore a
pure function of (key, domain, span text); which spans are found depends on
Presidio, its recognizers and the spaCy pipeline (NER).

Replacements are not written to the vault: only the structured column a
reference points at records its originals (when it is reversible).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

from ..errors import InputError, Problem, UsageError, VeilError, did_you_mean
from .arrays import is_text, map_distinct
from .registry import OPERATORS, REKEY_REFUSE, OpContext, Param, lookup, operator

PLACEHOLDER = "[{entity}]"
NLP_AUTO, NLP_NONE = "auto", "none"
NORMAL, STRICT = "normal", "strict"
MIXED = "MIXED"
SCRUB_BATCH = 2048  # rows per batch: scrub costs milliseconds per distinct text, small batches keep workers busy
# Every entity a span finder reports, in veil's names: the names a profile may map (MIXED is
# not mappable: it always gets the placeholder). Equal to veil.detect.SPAN_ENTITIES (tested:
# transformation does not import detection).
ENTITY_NAMES: tuple[str, ...] = ("CREDIT_CARD", "EMAIL", "IBAN", "IP_ADDRESS", "LOCATION", "NATIONAL_ID", "NUMBER",
                                 "ORGANIZATION", "PASSWORD_HASH", "PERSON_NAME", "PHONE", "POSTCODE", "STREET_ADDRESS",
                                 "URL", "WORD")
# schema.table.column or table.column: names joined by dots (a dump's names may hold "-", spaces, umlauts;
# the column is what follows the last dot)
REFERENCE = re.compile(r"^[^.\s][^.]*(?:\.[^.]+)*\.[^.\s][^.]*$")
# Presidio's phone recognizer sometimes leaves the country code out of the span
# ("+1 (555) 010-4477" -> "(555) 010-4477"): a "+CC" right before a phone span joins it.
_COUNTRY_CODE = re.compile(r"\+\d{1,3}[ .\-]?$")


def parse_entry(entry: Any) -> tuple[str, Any]:
    """("rule", inline rule mapping) | ("ref", "table.column") | ("error", message)."""
    if isinstance(entry, str):
        if lookup(entry) is not None:
            return "rule", {"op": entry}
        if REFERENCE.match(entry):
            return "ref", entry
        return "error", (f"'{entry}' is neither an operator name nor a table.column reference")
    if isinstance(entry, dict) and "op" in entry:
        return "rule", entry
    return "error", "expected a table.column reference, an operator name or a rule mapping with 'op'"


def _check(params: dict) -> list:
    """Static checks of the parameters; problems carry their path below the column rule.

    Inline rules are checked by the profile like column rules (``span_rules``);
    references are resolved later, against the input, by the plan.
    """
    out: list = []
    score = params.get("min_score", 0.3)
    if not 0 <= score <= 1:
        out.append(Problem("min_score must be between 0 and 1", "min_score"))
    allow = params.get("allow") or []
    if not all(isinstance(w, str) for w in allow):
        out.append(Problem("allow lists words (strings)", "allow"))
    ents = params.get("entities") or {}
    for name, entry in ents.items():
        where = f"entities.{name}"
        if name == MIXED:
            out.append(Problem("MIXED spans (overlapping entities of different kinds) always get the "
                               "placeholder", where, hint="remove this entry"))
            continue
        if name not in ENTITY_NAMES:
            out.append(Problem(f"unknown entity '{name}'", where,
                               hint=did_you_mean(name, ENTITY_NAMES) or f"entities: {', '.join(ENTITY_NAMES)}"))
            continue
        kind, value = parse_entry(entry)
        if kind == "error":
            out.append(Problem(value, where, hint="e.g. customers.email, redact, or {op: fake, kind: name}"))
    return out


def _span_rules(params: dict) -> dict[str, Any]:
    """The inline rules of known entities (names or mappings with op), by path."""
    out: dict[str, Any] = {}
    for name, entry in (params.get("entities") or {}).items():
        if name in ENTITY_NAMES and parse_entry(entry)[0] == "rule":
            out[f"entities.{name}"] = entry
    return out


def _normalized(entry: Any, default_domain: str) -> tuple[str, str | None, dict]:
    """(op, domain, full params) of an inline rule or operator name."""
    kind, value = parse_entry(entry)
    if kind == "ref":
        raise UsageError("scrub references (table.column) are resolved when the profile is compiled",
                         hint="run scrub through a compiled plan (veil run)")
    if kind == "error":
        raise UsageError("a scrub entity rule is not valid", hint="check it with veil validate")
    op = OPERATORS[value["op"]]
    params = op.with_defaults({k: v for k, v in value.items() if k not in ("op", "domain", "reversible")})
    domain = (value.get("domain") or default_domain) if op.keyed else None
    return op.name, domain, params


def _placeholder(template: str, entity: str) -> tuple[str, str | None, dict]:
    return "redact", None, {"value": template.replace("{entity}", entity)}


def _widen(text: str, spans: list) -> list[tuple[int, int, str]]:
    """(start, end, entity) per span: a phone span takes in a country code right before it,
    a URL span leaves out the punctuation after it."""
    out: list[tuple[int, int, str]] = []
    prev_end = 0
    for s in spans:
        start = s.start
        if s.entity == "PHONE":
            m = _COUNTRY_CODE.search(text, prev_end, start)
            if m:
                start = m.start()
        end = s.end
        if s.entity == "URL":  # the recognizer takes in punctuation that ends a sentence
            while end - start > 1 and text[end - 1] in ".,;:!?":
                end -= 1
        out.append((start, end, s.entity))
        prev_end = end
    return _whole_tokens(text, out)


_TOKEN_RIGHT = re.compile(r"[\w.@+%/=&?#~-]*")
_TOKEN_LEFT = re.compile(r"[\w.@+%/=&?#~:-]*\Z")  # \Z: "$" also matches before a final newline


def _whole_tokens(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans grown to the whole URL- or email-like token around them, so no fragment stays behind
    ("bob.jones:pw@host" found as "pw@host" would leave "bob.jones:"). A span that grows over a
    letter or digit becomes MIXED (it gets the placeholder); a "mail:" or "id=" before a span is
    a label, not part of it, unless the token is a URL with a scheme ("http://user:pw@host")."""
    out: list[tuple[int, int, str]] = []
    for i, (start, end, entity) in enumerate(spans):
        lo = out[-1][1] if out else 0
        hi = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        m = _TOKEN_LEFT.search(text, lo, start)
        new_start = m.start() if m else start
        prefix = text[new_start:start]
        if "://" not in prefix:
            cut = max(prefix.rfind(":"), prefix.rfind("="))
            new_start += cut + 1
        while new_start < start and text[new_start] in ".-":
            new_start += 1
        new_end = _TOKEN_RIGHT.match(text, end, hi).end()
        while new_end > end and text[new_end - 1] in ".,;!?-":
            new_end -= 1
        grown = text[new_start:start] + text[end:new_end]
        if any(c.isalnum() for c in grown):
            out.append((new_start, new_end, "MIXED"))
        else:
            out.append((start, end, entity))
    return out


@operator(
    "scrub",
    params=(
        Param("entities", dict, {}, help="entity -> table.column, operator name or inline rule; "
                                         "others get the placeholder"),
        Param("placeholder", str, PLACEHOLDER, help="text for unlisted and MIXED entities; {entity} is "
                                                    "replaced by the entity's name"),
        Param("min_score", (int, float), 0.3, help="lowest Presidio score of a span that is replaced"),
        Param("nlp_model", str, NLP_AUTO, help="spaCy pipeline for names and places: auto (the [ner] "
                                               "pipeline if installed), none (patterns only) or a package"),
        Param("mode", str, NORMAL, choices=(NORMAL, STRICT),
              help="strict: also every capitalised word, digit run and @/URL token that is not an ordinary "
                   "word of the text's language (WORD, NUMBER, URL)"),
        Param("allow", list, [], help="words a strict scrub keeps (case-insensitive), beside the ordinary "
                                      "words of each language"),
    ),
    keyed=True,
    check=_check,
    span_rules=_span_rules,
    accepts=lambda t, params: None if is_text(t) else
    f"scrub finds entities inside text and needs a text column, not {t}",
    span_problem="a scrub rule cannot replace an entity by scrubbing it again",
    batch_size=SCRUB_BATCH,
    rekey=REKEY_REFUSE,
    rekey_refusal="is scrubbed free text: its replacements are not in the vault, so it cannot be re-keyed "
                  "(it would be scrubbed twice)",
)
def scrub(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Find entities (emails, phones, cards, IBANs, names with NER, ...) inside free text and
    replace each span: by a referenced column's operator, an inline rule, or a placeholder."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not is_text(arr.type):
        raise InputError(f"scrub needs a text column, not {arr.type}", table=ctx.table, column=ctx.column,
                         hint="use redact, nullify or drop on non-text columns")
    if len(arr) == 0 or arr.null_count == len(arr):
        return arr
    template = ctx.params.get("placeholder", PLACEHOLDER)
    rules: dict[str, tuple[str, str | None, dict]] = {
        name: _normalized(entry, ctx.domain) for name, entry in (ctx.params.get("entities") or {}).items()}
    det = ctx.span_finder(ctx.params.get("nlp_model", NLP_AUTO))
    min_score = float(ctx.params.get("min_score", 0.3))
    if ctx.params.get("mode", NORMAL) == STRICT:
        allow = frozenset(str(w).casefold() for w in ctx.params.get("allow") or ())

        def find(text: str) -> list:
            return det.spans(text, min_score, mode=STRICT, allow=allow)
    else:
        def find(text: str) -> list:
            return det.spans(text, min_score)

    def fn(uniques: pa.Array) -> pa.Array:
        texts = uniques.to_pylist()
        # one group per distinct rule: its span texts (deduplicated) and the rule itself
        groups: dict[str, tuple[tuple[str, str | None, dict], dict[str, int]]] = {}
        found: list[list[tuple[int, int, str, int]]] = []  # per text: (start, end, group, index)
        for text in texts:
            spans = []
            for start, end, entity in _widen(text, find(text)) if text else ():
                rule = rules.get(entity) or _placeholder(template, entity)
                gid = json.dumps(rule, sort_keys=True, default=str)
                values = groups.setdefault(gid, (rule, {}))[1]
                spans.append((start, end, gid, values.setdefault(text[start:end], len(values))))
            found.append(spans)
        replaced: dict[str, list] = {}
        for gid, ((op, domain, params), values) in groups.items():
            span_texts = pa.array(list(values), type=pa.string())
            if OPERATORS[op].keeps_value:
                replaced[gid] = span_texts.to_pylist()
                continue
            sub = OpContext(ctx.keys, domain or "", params, ctx.table, ctx.column, None, 0, ctx.key_version,
                            spans=ctx.spans)
            try:
                out = OPERATORS[op].apply(span_texts, sub)
            except VeilError as err:
                err.row, err.table, err.column = None, ctx.table, ctx.column
                raise
            replaced[gid] = [template.replace("{entity}", "PII") if v is None else str(v)
                             for v in out.to_pylist()]
        result = []
        for text, spans in zip(texts, found, strict=True):
            for start, end, gid, idx in reversed(spans):
                text = text[:start] + replaced[gid][idx] + text[end:]
            result.append(text)
        return pa.array(result, type=uniques.type)

    return map_distinct(arr, fn)
