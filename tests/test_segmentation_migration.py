"""Migration matrix and fairness view on tiny explicit inputs."""

from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from telcoseg.segmentation.fairness import fairness_view
from telcoseg.segmentation.migration import migration_matrix, migration_pairs

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 29)
ASSIGN = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("macro_segment_id", T.StringType(), False),
        T.StructField("micro_segment_id", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),
    ]
)


def _assignments(spark: SparkSession):
    rows = [
        ("a", D1, "macro-01", "micro-001", 1),
        ("b", D1, "macro-01", "micro-001", 1),
        ("c", D1, "macro-01", "micro-002", 1),
        ("d", D1, "macro-02", "micro-003", 1),
        ("e", D1, "macro-02", "micro-003", 1),  # churns: absent on D2
        ("a", D2, "macro-01", "micro-001", 2),  # stays
        ("b", D2, "macro-02", "micro-003", 2),  # moves 01 -> 02
        ("c", D2, "macro-01", "micro-001", 2),  # micro move inside macro-01
        ("d", D2, "macro-02", "micro-003", 2),
        ("f", D2, "macro-03", "micro-004", 2),  # joins
        ("g", dt.date(2026, 2, 1), "macro-01", "micro-001", 1),  # other snapshot: ignored
    ]
    return spark.createDataFrame(rows, ASSIGN)


def test_it_counts_and_shares_transitions_between_two_snapshots(spark: SparkSession) -> None:
    actual = migration_matrix(_assignments(spark), D1, D2, "macro")
    schema = T.StructType(
        [
            T.StructField("from_date", T.DateType(), False),
            T.StructField("to_date", T.DateType(), False),
            T.StructField("level", T.StringType(), False),
            T.StructField("from_segment", T.StringType(), False),
            T.StructField("to_segment", T.StringType(), False),
            T.StructField("subscribers", T.LongType(), False),
            T.StructField("share_of_from", T.DoubleType(), True),
        ]
    )
    expected = spark.createDataFrame(
        [
            (D1, D2, "macro", "macro-01", "macro-01", 2, 2 / 3),
            (D1, D2, "macro", "macro-01", "macro-02", 1, 1 / 3),
            (D1, D2, "macro", "macro-02", "macro-02", 1, 0.5),
            (D1, D2, "macro", "macro-02", "(absent)", 1, 0.5),
            (D1, D2, "macro", "(absent)", "macro-03", 1, 1.0),
        ],
        schema,
    )
    assert_approx_df_equality(
        actual, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_it_pairs_each_subscriber_at_the_micro_level(spark: SparkSession) -> None:
    pairs = {
        r["subscriber_id"]: (r["from_segment"], r["to_segment"])
        for r in migration_pairs(_assignments(spark), D1, D2, "micro").collect()
    }
    assert pairs == {
        "a": ("micro-001", "micro-001"),
        "b": ("micro-001", "micro-003"),
        "c": ("micro-002", "micro-001"),
        "d": ("micro-003", "micro-003"),
        "e": ("micro-003", "(absent)"),
        "f": ("(absent)", "micro-004"),
    }


def test_it_shows_segment_composition_by_protected_group_and_suppresses_small_cells(
    spark: SparkSession,
) -> None:
    subs = spark.createDataFrame(
        [("a", 1990, "F"), ("b", 1960, "M"), ("c", 1995, "f"), ("d", None, None), ("e", 2004, "M")],
        "subscriber_id string, birth_year int, gender string",
    )
    view = fairness_view(_assignments(spark), subs, D1, "macro", min_cell=1)
    got = {
        (r["segment_id"], r["attribute"], r["group"]): (r["subscribers"], r["share_of_segment"])
        for r in view.collect()
    }
    assert got[("macro-01", "gender", "f")] == (2, 2 / 3)
    assert got[("macro-01", "age_band", "65+")] == (1, 1 / 3)  # 2026 - 1960 = 66
    assert got[("macro-02", "age_band", "unknown")] == (1, 0.5)
    assert got[("macro-02", "age_band", "<25")] == (1, 0.5)  # 2026 - 2004 = 22
    suppressed = fairness_view(_assignments(spark), subs, D1, "macro", min_cell=2).collect()
    small = [r for r in suppressed if r["segment_id"] == "macro-02"]
    assert small and all(r["subscribers"] is None for r in small)
