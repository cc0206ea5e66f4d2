"""A set of keys (canonical text, veil.subset.closure.key_text) held as Arrow string arrays: about
4 bytes of offset plus the key's text each (a Python set of str takes some 80 bytes a key), and
membership tested per batch with Arrow's hash kernels instead of a Python loop."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class KeySet:
    __slots__ = ("_all", "_parts")

    def __init__(self) -> None:
        self._all = pa.array([], pa.string())
        self._parts: list[pa.Array] = []  # keys added since the last merge (disjoint from _all)

    def _merged(self) -> pa.Array:
        if self._parts:
            self._all = pa.concat_arrays([self._all, *self._parts])
            self._parts = []
        return self._all

    def __len__(self) -> int:
        return len(self._all) + sum(len(p) for p in self._parts)

    def member(self, texts: pa.Array) -> np.ndarray:
        """Per value of ``texts``: whether the set holds it (null: never)."""
        held = self._merged()
        if not len(held) or not len(texts):
            return np.zeros(len(texts), bool)
        return pc.fill_null(pc.is_in(texts, value_set=held), False).to_numpy(zero_copy_only=False)

    def new(self, texts: pa.Array) -> pa.Array:
        """The distinct non-null values of ``texts`` the set does not hold."""
        texts = pc.unique(texts.drop_null())
        return texts.filter(pa.array(~self.member(texts))) if len(self) and len(texts) else texts

    def add(self, texts: pa.Array) -> pa.Array:
        """Add the values of ``texts``; returns those it did not hold."""
        fresh = self.new(texts)
        if len(fresh):
            self._parts.append(fresh)
        return fresh

    def discard(self, texts: pa.Array) -> None:
        held = self._merged()
        if len(held) and len(texts):
            self._all = held.filter(pc.invert(pc.fill_null(pc.is_in(held, value_set=texts), False)))

    def to_pylist(self) -> list[str]:
        return self._merged().to_pylist()
