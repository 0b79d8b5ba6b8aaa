"""Per-week values -> bandicoot's flattened mean/std over weeks, one wide row per user.

``group.statistics`` drops ``None`` week values, then reports the arithmetic mean and the
population std of the rest (std of one value = 0; no value -> None). Spark's ``avg`` and
``stddev_pop`` ignore nulls and give null on no value, so they are exactly that.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from telcoseg.features.catalogue import (
    ALL_INDICATORS,
    CHURN,
    Indicator,
    bandicoot_key_to_column,
    indicator_keys,
)
from telcoseg.features.individual import weekly_column
from telcoseg.features.settings import Settings


def _outer(stat: str, value: Column) -> Column:
    return F.avg(value) if stat == "mean" else F.stddev_pop(value)


def weekly_source(ind: Indicator, scope: str, inner: str) -> tuple[str, str]:
    """(``scope`` value of the per-week rows, per-week column) of one flattened key:
    individual indicators keep one column per interaction in the time scope's rows."""
    if ind is CHURN or not ind.interactions:
        return scope, inner
    time_scope, interaction = scope.rsplit("__", 1)
    return time_scope, weekly_column(inner, interaction)


def flatten_weekly(weekly_df: DataFrame, settings: Settings) -> DataFrame:
    """One aggregation of a per-week table (``subscriber_id, scope, week, <per-week
    columns>``, see :func:`weekly_source`) into ``subscriber_id`` + one
    ``bc_<bandicoot key>`` column per flattened key whose per-week column it holds."""
    present = set(weekly_df.columns)
    aggregates = []
    for ind in ALL_INDICATORS:
        for key, scope, inner, outer in indicator_keys(ind, settings):
            rows, column = weekly_source(ind, scope, inner)
            if column in present:
                value = F.when(F.col("scope") == rows, F.col(column))
                aggregates.append(_outer(outer, value).alias(bandicoot_key_to_column(key)))
    return weekly_df.groupBy("subscriber_id").agg(*aggregates)
