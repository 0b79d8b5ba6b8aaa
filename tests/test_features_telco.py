"""Telco indicators beyond bandicoot, on a hand-computed example."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from telcoseg.features.settings import Settings
from telcoseg.features.telco import telco_features
from telcoseg.features.vectors import behavior_vectors
from test_features_support import (
    app_usage_df,
    at,
    call,
    cdr_df,
    cells_df,
    one_row,
    subscribers_df,
)

SNAP = dt.date(2026, 3, 8)
SETTINGS = Settings(window_days=7, partitions=2)


def data(sub: str, when: str, up: int, down: int, **extra: object) -> dict:
    return {
        "subscriber_id": sub,
        "event_time": at(when),
        "event_type": "data",
        "bytes_up": up,
        "bytes_down": down,
        **extra,
    }


@pytest.fixture(scope="module")
def inputs(spark: SparkSession) -> dict:
    cdr = cdr_df(
        spark,
        [
            data("A", "2026-03-02 12:00:00", 100, 300, tac="11111111", imei_id="i1"),
            data("A", "2026-03-02 23:00:00", 0, 600, tac="22222222", imei_id="i2", roaming=True),
            data("A", "2026-03-03 23:30:00", 0, 1000, tac="22222222", imei_id="i2"),
            {
                **call("A", "2026-03-04 10:00:00", "out", "X", 60, None),
                "is_international": True,
                "is_on_net": True,
                "charge": 1.5,
            },
            {**call("A", "2026-03-04 11:00:00", "out", "Y", 60, None), "is_on_net": False},
            data("A", "2026-02-20 12:00:00", 5, 5),  # before the window: ignored
        ],
    )
    subs = subscribers_df(
        spark,
        [
            {
                "subscriber_id": "A",
                "account_id": "acc1",
                "activation_date": dt.date(2025, 3, 8),
                "plan": "unlimited",
                "plan_type": "postpaid",
                "monthly_fee": 30.0,
                "device_tac": "99999999",
                "birth_year": 1980,
                "gender": "f",
            },
            {"subscriber_id": "B", "account_id": "acc1", "activation_date": dt.date(2026, 3, 1)},
            {"subscriber_id": "C", "account_id": None, "activation_date": dt.date(2026, 1, 1)},
            {"subscriber_id": "LATE", "activation_date": dt.date(2026, 4, 1)},  # after snapshot
        ],
    )
    apps = app_usage_df(
        spark,
        [
            {"subscriber_id": "A", "usage_date": dt.date(2026, 3, 2), "app": "tube",
             "category": "video", "bytes_up": 0, "bytes_down": 300, "sessions": 2},
            {"subscriber_id": "A", "usage_date": dt.date(2026, 3, 3), "app": "chat",
             "category": "Messaging", "bytes_up": 50, "bytes_down": 50, "sessions": 5},
            {"subscriber_id": "A", "usage_date": dt.date(2026, 3, 3), "app": "odd",
             "category": "astrology", "bytes_up": 0, "bytes_down": 0, "sessions": 1},
        ],
    )  # fmt: skip
    return {"cdr": cdr, "subs": subs, "apps": apps}


def test_telco_indicators(spark: SparkSession, inputs: dict) -> None:
    df = telco_features(
        inputs["cdr"],
        inputs["subs"],
        inputs["apps"],
        snapshot_date=SNAP,
        timezone="UTC",
        settings=SETTINGS,
    )
    a = one_row(df, "A")
    expected = {
        "tc_data_sessions": 3,
        "tc_data_bytes_up": 100,
        "tc_data_bytes_down": 1900,
        "tc_data_night_share": 1600 / 2000,
        "tc_roaming_share": 1 / 5,
        "tc_spend": 1.5,
        "tc_international_call_share": 1.0,  # null flag on the 2nd call: not counted
        "tc_offnet_call_share": 0.5,
        "tc_app_bytes": 400,
        "tc_app_sessions": 8,
        "tc_app_share_video": 0.75,
        "tc_app_share_messaging": 0.25,
        "tc_app_share_other": 0.0,
        "tc_tenure_days": 365,
        "tc_plan_type": "postpaid",
        "tc_monthly_fee": 30.0,
        "tc_lines_per_account": 2,
        "tc_device_tac": "22222222",  # most used in the window beats the registered one
        "tc_devices": 2,
    }
    assert {k: a[k] for k in expected} == pytest.approx(expected)
    assert a["tc_app_category_entropy"] == pytest.approx(
        -(0.75 * __import__("math").log(0.75) + 0.25 * __import__("math").log(0.25))
    )
    c = one_row(df, "C")
    assert c["tc_lines_per_account"] == 1 and c["tc_data_sessions"] == 0
    assert c["tc_data_night_share"] is None
    assert df.filter("subscriber_id = 'LATE'").count() == 0
    assert not {"birth_year", "gender"} & {c.lower() for c in df.columns}


def test_behavior_vectors_has_one_row_per_subscriber(spark: SparkSession, inputs: dict) -> None:
    cells = cells_df(spark, {"C1": (0.0, 0.0)})
    df = behavior_vectors(
        inputs["cdr"],
        cells,
        inputs["subs"],
        inputs["apps"],
        snapshot_date=SNAP,
        timezone="UTC",
        settings=SETTINGS,
        subscribers=["A", "B"],
    )
    rows = {r.subscriber_id: r.asDict() for r in df.collect()}
    assert set(rows) == {"A", "B"}
    assert df.columns[:3] == [
        "subscriber_id",
        "snapshot_date",
        "bc_active_days__allweek__allday__callandtext__mean",
    ]
    assert rows["A"]["snapshot_date"] == SNAP
    assert rows["A"]["bc_number_of_interactions__allweek__allday__call__mean"] == 2.0
    assert rows["B"]["bc_number_of_interactions__allweek__allday__call__mean"] is None
    assert rows["B"]["tc_lines_per_account"] == 2  # counted over the whole table
