"""pseudonymize: keyed HMAC-SHA256 pseudonyms, and a keyed bijection for integer keys.

Every output is a pure function of (domain subkey, value): the same value in
the same domain gets the same pseudonym in every table, file, run and worker.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import InputError
from .arrays import (
    cast_checked,
    first_bad_row,
    fixed_width_strings,
    is_text,
    join,
    map_distinct,
    restore_type,
)
from .registry import REKEY_VAULT, OpContext, Param, operator

FORMATS = ("token", "email", "digits", "int")
TOKEN_LENGTHS = (16, 24, 32, 40, 48)  # base32 characters; 16 = 80 bits


def _injective(params: dict) -> bool:
    # token/email keep >= 80 bits of the HMAC: distinct inputs collide with
    # negligible probability, and the pipeline still checks key columns.
    # int is a permutation. digits keeps as many digits as the input has,
    # which is far too few to be collision-free.
    return params.get("format", "token") in ("token", "email", "int")


def _out_type(t: pa.DataType, params: dict) -> pa.DataType | None:
    if params.get("format") in ("int", "digits") or is_text(t):
        return None
    return pa.string()


def _check(params: dict) -> list[str]:
    msgs = []
    if params.get("length", 16) not in TOKEN_LENGTHS:
        msgs.append(f"length must be one of {', '.join(map(str, TOKEN_LENGTHS))}")
    bits = params.get("bits", 31)
    if not 8 <= bits <= 64:
        msgs.append("bits must be between 8 and 64")
    rng = params.get("range")
    if rng is not None:
        if params.get("format", "token") != "int":
            msgs.append("range applies to format int only")
        elif not (len(rng) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in rng)):
            msgs.append("range must be two integers: [lowest, highest]")
        elif not (RANGE_MIN <= rng[0] < rng[1] <= RANGE_MAX) or (rng[0] < 0 and rng[1] >= 1 << 63):
            msgs.append(f"range must have lowest < highest, both between {RANGE_MIN} and {RANGE_MAX} "
                        "(a negative lowest: highest below 2**63)")
        elif bits != 31:
            msgs.append("give range or bits, not both (range decides the outputs)")
    return msgs


RANGE_MIN, RANGE_MAX = -(1 << 63), (1 << 64) - 1


def int_range(params: dict) -> tuple[int, int] | None:
    """The [lowest, highest] integers format int writes (and takes), or None for a token/email/digits
    rule. With ``range: [lo, hi]`` that range; else [0, 2**bits - 1]."""
    if params.get("format") != "int":
        return None
    rng = params.get("range")
    if rng is not None:
        return int(rng[0]), int(rng[1])
    return 0, (1 << params.get("bits", 31)) - 1


def _accepts(t: pa.DataType, params: dict) -> str | None:
    fmt = params.get("format")
    if fmt == "digits" and not (is_text(t) or pa.types.is_integer(t)):
        return f"pseudonymize format digits needs a text or integer column, not {t}"
    if fmt == "int" and not (is_text(t) or pa.types.is_integer(t)):
        return f"pseudonymize format int needs an integer or text column, not {t}"
    return None


def _span_problem(params: dict) -> str | None:
    if params.get("format") == "int":
        return "pseudonymize format int needs plain integers; spans of text are not"
    return None


def _max_length(t: pa.DataType, params: dict) -> int | None:
    fmt = params.get("format", "token")
    if fmt == "int":
        lo, hi = int_range(params) or (0, 0)
        return max(len(str(lo)), len(str(hi)))
    if fmt == "digits":
        return None  # the input's length
    token = len(params.get("prefix", "")) + params.get("length", 16)
    return token + 1 + len(params.get("email_domain", "example.com")) if fmt == "email" else token


B32 = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)


def _tokens(d: np.ndarray, length: int) -> pa.Array:
    """Lower-case RFC 4648 base32 of the first length*5/8 digest bytes (aligned: no padding).

    Vectorised: every 5 bytes form a 40-bit group that gives 8 characters.
    """
    nbytes = length * 5 // 8
    groups = d[:, :nbytes].reshape(len(d), nbytes // 5, 5).astype(np.uint64)
    v = groups[..., 0]
    for i in range(1, 5):
        v = (v << np.uint64(8)) | groups[..., i]
    shifts = np.arange(35, -1, -5, dtype=np.uint64)
    idx = (v[..., None] >> shifts) & np.uint64(31)
    return fixed_width_strings(B32[idx.reshape(len(d), length)])


@operator(
    "pseudonymize",
    params=(
        Param("format", str, "token", FORMATS, "token | email | digits | int (bijective)"),
        Param("length", int, 16, TOKEN_LENGTHS, "token length in base32 characters"),
        Param("prefix", str, "", help="text put before a token"),
        Param("email_domain", str, "example.com", help="domain of email-shaped pseudonyms"),
        Param("bits", int, 31, help="int format: outputs stay below 2**bits (31 fits INTEGER)"),
        Param("range", list, None, help="int format: [lowest, highest]: a permutation of that range "
              "(inputs outside it are refused); replaces bits"),
    ),
    keyed=True,
    injective=_injective,
    out_type=_out_type,
    check=_check,
    reversible=True,
    # token and email keep >= 80 bits: collisions are negligible, and key columns are checked
    collision_checked=lambda params: params.get("format", "token") in ("token", "email"),
    accepts=_accepts,
    span_problem=_span_problem,
    max_output_length=_max_length,
    value_range=lambda t, params: int_range(params),
    rekey=REKEY_VAULT,
)
def pseudonymize(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Keyed pseudonyms: an opaque token, an email-shaped token, digits in the
    input's shape, or (format int) a keyed permutation of non-negative integers."""
    fmt = ctx.params["format"]
    if fmt == "int":
        return _int_bijection(arr, ctx)
    if fmt == "digits":
        return ctx.map_distinct(arr, lambda u: _digits(ctx, u)) if arr.null_count < len(arr) else arr

    def fn(uniques: pa.Array) -> pa.Array:
        tok = _tokens(ctx.digests(uniques), ctx.params["length"])
        if fmt == "email":
            return join(ctx.params["prefix"], tok, "@" + ctx.params["email_domain"])
        return join(ctx.params["prefix"], tok) if ctx.params["prefix"] else tok

    if arr.null_count == len(arr):
        return pa.nulls(len(arr), type=arr.type if is_text(arr.type) else pa.string())
    return restore_type(ctx.map_distinct(arr, fn), arr.type)


def _digits(ctx: OpContext, uniques: pa.Array) -> pa.Array:
    """Replace every ASCII digit by a keyed digit; separators and length stay."""
    d = ctx.digests(uniques)
    texts = uniques.to_pylist() if is_text(uniques.type) else pc.cast(uniques, pa.string()).to_pylist()
    out = []
    for text, dig in zip(texts, d.tolist(), strict=True):
        stream = iter(dig * (1 + len(text) // 32))
        out.append("".join(chr(48 + next(stream) % 10) if "0" <= c <= "9" else c for c in text))
    if is_text(uniques.type):
        return restore_type(pa.array(out, type=pa.string()), uniques.type)
    # an integer column keeps its type (a leading zero may shorten the number); a result beyond
    # the type's range (int8: 127 -> 981) is reduced into it, modulo the range of its sign
    info = np.iinfo(uniques.type.to_pandas_dtype())
    nums = [int(v) for v in out]
    nums = [v if info.min <= v <= info.max else
            v % (int(info.max) + 1) if v > 0 else -((-v) % (-int(info.min) + 1)) for v in nums]
    return pa.array(nums, type=uniques.type)


# ---------------------------------------------------------------------------
# A keyed permutation of [0, n) (n = 2**bits by default): a balanced Feistel
# network whose round function is AES-256 (the Luby-Rackoff construction behind
# NIST's FF1/FF3 format-preserving encryption), with cycle-walking down to n.
# AES comes from `cryptography`; ECB mode here only evaluates the AES
# permutation on many independent one-block inputs at once, which is what makes
# it vectorised.
FEISTEL_ROUNDS = 10


def feistel(key: bytes, x: np.ndarray, bits: int, decrypt: bool = False, n: int | None = None) -> np.ndarray:
    """The keyed permutation of [0, n) over ``bits``-bit values (n defaults to 2**bits; else
    2**(bits-1) < n <= 2**bits): outputs at or above n are permuted again (cycle-walking)."""
    half = (bits + 1) // 2
    mask = np.uint64((1 << half) - 1)
    x = x.astype(np.uint64)
    n = 1 << bits if n is None else n
    limit = None if n >= 1 << 64 else np.uint64(n)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def one_pass(v: np.ndarray) -> np.ndarray:
        left, right = v >> np.uint64(half), v & mask
        order = range(FEISTEL_ROUNDS - 1, -1, -1) if decrypt else range(FEISTEL_ROUNDS)
        for r in order:
            if decrypt:
                left, right = right, left
            blocks = np.zeros((len(v), 16), dtype=np.uint8)
            blocks[:, 0] = r
            blocks[:, 1] = bits
            blocks[:, 8:16] = right.astype("<u8").view(np.uint8).reshape(-1, 8)
            f = np.frombuffer(enc.update(blocks.tobytes()), dtype="<u8").reshape(-1, 2)[:, 0]
            left, right = right, (left ^ (f & mask))
            if decrypt:
                left, right = right, left
        return (left << np.uint64(half)) | right

    y = one_pass(x)
    if limit is not None:
        # cycle-walk: re-apply until inside [0, n); a permutation of the smaller set,
        # expected < 4 passes since 2**(2*half) <= 2 * 2**bits < 4 * n
        out_of_range = y >= limit
        while out_of_range.any():
            y[out_of_range] = one_pass(y[out_of_range])
            out_of_range = y >= limit
    return y


def range_key(ctx: OpContext, lo: int, hi: int) -> bytes:
    """The AES key of a range permutation: derived per domain *and* range, so two ranges of one
    domain give unrelated permutations (HKDF, purpose ``int-range``, ``<domain>/<lo>/<hi>``)."""
    return ctx.key("int-range", f"{ctx.domain}/{lo}/{hi}")


def range_permute(key: bytes, vals: np.ndarray, lo: int, hi: int, decrypt: bool = False) -> np.ndarray:
    """The keyed permutation of [lo, hi] on ``vals`` (int64 or uint64, all inside the range): as
    uint64, lo + the permutation of [0, n) of (value - lo), modulo 2**64 (exact for either sign)."""
    n = hi - lo + 1
    bits = max(1, (n - 1).bit_length())
    shift = np.uint64(lo % (1 << 64))
    offs = vals.astype(np.uint64) - shift  # wraps modulo 2**64: the offset inside the range
    return feistel(key, offs, bits, decrypt=decrypt, n=n) + shift


def _int_bijection(arr: pa.Array, ctx: OpContext) -> pa.Array:
    rng = ctx.params.get("range")
    bits = ctx.params["bits"]
    in_type = arr.type
    ints = arr
    if len(arr) == 0 or arr.null_count == len(arr):
        return arr
    signed_ok = rng is not None and rng[0] < 0
    if is_text(in_type):
        # canonical integers only: "7" and "007" would otherwise share one pseudonym
        pattern = r"^(0|-?[1-9][0-9]*)$" if signed_ok else r"^(0|[1-9][0-9]*)$"
        ok = pc.match_substring_regex(arr, pattern)
        if not pc.all(pc.fill_null(ok, True)).as_py():
            raise InputError("format int needs " + ("integers" if signed_ok else "non-negative integers")
                             + " without leading zeros",
                             row=first_bad_row(ok, ctx.row_offset), table=ctx.table, column=ctx.column,
                             hint="use format token for identifiers that are not plain integers")
        ints = cast_checked(arr, pa.int64() if signed_ok else pa.uint64(), ctx, "an integer that fits 64 bits",
                            "use format token for very long identifiers")
    elif not pa.types.is_integer(in_type):
        raise InputError("format int needs an integer column", table=ctx.table, column=ctx.column,
                         hint="use format token")
    if ints.null_count == len(ints):
        return arr
    if rng is not None:
        return _range_bijection(arr, ints, ctx, int(rng[0]), int(rng[1]))
    valid = ints.drop_null()
    vals = valid.to_numpy()
    if pa.types.is_signed_integer(ints.type) and (vals < 0).any():
        ok = pc.greater_equal(ints, 0)
        raise InputError("format int needs non-negative integers", row=first_bad_row(ok, ctx.row_offset),
                         table=ctx.table, column=ctx.column)
    vals = vals.astype(np.uint64)
    if bits < 64 and (vals >= np.uint64(1 << bits)).any():
        ok = pc.less(pc.cast(ints, pa.uint64()), pa.scalar(1 << bits, pa.uint64()))
        raise InputError(f"a value does not fit in {bits} bits", row=first_bad_row(ok, ctx.row_offset),
                         table=ctx.table, column=ctx.column,
                         hint="set bits: 63 (or 64) on this column's rule")
    out_vals = feistel(ctx.key(), vals, bits)
    # scatter back into row positions, nulls stay null
    out_u64 = _scatter(pa.array(out_vals, type=pa.uint64()), ints)
    if is_text(in_type):
        return pc.cast(pc.cast(out_u64, pa.string()), in_type)
    if not pa.types.is_unsigned_integer(in_type) and bits == 64:
        raise InputError("bits: 64 does not fit a signed integer column", table=ctx.table,
                         column=ctx.column, hint="use bits: 63")
    try:
        return pc.cast(out_u64, in_type)
    except pa.ArrowInvalid:
        raise InputError(f"bits: {bits} gives values too large for the column type",
                         table=ctx.table, column=ctx.column,
                         hint="lower bits to fit the column's integer type") from None


def _scatter(valid_out: pa.Array, ints: pa.Array) -> pa.Array:
    """Outputs of the non-null values back into row positions; nulls stay null."""
    if not ints.null_count:
        return valid_out
    idx = pc.subtract(pc.cumulative_sum(pc.cast(pc.is_valid(ints), pa.int64())), 1)
    return valid_out.take(pc.if_else(pc.is_valid(ints), idx, None))


def _range_bijection(arr: pa.Array, ints: pa.Array, ctx: OpContext, lo: int, hi: int) -> pa.Array:
    """format int with range: [lo, hi]: lo + the keyed permutation of [0, hi - lo + 1) of (value - lo).
    A value outside the range is an input error (row, table.column; never the value)."""
    info = np.iinfo(ints.type.to_pandas_dtype())
    outside = []  # a bound beyond the column type's own limits holds for every value
    if lo > info.max or hi < info.min:
        outside.append(pc.is_valid(ints))
    elif lo > info.min:
        outside.append(pc.less(ints, pa.scalar(lo, ints.type)))
    if info.min <= hi < info.max and lo <= info.max:
        outside.append(pc.greater(ints, pa.scalar(hi, ints.type)))
    ok = pc.invert(pc.fill_null(outside[0] if len(outside) == 1 else pc.or_(*outside), False)) \
        if outside else None
    if ok is not None and not pc.all(ok).as_py():
        raise InputError(f"a value is outside the column's range [{lo}, {hi}]",
                         row=first_bad_row(ok, ctx.row_offset), table=ctx.table, column=ctx.column,
                         hint="widen range on this column's rule (it is part of the pseudonyms: "
                              "change it before the first run)")
    key = range_key(ctx, lo, hi)

    def permute(uniq: pa.Array) -> pa.Array:
        out = range_permute(key, uniq.to_numpy(), lo, hi)
        # [lo, hi] inside int64 (lo < 0 implies hi < 2**63, the profile checks it), or inside uint64
        return pa.array(out.view(np.int64) if hi < 1 << 63 else out,
                        type=pa.int64() if hi < 1 << 63 else pa.uint64())

    out_arr = map_distinct(ints, permute)
    if is_text(arr.type):
        return pc.cast(pc.cast(out_arr, pa.string()), arr.type)
    try:
        return pc.cast(out_arr, arr.type)
    except pa.ArrowInvalid:
        raise InputError(f"range [{lo}, {hi}] gives values the column type {arr.type} cannot hold",
                         table=ctx.table, column=ctx.column,
                         hint="keep the range inside the column's integer type") from None
