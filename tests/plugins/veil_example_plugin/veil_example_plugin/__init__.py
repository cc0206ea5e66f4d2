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


class TsvFormat:
    """Tab-separated tables (``.tsv``), every column text: an example plugin format."""

    name = "tsv"
    extensions = (".tsv",)

    def open(self, path, name):
        import pyarrow.csv as pcsv

        from veil.dataset import Table

        with open(path, encoding="utf-8") as fh:
            header = fh.readline().rstrip("\r\n").split("\t")
        schema = pa.schema([(c, pa.string()) for c in header])

        def read(batch_size):
            table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter="\t"),
                                  convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())))
            yield from table.to_batches(batch_size)

        return Table(name=name, path=path, format=self.name, schema=schema, read=read)

    def writer(self, path, schema, source):
        import pyarrow.csv as pcsv

        return pcsv.CSVWriter(str(path), schema, write_options=pcsv.WriteOptions(delimiter="\t"))


def employee_ids():
    """A recognizer of employee numbers (EMP-123456) as national identifiers: an example plugin recognizer."""
    from presidio_analyzer import Pattern, PatternRecognizer

    return PatternRecognizer(supported_entity="NATIONAL_ID", name="EmployeeIdRecognizer",
                             patterns=[Pattern("employee id", r"\bEMP-\d{6}\b", 0.9)])
