"""Scoring a scrubbed text against the labelled spans of its original.

Both texts are cut into tokens: runs of word characters (``\\w+``, a "word") and single other
non-space characters. The two token lists are aligned by a longest common subsequence (long runs of
equal tokens found by ``difflib.SequenceMatcher`` as anchors, the gaps between them exactly); an
original token is *kept* when the alignment pairs it with an equal output token.

**The place of a span** in the output is the output text between the kept tokens nearest to the
span on either side (the original's non-personal text around the span is the anchor; the start or
end of the output when there is none). Alignment is order-preserving, so whatever the scrubber left
of the span, untouched or not, lies in that place.

**Strictly removed**: the span's value does not occur in its place (case-insensitively), and no word
of the value that has 3 or more characters or holds a digit is a word of its place (case-insensitively).
Short words without digits ("de", "la", "St") may stay; a house number, a postcode part or a
leftover group of a phone number may not. Replacements are expected to be placeholders
(``[PERSON_NAME]``, ``<PERSON>``), as in the benchmark, so a fake value cannot count against a span.

**Other words changed**: the words of the original that overlap no labelled span, and of those the
share that are not kept (replaced, dropped or altered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

TOKEN = re.compile(r"\w+|[^\w\s]")
WORD = re.compile(r"\w+")


@dataclass
class Tokens:
    text: str
    starts: list[int]
    ends: list[int]
    toks: list[str]

    @classmethod
    def of(cls, text: str) -> Tokens:
        ms = list(TOKEN.finditer(text))
        return cls(text, [m.start() for m in ms], [m.end() for m in ms], [m.group() for m in ms])


ANCHOR = 3  # matching runs of this many tokens or more are taken as they are


def _lcs(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Index pairs of a longest common subsequence of a and b (dynamic programming)."""
    n, m = len(a), len(b)
    if not n or not m:
        return []
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        ai = a[i]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if ai == b[j] else max(below[j], row[j + 1])
    out, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def alignment(src: Tokens, out: Tokens) -> list[int]:
    """For every original token, the index of the equal output token it is paired with, or -1.

    The longest common subsequence of the two token lists: runs of ``ANCHOR`` or more equal tokens
    that ``difflib.SequenceMatcher`` finds are kept as anchors, and the gaps between them (the
    replaced places) are aligned exactly by dynamic programming. A greedy matcher alone pairs a
    lone "13" or "." with the wrong occurrence.
    """
    a, b = src.toks, out.toks
    pair = [-1] * len(a)
    sm = SequenceMatcher(None, a, b, autojunk=False)
    anchors = [blk for blk in sm.get_matching_blocks() if blk.size >= ANCHOR]
    pa = pb = 0
    for i0, j0, size in [*anchors, (len(a), len(b), 0)]:
        for i, j in _lcs(a[pa:i0], b[pb:j0]):
            pair[pa + i] = pb + j
        for k in range(size):
            pair[i0 + k] = j0 + k
        pa, pb = i0 + size, j0 + size
    return pair


def place(src: Tokens, out: Tokens, pair: list[int], start: int, end: int) -> str:
    """The output text at the place of the original's span [start, end)."""
    lo, hi = 0, len(out.text)
    for i in range(len(src.toks)):
        if src.ends[i] <= start and pair[i] >= 0:
            lo = out.ends[pair[i]]
        elif src.starts[i] >= end and pair[i] >= 0:
            hi = out.starts[pair[i]]
            break
    return out.text[lo:hi]


def telling_words(value: str) -> set[str]:
    """The words of a value that must not survive: 3+ characters, or holding a digit (casefolded)."""
    return {w.casefold() for w in WORD.findall(value) if len(w) >= 3 or any(c.isdigit() for c in w)}


def removed(value: str, where: str) -> bool:
    """Strictly removed: the value is not in ``where`` and no telling word of it is a word of ``where``."""
    if value.casefold() in where.casefold():
        return False
    return not (telling_words(value) & {w.casefold() for w in WORD.findall(where)})


@dataclass
class Score:
    """One text's result: per span (label, removed, place), and the other words (count, changed)."""

    spans: list[tuple[str, bool, str]] = field(default_factory=list)
    other_words: int = 0
    other_changed: int = 0
    changed: list[str] = field(default_factory=list)  # the other words that were changed


def score(text: str, spans: list[dict], output: str) -> Score:
    src, out = Tokens.of(text), Tokens.of(output)
    pair = alignment(src, out)
    result = Score()
    for s in spans:
        where = place(src, out, pair, s["start"], s["end"])
        result.spans.append((s["label"], removed(text[s["start"]:s["end"]], where), where))
    bounds = sorted((s["start"], s["end"]) for s in spans)
    j = 0
    for i, tok in enumerate(src.toks):
        if not WORD.fullmatch(tok):
            continue
        a, b = src.starts[i], src.ends[i]
        while j < len(bounds) and bounds[j][1] <= a:
            j += 1
        if j < len(bounds) and bounds[j][0] < b:  # overlaps a span (spans are sorted and disjoint)
            continue
        result.other_words += 1
        if pair[i] < 0:
            result.other_changed += 1
            result.changed.append(tok)
    return result
