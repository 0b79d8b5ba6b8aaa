"""No leakage: features must be as of T or earlier, labels strictly after T."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from telcoseg.errors import LeakageError
from telcoseg.propensity.dataset import (
    FeatureSource,
    build_scoring_set,
    build_training_set,
    feature_rows,
)
from telcoseg.propensity.settings import Settings

D = dt.date
T1, T2 = D(2026, 3, 1), D(2026, 3, 15)
SETTINGS = Settings(horizon_days=14, lookback_days=14)
FEATURES = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("calls", T.DoubleType()),
        T.StructField("birth_year", T.IntegerType()),  # protected: must be dropped
    ]
)


def _features(spark: SparkSession) -> DataFrame:
    rows = [(f"s{i}", t, float(i % 5), 1980) for i in range(40) for t in (T1, T2)]
    return spark.createDataFrame(rows, FEATURES)


def _outcomes(spark: SparkSession) -> DataFrame:
    rows = [(f"s{i}", D(2026, 3, 5), "upgrade") for i in range(0, 40, 4)]
    return spark.createDataFrame(rows, "subscriber_id string, event_date date, outcome string")


def test_clean_sources_build_and_drop_protected_columns(spark: SparkSession) -> None:
    source = FeatureSource("behavior_vectors", _features(spark))
    got = build_training_set([source], _outcomes(spark), "upgrade", [T1], SETTINGS)
    assert "birth_year" not in got.columns
    assert got.count() == 40
    assert got.where("label = 1").count() == 10


def test_a_feature_row_as_of_after_the_snapshot_raises(spark: SparkSession) -> None:
    # The leaky table: the T1 rows were recomputed with data through T1 + 10 days; its
    # 'calls' now counts the upgrade itself, so the training set would change with it.
    leaky = _features(spark).select(
        "subscriber_id",
        "snapshot_date",
        F.date_add("snapshot_date", 10).alias("as_of"),
        (F.col("calls") + 1).alias("calls"),
    )
    clean = build_training_set(
        [FeatureSource("behavior_vectors", _features(spark))],
        _outcomes(spark),
        "upgrade",
        [T1],
        SETTINGS,
    )
    unchecked = leaky.drop("as_of").join(clean.select("subscriber_id"), "subscriber_id")
    assert unchecked.agg(F.sum("calls")).first()[0] != clean.agg(F.sum("calls")).first()[0]
    with pytest.raises(LeakageError, match=r"behavior_vectors.*as of 2026-03-11.*2026-03-01"):
        build_training_set(
            [FeatureSource("behavior_vectors", leaky)], _outcomes(spark), "upgrade", [T1], SETTINGS
        )
    with pytest.raises(LeakageError, match="behavior_vectors"):
        build_scoring_set(
            [FeatureSource("behavior_vectors", leaky)], _outcomes(spark), "upgrade", T1, SETTINGS
        )


def test_a_feature_that_mirrors_the_future_label_raises(spark: SparkSession) -> None:
    # Undeclared leakage: no as_of column, but the feature counts events after T.
    future = (
        _outcomes(spark)
        .groupBy("subscriber_id")
        .agg(F.count(F.lit(1)).cast("double").alias("upgrades_next_weeks"))
    )
    leaky = (
        _features(spark)
        .join(future, "subscriber_id", "left")
        .fillna(0.0, subset=["upgrades_next_weeks"])
    )
    with pytest.raises(LeakageError, match="upgrades_next_weeks"):
        build_training_set(
            [FeatureSource("behavior_vectors", leaky)], _outcomes(spark), "upgrade", [T1], SETTINGS
        )


def test_a_source_that_only_has_the_next_snapshot_contributes_nothing(
    spark: SparkSession,
) -> None:
    # Features are joined on the snapshot itself: a T2 row never feeds a T1 label.
    only_t2 = _features(spark).where(F.col("snapshot_date") == F.lit(T2))
    got = build_training_set(
        [FeatureSource("behavior_vectors", only_t2)], _outcomes(spark), "upgrade", [T1], SETTINGS
    )
    assert got.count() == 0


def test_features_joined_once_give_each_outcome_the_same_rows(spark: SparkSession) -> None:
    # A second source with a column named like a label column: dropped on both paths.
    extra = _features(spark).select(
        "subscriber_id", "snapshot_date", F.lit(7).alias("label"), F.lit(2.5).alias("spend")
    )
    sources = [FeatureSource("behavior_vectors", _features(spark)), FeatureSource("x", extra)]
    outcomes = _outcomes(spark).unionByName(
        spark.createDataFrame(
            [("s1", D(2026, 3, 20), "add_line"), ("s2", D(2026, 3, 1), "add_line")],
            "subscriber_id string, event_date date, outcome string",
        )
    )
    features = feature_rows(sources, [T1, T2], SETTINGS).cache()
    for outcome, positives in (("upgrade", 10), ("add_line", 1)):
        alone = build_training_set(sources, outcomes, outcome, [T1, T2], SETTINGS)
        shared = build_training_set(
            sources, outcomes, outcome, [T1, T2], SETTINGS, features=features
        )
        assert shared.columns == alone.columns
        assert shared.where("label = 1").count() == positives
        assertDataFrameEqual(shared, alone)
    # s2's add_line on T1 itself is prior: excluded at T1 (prior_outcome: exclude).
    assert shared.where("subscriber_id = 's2'").count() == 1
    features.unpersist()
