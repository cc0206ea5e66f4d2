"""The fingerprint structures of the leak check: counted sets, a lookup index, word tokens.

Nothing here holds a value: values become 8-byte keyed fingerprints under the verification's random
key as soon as they are read (:func:`veil.verify.keys.text_fingerprints`, the keyed fingerprints the
other checks use).

Two families of fingerprints are used by :mod:`veil.verify.leaks`:

- *exact*: the fingerprint of the value's canonical text (``arrays.canonical``): "42" read from a
  CSV and 42 read from Parquet are the same value;
- *normalised*: the value cut into words (:func:`tokenise`: lower case, accents dropped (NFKD
  without combining marks), runs of letters and digits; everything else separates words), each word fingerprinted, and a
  sequence of words hashed from its words' fingerprints by a polynomial over 2**64
  (:func:`sequence_hashes`). "Jan  NOVÁK" and "jan novak" are the same sequence, and the words of
  a text give every sequence inside it (word n-grams) without hashing any text a second time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ops.arrays import as_text, blank_mask, canonical
from .base import VerifyContext
from .keys import text_fingerprints

#: What separates words: anything but a letter or a digit (RE2 syntax; marks are gone by then).
SEPARATORS = r"[^\pL\pN]+"
#: The multiplier of the sequence hash (odd: multiplying by it is a bijection of 2**64).
_P = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = np.empty(0, np.uint64)


def search(sorted_fps: np.ndarray, queries: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted(sorted_fps, queries, side)``, the queries taken in sorted order: each
    binary search then starts where the previous one ended and touches the same cache lines, about
    3x faster than random probes into a set of millions (the sort of a batch's queries is cheap)."""
    if len(queries) < 64:
        return np.searchsorted(sorted_fps, queries, side)
    order = np.argsort(queries)
    out = np.empty(len(queries), np.int64)
    out[order] = np.searchsorted(sorted_fps, queries[order], side)
    return out


class Counted:
    """A multiset of fingerprints, built streaming: ``add`` appends, compaction (sort, merge equal
    fingerprints, sum their counts) runs when the pending part outgrows the compacted one, so the
    cost stays O(n log n) overall and memory 12 bytes per distinct fingerprint (uint64 + uint32).
    Each added chunk is sorted on arrival, so a compaction merges sorted runs (a stable sort is
    timsort on uint64: it finds the runs) instead of sorting everything again."""

    def __init__(self) -> None:
        self.fps = _EMPTY
        self.counts = np.empty(0, np.uint32)
        self._pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._n = 0

    def add(self, fps: np.ndarray, counts: np.ndarray | None = None) -> None:
        if len(fps) == 0:
            return
        fps = np.asarray(fps, np.uint64)
        if counts is None or (counts == 1).all():
            fps, c = np.sort(fps), None  # None: every count 1
        else:
            order = np.argsort(fps)
            fps, c = fps[order], np.asarray(counts, np.uint32)[order]
        self._pending.append((fps, c))
        self._n += len(fps)
        if self._n > max(1 << 20, len(self.fps)):
            self._compact()

    def _compact(self) -> None:
        if not self._pending:
            return
        fps = np.concatenate([self.fps] + [p[0] for p in self._pending])
        ones = all(p[1] is None for p in self._pending) and (self.counts == 1).all()
        counts = None if ones else np.concatenate(
            [self.counts] + [np.ones(len(f), np.uint32) if c is None else c for f, c in self._pending])
        self._pending, self._n = [], 0
        if ones:  # every count 1: the fingerprints alone are merged; counts are the run lengths
            fps = np.sort(fps, kind="stable")
        else:
            order = np.argsort(fps, kind="stable")
            fps, counts = fps[order], counts[order]
        first = np.ones(len(fps), bool)
        first[1:] = fps[1:] != fps[:-1]
        starts = np.flatnonzero(first)
        self.fps = fps[starts]
        if ones:
            self.counts = np.diff(np.append(starts, len(fps))).astype(np.uint32)
        else:
            self.counts = np.add.reduceat(counts.astype(np.int64), starts).astype(np.uint32) if len(fps) else \
                np.empty(0, np.uint32)

    def frozen(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted distinct fingerprints, their counts)."""
        self._compact()
        return self.fps, self.counts

    def count_of(self, fps: np.ndarray) -> np.ndarray:
        """The count of each fingerprint (0 when absent); call after :meth:`frozen`."""
        if len(self.fps) == 0:
            return np.zeros(len(fps), np.int64)
        pos = np.minimum(search(self.fps, fps), len(self.fps) - 1)
        return np.where(self.fps[pos] == fps, self.counts[pos].astype(np.int64), 0)


class Index:
    """Sorted (fingerprint, source id) pairs: which source columns hold a fingerprint.
    12 bytes per pair (uint64 + uint32)."""

    def __init__(self, fps: list[np.ndarray], sources: list[int]) -> None:
        fp = np.concatenate(fps) if fps else _EMPTY
        src = np.concatenate([np.full(len(f), s, np.uint32) for f, s in zip(fps, sources, strict=True)]) \
            if fps else np.empty(0, np.uint32)
        order = np.argsort(fp, kind="stable")
        self.fps, self.sources = fp[order], src[order]

    def __len__(self) -> int:
        return len(self.fps)

    def lookup(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query position, source id) for every source holding a queried fingerprint."""
        if len(self.fps) == 0 or len(queries) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        lo = np.minimum(search(self.fps, queries), len(self.fps) - 1)
        hit = np.flatnonzero(self.fps[lo] == queries)
        if len(hit) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        lo = lo[hit]
        # a fingerprint several sources hold: the end of its run, searched for the hits only
        n = search(self.fps, queries[hit], "right") - lo
        where = np.repeat(hit, n)
        offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        return where, self.sources[np.repeat(lo, n) + offset].astype(np.int64)


def member(sorted_fps: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each query is in ``sorted_fps`` (sorted, distinct)."""
    if len(sorted_fps) == 0:
        return np.zeros(len(queries), bool)
    pos = np.minimum(search(sorted_fps, queries), len(sorted_fps) - 1)
    return sorted_fps[pos] == queries


@dataclass
class Tokens:
    """The words of n values (values without a word have ``words == 0``).

    Per word position (values' words one after the other): ``fp`` its fingerprint, ``value`` the
    value it belongs to, ``token`` its index into the distinct words of the call (``token_fp``,
    ``token_chars``). Per value: ``words``, ``chars`` (characters in its words), ``digits`` (whether
    every word is made of digits), ``start`` (its first position) and ``whole`` (the hash of its
    whole word sequence)."""

    fp: np.ndarray
    value: np.ndarray
    token: np.ndarray
    token_fp: np.ndarray
    token_chars: np.ndarray
    token_digits: np.ndarray
    words: np.ndarray
    chars: np.ndarray
    digits: np.ndarray
    start: np.ndarray
    whole: np.ndarray


def tokenise(ctx: VerifyContext, texts: pa.Array) -> Tokens:
    """Cut text values (a string array without nulls) into normalised words and fingerprint them:
    vectorised (pyarrow's RE2 split, then one HMAC per distinct word of the call)."""
    n = len(texts)
    flat, value = words_of(texts)
    enc = pc.dictionary_encode(flat)
    token = np.asarray(enc.indices, np.int64)
    uniq = enc.dictionary
    raw = uniq.cast(pa.large_binary() if pa.types.is_large_string(uniq.type) else pa.binary())
    token_fp = text_fingerprints(ctx, raw) if len(uniq) else _EMPTY
    token_chars = np.asarray(pc.utf8_length(uniq), np.int64) if len(uniq) else np.empty(0, np.int64)
    token_digits = (np.asarray(pc.utf8_is_decimal(uniq), bool) if len(uniq) else np.empty(0, bool))
    fp = token_fp[token]
    words = np.bincount(value, minlength=n)
    chars = np.bincount(value, weights=token_chars[token], minlength=n).astype(np.int64)
    not_digit = np.bincount(value, weights=~token_digits[token], minlength=n)
    start = np.concatenate(([0], np.cumsum(words)[:-1])).astype(np.int64) if n else np.empty(0, np.int64)
    whole = np.zeros(n, np.uint64)
    some = words > 0
    if len(fp):
        rank = np.arange(len(fp)) - start[value]
        h = fp * powers(int(words.max()))[words[value] - 1 - rank]
        whole[some] = np.add.reduceat(h, start[some])
    return Tokens(fp, value, token, token_fp, token_chars, token_digits, words, chars,
                  (not_digit == 0) & some, start, whole)


def words_of(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the words, the value of each): lower case, accents and other combining marks dropped (NFKD),
    split on :data:`SEPARATORS`. ASCII values are cut with numpy over the bytes (letters and digits
    are [A-Za-z0-9] there); the others by RE2 (:func:`_unicode_words`); the same words either way."""
    ascii_ = np.asarray(pc.string_is_ascii(texts), bool) if len(texts) else np.ones(0, bool)
    if ascii_.all():
        return _ascii_words(texts)
    if not ascii_.any():
        return _unicode_words(texts)
    a, u = np.flatnonzero(ascii_), np.flatnonzero(~ascii_)
    fa, va = _ascii_words(texts.take(pa.array(a)))
    fu, vu = _unicode_words(texts.take(pa.array(u)))
    value = np.concatenate((a[va], u[vu]))
    order = np.argsort(value, kind="stable")  # two sorted runs: merged
    flat = pa.concat_arrays([fa, fu.cast(fa.type)]).take(pa.array(order))
    return flat, value[order]


def _unicode_words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    texts = pc.replace_substring_regex(pc.utf8_normalize(texts, "NFKD"), r"\pM+", "")
    lists = pc.split_pattern_regex(pc.utf8_lower(texts), SEPARATORS)
    value = np.asarray(pc.list_parent_indices(lists), np.int64)
    flat = pc.list_flatten(lists)
    keep = np.asarray(pc.binary_length(flat)) > 0
    if not keep.all():
        flat, value = flat.filter(pa.array(keep)), value[keep]
    return flat, value


def _ascii_words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """:func:`words_of` of ASCII values: the bytes classified arithmetically ([0-9A-Za-z]), a word
    starts at a letter or digit after a separator or at a value's start; the words' bytes,
    lower-cased and put end to end, are the data of the words' array (no copy word by word)."""
    n = len(texts)
    wide = pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type)
    offsets = np.frombuffer(texts.buffers()[1], np.int64 if wide else np.int32)[texts.offset:texts.offset + n + 1]
    offsets = offsets.astype(np.int64)
    buf = texts.buffers()[2]
    data = np.frombuffer(buf, np.uint8)[offsets[0]:offsets[-1]] if buf is not None else np.empty(0, np.uint8)
    offsets = offsets - offsets[0]
    upper = (data >= 65) & (data <= 90)
    lower = data | (upper.view(np.uint8) << np.uint8(5))  # A-Z + 32
    alnum = ((data >= 48) & (data <= 57)) | ((lower >= 97) & (lower <= 122))
    start, last = alnum.copy(), alnum.copy()
    start[1:] &= ~alnum[:-1]
    last[:-1] &= ~alnum[1:]
    bounds = offsets[1:-1][offsets[1:-1] < len(data)]  # where a value starts, the one before ends
    bounds = bounds[bounds > 0]
    start[bounds] = alnum[bounds]
    last[bounds - 1] = alnum[bounds - 1]
    at, stop = np.flatnonzero(start), np.flatnonzero(last)
    value = np.searchsorted(offsets, at, "right") - 1
    letters = np.compress(alnum, lower)
    word_offsets = np.zeros(len(at) + 1, np.int64 if wide else np.int32)
    np.cumsum(stop - at + 1, out=word_offsets[1:])
    flat = pa.Array.from_buffers(pa.large_string() if wide else pa.string(), len(at),
                                 [None, pa.py_buffer(word_offsets), pa.py_buffer(letters)])
    return flat, value.astype(np.int64)


_POWERS = np.ones(1, np.uint64)


def powers(n: int) -> np.ndarray:
    """_P**0 .. _P**(n-1) modulo 2**64 (at least n of them)."""
    global _POWERS
    if len(_POWERS) < n:
        p = np.full(max(n, 2 * len(_POWERS)), _P, np.uint64)
        p[0] = 1
        _POWERS = np.multiply.accumulate(p)
    return _POWERS


def runs(tok: Tokens, flags: np.ndarray) -> np.ndarray:
    """For each word position: how many flagged words follow one another from it, within its value
    (0 at an unflagged position)."""
    n = len(tok.fp)
    pos = np.arange(n)
    end = (tok.start + tok.words)[tok.value]  # one past the value's last word
    stop = np.where(flags, n, pos)  # the first unflagged position at or after each one
    stop = np.minimum.accumulate(stop[::-1])[::-1]
    return np.minimum(stop, end) - pos


def sequence_hashes(tok: Tokens, starts: np.ndarray, k: int) -> np.ndarray:
    """The hash of the k words from each position in ``starts`` (the same as ``whole`` for a value of
    exactly those k words)."""
    h = np.zeros(len(starts), np.uint64)
    for i in range(k):
        h = h * _P + tok.fp[starts + i]
    return h


@dataclass
class Wholes:
    """Words and whole-sequence hashes of values (the part of :class:`Tokens` a whole-cell lookup needs)."""

    words: np.ndarray
    whole: np.ndarray


def timestamp_wholes(ctx: VerifyContext, values: pa.Array) -> Wholes | None:
    """:func:`tokenise`'s ``words`` and ``whole`` of timestamps (no time zone, whole seconds, years
    1000..9999), without text: 'YYYY-MM-DD HH:MM:SS' is the six words YYYY MM DD HH MM SS, each
    from a table of the few distinct words' fingerprints. None for any other array (cut as text)."""
    seconds = whole_seconds(values)
    if seconds is None or values.null_count:
        return None
    days = seconds // 86400
    day = days.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    in_day = seconds - days * 86400
    parts = (year.astype(np.int64) + 1970, (month - year).astype(np.int64) + 1, (day - month).astype(np.int64) + 1,
             in_day // 3600, in_day // 60 % 60, in_day % 60)
    years = np.unique(parts[0])
    year_fp = text_fingerprints(ctx, pa.array([str(y).encode() for y in years.tolist()], pa.binary()))
    two_fp = text_fingerprints(ctx, pa.array([f"{i:02d}".encode() for i in range(100)], pa.binary()))
    p = powers(6)
    whole = year_fp[np.searchsorted(years, parts[0])] * p[5]
    for k, part in enumerate(parts[1:], start=1):
        whole = whole + two_fp[part] * p[5 - k]
    return Wholes(np.full(len(values), 6, np.int64), whole)

def canonical_binary(arr: pa.Array) -> pa.Array:
    """Canonical text (``arrays.canonical``) as large_binary: two sides compare alike whatever types
    they were read as."""
    out = canonical(arr)
    return out if pa.types.is_large_binary(out.type) else out.cast(pa.large_binary())


def searchable_text(values: pa.Array, min_digits: int) -> pa.Array | None:
    """The values as text for the normalised family, or None when none could be specific
    (binary; integers and dates with fewer than ``min_digits`` digits)."""
    t = values.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) \
            or pa.types.is_boolean(t):
        return None
    if pa.types.is_date(t) and min_digits > 8:
        return None
    if pa.types.is_integer(t) and values.null_count < len(values):
        mm = pc.min_max(values).as_py()
        if max(abs(mm["min"]), abs(mm["max"])) < 10 ** (min_digits - 1):
            return None
    return fast_text(values)


def unsearchable(arr: pa.Array, min_digits: int) -> bool:
    """An array of a type whose values :func:`searchable_text` refuses from the type or the batch's
    range alone (integers, dates, booleans, bytes): no value of it could be specific."""
    t = arr.type
    return (pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_boolean(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)) \
        and searchable_text(arr, min_digits) is None


def fast_text(values: pa.Array) -> pa.Array:
    """``as_text``, timestamps without a fraction of a second cast rather than formatted (pyarrow's
    strftime is ~25x slower): the same 'YYYY-MM-DD HH:MM:SS' for years 1000..9999 (else as_text)."""
    if whole_seconds(values) is not None:
        return pc.cast(pc.cast(values, pa.timestamp("s"), safe=False), pa.string())
    return as_text(values)


def whole_seconds(values: pa.Array) -> np.ndarray | None:
    """Seconds since 1970 of timestamps without a time zone when every one is a whole second of
    the years 1000..9999 (nulls as 0), else None."""
    t = values.type
    if not (pa.types.is_timestamp(t) and t.tz is None and len(values)):
        return None
    ticks = np.asarray(values.view(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
    per = _PER_SECOND[t.unit]
    if not (ticks % per == 0).all():
        return None
    seconds = ticks // per
    return seconds if seconds.min() >= _YEAR_1000 and seconds.max() < _YEAR_10000 else None


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_YEAR_1000, _YEAR_10000 = -30610224000, 253402300800  # 1000-01-01 and 10000-01-01, in Unix seconds


def merged(runs: list[np.ndarray]) -> np.ndarray:
    """The distinct fingerprints of sorted runs (timsort merges them; no hashing of all again)."""
    if not runs:
        return np.empty(0, np.uint64)
    out = np.sort(np.concatenate(runs), kind="stable")
    return out[np.concatenate(([True], out[1:] != out[:-1]))] if len(out) else out


def same_text_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Both sides of one type whose values are equal exactly when their canonical texts are
    (text, bytes, integers, dates: not floats, where -0.0 == 0.0 and NaN != NaN)."""
    return a == b and (pa.types.is_string(a) or pa.types.is_large_string(a) or pa.types.is_binary(a)
                       or pa.types.is_large_binary(a) or pa.types.is_integer(a) or pa.types.is_date(a))


_SAMPLE = 2048  # values looked at to decide whether a batch's values repeat


def distinct_values(arr: pa.Array) -> tuple[pa.Array | None, np.ndarray, pa.Array]:
    """(the values to look at, rows holding each (0: blank), each row's index into them): the
    distinct non-null values, or every non-null value when a batch's values hardly repeat."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if len(arr) == 0 or arr.null_count == len(arr):
        return None, np.empty(0, np.int64), pa.nulls(len(arr), pa.int32())
    head = arr.slice(0, _SAMPLE)
    if len(arr) > _SAMPLE and pc.count_distinct(head).as_py() >= 0.9 * (len(head) - head.null_count):
        # the values hardly repeat (notes, emails): dictionary encoding would cost more than it saves
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
        values = arr if valid.all() else arr.filter(pa.array(valid))
        positions = np.cumsum(valid) - 1
        indices = pa.array(positions.astype(np.int32), mask=~valid)
        occ = np.ones(len(values), np.int64)
    else:
        enc = pc.dictionary_encode(arr)
        values, indices = enc.dictionary, enc.indices
        occ = np.bincount(np.asarray(indices.drop_null(), np.int64), minlength=len(values))
    blanks = blank_mask(values)
    if blanks is not None:
        occ[np.asarray(blanks, bool)] = 0
    return values, occ, indices


ELSEWHERE, IN_TEXT, WEAK = 0, 1, 2


class Matches:
    """What was found in one scanned copy column, settled once the column has been read.

    Each match is (cell group, source, kind, word, cells): a group of cells of a batch holding one
    distinct value (``part`` 1 for a subset of them, the ones confirmed at their row), the source
    column whose value it holds, its kind (ELSEWHERE: the whole cell, IN_TEXT, or WEAK: one word
    that may well be a coincidence), the word's fingerprint when the match is one word (0 for a
    sequence) and how many cells. 29 bytes per match, kept until :meth:`settle`: one-word matches
    need the column's count of that word."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.batches = 0

    def add(self, values: np.ndarray, sources: np.ndarray, kind: int, words: np.ndarray,
            cells: np.ndarray, part: int = 0) -> None:
        keep = cells > 0
        if keep.any():
            values, sources, words, cells = values[keep], sources[keep], words[keep], cells[keep]
            vid = (np.uint64(self.batches) << np.uint64(33)) | np.uint64(part << 32) | values.astype(np.uint64)
            self.parts.append((vid, sources.astype(np.int32), np.full(len(values), kind, np.int8),
                               words.astype(np.uint64), cells.astype(np.int64)))

    def settle(self, limit: float, n_sources: int) -> tuple[np.ndarray, int]:
        """(cells per source and kind, an (n_sources, 3) array; cells holding a match that is not
        WEAK). A word held by more than ``limit`` cells of the column is the column's own
        vocabulary (a city named like a rare first name), not a leak: its one-word matches are
        dropped. A cell group found several ways for one source counts once, by the first kind."""
        out = np.zeros((n_sources, 3), np.int64)
        if not self.parts:
            return out, 0
        vid, src, kind, word, occ = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        one = word != 0
        if one.any():
            w, v, o = word[one], vid[one], occ[one]
            order = np.lexsort((v, w))
            w, v, o = w[order], v[order], o[order]
            first = np.ones(len(w), bool)
            first[1:] = (w[1:] != w[:-1]) | (v[1:] != v[:-1])
            w, o = w[first], o[first]  # one row per (word, cell group)
            starts = np.flatnonzero(np.concatenate(([True], w[1:] != w[:-1])))
            common = w[starts][np.add.reduceat(o, starts) > limit]
            keep = ~(one & np.isin(word, common))
            vid, src, kind, occ = vid[keep], src[keep], kind[keep], occ[keep]
        order = np.lexsort((kind, src, vid))
        vid, src, kind, occ = vid[order], src[order], kind[order], occ[order]
        first = np.ones(len(vid), bool)
        first[1:] = (vid[1:] != vid[:-1]) | (src[1:] != src[:-1])
        np.add.at(out, (src[first], kind[first]), occ[first])
        strong = first & (kind != WEAK)
        v, o = vid[strong], occ[strong]
        cell = np.ones(len(v), bool)
        cell[1:] = v[1:] != v[:-1]
        return out, int(o[cell].sum())


def chance_bound(mean: float, alpha: float = 1e-6) -> int:
    """The smallest m with P(X > m) <= alpha for X ~ Poisson(mean): more than m chance matches is
    not chance. Exact up to a mean of 500, the normal approximation above."""
    if mean <= 0:
        return 0
    if mean > 500:
        return int(math.ceil(mean + 4.8 * math.sqrt(mean) + 1))
    term = math.exp(-mean)
    cdf, m = term, 0
    while 1.0 - cdf > alpha:
        m += 1
        term *= mean / m
        cdf += term
    return m
