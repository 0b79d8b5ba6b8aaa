"""The indicator catalogue, key <-> column mapping, and the week -> mean/std flattening."""

from __future__ import annotations

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import SparkSession

from telcoseg.features.catalogue import (
    bandicoot_key_to_column,
    bandicoot_keys,
    column_to_bandicoot_key,
)
from telcoseg.features.settings import Settings
from telcoseg.features.summary import flatten_weekly


def test_default_keys_are_bandicoot_all_without_reporting() -> None:
    keys = bandicoot_keys(Settings())
    assert len(keys) == 82 and len(set(keys)) == 82
    assert keys[0] == "active_days__allweek__allday__callandtext__mean"
    assert "call_duration__allweek__allday__call__std__mean" in keys
    assert keys[-2:] == ["churn_rate__mean", "churn_rate__std"]
    assert len(bandicoot_keys(Settings(split_week=True, split_day=True))) == 722
    assert len(bandicoot_keys(Settings(split_week=True))) == 2 + 80 * 3


def test_key_column_mapping_round_trips_and_refuses_garbage() -> None:
    key = "active_days__allweek__allday__callandtext__mean"
    assert bandicoot_key_to_column(key) == "bc_" + key
    assert column_to_bandicoot_key(bandicoot_key_to_column(key)) == key
    with pytest.raises(ValueError, match="not a bandicoot flattened key"):
        bandicoot_key_to_column("Active Days")
    with pytest.raises(ValueError, match="not a bandicoot feature column"):
        column_to_bandicoot_key("tc_spend")


def test_weeks_flatten_to_mean_and_population_std_ignoring_none(spark: SparkSession) -> None:
    # Individual indicators: one column per (per-week value, interaction) in the rows of
    # the time scope; a week without records of an interaction has null there.
    weekly = spark.createDataFrame(
        [
            ("A", "allweek__allday", "w1", 1.0, 5.0, None, 2.0),
            ("A", "allweek__allday", "w2", 3.0, None, None, None),
            ("A", "allweek__allday", "w3", None, None, None, None),  # a None week is dropped
        ],
        "subscriber_id string, scope string, week string, "
        "number_of_interactions__call double, number_of_interactions__text double, "
        "interevent_time__mean__call double, interevent_time__mean__text double",
    )
    flat = flatten_weekly(weekly, Settings()).select(
        "subscriber_id",
        "bc_number_of_interactions__allweek__allday__call__mean",
        "bc_number_of_interactions__allweek__allday__call__std",
        "bc_number_of_interactions__allweek__allday__text__std",
        "bc_interevent_time__allweek__allday__call__mean__mean",
        "bc_interevent_time__allweek__allday__text__mean__mean",
    )
    expected = spark.createDataFrame(
        [("A", 2.0, 1.0, 0.0, None, 2.0)],
        "subscriber_id string, m double, s double, t double, i double, j double",
    ).toDF(*flat.columns)
    assert_approx_df_equality(flat, expected, precision=1e-12, ignore_row_order=True)


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="window_days"):
        Settings(window_days=0)
    with pytest.raises(ValueError, match="weekend"):
        Settings(weekend=(0, 7))
    with pytest.raises(ValueError, match="HH:MM"):
        Settings(night_start="7pm")
