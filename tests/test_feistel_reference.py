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

from .test_ops import apply, subkey


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
