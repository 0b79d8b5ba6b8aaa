"""Helpers that shape gold tables before they are published."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from telcoseg.privacy.publish import latest_model_rows


def test_latest_model_rows_keeps_the_newest_version_per_outcome(spark: SparkSession) -> None:
    schema = "outcome string, model_version int, decile int"
    rows = [("upgrade", 1, 1), ("upgrade", 2, 1), ("upgrade", 2, 2), ("add_line", 1, 1)]
    expected = [("upgrade", 2, 1), ("upgrade", 2, 2), ("add_line", 1, 1)]
    assertDataFrameEqual(
        latest_model_rows(spark.createDataFrame(rows, schema)),
        spark.createDataFrame(expected, schema),
    )
