"""Targeting and the Spark side of the A/B analysis on tiny inline tables."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from telcoseg.campaigns.ab import ALL_SEGMENTS, ab_table
from telcoseg.campaigns.settings import ContactPolicy, Offer, Settings
from telcoseg.campaigns.targeting import (
    contact_history,
    select_audience,
    uplift_index,
    with_arm,
)

SNAP = dt.date(2026, 3, 29)
CANDIDATES = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("micro_segment_id", T.StringType(), False),
        T.StructField("propensity", T.DoubleType()),
    ]
)


def test_arms_are_deterministic_and_near_the_control_share(spark: SparkSession) -> None:
    ids = spark.createDataFrame([(f"{i:064x}",) for i in range(2000)], "subscriber_id string")
    first = {r.subscriber_id: r.arm for r in with_arm(ids, "CMP-1", 0.2).collect()}
    again = {r.subscriber_id: r.arm for r in with_arm(ids.repartition(3), "CMP-1", 0.2).collect()}
    other = {r.subscriber_id: r.arm for r in with_arm(ids, "CMP-2", 0.2).collect()}
    assert first == again
    share = sum(a == "control" for a in first.values()) / 2000
    # SD of the share: sqrt(.2 * .8 / 2000) = 0.0089; 0.035 is about 4 SD
    assert share == pytest.approx(0.2, abs=0.035)
    assert first != other  # another campaign draws its own control group


def test_audience_respects_opt_out_contact_cap_segments_and_budget(spark: SparkSession) -> None:
    cands = spark.createDataFrame(
        [
            ("a", "1.1", 0.9),
            ("b", "1.1", 0.8),  # opted out
            ("c", "1.1", 0.7),  # contacted twice in the last 30 days
            ("d", "1.1", 0.6),
            ("e", "1.1", 0.5),  # over the per-segment cap of 2
            ("f", "1.2", 0.4),
            ("g", "2.1", 0.95),  # segment not eligible
            ("h", "1.2", None),  # no score
        ],
        CANDIDATES,
    )
    history = spark.createDataFrame(
        [
            ("OLD", "c", "treatment", dt.date(2026, 3, 10)),
            ("OLD", "c", "treatment", dt.date(2026, 3, 20)),
            ("OLD", "d", "treatment", dt.date(2026, 1, 5)),  # outside the period
            ("OLD", "d", "treatment", dt.date(2026, 3, 20)),
            ("OLD", "f", "control", dt.date(2026, 3, 20)),  # controls were not contacted
            ("OLD", "f", "control", dt.date(2026, 3, 21)),
        ],
        "campaign_id string, subscriber_id string, arm string, snapshot_date date",
    )
    opt_out = spark.createDataFrame([("b",)], "subscriber_id string")
    offer = Offer(
        campaign_id="CMP-9",
        outcome="upgrade",
        segments=("1.1", "1.2"),
        value_per_conversion=10.0,
        max_per_segment=2,
        budget=3,
        channel="app",
        control_share=0.3,
    )
    policy = ContactPolicy(max_contacts=2, period_days=30)
    out = select_audience(
        cands,
        offer,
        policy,
        SNAP,
        history_df=contact_history(history, None, offer.campaign_id),
        opt_out_df=opt_out,
    )
    rows = {r.subscriber_id: r for r in out.collect()}
    assert sorted(rows) == ["a", "d", "f"]
    assert rows["a"].expected_value == pytest.approx(9.0)
    assert rows["f"].micro_segment_id == "1.2" and rows["f"].channel == "app"
    assert {r.arm for r in rows.values()} <= {"treatment", "control"}
    assert out.columns == [
        "campaign_id",
        "subscriber_id",
        "micro_segment_id",
        "arm",
        "score",
        "expected_value",
        "channel",
        "snapshot_date",
    ]
    # the uplift index re-ranks: segment 1.2 measured at 3x the average lift wins
    uplift = spark.createDataFrame([("1.2", 3.0)], "micro_segment_id string, uplift_index double")
    offer1 = Offer(campaign_id="CMP-9", outcome="upgrade", segments=("1.1", "1.2"), budget=1)
    top = select_audience(cands, offer1, policy, SNAP, uplift_df=uplift).collect()
    assert [r.subscriber_id for r in top] == ["f"]  # 0.4 * 3 = 1.2 > 0.9


def test_ab_table_uses_the_segment_as_of_the_send_date(spark: SparkSession) -> None:
    camp = spark.createDataFrame(
        [
            ("C1", "s1", "o", dt.date(2026, 3, 10), "treatment", True),
            ("C1", "s2", "o", dt.date(2026, 3, 10), "treatment", False),
            ("C1", "s3", "o", dt.date(2026, 3, 10), "control", False),
            ("C1", "s4", "o", dt.date(2026, 3, 10), "control", None),  # null = not converted
            ("C1", "s5", "o", dt.date(2026, 4, 10), "treatment", True),  # after the snapshot
        ],
        "campaign_id string, subscriber_id string, offer string, sent_date date, "
        "arm string, converted boolean",
    )
    seg = spark.createDataFrame(
        [
            ("s1", dt.date(2026, 3, 1), "1.1"),
            ("s1", dt.date(2026, 3, 15), "2.1"),  # after sending: not used
            ("s2", dt.date(2026, 3, 1), "1.1"),
            ("s3", dt.date(2026, 3, 8), "1.1"),
        ],
        "subscriber_id string, snapshot_date date, micro_segment_id string",
    )
    out = ab_table(camp, seg, Settings(), SNAP)
    got = {
        r.micro_segment_id: (r.n_treatment, r.conversions_treatment, r.n_control)
        for r in out.collect()
    }
    assert got == {"1.1": (2, 1, 1), "unassigned": (0, 0, 1), ALL_SEGMENTS: (2, 1, 2)}


def test_uplift_index_is_segment_lift_over_campaign_lift(spark: SparkSession) -> None:
    ab = spark.createDataFrame(
        [
            ("C1", "boost", ALL_SEGMENTS, 0.02, False, dt.date(2026, 3, 1)),
            ("C1", "boost", "1.1", 0.04, False, dt.date(2026, 3, 1)),  # 0.04 / 0.02 = 2
            ("C1", "boost", "1.2", -0.01, False, dt.date(2026, 3, 1)),  # negative -> 0
            ("C1", "boost", "1.3", 0.50, True, dt.date(2026, 3, 1)),  # small sample: ignored
            ("C1", "boost", "1.4", 0.20, False, dt.date(2026, 3, 1)),  # 10, capped at 3
            ("C1", "boost", "1.1", 0.00, False, dt.date(2026, 2, 1)),  # older measurement
            ("C7", "other", "1.1", 0.09, False, dt.date(2026, 3, 1)),  # another offer
        ],
        "campaign_id string, offer string, micro_segment_id string, abs_lift double, "
        "is_small_sample boolean, snapshot_date date",
    )
    offer = Offer(campaign_id="C2", outcome="upgrade", offer="boost")
    got = uplift_index(ab, offer, max_index=3.0)
    assert got is not None
    assert {r.micro_segment_id: r.uplift_index for r in got.collect()} == pytest.approx(
        {"1.1": 2.0, "1.2": 0.0, "1.4": 3.0}
    )
