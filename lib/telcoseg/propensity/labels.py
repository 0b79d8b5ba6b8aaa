"""Point-in-time labels: for snapshot T the label is whether the outcome happens in (T, T+h].

Prior outcomes, those in (T - lookback, T], are known at T: they are either a reason to
leave the row out (someone who just upgraded is not a prospect) or a feature.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.errors import ConfigError, SchemaMismatchError

LABEL_COLUMNS = [
    "subscriber_id",
    "snapshot_date",
    "label",
    "label_event_date",
    "prior_outcome_count",
]


def outcome_key(outcome: str) -> str:
    """``adopt:streaming`` -> ``adopt_streaming``: safe in model names and partition paths."""
    return re.sub(r"[^a-z0-9_]+", "_", outcome.lower()).strip("_")


def snapshots_df(spark_df: DataFrame, dates: Sequence[dt.date]) -> DataFrame:
    """A one-column ``snapshot_date`` DataFrame (uses ``spark_df``'s session)."""
    schema = T.StructType([T.StructField("snapshot_date", T.DateType(), False)])
    return spark_df.sparkSession.createDataFrame([(d,) for d in dates], schema)


def check_label_windows(
    dates: Sequence[dt.date], horizon_days: int, outcomes_through: dt.date
) -> None:
    """Every label window must be complete: T + horizon <= the last date outcomes cover."""
    late = [d for d in dates if d + dt.timedelta(days=horizon_days) > outcomes_through]
    if late:
        raise ConfigError(
            f"propensity.snapshot_dates: label window (T, T+{horizon_days}d] of snapshot(s) "
            f"{[d.isoformat() for d in late]} ends after the last outcome date "
            f"{outcomes_through.isoformat()}; its labels would be incomplete"
        )


def with_outcome_labels(
    population_df: DataFrame,
    outcomes_df: DataFrame,
    outcome: str,
    horizon_days: int,
    lookback_days: int,
) -> DataFrame:
    """``subscriber_id, snapshot_date`` -> plus ``label`` (0/1), ``label_event_date`` (first
    event in the window, null when label is 0) and ``prior_outcome_count`` in the look-back.

    Events on T itself are prior (known at T), never label.
    """
    missing = [
        c for c in ("subscriber_id", "event_date", "outcome") if c not in outcomes_df.columns
    ]
    if missing:
        raise SchemaMismatchError("silver outcomes", missing, outcomes_df.columns)
    events = outcomes_df.where(F.col("outcome") == outcome).select(
        "subscriber_id", F.col("event_date").cast("date").alias("event_date")
    )
    pop = population_df.select("subscriber_id", "snapshot_date")
    in_window = (F.col("e.event_date") > F.col("p.snapshot_date")) & (
        F.col("e.event_date") <= F.date_add(F.col("p.snapshot_date"), horizon_days)
    )
    in_lookback = (F.col("e.event_date") <= F.col("p.snapshot_date")) & (
        F.col("e.event_date") > F.date_sub(F.col("p.snapshot_date"), lookback_days)
    )
    # Only events that fall in one of the two windows survive the join.
    touched = (
        pop.alias("p")
        .join(
            events.alias("e"),
            on=(F.col("p.subscriber_id") == F.col("e.subscriber_id")) & (in_window | in_lookback),
            how="inner",
        )
        .groupBy(F.col("p.subscriber_id").alias("subscriber_id"), F.col("p.snapshot_date"))
        .agg(
            F.min(F.when(in_window, F.col("e.event_date"))).alias("label_event_date"),
            F.count(F.when(in_lookback, F.lit(1))).alias("prior_outcome_count"),
        )
    )
    joined = pop.join(touched, on=["subscriber_id", "snapshot_date"], how="left")
    return joined.select(
        "subscriber_id",
        "snapshot_date",
        F.col("label_event_date").isNotNull().cast("int").alias("label"),
        "label_event_date",
        F.coalesce(F.col("prior_outcome_count"), F.lit(0)).cast("int").alias("prior_outcome_count"),
    )
