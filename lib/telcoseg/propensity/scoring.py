"""Scoring a snapshot with a champion model: one row per subscriber with model name and
version, so every score can be traced to the MLflow version that produced it."""

from __future__ import annotations

import datetime as dt

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.propensity.labels import outcome_key
from telcoseg.propensity.model import SCORE

SCORES_SCHEMA = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("outcome", T.StringType(), False),
        T.StructField("outcome_key", T.StringType(), False),
        T.StructField("propensity", T.DoubleType(), False),
        T.StructField("model_name", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("scored_at", T.TimestampType(), False),
    ]
)


def score(
    model: PipelineModel,
    scoring_df: DataFrame,
    outcome: str,
    model_name: str,
    model_version: int,
    scored_at: dt.datetime,
) -> DataFrame:
    """``scoring_df`` (keys + the model's inputs) -> rows of gold ``propensity_scores``."""
    scored = model.transform(scoring_df)
    return scored.select(
        "subscriber_id",
        "snapshot_date",
        F.lit(outcome).alias("outcome"),
        F.lit(outcome_key(outcome)).alias("outcome_key"),
        F.col(SCORE).cast("double").alias("propensity"),
        F.lit(model_name).alias("model_name"),
        F.lit(model_version).cast("int").alias("model_version"),
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
    )
