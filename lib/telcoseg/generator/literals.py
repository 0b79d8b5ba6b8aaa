"""Constant arrays as single literals.

``F.array(F.lit(a), F.lit(b), ...)`` builds one expression node per element, and every
optimizer rule walks them all: a 9,000-element lookup table costs seconds of planning per
query. A split string literal is one small node that constant folding turns into a single
array literal.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyspark.sql.functions as F
from pyspark.sql import Column


def const_array(values: Sequence[float] | Sequence[int] | Sequence[str], element: str) -> Column:
    """An ``array<element>`` literal (element: int, bigint, double or string; no commas)."""
    text = ",".join(str(v) for v in values)
    arr = F.split(F.lit(text), ",")
    return arr if element == "string" else arr.cast(f"array<{element}>")


def lookup(
    values: Sequence[float] | Sequence[int] | Sequence[str], element: str, index0: Column
) -> Column:
    """``values[index0]`` (0-based) as a column."""
    return F.element_at(const_array(values, element), (index0 + 1).cast("int"))
