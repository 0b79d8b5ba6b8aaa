"""The fairness audit on tiny explicit inputs, including a group with no positives."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from telcoseg.propensity.fairness import audit, critical_z
from telcoseg.propensity.settings import FairnessSettings

SCORED = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("label", T.IntegerType(), False),
        T.StructField("propensity", T.DoubleType(), False),
    ]
)
PEOPLE = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("birth_year", T.IntegerType()),
        T.StructField("gender", T.StringType()),
    ]
)
T0 = dt.date(2026, 3, 22)


def test_a_group_without_positives_is_reported_not_a_division_by_zero(
    spark: SparkSession,
) -> None:
    # Women: 4 rows, 2 positives; men: 4 rows, no positive at all (TPR undefined).
    scored = spark.createDataFrame(
        [
            ("f1", T0, 1, 0.9), ("f2", T0, 1, 0.2), ("f3", T0, 0, 0.8), ("f4", T0, 0, 0.1),
            ("m1", T0, 0, 0.9), ("m2", T0, 0, 0.7), ("m3", T0, 0, 0.3), ("m4", T0, 0, 0.1),
        ],
        SCORED,
    )  # fmt: skip
    people = spark.createDataFrame(
        [(f"f{i}", 1980, "F") for i in range(1, 5)] + [(f"m{i}", 1990, "m") for i in range(1, 5)],
        PEOPLE,
    )
    settings = FairnessSettings(min_group_size=1, min_group_positives=1)
    result = audit(scored, people, 0.5, settings)
    rows = {(r["attribute"], r["group"]): r.asDict() for r in result.table.collect()}
    men, women = rows[("gender", "m")], rows[("gender", "f")]
    assert (men["n"], men["positives"], men["selected"]) == (4, 0, 2)
    assert (women["n"], women["positives"], women["selected"]) == (4, 2, 2)
    assert men["tpr"] is None and women["tpr"] == 0.5
    assert women["selection_rate"] == 0.5 and men["selection_rate"] == 0.5


def test_critical_z_is_the_bonferroni_quantile_of_the_normal() -> None:
    # Hand values: two-sided 5% -> 1.960; 5% over 10 tests -> quantile 0.9975 -> 2.807.
    assert abs(critical_z(0.05, 1) - 1.95996) < 1e-4
    assert abs(critical_z(0.05, 10) - 2.80703) < 1e-4
    assert critical_z(1.0, 10) == 0.0
