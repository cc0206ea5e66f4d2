"""An independent, scalar reference of `pseudonymize format: int` (issue 15: its vectors
must not be only veil's own output).

Written from docs/operators.md, one integer at a time with Python ints and one AES block
per call, sharing no code with ``veil.ops.pseudonymize``: a balanced Feistel network of
10 rounds over ``2 * ceil(bits / 2)`` bits; round ``r`` encrypts the 16-byte block
``[r, bits, 0 x 6, right as 8 little-endian bytes]`` with AES-256 under the domain
subkey, takes the first 8 bytes (little-endian) masked to the half width, and sets
``left, right = right, left ^ F``; outputs at or above ``2**bits`` are encrypted again
(cycle-walking).
"""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from .test_ops import MASTER, apply, hkdf, subkey


def reference(key: bytes, x: int, bits: int) -> int:
    half = (bits + 1) // 2
    mask = (1 << half) - 1

    def one_pass(v: int) -> int:
        left, right = v >> half, v & mask
        for r in range(10):
            block = bytes([r, bits]) + bytes(6) + right.to_bytes(8, "little")
            enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            f = int.from_bytes((enc.update(block) + enc.finalize())[:8], "little") & mask
            left, right = right, left ^ f
        return (left << half) | right

    y = one_pass(x)
    while bits < 64 and y >= 1 << bits:
        y = one_pass(y)
    return y


@pytest.mark.parametrize("bits", [1, 2, 7, 12, 31, 32, 63])
def test_operator_matches_the_scalar_reference(bits):
    rng = random.Random(bits)
    vals = sorted({0, (1 << bits) - 1, *(rng.randrange(1 << bits) for _ in range(200))})
    out = apply("pseudonymize", pa.array(vals, pa.int64()), {"format": "int", "bits": bits},
                domain="customer_id")
    assert out.to_pylist() == [reference(subkey("customer_id"), v, bits) for v in vals]


def test_operator_matches_the_reference_on_64_bit_unsigned():
    vals = [0, 1, 2**63, 2**64 - 1, 123456789012345678]
    out = apply("pseudonymize", pa.array(vals, pa.uint64()), {"format": "int", "bits": 64}, domain="d")
    assert out.to_pylist() == [reference(subkey("d"), v, 64) for v in vals]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=20), st.sampled_from(["a", "cid", "ü"]))
def test_reference_agrees_on_text_and_integers(vals, domain):
    expected = [reference(subkey(domain), v, 31) for v in vals]
    as_int = apply("pseudonymize", pa.array(vals, pa.int64()), {"format": "int"}, domain=domain)
    as_text = apply("pseudonymize", pa.array([str(v) for v in vals]), {"format": "int"}, domain=domain)
    assert as_int.to_pylist() == expected
    assert as_text.to_pylist() == [str(v) for v in expected]


def test_reference_is_a_permutation_of_small_domains():
    key = subkey("p")
    for bits in (1, 3, 5, 8):
        assert sorted(reference(key, v, bits) for v in range(1 << bits)) == list(range(1 << bits))


# -- the range form: pseudonymize format: int, range: [lo, hi] --------------------------------
# From docs/operators.md: n = hi - lo + 1 values, bits = max(1, bit length of n - 1); the AES key
# is HKDF-SHA256(master, info "veil/v1/int-range/<domain>/<lo>/<hi>"); the output is
# lo + the permutation above of (value - lo), with outputs at or above n encrypted again.

def range_reference(domain: str, x: int, lo: int, hi: int) -> int:
    n = hi - lo + 1
    bits = max(1, (n - 1).bit_length())
    key = hkdf(MASTER, "int-range", f"{domain}/{lo}/{hi}")
    y = reference(key, x - lo, bits)
    while y >= n:
        y = reference(key, y, bits)  # reference() already walks below 2**bits; walk on below n
    return lo + y


RANGES = [(1, 10), (0, 255), (1, 100), (1, 10_000), (1, 32_767), (-5, 5), (-(2**63), 2**63 - 1),
          (0, 2**64 - 1), (10**12, 10**12 + 999), (7, 8)]


@pytest.mark.parametrize(("lo", "hi"), RANGES, ids=lambda v: str(v))
def test_range_matches_the_scalar_reference(lo, hi):
    rng = random.Random(f"{lo}/{hi}")
    vals = sorted({lo, hi, *(rng.randint(lo, hi) for _ in range(150))})
    typ = pa.uint64() if hi >= 2**63 else pa.int64()
    out = apply("pseudonymize", pa.array(vals, typ), {"format": "int", "range": [lo, hi]}, domain="customer_id")
    assert out.to_pylist() == [range_reference("customer_id", v, lo, hi) for v in vals]


def test_range_reference_is_a_permutation_of_small_ranges():
    for lo, hi in [(1, 10), (0, 2), (-3, 3), (5, 37), (1, 100)]:
        assert sorted(range_reference("p", v, lo, hi) for v in range(lo, hi + 1)) == list(range(lo, hi + 1))
