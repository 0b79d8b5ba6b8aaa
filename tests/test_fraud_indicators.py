"""Per-line fraud indicators, one family per test, on tiny explicit CDR inputs."""

from __future__ import annotations

import datetime as dt
import math
import statistics

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession

from telcoseg.fraud import indicators as I
from test_fraud_support import SNAPSHOT, cdr_df, event, subscriber, subscribers_df

# The usage-mix columns: the indicators up to data_day_share, in the module's order.
USAGE = ("subscriber_id", *I.INDICATOR_COLUMNS[: I.INDICATOR_COLUMNS.index("data_day_share") + 1])
TIME_OF_DAY = ("subscriber_id", "night_share", "business_hours_share", "hour_entropy")
GATEWAY = ("subscriber_id", "intl_in_share", "intl_out_share")
MON = "2026-03-09"  # a Monday inside the 7-day window ending at SNAPSHOT (Sat 2026-03-14)
SAT = "2026-03-14"


def events(spark: SparkSession, rows: list[dict], window_days: int = 7) -> DataFrame:
    return I.filter_window_events(cdr_df(spark, rows), SNAPSHOT, window_days, "UTC")


def expect(spark: SparkSession, rows: list[tuple], schema: str) -> DataFrame:
    return spark.createDataFrame(rows, schema)


def check(actual: DataFrame, expected: DataFrame) -> None:
    assert_approx_df_equality(
        actual, expected, precision=1e-6, ignore_row_order=True, ignore_nullable=True
    )


def test_window_keeps_only_the_local_days_ending_at_the_snapshot(spark: SparkSession) -> None:
    rows = [
        event("A", "2026-03-07 23:59:59"),  # day before the 7-day window
        event("A", "2026-03-08 00:00:00"),  # first day
        event("A", f"{SAT} 23:00:00"),  # snapshot day
        event("A", "2026-03-15 00:00:01"),  # after the snapshot
    ]
    got = events(spark, rows).select("event_date", "day_index", "local_hour", "is_weekday")
    check(
        got,
        expect(
            spark,
            [(dt.date(2026, 3, 8), 0, 0, False), (SNAPSHOT, 6, 23, False)],
            "event_date date, day_index int, local_hour int, is_weekday boolean",
        ),
    )


def test_usage_mix_counts_types_and_leaves_undefined_ratios_null(spark: SparkSession) -> None:
    rows = [
        event("A", f"{MON} 10:00:00"),
        event("A", f"{MON} 11:00:00"),
        event("A", f"{SAT} 10:00:00"),
        event("A", f"{SAT} 12:00:00", direction="in"),
        event("A", f"{SAT} 13:00:00", "sms", "out", duration=None),
        event("A", f"{SAT} 14:00:00", "data"),
        event("B", f"{MON} 09:00:00", "data"),  # data only: no calls
    ]
    check(
        I.activity_indicators(events(spark, rows), 7, (8, 19)).select(*USAGE),
        expect(
            spark,
            [
                ("A", 6, 2, 3, 1, 1, 1, 0.5, 1 / 3, 1 / 6, 0.5),
                ("B", 1, 1, 0, 0, 0, 1, 0.0, None, 0.0, 1.0),
            ],
            "subscriber_id string, total_events long, active_days long, voice_out_calls long, "
            "voice_in_calls long, sms_events long, data_sessions long, voice_out_share double, "
            "in_out_ratio double, sms_share double, data_day_share double",
        ),
    )


def test_counterparties_per_day_novelty_growth_and_callbacks(spark: SparkSession) -> None:
    # 4-day window (2026-03-11..14): early half = days 0-1, late half = days 2-3.
    rows = [
        event("A", "2026-03-11 10:00:00", cp="X"),
        event("A", "2026-03-11 11:00:00", cp="Y"),
        event("A", "2026-03-12 10:00:00", cp="X"),
        event("A", "2026-03-14 10:00:00", cp="Z"),
        event("A", "2026-03-14 11:00:00", cp="W"),
        event("A", "2026-03-14 12:00:00", "sms", "out", cp="V", duration=None),  # texted
        event("A", "2026-03-14 12:30:00", cp="V"),
        event("A", "2026-03-14 13:00:00", direction="in", cp="X"),  # X calls back
        event("A", "2026-03-14 14:00:00", "data"),  # no counterparty: ignored
        event("B", "2026-03-14 10:00:00", direction="in", cp="Q"),  # never calls out
    ]
    got = I.counterparty_indicators(events(spark, rows, window_days=4), window_days=4)
    check(
        got,
        expect(
            spark,
            # distinct/day (2+1+3)/3; novelty 5 numbers / 6 calls; growth 1.5/1.5; 4 of 5
            # called or texted numbers never call back. B only receives: all undefined.
            [("A", 2.0, 5 / 6, 1.0, 0.8, 0.2), ("B", None, None, None, None, None)],
            "subscriber_id string, distinct_out_per_day double, out_novelty double, "
            "counterparty_growth double, never_called_back_share double, callback_share double",
        ),
    )


def test_day_counts_cross_the_64_day_words_of_a_long_window(spark: SparkSession) -> None:
    # 130-day window ending at SNAPSHOT: day_index 0, 63, 64, 127, 128 and 129 sit in the
    # first, second and third 64-bit word; early half = days 0-64, late half = 65-129.
    first = SNAPSHOT - dt.timedelta(days=129)

    def day(i: int, hour: str = "10:00:00") -> str:
        return f"{first + dt.timedelta(days=i)} {hour}"

    rows = [
        event("A", day(0), cp="X"),
        event("A", day(63), cp="X"),
        event("A", day(63, "11:00:00"), cp="Y"),
        event("A", day(64), cp="Y"),
        event("A", day(127), "data"),
        event("A", day(128), cp="Z"),
        event("A", day(129), cp="X"),
        event("A", day(129, "11:00:00"), cp="Z"),
    ]
    ev = events(spark, rows, window_days=130)
    check(
        I.activity_indicators(ev, 130, (8, 19)).select(
            "subscriber_id", "active_days", "data_day_share"
        ),
        expect(
            spark,
            [("A", 6, 1 / 6)],
            "subscriber_id string, active_days long, data_day_share double",
        ),
    )
    # Calling days 0, 63, 64, 128, 129 with 1, 2, 1, 1, 2 numbers: 7 / 5 a day; early days
    # (0-64) 4 numbers over 65 days, late (65-129) 3 over 65 days.
    check(
        I.counterparty_indicators(ev, 130).select(
            "subscriber_id", "distinct_out_per_day", "out_novelty", "counterparty_growth"
        ),
        expect(
            spark,
            [("A", 7 / 5, 3 / 7, 0.75)],
            "subscriber_id string, distinct_out_per_day double, out_novelty double, "
            "counterparty_growth double",
        ),
    )


def test_cells_count_located_events_only(spark: SparkSession) -> None:
    rows = [
        event("A", f"{MON} 10:00:00", cell="C1"),
        event("A", f"{MON} 11:00:00", cell="C1"),
        event("A", f"{MON} 12:00:00", "data", cell="C1"),
        event("A", f"{MON} 13:00:00", cell="C2"),
        event("A", f"{MON} 14:00:00", cell=None),
        event("B", f"{MON} 14:00:00", cell=None),  # never located: no row
    ]
    check(
        I.cell_indicators(events(spark, rows)),
        expect(
            spark,
            [("A", 2, 0.75)],
            "subscriber_id string, distinct_cells long, top_cell_share double",
        ),
    )


def test_durations_of_answered_outgoing_calls(spark: SparkSession) -> None:
    rows = [
        event("A", f"{MON} 10:00:00", duration=0),
        event("A", f"{MON} 11:00:00", duration=5),
        event("A", f"{MON} 12:00:00", duration=60),
        event("A", f"{MON} 13:00:00", duration=120),
        event("A", f"{MON} 14:00:00", direction="in", duration=9999),  # incoming: ignored
        event("B", f"{MON} 14:00:00", duration=0),  # never answered
    ]
    answered = [5, 60, 120]
    mean = statistics.fmean(answered)
    check(
        I.duration_indicators(events(spark, rows)),
        expect(
            spark,
            [
                ("A", mean, 60.0, statistics.pstdev(answered) / mean, 1 / 3, 0.25),
                ("B", None, None, None, None, 1.0),
            ],
            "subscriber_id string, mean_duration_s double, median_duration_s double, "
            "duration_cv double, short_call_share double, unanswered_share double",
        ),
    )


def test_time_of_day_night_business_hours_and_entropy(spark: SparkSession) -> None:
    rows = [
        event("A", f"{MON} 02:00:00"),  # night
        event("A", f"{MON} 10:00:00"),  # business hours
        event("A", f"{MON} 10:30:00", "sms", "in", duration=None),  # business hours
        event("A", f"{SAT} 10:00:00"),  # Saturday: not business hours
        event("A", f"{MON} 03:00:00", "data"),  # data sessions do not count
    ]
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(24)
    check(
        I.activity_indicators(events(spark, rows), 7, (8, 19)).select(*TIME_OF_DAY),
        expect(
            spark,
            [("A", 0.25, 0.5, h)],
            "subscriber_id string, night_share double, business_hours_share double, "
            "hour_entropy double",
        ),
    )


def test_time_of_day_uses_the_configured_timezone(spark: SparkSession) -> None:
    # 2026-03-09 02:00 UTC is Sunday 22:00 in New York (UTC-4 after 8 March).
    rows = [event("A", f"{MON} 02:00:00")]
    ev = I.filter_window_events(cdr_df(spark, rows), SNAPSHOT, 7, "America/New_York")
    row = I.activity_indicators(ev, 7, (8, 19)).first()
    assert row is not None
    assert (row["night_share"], row["business_hours_share"]) == (0.0, 0.0)


def test_burstiness_of_gaps_between_outgoing_calls(spark: SparkSession) -> None:
    rows = [
        # A: a call every minute: periodic, B = -1; four calls in one hour.
        *[event("A", f"{MON} 10:0{m}:00") for m in range(4)],
        # B: gaps 10 s, 10 s, 100 s.
        event("B", f"{MON} 10:00:00"),
        event("B", f"{MON} 10:00:10"),
        event("B", f"{MON} 10:00:20"),
        event("B", f"{MON} 10:02:00"),
        event("B", f"{MON} 11:00:00", direction="in"),  # incoming: ignored
        # C: one gap only: burstiness undefined.
        event("C", f"{MON} 10:00:00"),
        event("C", f"{MON} 12:00:00"),
    ]
    gaps = [10, 10, 100]
    mu, sd = statistics.fmean(gaps), statistics.pstdev(gaps)
    check(
        I.burstiness_indicators(events(spark, rows)),
        expect(
            spark,
            [("A", -1.0, 4), ("B", (sd - mu) / (sd + mu), 4), ("C", None, 1)],
            "subscriber_id string, burstiness double, max_calls_per_hour long",
        ),
    )


def test_devices_imeis_per_sim_and_sims_per_imei(spark: SparkSession) -> None:
    rows = [
        event("S1", f"{MON} 10:00:00", imei="gw"),
        event("S1", f"{MON} 11:00:00", imei="h"),
        event("S2", f"{MON} 10:00:00", imei="gw"),
        event("S2", f"{SAT} 10:00:00", imei="gw"),
        event("S3", f"{MON} 10:00:00", imei="gw"),
        event("S4", f"{MON} 10:00:00", imei=None),
    ]
    check(
        I.device_indicators(events(spark, rows)),
        expect(
            spark,
            [("S1", 2, 3), ("S2", 1, 3), ("S3", 1, 3)],
            "subscriber_id string, imeis_per_sim long, max_sims_on_imei long",
        ),
    )


def test_gateway_share_of_international_incoming_calls(spark: SparkSession) -> None:
    rows = [
        *[event("A", f"{MON} 1{i}:00:00", direction="in", intl=True) for i in range(3)],
        event("A", f"{MON} 14:00:00", direction="in", intl=False),
        event("A", f"{MON} 15:00:00", intl=False),
        {**event("A", f"{MON} 16:00:00"), "is_international": None},  # unknown: domestic
        event("B", f"{MON} 15:00:00", intl=True),
        event("B", f"{MON} 16:00:00", "sms", "in", intl=True, duration=None),  # not a call
    ]
    check(
        I.activity_indicators(events(spark, rows), 7, (8, 19)).select(*GATEWAY),
        expect(
            spark,
            [("A", 0.75, 0.0), ("B", None, 1.0)],
            "subscriber_id string, intl_in_share double, intl_out_share double",
        ),
    )


def test_subscriber_tenure_and_contract(spark: SparkSession) -> None:
    subs = [
        subscriber("A", tenure_days=40, plan="PAYG", plan_type="prepaid"),
        subscriber("B", tenure_days=900, plan="Business Voice 500"),
        {"subscriber_id": "C"},  # nothing known
    ]
    check(
        I.subscriber_indicators(subscribers_df(spark, subs), SNAPSHOT),
        expect(
            spark,
            [
                ("A", 40.0, 0.0, "PAYG", "prepaid"),
                ("B", 900.0, 1.0, "Business Voice 500", "postpaid"),
                ("C", None, None, None, None),
            ],
            "subscriber_id string, tenure_days double, is_postpaid double, plan string, "
            "plan_type string",
        ),
    )
