"""A tiny third-party veil plugin, for tests: one operator, declared with its capabilities.

Registered by entry points (see pyproject.toml, and the .dist-info beside this
package that importlib.metadata finds when this directory is on sys.path).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from veil.ops import Param, operator
from veil.ops.arrays import is_text


@operator(
    "upper",
    params=(Param("suffix", str, "", help="text put after every value"),),
    injective=lambda params: False,
    accepts=lambda t, params: None if is_text(t) else f"upper needs a text column, not {t}",
    max_output_length=lambda t, params: None,
)
def upper(arr: pa.Array, ctx) -> pa.Array:
    """Upper-case text (an example plugin operator)."""
    out = pc.utf8_upper(arr)
    if ctx.params["suffix"]:
        out = pc.binary_join_element_wise(out, pa.scalar(ctx.params["suffix"], out.type), "")
    return out
