"""The fast paths of the verify checks give exactly what the general paths give.

Each speed-up of veil.verify (issue 17, point 7) has a slow, obviously right twin: ASCII words cut
with numpy against RE2's split, timestamps' word hashes computed from numbers against the text cut
into words, counted sets merged from sorted runs against np.unique, a batch's distinct fingerprints
with counts against every row's.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from veil.ops.arrays import as_text
from veil.verify.base import VerifyContext
from veil.verify.keys import FingerprintCounts, column_fingerprints, text_fingerprints
from veil.verify.leak_index import (
    Counted,
    _ascii_words,
    _unicode_words,
    fast_text,
    same_text_type,
    search,
    timestamp_wholes,
    tokenise,
    words_of,
)

CTX = VerifyContext({}, None)


def _random_texts(rng, n: int, alphabet: str) -> list[str]:
    chars = list(alphabet)
    return ["".join(rng.choice(chars, int(rng.integers(0, 14)))) for _ in range(n)]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_ascii_words_equal_the_regex_split(kind):
    rng = np.random.default_rng(7)
    for trial in range(150):
        texts = pa.array(_random_texts(rng, int(rng.integers(1, 60)), "aZ9 .-_@\t\x01~[`{/:"), kind)
        if trial % 3 == 0:
            texts = texts.slice(1)  # an offset into the buffers
        fast, slow = _ascii_words(texts), _unicode_words(texts)
        assert fast[0].to_pylist() == slow[0].to_pylist()
        assert fast[1].tolist() == slow[1].tolist()


def test_mixed_ascii_and_unicode_values_keep_their_order():
    texts = pa.array(["Jan  NOVÁK", "", "jan.novak@mail.example", "Łódź 12", "+420 601 123 456", "ß-x", "A"])
    flat, value = words_of(texts)
    assert flat.to_pylist() == ["jan", "novak", "jan", "novak", "mail", "example", "łodz", "12",
                                "420", "601", "123", "456", "ß", "x", "a"]
    assert value.tolist() == [0, 0, 2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, 6]
    rng = np.random.default_rng(8)
    for _ in range(50):
        texts = pa.array(_random_texts(rng, 40, "aZ9 .-Öé"))
        fast, slow = words_of(texts), _unicode_words(texts)
        assert fast[0].to_pylist() == slow[0].to_pylist() and fast[1].tolist() == slow[1].tolist()


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_word_hashes_equal_the_cut_text(unit):
    rng = np.random.default_rng(9)
    low, high = (-30610224000, 253402300799) if unit != "ns" else (-9 * 10**9, 9 * 10**9)
    ts = pa.array(rng.integers(low, high, 3000), pa.timestamp("s")).cast(pa.timestamp(unit))
    assert fast_text(ts).to_pylist() == as_text(ts).to_pylist()
    got, cut = timestamp_wholes(CTX, ts), tokenise(CTX, fast_text(ts))
    assert (got.whole == cut.whole).all() and (got.words == cut.words).all()


def test_timestamps_outside_the_fast_path_fall_back():
    with_fraction = pa.array([1_500_000_000_123], pa.timestamp("ms"))
    assert timestamp_wholes(CTX, with_fraction) is None
    assert fast_text(with_fraction).to_pylist() == as_text(with_fraction).to_pylist()
    year_999 = pa.array([-30610224000 - 86400], pa.timestamp("s"))
    assert timestamp_wholes(CTX, year_999) is None
    assert timestamp_wholes(CTX, pa.array([1, 2], pa.timestamp("s", tz="UTC"))) is None
    assert timestamp_wholes(CTX, pa.array(["2021-01-01 00:00:00"])) is None


def test_counted_sets_merge_like_unique():
    rng = np.random.default_rng(10)
    for _ in range(40):
        counted, fps, weights = Counted(), [], []
        for _ in range(int(rng.integers(1, 15))):
            f = rng.integers(0, 60, int(rng.integers(0, 50))).astype(np.uint64)
            c = None if rng.random() < 0.5 else rng.integers(1, 4, len(f))
            counted.add(f, c)
            fps.append(f)
            weights.append(np.ones(len(f), np.int64) if c is None else c)
            if rng.random() < 0.3:
                counted.frozen()  # compactions midway, of ones and of counts
        got, n = counted.frozen()
        every, w = np.concatenate(fps), np.concatenate(weights)
        expected = np.unique(every)
        assert got.tolist() == expected.tolist()
        assert n.tolist() == [int(w[every == x].sum()) for x in expected]


def test_sorted_search_equals_searchsorted():
    rng = np.random.default_rng(11)
    sorted_fps = np.sort(rng.integers(0, 2**63, 5000, dtype=np.uint64))
    queries = np.concatenate([rng.integers(0, 2**63, 3000, dtype=np.uint64), sorted_fps[::7]])
    rng.shuffle(queries)
    for side in ("left", "right"):
        assert (search(sorted_fps, queries, side) == np.searchsorted(sorted_fps, queries, side)).all()


def test_text_fingerprints_of_short_and_long_values():
    """Short values (<= 15 bytes) are their own block: equal bytes, equal fingerprints, whatever
    the array's offset, width or neighbours; long ones too."""
    values = [b"", b"a", b"abc", b"x" * 15, b"y" * 16, b"z" * 40, b"abc"]
    narrow = text_fingerprints(CTX, pa.array(values, pa.binary()))
    wide = text_fingerprints(CTX, pa.array(values, pa.large_binary()))
    assert (narrow == wide).all()
    assert narrow[2] == narrow[6] and len(set(narrow.tolist())) == 6
    sliced = text_fingerprints(CTX, pa.array([b"pad"] + values, pa.binary()).slice(1))
    assert (sliced == narrow).all()
    only_short = text_fingerprints(CTX, pa.array([v for v in values if len(v) <= 15], pa.binary()))
    assert only_short.tolist() == [f for v, f in zip(values, narrow.tolist(), strict=True) if len(v) <= 15]


def test_a_dictionary_batch_counts_its_distinct_values_once():
    values = pa.array(["a", "b", "a", None, "c", "a"] * 2000)
    got = column_fingerprints(CTX, values)
    assert got.counted is not None
    fps, rows = got
    by_row, by_value = FingerprintCounts(), FingerprintCounts()
    by_row.add(fps)
    by_value.add(*got.counted)
    assert by_row.fps.tolist() == by_value.fps.tolist() and by_row.counts.tolist() == by_value.counts.tolist()
    assert by_value.total == 10000 and by_value.distinct == 3 and len(rows) == 10000


def test_same_text_type_excludes_floats():
    assert same_text_type(pa.string(), pa.string()) and same_text_type(pa.int64(), pa.int64())
    assert not same_text_type(pa.float64(), pa.float64())  # -0.0 == 0.0, NaN != NaN: compare text
    assert not same_text_type(pa.int64(), pa.string())


def test_unsearchable_arrays_are_decided_from_type_and_range():
    from veil.verify.leak_index import unsearchable

    assert unsearchable(pa.array([1, None, 42]), 9)  # small integers: counted, not cut into words
    assert not unsearchable(pa.array([10**12, None]), 9)  # a 13-digit number may be a phone, an id
    assert unsearchable(pa.array([0], pa.date32()), 9) and unsearchable(pa.array([True]), 9)
    assert not unsearchable(pa.array([None, None], pa.int64()), 9)  # all null: no range to judge
    assert not unsearchable(pa.array(["42"]), 9) and not unsearchable(pa.array([1.5]), 9)


def test_repeating_numbers_are_encrypted_once_with_the_same_fingerprints():
    from veil.verify.keys import _number_blocks, number_fingerprints

    dates = pa.array([None if i % 9 == 0 else i % 40 for i in range(20_000)], pa.int32()).cast(pa.date32())
    got = number_fingerprints(CTX, dates)
    assert got.counted is not None  # 40 distinct dates: the dictionary path
    present = np.flatnonzero(np.asarray(dates.is_valid()))
    assert (got[1] == present).all()
    row_by_row = _number_blocks(CTX, dates.drop_null().cast(pa.int32()).cast(pa.int64()), 1)
    assert (got[0] == row_by_row).all()
    distinct, rows = got.counted
    order = np.argsort(distinct)
    expected, n = np.unique(row_by_row, return_counts=True)
    assert (distinct[order] == expected).all() and (rows[order] == n).all()
    floats = number_fingerprints(CTX, pa.array([0.0, -0.0] * 5_000))
    assert getattr(floats, "counted", None) is None and floats[0][0] != floats[0][1]  # -0.0 is not 0.0
