"""bandicoot's individual indicators on hand-computed examples (one ISO week: std = 0)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from telcoseg.features.settings import Settings
from telcoseg.features.vectors import bandicoot_features
from test_features_support import call, cdr_df, cells_df, one_row, text

SNAP = dt.date(2026, 3, 8)  # Sunday of ISO week 2026-W10
# 14 days: the window also holds ISO week 9 (WEEKS); the other scenarios lie in week 10.
SETTINGS = Settings(window_days=14, partitions=2)


def conversations(sub: str) -> list[dict]:
    return [
        call(sub, "2026-03-02 10:00:00", "out", "X", 60, "C1"),
        text(sub, "2026-03-02 10:00:30", "in", "Y", "C1"),
        text(sub, "2026-03-02 10:10:30", "out", "Y", "C2"),  # answers after 600 s
        call(sub, "2026-03-02 20:00:00", "in", "X", 0, None),  # missed, at night
        text(sub, "2026-03-03 08:00:00", "in", "Y", "C1"),  # > 1 h later: new conversation
        # Not bandicoot records: no direction, data session, call without duration.
        text(sub, "2026-03-03 09:00:00", None, "Y", "C1"),  # type: ignore[arg-type]
        {**call(sub, "2026-03-03 09:30:00", "out", "Z", 5, "C1"), "event_type": "data"},
        call(sub, "2026-03-03 09:40:00", "out", "Z", None, "C1"),  # type: ignore[arg-type]
    ]


@pytest.fixture(scope="module")
def got(spark: SparkSession) -> dict[str, dict]:
    """One computation, one subscriber per scenario (Spark jobs are the slow part)."""
    rows = [
        *conversations("CONV"),
        # CALLBREAK: a call ends a text conversation.
        text("CALLBREAK", "2026-03-04 10:00:00", "in", "Y", "C1"),
        call("CALLBREAK", "2026-03-04 10:05:00", "in", "Y", 30, "C1"),
        text("CALLBREAK", "2026-03-04 10:06:00", "out", "Y", "C1"),  # a new conversation
        # NOTEXT: one call, no text.
        call("NOTEXT", "2026-03-04 10:00:00", "out", "X", 10, "C1"),
        # WEEKS: weekly counts [1, 3].
        call("WEEKS", "2026-03-01 23:59:59", "out", "X", 10, "C1"),  # Sunday: ISO week 9
        call("WEEKS", "2026-03-02 00:00:00", "out", "X", 10, "C1"),  # Monday: ISO week 10
        call("WEEKS", "2026-03-02 00:00:01", "out", "X", 10, "C1"),
        call("WEEKS", "2026-03-02 00:00:02", "out", "X", 10, "C1"),
        # TZ: 17:30 UTC, day in UTC.
        call("TZ", "2026-03-04 17:30:00", "out", "X", 10, "C1"),
        # OTHER: has records but is not in the subset asked for.
        call("OTHER", "2026-03-04 10:00:00", "out", "X", 10, "C1"),
    ]
    asked = ["CONV", "CALLBREAK", "NOTEXT", "WEEKS", "TZ"]
    df = bandicoot_features(
        cdr_df(spark, rows),
        cells_df(spark, {"C1": (48.85, 2.35), "C2": (48.86, 2.36)}),
        snapshot_date=SNAP,
        timezone="UTC",
        settings=SETTINGS,
        subscribers=asked,
    )
    rows_by_sub = {r.subscriber_id: r.asDict() for r in df.collect()}
    assert sorted(rows_by_sub) == sorted(asked)  # the subset: OTHER is left out
    return rows_by_sub


def test_calls_texts_and_conversations(got: dict) -> None:
    expected = {
        "number_of_interactions__allweek__allday__call__mean": 2.0,
        "number_of_interaction_in__allweek__allday__call__mean": 1.0,
        "number_of_interaction_out__allweek__allday__text__mean": 1.0,
        "number_of_contacts__allweek__allday__call__mean": 1.0,
        "call_duration__allweek__allday__call__mean__mean": 30.0,
        "call_duration__allweek__allday__call__std__mean": 30.0,  # population std of [60, 0]
        "percent_nocturnal__allweek__allday__call__mean": 0.5,
        "percent_nocturnal__allweek__allday__text__mean": 0.0,
        "percent_initiated_interactions__allweek__allday__call__mean": 0.5,
        "interevent_time__allweek__allday__call__mean__mean": 36000.0,
        "interevent_time__allweek__allday__text__mean__mean": (600 + 78570) / 2,
        "interevent_time__allweek__allday__text__std__mean": (78570 - 600) / 2,
        "entropy_of_contacts__allweek__allday__call__mean": 0.0,
        "interactions_per_contact__allweek__allday__text__mean__mean": 3.0,
        "balance_of_contacts__allweek__allday__call__mean__mean": 0.5,
        # 2 records with one contact: ceil(0.8 * 2) = 2 reached by 1 contact -> 1 / 2.
        "percent_pareto_interactions__allweek__allday__call__mean": 0.5,
        "percent_pareto_durations__allweek__allday__call__mean": 0.5,
        "active_days__allweek__allday__callandtext__mean": 2.0,
        # Y: [in, out] and [in]; both started by Y, one answered.
        "percent_initiated_conversations__allweek__allday__callandtext__mean": 0.0,
        "response_rate_text__allweek__allday__callandtext__mean": 0.5,
        "response_delay_text__allweek__allday__callandtext__mean__mean": 600.0,
        "response_delay_text__allweek__allday__callandtext__std__mean": 0.0,
        "active_days__allweek__allday__callandtext__std": 0.0,  # one week
    }
    actual = {k: got["CONV"]["bc_" + k] for k in expected}
    assert actual == pytest.approx(expected, rel=1e-9)


def test_a_call_ends_a_text_conversation(got: dict) -> None:
    g = got["CALLBREAK"]
    assert g["bc_percent_initiated_conversations__allweek__allday__callandtext__mean"] == 0.5
    assert g["bc_response_rate_text__allweek__allday__callandtext__mean"] == 0.0
    assert g["bc_response_delay_text__allweek__allday__callandtext__mean__mean"] is None


def test_no_texts_gives_none_for_text_indicators(got: dict) -> None:
    g = got["NOTEXT"]
    assert g["bc_number_of_interactions__allweek__allday__text__mean"] is None
    assert g["bc_interevent_time__allweek__allday__call__mean__mean"] is None  # one call
    assert g["bc_response_rate_text__allweek__allday__callandtext__mean"] is None
    assert g["bc_percent_initiated_conversations__allweek__allday__callandtext__mean"] == 0.0


def test_weeks_are_iso_weeks_and_std_is_population(got: dict) -> None:
    # Weekly counts [1, 3]: mean 2, population std 1.
    assert got["WEEKS"]["bc_number_of_interactions__allweek__allday__call__mean"] == 2.0
    assert got["WEEKS"]["bc_number_of_interactions__allweek__allday__call__std"] == 1.0


def test_local_time_decides_night_and_day(spark: SparkSession, got: dict) -> None:
    # 17:30 UTC = 19:30 in Europe/Helsinki (UTC+2 in March): night there, day in UTC.
    assert got["TZ"]["bc_percent_nocturnal__allweek__allday__call__mean"] == 0.0
    df = bandicoot_features(
        cdr_df(spark, [call("TZ", "2026-03-04 17:30:00", "out", "X", 10, "C1")]),
        cells_df(spark, {"C1": (48.85, 2.35)}),
        snapshot_date=SNAP,
        timezone="Europe/Helsinki",
        settings=SETTINGS,
    )
    assert one_row(df, "TZ")["bc_percent_nocturnal__allweek__allday__call__mean"] == 1.0


def test_split_week_and_day(spark: SparkSession) -> None:
    cells = cells_df(spark, {"C1": (48.85, 2.35)})
    rows = [
        call("A", "2026-03-07 12:00:00", "out", "X", 10, "C1"),  # Saturday, day
        call("A", "2026-03-04 19:00:00", "out", "X", 10, "C1"),  # Wednesday 19:00:00: night
    ]
    df = bandicoot_features(
        cdr_df(spark, rows),
        cells,
        snapshot_date=SNAP,
        timezone="UTC",
        settings=Settings(window_days=7, split_week=True, split_day=True, partitions=2),
    )
    got = one_row(df, "A")
    assert got["bc_number_of_interactions__weekend__day__call__mean"] == 1.0
    assert got["bc_number_of_interactions__weekday__night__call__mean"] == 1.0
    assert got["bc_number_of_interactions__weekday__day__call__mean"] is None
    assert got["bc_number_of_interactions__allweek__allday__call__mean"] == 2.0
