"""Migration between two snapshots: who moved from which segment to which.

Segment ids are stable across retrains, so two snapshots scored by different model
versions are still comparable. A subscriber present on one date only appears with the
segment ``(absent)`` on the other side (joined, churned, or not scored).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ABSENT = "(absent)"
LEVEL_COLUMN = {"macro": "macro_segment_id", "micro": "micro_segment_id"}


def migration_pairs(
    assignments_df: DataFrame, from_date: dt.date, to_date: dt.date, level: str = "macro"
) -> DataFrame:
    """``subscriber_id, from_segment, to_segment`` between two snapshot dates."""
    column = LEVEL_COLUMN[level]

    def on(day: dt.date, alias: str) -> DataFrame:
        return assignments_df.filter(F.col("snapshot_date") == F.lit(day)).select(
            "subscriber_id", F.col(column).alias(alias)
        )

    joined = on(from_date, "from_segment").join(
        on(to_date, "to_segment"), on="subscriber_id", how="full"
    )
    return joined.select(
        "subscriber_id",
        F.coalesce(F.col("from_segment"), F.lit(ABSENT)).alias("from_segment"),
        F.coalesce(F.col("to_segment"), F.lit(ABSENT)).alias("to_segment"),
    )


def transition_matrix(pairs_df: DataFrame) -> DataFrame:
    """``from_segment, to_segment, subscribers, share_of_from`` (rows of a from-segment
    sum to 1: the share of its subscribers that went to each to-segment)."""
    counts = pairs_df.groupBy("from_segment", "to_segment").agg(
        F.count(F.lit(1)).alias("subscribers")
    )
    per_from = Window.partitionBy("from_segment").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    return counts.select(
        "from_segment",
        "to_segment",
        "subscribers",
        (F.col("subscribers") / F.sum("subscribers").over(per_from)).alias("share_of_from"),
    )


def migration_matrix(
    assignments_df: DataFrame, from_date: dt.date, to_date: dt.date, level: str = "macro"
) -> DataFrame:
    """The transition matrix (long form) between two snapshots, with both dates on it."""
    pairs = migration_pairs(assignments_df, from_date, to_date, level)
    return transition_matrix(pairs).select(
        F.lit(from_date).alias("from_date"),
        F.lit(to_date).alias("to_date"),
        F.lit(level).alias("level"),
        "from_segment",
        "to_segment",
        "subscribers",
        "share_of_from",
    )
