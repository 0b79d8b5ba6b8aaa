"""Per-week values -> bandicoot's flattened mean/std over weeks, one wide row per user.

``group.statistics`` drops ``None`` week values, then reports the arithmetic mean and the
population std of the rest (std of one value = 0; no value -> None). Spark's ``avg`` and
``stddev_pop`` ignore nulls and give null on no value, so they are exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from telcoseg.features.catalogue import ALL_INDICATORS, bandicoot_key_to_column, indicator_keys
from telcoseg.features.settings import Settings


def _outer(stat: str, value: Column) -> Column:
    return F.avg(value) if stat == "mean" else F.stddev_pop(value)


def flatten_weekly(weekly_df: DataFrame, settings: Settings) -> DataFrame:
    """Pivot a per-week table (``subscriber_id, scope, week, <per-week columns>``) into
    ``subscriber_id`` + one ``bc_<bandicoot key>`` column per flattened key it holds."""
    present = set(weekly_df.columns)
    aggregates = [
        _outer(outer, F.when(F.col("scope") == scope, F.col(inner))).alias(
            bandicoot_key_to_column(key)
        )
        for ind in ALL_INDICATORS
        for key, scope, inner, outer in indicator_keys(ind, settings)
        if inner in present
    ]
    return weekly_df.groupBy("subscriber_id").agg(*aggregates)


def join_flattened(flat_dfs: Sequence[DataFrame]) -> DataFrame:
    """Left-join the pivoted tables onto the first (which must hold every subscriber).

    All are clustered by subscriber_id already, so the joins shuffle nothing.
    """
    return reduce(lambda a, b: a.join(b, on="subscriber_id", how="left"), list(flat_dfs))
