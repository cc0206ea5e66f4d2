"""keep, drop, nullify, redact, mask: operators that need no key."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .arrays import char_view, is_text, masked_bytes, restore_type
from .registry import OpContext, Param, operator

#: The largest character count a parameter may give (mask keep_first/keep_last, generalize prefix).
MAX_CHARS = 1_000_000


def _text_out(t: pa.DataType, params: dict) -> pa.DataType | None:
    return None if is_text(t) else pa.string()


@operator("keep", injective=True, keeps_value=True, nested=True)
def keep(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Copy the column unchanged (for columns that hold no personal data)."""
    return arr


@operator("drop", drops_column=True, nested=True,
          span_problem="operator drop writes no text to put in place of an entity")
def drop(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Remove the column from the output."""
    return arr


@operator("nullify", nulls_column=True, reads_values=False, nested=True,
          span_problem="operator nullify writes no text to put in place of an entity")
def nullify(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Replace every value with null; the column and its type stay."""
    return pa.nulls(len(arr), type=arr.type)


@operator("redact", params=(Param("value", str, "[REDACTED]", help="the constant written"),),
          out_type=_text_out, reads_values=False,
          max_output_length=lambda t, params: len(params["value"]))
def redact(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Replace every non-null value with one constant; nulls stay null."""
    out_type = arr.type if is_text(arr.type) else pa.string()
    const = pa.scalar(ctx.params["value"], type=out_type)
    return pc.if_else(pc.is_valid(arr), const, pa.scalar(None, type=out_type))


def _mask_check(params: dict) -> list[str]:
    msgs = []
    for name in ("keep_first", "keep_last"):
        if not 0 <= params.get(name, 0) <= MAX_CHARS:
            msgs.append(f"{name} must be between 0 and {MAX_CHARS}")
    if len(params.get("char", "*")) != 1:
        msgs.append("char must be exactly one character")
    return msgs


@operator(
    "mask",
    params=(
        Param("keep_first", int, 0, help="characters kept at the start"),
        Param("keep_last", int, 0, help="characters kept at the end"),
        Param("char", str, "*", help="the masking character"),
    ),
    out_type=_text_out,
    check=_mask_check,
)
def mask(arr: pa.Array, ctx: OpContext) -> pa.Array:
    """Mask characters, keeping the first/last n; a value too short is masked whole.

    Lengths count characters, not bytes, so non-ASCII text is masked correctly.
    """
    f, last, ch = ctx.params["keep_first"], ctx.params["keep_last"], ctx.params["char"]
    # work in plain string (the separator and fillers are string scalars), restore the type at the end;
    # binary values that are not UTF-8 are masked whole, one char per byte
    text, undecodable = char_view(arr)
    n = pc.utf8_length(text)
    keep_some = pc.greater(n, f + last)
    head = pc.utf8_slice_codeunits(text, 0, f) if f else pa.scalar("", text.type)
    tail = pc.utf8_slice_codeunits(text, -last) if last else pa.scalar("", text.type)
    hidden = pc.if_else(keep_some, pc.subtract(n, f + last), n)
    stars = pc.binary_repeat(pa.scalar(ch, text.type), hidden)
    empty = pa.scalar("", text.type)
    out = pc.binary_join_element_wise(
        pc.if_else(keep_some, head, empty), stars, pc.if_else(keep_some, tail, empty), "")
    return restore_type(masked_bytes(out, arr, undecodable, ch), arr.type)
