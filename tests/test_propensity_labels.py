"""Label windows: the label of snapshot T is the outcome in (T, T+h]; (T-L, T] is prior."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from telcoseg.errors import ConfigError
from telcoseg.propensity.labels import check_label_windows, outcome_key, with_outcome_labels
from telcoseg.propensity.train import split_dates

D = dt.date
T0 = D(2026, 3, 1)
POP = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
    ]
)
EVENTS = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("event_date", T.DateType(), False),
        T.StructField("outcome", T.StringType(), False),
    ]
)
LABELS = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("label", T.IntegerType(), False),
        T.StructField("label_event_date", T.DateType(), True),
        T.StructField("prior_outcome_count", T.IntegerType(), False),
    ]
)


def test_label_is_the_outcome_strictly_after_t_and_within_the_horizon(spark: SparkSession) -> None:
    pop = spark.createDataFrame(
        [
            ("on_t", T0),  # event on T itself: known at T, so prior, not label
            ("day_after", T0),  # T+1: first day of the window
            ("last_day", T0),  # T+7: last day of a 7-day window
            ("too_late", T0),  # T+8: outside
            ("other_outcome", T0),  # an add_line does not label upgrade
            ("two_in_window", T0),  # the first event date is kept
            ("lookback_edge", T0),  # T-30 is outside a 30-day look-back, T-29 inside
            ("nothing", T0),  # no events at all
            ("two_snapshots", T0),
            ("two_snapshots", D(2026, 3, 8)),  # the same event is prior for the later one
        ],
        POP,
    )
    events = spark.createDataFrame(
        [
            ("on_t", T0, "upgrade"),
            ("day_after", D(2026, 3, 2), "upgrade"),
            ("last_day", D(2026, 3, 8), "upgrade"),
            ("too_late", D(2026, 3, 9), "upgrade"),
            ("other_outcome", D(2026, 3, 2), "add_line"),
            ("two_in_window", D(2026, 3, 6), "upgrade"),
            ("two_in_window", D(2026, 3, 3), "upgrade"),
            ("lookback_edge", D(2026, 1, 30), "upgrade"),
            ("lookback_edge", D(2026, 1, 31), "upgrade"),
            ("two_snapshots", D(2026, 3, 5), "upgrade"),
            ("unknown_subscriber", D(2026, 3, 2), "upgrade"),
        ],
        EVENTS,
    )
    got = with_outcome_labels(pop, events, "upgrade", horizon_days=7, lookback_days=30)
    expected = spark.createDataFrame(
        [
            ("on_t", T0, 0, None, 1),
            ("day_after", T0, 1, D(2026, 3, 2), 0),
            ("last_day", T0, 1, D(2026, 3, 8), 0),
            ("too_late", T0, 0, None, 0),
            ("other_outcome", T0, 0, None, 0),
            ("two_in_window", T0, 1, D(2026, 3, 3), 0),
            ("lookback_edge", T0, 0, None, 1),
            ("nothing", T0, 0, None, 0),
            ("two_snapshots", T0, 1, D(2026, 3, 5), 0),
            ("two_snapshots", D(2026, 3, 8), 0, None, 1),
        ],
        LABELS,
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_adopt_outcomes_match_their_service_only(spark: SparkSession) -> None:
    pop = spark.createDataFrame([("a", T0), ("b", T0)], POP)
    events = spark.createDataFrame(
        [("a", D(2026, 3, 2), "adopt:streaming"), ("b", D(2026, 3, 2), "adopt:cloud")], EVENTS
    )
    got = with_outcome_labels(pop, events, "adopt:streaming", horizon_days=14, lookback_days=0)
    expected = spark.createDataFrame(
        [("a", T0, 1, D(2026, 3, 2), 0), ("b", T0, 0, None, 0)], LABELS
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_outcome_key_is_safe_for_names_and_paths() -> None:
    assert outcome_key("adopt:streaming_bundle") == "adopt_streaming_bundle"
    assert outcome_key("upgrade") == "upgrade"


def test_incomplete_label_windows_are_refused() -> None:
    check_label_windows([D(2026, 3, 1)], 14, D(2026, 3, 15))
    with pytest.raises(ConfigError, match="2026-03-02"):
        check_label_windows([D(2026, 3, 1), D(2026, 3, 2)], 14, D(2026, 3, 15))


def test_out_of_time_splits_need_three_snapshots_a_horizon_apart() -> None:
    dates = [D(2026, 1, 1), D(2026, 1, 15), D(2026, 1, 29), D(2026, 2, 12)]
    assert split_dates(dates, 14) == (dates[:2], dates[2], dates[3])
    with pytest.raises(ConfigError, match="at least 3"):
        split_dates(dates[:2], 14)
    with pytest.raises(ConfigError, match="overlap"):
        split_dates([D(2026, 1, 1), D(2026, 1, 10), D(2026, 1, 29)], 14)
