"""bandicoot's spatial indicators (spatial.py), home detection and churn rate.

bandicoot's spatial indicators do not see records but *30-minute bins*
(``group.positions_binning``): records are chunked by (date, hour, minute // 30) and each
chunk contributes the position that occurs most often in it, the first such in time order
on a tie (``max(positions, key=positions.count)``). A record without an antenna has the
empty position, which counts as one more place. The home is the most common bin among
*night* records of the whole window (ties: the one binned first), computed once per user
and shared by every scope (``User.recompute_home``).

:func:`weekly_spatial` is one chain over the scoped records (hash-partitioned by
subscriber_id, so nothing is shuffled again): hash aggregations of the records to bins (no
record is sorted: "seen first" is a packed number), bins to positions, one sort of the
positions (largest first) for the pareto count, the home and the week order, and two hash
aggregations that give the per-week spatial values *and* the churn rate of each pair of
consecutive weeks.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.features.records import HALF_HOUR_S, TIE_BREAK_BITS
from telcoseg.features.settings import Settings

EARTH_RADIUS_KM = 6371.0
ALL_SCOPE = "allweek__allday"
# Pseudo scopes: night bins of the whole window (home) and pairs of weeks (churn).
HOME_SCOPE = "home"
CHURN_SCOPE = "churn"
# Sort keys packed into one long: "more bins first, then seen earlier" for max_by. A
# record's "seen first" key (second of its chunk, top 30 bits of its tie_break) and
# half-hour chunks since 1970 stay below 2**41; counts below 2**22 fit above them.
_TB_KEEP = 30
_TB_SCALE = 1 << _TB_KEEP
_SHIFT = 1 << 41


def great_circle_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """bandicoot's haversine ``great_circle_distance`` (km, R = 6371)."""
    dlat = F.radians(lat1 - lat2)
    dlon = F.radians(lon1 - lon2)
    a = F.pow(F.sin(dlat / 2), 2) + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * F.pow(
        F.sin(dlon / 2), 2
    )
    return F.lit(EARTH_RADIUS_KM) * F.lit(2.0) * F.asin(F.sqrt(a))


def _bins(scoped_df: DataFrame) -> DataFrame:
    """One row per (subscriber, scope, week, half-hour chunk): the chunk's position.

    Scope ``home`` holds the night records of the whole window (week null). A chunk lies
    in one ISO week, so the home bins come from the same per-chunk aggregation as the
    allweek/allday bins (night-only counts alongside), not from a second copy of the
    night records."""
    # "Seen first" is a number, so every aggregation below is a hash aggregation on
    # fixed-width buffers and no record is sorted: the record's second within its
    # half-hour chunk (< 2**11) above the top 30 bits of its tie_break. Only records of
    # one chunk are compared, and this orders them as (ts, tb) does (the individual
    # chain's time order, and the parity harness's CSV order).
    chunk = F.floor(F.col("ts") / HALF_HOUR_S)
    first_key = (F.col("ts") - chunk * HALF_HOUR_S) * _TB_SCALE + F.shiftright(
        "tb", TIE_BREAK_BITS - _TB_KEEP
    )
    home_row = (F.col("scope") == ALL_SCOPE) & F.col("is_night")
    ranked = scoped_df.select(
        "subscriber_id",
        "scope",
        "week",
        chunk.alias("chunk"),
        "pos_id",
        "lat",
        "lon",
        home_row.alias("home_row"),
        first_key.alias("first_key"),
    )
    per_position = ranked.groupBy("subscriber_id", "scope", "week", "chunk", "pos_id").agg(
        F.count(F.lit(1)).alias("cnt"),
        F.min("first_key").alias("first_key"),
        F.max("lat").alias("lat"),  # one antenna, one location
        F.max("lon").alias("lon"),
        # The same over the chunk's night records (home): null when it has none.
        F.sum(F.when(F.col("home_row"), F.lit(1).cast("long"))).alias("cnt_h"),
        F.min(F.when(F.col("home_row"), F.col("first_key"))).alias("first_key_h"),
    )
    # Most frequent position of the chunk; on a tie the one seen first (equal keys need
    # equal seconds and equal top 30 bits of two records' hashes). max_by skips
    # null keys once it has a non-null one: positions without night records never win.
    best = F.col("cnt") * _SHIFT - F.col("first_key")
    best_h = F.col("cnt_h") * _SHIFT - F.col("first_key_h")
    bins = per_position.groupBy("subscriber_id", "scope", "week", "chunk").agg(
        F.max_by("pos_id", best).alias("pos_id"),
        F.max_by("lat", best).alias("lat"),
        F.max_by("lon", best).alias("lon"),
        F.max("cnt_h").isNotNull().alias("has_home"),
        F.max_by("pos_id", best_h).alias("pos_id_h"),
        F.max_by("lat", best_h).alias("lat_h"),
        F.max_by("lon", best_h).alias("lon_h"),
    )
    date = F.lit(None).cast("date")
    sides = F.array(
        F.struct(
            F.col("scope").alias("s"),
            F.col("week").alias("w"),
            F.col("pos_id").alias("p"),
            F.col("lat").alias("la"),
            F.col("lon").alias("lo"),
        ),
        F.when(
            F.col("has_home"),
            F.struct(
                F.lit(HOME_SCOPE).alias("s"),
                date.alias("w"),
                F.col("pos_id_h").alias("p"),
                F.col("lat_h").alias("la"),
                F.col("lon_h").alias("lo"),
            ),
        ),
    )
    return bins.select(
        "subscriber_id", "chunk", F.explode(F.array_compact(sides)).alias("b")
    ).select(
        "subscriber_id",
        F.col("b.s").alias("scope"),
        F.col("b.w").alias("week"),
        "chunk",
        F.col("b.p").alias("pos_id"),
        F.col("b.la").alias("lat"),
        F.col("b.lo").alias("lon"),
    )


def _positions(bins_df: DataFrame, settings: Settings) -> DataFrame:
    """Bins per (scope, week, position), with the week's totals, the barycenter of its
    located bins, the pareto flag, the home and the week's rank."""
    key = ["subscriber_id", "scope", "week"]
    counts = bins_df.groupBy(*key, "pos_id").agg(
        F.count(F.lit(1)).alias("n"),
        F.min("chunk").alias("first_chunk"),
        F.max("lat").alias("lat"),
        F.max("lon").alias("lon"),
    )
    # One sort (subscriber, scope, week, n desc) serves all three windows below.
    largest = Window.partitionBy(*key).orderBy(F.col("n").desc())
    week_all = largest.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    located = F.col("lat").isNotNull() & F.col("lon").isNotNull()
    weight = F.sum(F.when(located, F.col("n"))).over(week_all)
    before = F.sum("n").over(largest.rowsBetween(Window.unboundedPreceding, -1))
    total = F.sum("n").over(week_all)
    target = F.ceil(total.cast("double") * F.lit(float(settings.pareto_percentage)))
    with_week = counts.select(
        "*",
        total.alias("total"),
        weight.alias("weight"),
        (F.sum(F.when(located, F.col("lat") * F.col("n"))).over(week_all) / weight).alias(
            "bary_lat"
        ),
        (F.sum(F.when(located, F.col("lon") * F.col("n"))).over(week_all) / weight).alias(
            "bary_lon"
        ),
        (F.coalesce(before, F.lit(0)) < target).alias("frequent"),
    )
    # Counter.most_common keeps insertion order on ties: the position binned first wins.
    is_home = F.col("scope") == HOME_SCOPE
    home_key = F.when(is_home, F.col("n") * _SHIFT - F.col("first_chunk"))
    per_user = Window.partitionBy("subscriber_id").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    in_weeks = Window.partitionBy("subscriber_id", "scope").orderBy("week")
    return with_week.select(
        "*",
        F.max_by(F.when(is_home, F.col("pos_id")), home_key).over(per_user).alias("home"),
        F.dense_rank().over(in_weeks).alias("week_rank"),
    ).filter(~is_home)


def weekly_spatial(scoped_df: DataFrame, settings: Settings) -> DataFrame:
    """Per (subscriber, scope, week): the five spatial indicators; plus rows
    (subscriber, ``churn``, week, churn_rate) for each week followed by another."""
    positions = _positions(_bins(scoped_df), settings)
    key = ["subscriber_id", "scope", "week"]
    # churn_rate compares the bin frequencies of each week with the *next week that has
    # records* (allweek/allday): each position row also stands for the pair it closes.
    freq = F.col("n") / F.col("total")
    is_all = F.col("scope") == ALL_SCOPE
    none = F.lit(None).cast("double")
    sides = F.array(
        F.struct(
            F.col("scope").alias("s"),
            F.col("week").alias("w"),
            F.lit(None).cast("long").alias("pair"),
            none.alias("f1"),
            none.alias("f2"),
        ),
        F.when(
            is_all,
            F.struct(
                F.lit(CHURN_SCOPE).alias("s"),
                F.lit(None).cast("date").alias("w"),
                F.col("week_rank").cast("long").alias("pair"),
                freq.alias("f1"),
                none.alias("f2"),
            ),
        ),
        F.when(
            is_all & (F.col("week_rank") > 1),
            F.struct(
                F.lit(CHURN_SCOPE).alias("s"),
                F.lit(None).cast("date").alias("w"),
                (F.col("week_rank") - 1).cast("long").alias("pair"),
                none.alias("f1"),
                freq.alias("f2"),
            ),
        ),
    )
    rows = positions.select(
        "subscriber_id",
        F.explode(F.array_compact(sides)).alias("x"),
        "pos_id",
        "n",
        "total",
        "weight",
        "bary_lat",
        "bary_lon",
        "lat",
        "lon",
        "frequent",
        "home",
    ).select(
        "subscriber_id",
        F.col("x.s").alias("scope"),
        F.col("x.w").alias("week"),
        F.col("x.pair").alias("pair"),
        "pos_id",
        F.col("x.f1").alias("f1"),
        F.col("x.f2").alias("f2"),
        "n",
        "total",
        "weight",
        "bary_lat",
        "bary_lon",
        "lat",
        "lon",
        "frequent",
        "home",
    )
    # Level 1: a churn pair's position from both weeks in one row (other rows: as is).
    pair_pos = rows.groupBy(*key, "pair", "pos_id").agg(
        F.sum("f1").alias("f1"),
        F.sum("f2").alias("f2"),
        F.sum("n").alias("n"),
        F.max("total").alias("total"),
        F.max("weight").alias("weight"),
        F.max("bary_lat").alias("bary_lat"),
        F.max("bary_lon").alias("bary_lon"),
        F.max("lat").alias("lat"),
        F.max("lon").alias("lon"),
        F.max(F.col("frequent").cast("int")).alias("frequent"),
        F.max("home").alias("home"),
    )
    p = F.col("n") / F.col("total")
    d = great_circle_km(F.col("bary_lat"), F.col("bary_lon"), F.col("lat"), F.col("lon"))
    located = F.col("lat").isNotNull() & F.col("lon").isNotNull()
    # Level 2: one row per week (spatial values) and per pair of weeks (churn).
    weekly = pair_pos.groupBy(*key, "pair").agg(
        F.count(F.lit(1)).alias("antennas"),
        F.sum(p * F.log(p)).alias("plogp"),
        F.max("total").alias("total"),
        F.max("weight").alias("weight"),
        F.max("home").alias("home"),
        F.sum(F.when(F.col("pos_id") == F.col("home"), F.col("n"))).alias("at_home"),
        F.sum(F.when(located, F.col("n") / F.col("weight") * F.pow(d, 2))).alias("gyration2"),
        F.sum("frequent").alias("frequent"),
        F.sum(F.coalesce("f1", F.lit(0.0)) * F.coalesce("f2", F.lit(0.0))).alias("dot"),
        F.sum(F.col("f1") * F.col("f1")).alias("norm1"),
        F.sum(F.col("f2") * F.col("f2")).alias("norm2"),
    )
    spatial = F.col("scope") != CHURN_SCOPE

    def value(v: Column, name: str) -> Column:
        return F.when(spatial, v).alias(name)

    churn = F.lit(1.0) - F.col("dot") / (F.sqrt("norm1") * F.sqrt("norm2"))
    return weekly.select(
        *key,
        value(F.col("antennas").cast("double"), "number_of_antennas"),
        value(-F.col("plogp"), "entropy_of_antennas"),
        value(
            F.when(F.col("home").isNotNull(), F.coalesce("at_home", F.lit(0)) / F.col("total")),
            "percent_at_home",
        ),
        value(F.when(F.col("weight") > 0, F.sqrt("gyration2")), "radius_of_gyration"),
        value(F.col("frequent").cast("double"), "frequent_antennas"),
        # A pair needs both weeks (the last week closes none).
        F.when(~spatial & F.col("norm1").isNotNull() & F.col("norm2").isNotNull(), churn).alias(
            "churn_rate"
        ),
    )
