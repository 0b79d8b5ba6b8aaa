"""The supervised companion of the rule score: an MLlib model fitted on confirmed cases.

It runs only where labels exist (``fraud.labels``: id lists and/or a Delta table) and there
are enough of them; its probability is reported beside the rule score (``model_score``)
and blended into ``score``. The rule reasons stay the explanation of every alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.fraud.indicators import INDICATOR_COLUMNS, require_columns
from telcoseg.fraud.settings import Labels

log = logging.getLogger(__name__)

# Model inputs: every numeric indicator (counts would only restate volume).
MODEL_FEATURES = tuple(
    c
    for c in INDICATOR_COLUMNS
    if c not in ("total_events", "active_days", "voice_in_calls", "sms_events", "data_sessions")
)


def label_table(labels: Labels, table_df: DataFrame | None, spark_df: DataFrame) -> DataFrame:
    """``subscriber_id, is_fraud`` from the config lists and the optional labels table.

    A table row wins over the config lists (the table is the fraud team's record).
    """
    spark = spark_df.sparkSession
    rows = [(s, True) for s in labels.fraud_ids] + [(s, False) for s in labels.legit_ids]
    listed = spark.createDataFrame(rows, "subscriber_id string, is_fraud boolean")
    if table_df is None:
        return listed
    require_columns(table_df, ["subscriber_id", "is_fraud"], "fraud labels table")
    table = table_df.select("subscriber_id", F.col("is_fraud").cast("boolean"))
    only_listed = listed.join(table, on="subscriber_id", how="left_anti")
    return table.unionByName(only_listed)


def training_set(indicators_df: DataFrame, labels_df: DataFrame, labels: Labels) -> DataFrame:
    """Indicators with ``label`` (1.0/0.0); unlabelled lines are negatives or dropped."""
    joined = indicators_df.join(labels_df, on="subscriber_id", how="left")
    if labels.unlabeled_as_negative:
        label = F.when(F.coalesce(F.col("is_fraud"), F.lit(False)), 1.0).otherwise(0.0)
        return joined.select("*", label.alias("label"))
    return joined.filter(F.col("is_fraud").isNotNull()).select(
        "*", F.when(F.col("is_fraud"), 1.0).otherwise(0.0).alias("label")
    )


def enough_labels(train_df: DataFrame, labels: Labels) -> tuple[bool, int, int]:
    """(fit?, positives, negatives)."""
    row = train_df.agg(
        F.sum(F.col("label")).alias("pos"), F.sum(1.0 - F.col("label")).alias("neg")
    ).first()
    pos = int(row["pos"] or 0) if row else 0
    neg = int(row["neg"] or 0) if row else 0
    return pos >= labels.min_positives and neg >= labels.min_negatives, pos, neg


def _filled(df: DataFrame, features: Sequence[str]) -> DataFrame:
    # Missing evidence (no incoming calls, no IMEI) is neutral: 0 after standardization
    # would be the mean, but 0 raw is simpler to read and the same for every line.
    return df.fillna(0.0, subset=list(features))


def fit_model(
    train_df: DataFrame, labels: Labels, features: Sequence[str] = MODEL_FEATURES
) -> PipelineModel:
    """Fit the configured classifier (standardized inputs) on ``label``."""
    assembler = VectorAssembler(inputCols=list(features), outputCol="raw_features")
    scaler = StandardScaler(inputCol="raw_features", outputCol="features", withMean=True)
    if labels.model == "gbt":
        clf = GBTClassifier(maxDepth=3, maxIter=30, seed=labels.seed)
    else:
        clf = LogisticRegression(regParam=0.01, elasticNetParam=0.0, maxIter=100)
    return Pipeline(stages=[assembler, scaler, clf]).fit(_filled(train_df, features))


def with_model_score(
    df: DataFrame, model: PipelineModel, features: Sequence[str] = MODEL_FEATURES
) -> DataFrame:
    """Add ``model_score``: the model's fraud probability."""
    scored = model.transform(_filled(df.select("subscriber_id", *features), features))
    probs = scored.select("subscriber_id", vector_to_array("probability")[1].alias("model_score"))
    return df.join(probs, on="subscriber_id", how="left")
