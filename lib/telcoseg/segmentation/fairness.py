"""Fairness view: each segment's composition by protected group, for audit only.

Protected attributes come from silver subscribers here and nowhere else in segmentation;
they are never model inputs. Cells with fewer than ``min_cell`` subscribers are
suppressed (count and shares null) so the audit table cannot single anyone out.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.segmentation.migration import LEVEL_COLUMN

UNKNOWN = "unknown"
AGE_BANDS = ((0, 25, "<25"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"))


def age_band(birth_year: Column, snapshot_date: Column) -> Column:
    """Age band at the snapshot from the birth year (``unknown`` if missing or implausible)."""
    age = F.year(snapshot_date) - birth_year
    band = F.when(age.isNull() | (age < 10) | (age > 110), F.lit(UNKNOWN))
    for lo, hi, label in AGE_BANDS:
        band = band.when((age >= lo) & (age < hi), F.lit(label))
    return band.when(age < 65, F.lit("55-64")).otherwise(F.lit("65+"))


def latest_subscribers(subscribers_df: DataFrame, snapshot_date: dt.date) -> DataFrame:
    """``subscriber_id, birth_year, gender`` from the row valid at the snapshot."""
    valid = (
        subscribers_df.filter(
            F.col("as_of_date").isNull() | (F.col("as_of_date") <= F.lit(snapshot_date))
        )
        if "as_of_date" in subscribers_df.columns
        else subscribers_df
    )
    order = F.col("as_of_date").desc_nulls_last() if "as_of_date" in valid.columns else F.lit(1)
    latest = Window.partitionBy("subscriber_id").orderBy(order)
    return (
        valid.withColumn("__rank", F.row_number().over(latest))
        .filter(F.col("__rank") == 1)
        .select("subscriber_id", "birth_year", "gender")
    )


def fairness_view(
    assignments_df: DataFrame,
    subscribers_df: DataFrame,
    snapshot_date: dt.date,
    level: str = "macro",
    min_cell: int = 10,
) -> DataFrame:
    """Per segment, attribute (gender, age_band) and group: subscribers, share of the
    segment, share of the population, and their ratio (1 = represented as in the
    population)."""
    column = LEVEL_COLUMN[level]
    scored = assignments_df.filter(F.col("snapshot_date") == F.lit(snapshot_date)).select(
        "subscriber_id", F.col(column).alias("segment_id"), "model_version"
    )
    people = latest_subscribers(subscribers_df, snapshot_date)
    joined = scored.join(people, on="subscriber_id", how="left")
    long = joined.select(
        "segment_id",
        "model_version",
        F.explode(
            F.array(
                F.struct(
                    F.lit("gender").alias("attribute"),
                    F.coalesce(F.lower("gender"), F.lit(UNKNOWN)).alias("grp"),
                ),
                F.struct(
                    F.lit("age_band").alias("attribute"),
                    age_band(F.col("birth_year"), F.lit(snapshot_date)).alias("grp"),
                ),
            )
        ).alias("g"),
    ).select("segment_id", "model_version", "g.attribute", F.col("g.grp").alias("group"))
    counts = long.groupBy("segment_id", "model_version", "attribute", "group").agg(
        F.count(F.lit(1)).alias("n")
    )
    all_rows = Window.partitionBy("attribute").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    seg_rows = Window.partitionBy("attribute", "segment_id").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    group_rows = Window.partitionBy("attribute", "group").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    share_seg = F.col("n") / F.sum("n").over(seg_rows)
    share_pop = F.sum("n").over(group_rows) / F.sum("n").over(all_rows)
    is_small = F.col("n") < min_cell
    with_shares = counts.select(
        "*", share_seg.alias("share_seg"), share_pop.alias("share_population")
    )
    return with_shares.select(
        F.lit(snapshot_date).alias("snapshot_date"),
        F.lit(level).alias("level"),
        "segment_id",
        "model_version",
        "attribute",
        "group",
        F.when(~is_small, F.col("n")).cast("long").alias("subscribers"),
        F.when(~is_small, F.col("share_seg")).alias("share_of_segment"),
        "share_population",
        F.when(~is_small, F.col("share_seg") / F.col("share_population")).alias(
            "representation_ratio"
        ),
    )
