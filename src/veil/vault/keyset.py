"""The dedup set of the vault: which (original, context) records a (domain, key version) holds.

An open-addressing hash table over numpy arrays (:class:`KeySet`), so a run checks and adds
millions of 16-byte dedup keys with no Python object per key.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .buffers import fixed_rows


def argsort64(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable") of uint64 values, several times faster: numpy sorts plain
    integers much faster than it argsorts them, so each value's low bits are replaced by its index
    and the results sorted; values whose remaining high bits tie are then ordered exactly."""
    n = len(values)
    bits = max(1, (n - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    packed = (values & ~low) | np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & low).astype(np.intp)
    high = packed >> np.uint64(bits)
    tie = np.flatnonzero(high[1:] == high[:-1])
    if len(tie):
        rows = np.unique(np.concatenate([tie, tie + 1]))
        order[rows] = order[rows][np.argsort(values[order[rows]], kind="stable")]
    return order


class KeySet:
    """Dedup keys: an open-addressing hash table (linear probing) over numpy arrays, so look-ups and
    inserts are vectorised, with no Python object per key.

    Keys are HMAC and AES outputs, evenly spread: a key's home slot is the top bits of its first
    half. Each slot holds the key's two 64-bit halves and a state: 0 empty, 1 held, 2 held and
    linked to a subject (a key held both ways is 2). The table is kept at most half full (17 bytes
    a slot, so 34-68 bytes a key).
    """

    MIN_BITS = 16

    def __init__(self, hi: np.ndarray | None = None, lo: np.ndarray | None = None,
                 linked: np.ndarray | None = None) -> None:
        """A set of the given keys (repeats allowed), laid out in one sorted pass."""
        self.n = 0
        if hi is None or not len(hi):
            self._alloc(self.MIN_BITS)
            return
        order = argsort64(hi)
        hi, lo, state = hi[order], lo[order], linked[order].astype(np.uint8) + 1
        same_hi = np.flatnonzero(hi[1:] == hi[:-1])
        if len(same_hi):  # repeats (and, rarely, keys sharing a first half): order those by both halves
            rows = np.unique(np.concatenate([same_hi, same_hi + 1]))
            by_both = rows[np.lexsort((lo[rows], hi[rows]))]
            hi[rows], lo[rows], state[rows] = hi[by_both], lo[by_both], state[by_both]
        first = np.ones(len(hi), bool)
        first[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
        starts = np.flatnonzero(first)  # a repeated key once, linked if any of its copies is
        self._layout(hi[starts], lo[starts], np.maximum.reduceat(state, starts))

    def _alloc(self, bits: int) -> None:
        self.bits = bits
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        pairs = np.zeros((1 << bits, 2), np.uint64)  # a slot's two halves share a cache line
        self.hi, self.lo = pairs[:, 0], pairs[:, 1]
        self.state = np.zeros(1 << bits, np.uint8)

    def _layout(self, hi: np.ndarray, lo: np.ndarray, state: np.ndarray, room: int = 0) -> None:
        """A new table for these distinct keys, sorted by first half, with room for more: linear
        probing puts each at max(its home slot, the previous key's slot + 1), which one pass of
        numpy computes."""
        n = len(hi)
        self._alloc(max(self.MIN_BITS, (2 * (n + room) - 1).bit_length()))
        step = np.arange(n)
        at = np.maximum.accumulate((hi >> self.shift).astype(np.intp) - step) + step
        fits = at <= self.mask
        if fits.all():
            self.hi[at], self.lo[at], self.state[at] = hi, lo, state
            self.n = n
            return
        self.hi[at[fits]], self.lo[at[fits]], self.state[at[fits]] = hi[fits], lo[fits], state[fits]
        self.n = int(fits.sum())
        # the last few run past the end: they wrap around to the first free slots
        self.add(hi[~fits], lo[~fits], state[~fits] == 2)

    @staticmethod
    def halves(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        pairs = fixed_rows(keys, 16)[1].view(np.uint64).reshape(len(keys), 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def find(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """The state of each key: 0 not held, 1 held, 2 held and linked."""
        found = np.zeros(len(hi), np.uint8)
        if not self.n:
            return found
        at = (hi >> self.shift).astype(np.intp)  # the home slots: most keys are found there
        state = self.state[at]
        hit = (state != 0) & (self.hi[at] == hi) & (self.lo[at] == lo)
        found[hit] = state[hit]
        todo = np.flatnonzero((state != 0) & ~hit)  # an empty slot ends the probe: not held
        at = (at[todo] + 1) & self.mask
        while todo.size:
            state = self.state[at]
            held = state != 0
            todo, at, state = todo[held], at[held], state[held]
            hit = (self.hi[at] == hi[todo]) & (self.lo[at] == lo[todo])
            found[todo[hit]] = state[hit]
            todo, at = todo[~hit], (at[~hit] + 1) & self.mask
        return found

    def reserve(self, room: int) -> None:
        """Make room for this many more keys at once (instead of growing step by step)."""
        if 2 * (self.n + room) > (1 << self.bits):
            used = np.flatnonzero(self.state)  # in slot order: sorted by first half but for the wrapped
            order = argsort64(self.hi[used])
            used = used[order]
            self._layout(self.hi[used], self.lo[used], self.state[used], room=room)

    def add(self, hi: np.ndarray, lo: np.ndarray, linked: np.ndarray) -> None:
        """Hold these keys (state 2 where linked); a key already held only gains the link."""
        self.reserve(len(hi))
        pos = (hi >> self.shift).astype(np.intp)
        todo = np.arange(len(hi))
        while todo.size:
            at = pos[todo]
            taken = self.state[at] != 0
            same = taken & (self.hi[at] == hi[todo]) & (self.lo[at] == lo[todo])
            self.state[at[same & linked[todo]]] = 2
            # keys race for free slots: the first half written wins, then the second half among
            # those; a key that lost looks at the slot again next round (it may hold its own key)
            f_at, f_key = at[~taken], todo[~taken]
            self.hi[f_at] = hi[f_key]
            first = self.hi[f_at] == hi[f_key]
            f_at, f_key = f_at[first], f_key[first]
            self.lo[f_at] = lo[f_key]
            won = self.lo[f_at] == lo[f_key]
            self.state[f_at[won]] = 1
            self.state[f_at[won & linked[f_key]]] = 2
            done = same
            done[np.flatnonzero(~taken)[first][won]] = True
            move = taken & ~same
            pos[todo[move]] = (at[move] + 1) & self.mask
            todo = todo[~done]
        self.n = int(np.count_nonzero(self.state))
