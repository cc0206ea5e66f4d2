"""HMAC-SHA256 over many values at once.

The same bytes as ``hmac.digest(key, value, "sha256")`` (tests check it), but the
keyed inner and outer SHA-256 states of RFC 2104 are computed once and copied
per value: every call in the loop is a C method of hashlib, which halves the
cost per value against the ``hmac`` module's pure-Python ``copy``/``digest``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_BLOCK = 64  # SHA-256 block size in bytes


def _builtin_sha256():
    """CPython's own SHA-256 (the one hashlib falls back on without OpenSSL): the same digests,
    but copying and updating its state costs less than OpenSSL's per call, and HMACs here are
    many calls on short values. hashlib's (OpenSSL) when a build lacks it."""
    for name in ("_sha2", "_sha256"):  # Python >= 3.12, 3.11
        try:
            return __import__(name).sha256
        except (ImportError, AttributeError):
            continue
    return hashlib.sha256


_SHA256 = _builtin_sha256()


def hmac_sha256_many(key: bytes, values: Iterable[bytes]) -> list[bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_copy = _SHA256(bytes(b ^ 0x36 for b in key)).copy
    outer_copy = _SHA256(bytes(b ^ 0x5C for b in key)).copy
    out = []
    append = out.append
    for v in values:
        i = inner_copy()
        i.update(v)
        o = outer_copy()
        o.update(i.digest())
        append(o.digest())
    return out
