"""Helpers that shape gold tables before they are published."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from telcoseg.privacy.publish import arms_long, latest_model_rows


def test_latest_model_rows_keeps_the_newest_version_per_outcome(spark: SparkSession) -> None:
    schema = "outcome string, model_version int, decile int"
    rows = [("upgrade", 1, 1), ("upgrade", 2, 1), ("upgrade", 2, 2), ("add_line", 1, 1)]
    expected = [("upgrade", 2, 1), ("upgrade", 2, 2), ("add_line", 1, 1)]
    assertDataFrameEqual(
        latest_model_rows(spark.createDataFrame(rows, schema)),
        spark.createDataFrame(expected, schema),
    )


def test_the_campaign_job_ab_table_becomes_one_row_per_arm(spark: SparkSession) -> None:
    wide = spark.createDataFrame(
        [("C1", "micro-001", 80, 12, 20, 1, 0.15, 0.05)],
        "campaign_id string, micro_segment_id string, n_treatment long, "
        "conversions_treatment long, n_control long, conversions_control long, "
        "rate_treatment double, rate_control double",
    )
    expected = spark.createDataFrame(
        [("C1", "micro-001", "treatment", 80, 12), ("C1", "micro-001", "control", 20, 1)],
        "campaign_id string, micro_segment_id string, arm string, n long, converted long",
    )
    assertDataFrameEqual(arms_long(wide), expected)
