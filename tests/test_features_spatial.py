"""bandicoot's spatial indicators, home and churn rate on hand-computed examples.

One computation (module fixture) holds one subscriber per scenario.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import SparkSession

from telcoseg.features.settings import Settings
from telcoseg.features.vectors import bandicoot_features
from test_features_support import call, cdr_df, cells_df, one_row, text

SNAP = dt.date(2026, 3, 15)  # Sunday: the window holds ISO weeks 10 and 11
P = "__allweek__allday__mean"


@pytest.fixture(scope="module")
def got(spark: SparkSession) -> dict[str, dict]:
    cells = cells_df(spark, {"C1": (0.0, 0.0), "C2": (0.0, 1.0), "C3": (10.0, 10.0)})
    rows = [
        # TIE: one half-hour chunk, one record at C1 then one at C2 -> the chunk is C1.
        call("TIE", "2026-03-09 10:00:00", "out", "X", 5, "C1"),
        call("TIE", "2026-03-09 10:29:59", "out", "X", 5, "C2"),
        call("TIE", "2026-03-09 10:30:00", "out", "X", 5, "C2"),  # next chunk: C2
        # HOME: night bins C2, C2, C1 -> home C2; a day bin at C1.
        call("HOME", "2026-03-09 22:00:00", "out", "X", 5, "C2"),
        text("HOME", "2026-03-09 23:00:00", "in", "X", "C2"),
        text("HOME", "2026-03-10 02:00:00", "in", "X", "C1"),
        text("HOME", "2026-03-10 12:00:00", "in", "X", "C1"),
        # DAY: daytime only -> no home -> percent_at_home None.
        call("DAY", "2026-03-09 12:00:00", "out", "X", 5, "C1"),
        # NOLOC: no antenna and an antenna missing from the cells table.
        call("NOLOC", "2026-03-09 12:00:00", "out", "X", 5, None),
        call("NOLOC", "2026-03-09 13:00:00", "out", "X", 5, "GHOST"),
        call("NOLOC", "2026-03-09 14:00:00", "out", "X", 5, None),
        # CHURN: week 10 only C1, week 11 only C3 -> cosine distance 1.
        call("CHURN", "2026-03-03 12:00:00", "out", "X", 5, "C1"),
        call("CHURN", "2026-03-10 12:00:00", "out", "X", 5, "C3"),
        # SAMESEC: two records in one second at C1 and C2. Within a second records follow
        # tie_break(record_id) (xxhash64 & 2**63-1): x3 -> 2076341445724355077 comes before
        # x1 -> 2271236414890220977, so the chunk is C2 (record_id order would say C1).
        {**call("SAMESEC", "2026-03-09 11:00:00", "out", "X", 5, "C1"), "record_id": "x1"},
        {**call("SAMESEC", "2026-03-09 11:00:00", "out", "X", 5, "C2"), "record_id": "x3"},
        call("SAMESEC", "2026-03-09 12:00:00", "out", "X", 5, "C2"),
    ]
    df = bandicoot_features(
        cdr_df(spark, rows),
        cells,
        snapshot_date=SNAP,
        timezone="UTC",
        settings=Settings(window_days=14, partitions=2),
    )
    return {s: one_row(df, s) for s in ("TIE", "HOME", "DAY", "NOLOC", "CHURN", "SAMESEC")}


def test_a_chunk_takes_its_most_frequent_position_first_seen_on_ties(got: dict) -> None:
    tie = got["TIE"]
    assert tie["bc_number_of_antennas" + P] == 2.0
    # Bins C1, C2 (equal weights): barycenter (0, 0.5), 0.5 degree of the equator each.
    assert tie["bc_radius_of_gyration" + P] == pytest.approx(6371 * math.radians(0.5), rel=1e-9)
    assert tie["bc_entropy_of_antennas" + P] == pytest.approx(math.log(2), rel=1e-12)
    assert tie["bc_frequent_antennas" + P] == 2.0  # ceil(0.8 * 2) = 2 bins need 2 antennas


def test_records_of_one_second_are_ordered_by_their_tie_break(got: dict) -> None:
    # Both bins are C2: one antenna. Had C1 been seen first, two.
    assert got["SAMESEC"]["bc_number_of_antennas" + P] == 1.0


def test_home_is_the_most_frequent_night_bin(got: dict) -> None:
    home = got["HOME"]
    assert home["bc_percent_at_home" + P] == pytest.approx(2 / 4)  # bins: C2, C2, C1, C1
    assert got["DAY"]["bc_percent_at_home" + P] is None


def test_positions_without_location(got: dict) -> None:
    noloc = got["NOLOC"]
    # The empty position counts as one place; GHOST as another; neither has coordinates.
    assert noloc["bc_number_of_antennas" + P] == 2.0
    assert noloc["bc_radius_of_gyration" + P] is None
    assert noloc["bc_entropy_of_antennas" + P] == pytest.approx(
        -(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3)
    )


def test_churn_rate_compares_consecutive_weeks(got: dict) -> None:
    assert got["CHURN"]["bc_churn_rate__mean"] == pytest.approx(1.0)
    assert got["CHURN"]["bc_churn_rate__std"] == 0.0
    assert got["TIE"]["bc_churn_rate__mean"] is None  # one week: no pair
