"""Number-range anomalies: segment counts and the robust spike statistic on tiny series."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import SparkSession

from telcoseg.fraud.anomalies import (
    number_range_anomalies,
    segment_daily_counts,
    with_spike_statistic,
)
from telcoseg.fraud.settings import Anomalies
from test_fraud_support import cdr_df, event, subscriber, subscribers_df

D0 = dt.date(2026, 3, 1)
SERIES = [10, 12, 9, 11, 10, 10, 11, 60, 10, 9]  # day 7 is the spike


def test_spike_is_flagged_against_the_trailing_median_and_mad(spark: SparkSession) -> None:
    counts = spark.createDataFrame(
        [
            (D0 + dt.timedelta(days=i), "counterparty_number_region", "GB/Leeds", c)
            for i, c in enumerate(SERIES)
        ],
        "event_date date, dimension string, segment string, count long",
    )
    settings = Anomalies(baseline_days=5, min_baseline_days=3, z_threshold=6.0, min_count=30)
    rows = {r["event_date"]: r for r in with_spike_statistic(counts, settings).collect()}
    spike = rows[D0 + dt.timedelta(days=7)]
    # Baseline: the 5 days before, [11, 10, 10, 11, 9]: median 10, MAD 1; the Poisson
    # floor sqrt(10) exceeds 1.4826 * MAD.
    assert (spike["baseline_median"], spike["baseline_mad"], spike["baseline_days"]) == (
        10.0,
        1.0,
        5,
    )
    assert spike["robust_z"] == pytest.approx(50 / math.sqrt(10))
    assert spike["ratio"] == 6.0
    assert [d for d, r in rows.items() if r["is_spike"]] == [spike["event_date"]]
    # The day after: the spike is in the baseline [10, 10, 11, 11, 60] but barely moves
    # the median (a mean would be 20.4).
    after = rows[D0 + dt.timedelta(days=8)]
    assert after["baseline_median"] == 11.0 and not after["is_spike"]
    # Too little history on the first days: never a spike.
    assert rows[D0]["baseline_days"] == 0 and rows[D0]["baseline_median"] is None


def test_small_counts_are_not_spikes(spark: SparkSession) -> None:
    # 0 -> 5 calls is a large z on a zero baseline but below min_count.
    counts = spark.createDataFrame(
        [(D0 + dt.timedelta(days=i), "d", "s", c) for i, c in enumerate([0, 0, 0, 0, 5])],
        "event_date date, dimension string, segment string, count long",
    )
    settings = Anomalies(baseline_days=4, min_baseline_days=3, min_count=30)
    assert not any(r["is_spike"] for r in with_spike_statistic(counts, settings).collect())


def test_segments_are_qualified_by_country_and_quiet_days_count_zero_from_the_first_data_day(
    spark: SparkSession,
) -> None:
    rows = [
        event("A", "2026-03-01 10:00:00", cp_region="Leeds"),
        event("A", "2026-03-01 11:00:00", "sms", "in", cp_region="Leeds", duration=None),
        event("B", "2026-03-02 10:00:00", cp_region="London"),  # Leeds is quiet that day
        event("B", "2026-03-03 10:00:00", cp_region="Leeds"),
        event("B", "2026-03-03 11:00:00", "data"),  # not voice/sms: not counted
    ]
    subs = subscribers_df(spark, [subscriber("A"), subscriber("B")])
    got = segment_daily_counts(
        cdr_df(spark, rows),
        subs,
        dimensions=("counterparty_number_region", "subscriber_carrier"),
        event_types=("voice", "sms"),
        first_date=D0 - dt.timedelta(days=1),  # before the data begins: left out
        last_date=D0 + dt.timedelta(days=2),
    )
    table = {(r["dimension"], r["segment"], r["event_date"].day): r["count"] for r in got.collect()}
    assert table == {
        ("counterparty_number_region", "GB/Leeds", 1): 2,
        ("counterparty_number_region", "GB/Leeds", 2): 0,
        ("counterparty_number_region", "GB/Leeds", 3): 1,
        ("counterparty_number_region", "GB/London", 1): 0,
        ("counterparty_number_region", "GB/London", 2): 1,
        ("counterparty_number_region", "GB/London", 3): 0,
        ("subscriber_carrier", "GB/Demo", 1): 2,
        ("subscriber_carrier", "GB/Demo", 2): 1,
        ("subscriber_carrier", "GB/Demo", 3): 1,
    }


def test_a_planted_area_spike_is_found_end_to_end(spark: SparkSession) -> None:
    rows = []
    for day in range(8):
        date = D0 + dt.timedelta(days=day)
        n_leeds = 40 if day == 6 else 2  # the planted spike
        for k in range(n_leeds):
            rows.append(event("A", f"{date} 10:{k:02d}:00", cp_region="Leeds"))
        for k in range(5):
            rows.append(event("A", f"{date} 12:{k:02d}:00", cp_region="London"))
    settings = Anomalies(
        dimensions=("counterparty_number_region",),
        eval_days=4,
        baseline_days=4,
        min_baseline_days=3,
    )
    got = number_range_anomalies(
        cdr_df(spark, rows), None, snapshot_date=D0 + dt.timedelta(days=7), settings=settings
    ).collect()
    assert [(r["segment"], r["event_date"], r["count"]) for r in got] == [
        ("GB/Leeds", D0 + dt.timedelta(days=6), 40)
    ]
    assert got[0]["snapshot_date"] == D0 + dt.timedelta(days=7)
