"""bandicoot's spatial indicators (spatial.py), home detection and churn rate.

bandicoot's spatial indicators do not see records but *30-minute bins*
(``group.positions_binning``): records are chunked by (date, hour, minute // 30) and each
chunk contributes the position that occurs most often in it, the first such in time order
on a tie (``max(positions, key=positions.count)``). A record without an antenna has the
empty position, which counts as one more place. The home is the most common bin among
*night* records of the whole window (ties: the one binned first), computed once per user
and shared by every scope (``User.recompute_home``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.features.records import HALF_HOUR_S
from telcoseg.features.settings import Settings
from telcoseg.features.stats import entropy_of_counts, pareto_count, sum_of

EARTH_RADIUS_KM = 6371.0


def great_circle_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """bandicoot's haversine ``great_circle_distance`` (km, R = 6371)."""
    dlat = F.radians(lat1 - lat2)
    dlon = F.radians(lon1 - lon2)
    a = F.pow(F.sin(dlat / 2), 2) + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * F.pow(
        F.sin(dlon / 2), 2
    )
    return F.lit(EARTH_RADIUS_KM) * F.lit(2.0) * F.asin(F.sqrt(a))


def bin_positions(records_df: DataFrame, key: list[str]) -> DataFrame:
    """One row per (``key``, half-hour chunk): the chunk's position (pos, lat, lon)."""
    chunk = F.floor(F.col("ts") / HALF_HOUR_S)
    per_position = records_df.groupBy(*key, chunk.alias("chunk"), "pos").agg(
        F.count(F.lit(1)).alias("cnt"),
        F.min(F.struct("ts", "record_id")).alias("first_seen"),
        F.first("lat").alias("lat"),
        F.first("lon").alias("lon"),
    )
    # Most frequent position of the chunk; on a tie the one seen first.
    best = F.min(F.struct((-F.col("cnt")).alias("neg_cnt"), "first_seen", "pos", "lat", "lon"))
    return (
        per_position.groupBy(*key, "chunk")
        .agg(best.alias("b"))
        .select(*key, "chunk", "b.pos", "b.lat", "b.lon")
    )


def home_positions(records_df: DataFrame) -> DataFrame:
    """(subscriber_id, home): most common night bin; no night record -> no row."""
    bins = bin_positions(records_df.filter("is_night"), ["subscriber_id"])
    counted = bins.groupBy("subscriber_id", "pos").agg(
        F.count(F.lit(1)).alias("n"), F.min("chunk").alias("first_chunk")
    )
    # Counter.most_common keeps insertion order on ties: the position binned first wins.
    best = F.min(F.struct((-F.col("n")).alias("neg_n"), "first_chunk", "pos"))
    return counted.groupBy("subscriber_id").agg(best["pos"].alias("home"))


def position_counts(scoped_df: DataFrame) -> DataFrame:
    """(subscriber_id, scope, week, pos, n, lat, lon): bins per position and ISO week."""
    key = ["subscriber_id", "scope", "week"]
    return (
        bin_positions(scoped_df, key)
        .groupBy(*key, "pos")
        .agg(F.count(F.lit(1)).alias("n"), F.first("lat").alias("lat"), F.first("lon").alias("lon"))
    )


def weekly_spatial(counts_df: DataFrame, home_df: DataFrame, settings: Settings) -> DataFrame:
    """Per (subscriber, scope, week) values of the five spatial indicators."""
    key = ["subscriber_id", "scope", "week"]
    weekly = counts_df.groupBy(*key).agg(
        F.collect_list("n").alias("counts"),
        F.collect_list(F.struct("n", "pos", "lat", "lon")).alias("places"),
    )
    total = sum_of(F.col("counts"))
    located = F.filter("places", lambda p: p["lat"].isNotNull() & p["lon"].isNotNull())
    weight = F.aggregate(located, F.lit(0).cast("long"), lambda acc, p: acc + p["n"])
    # No located bin: no barycenter (guarded: ANSI mode fails on a division by zero).
    bary_lat = F.when(
        weight > 0,
        F.aggregate(located, F.lit(0.0), lambda acc, p: acc + p["lat"] * p["n"]) / weight,
    )
    bary_lon = F.when(
        weight > 0,
        F.aggregate(located, F.lit(0.0), lambda acc, p: acc + p["lon"] * p["n"]) / weight,
    )
    with_home = weekly.join(home_df, on="subscriber_id", how="left").select(
        *key,
        "counts",
        "places",
        "home",
        total.alias("total"),
        located.alias("located"),
        weight.alias("weight"),
        bary_lat.alias("bary_lat"),
        bary_lon.alias("bary_lon"),
    )
    at_home = F.aggregate(
        "places",
        F.lit(0).cast("long"),
        lambda acc, p: acc + F.when(p["pos"] == F.col("home"), p["n"]).otherwise(0),
    )
    gyration2 = F.aggregate(
        "located",
        F.lit(0.0),
        lambda acc, p: (
            acc
            + p["n"]
            / F.col("weight")
            * F.pow(great_circle_km(F.col("bary_lat"), F.col("bary_lon"), p["lat"], p["lon"]), 2)
        ),
    )
    return with_home.select(
        *key,
        F.size("counts").cast("double").alias("number_of_antennas"),
        entropy_of_counts(F.col("counts"), F.col("total")).alias("entropy_of_antennas"),
        F.when(F.col("home").isNotNull(), at_home / F.col("total")).alias("percent_at_home"),
        F.when(F.col("weight") > 0, F.sqrt(gyration2)).alias("radius_of_gyration"),
        pareto_count(F.col("counts"), settings.pareto_percentage)
        .cast("double")
        .alias("frequent_antennas"),
    )


def weekly_churn(counts_df: DataFrame) -> DataFrame:
    """(subscriber_id, scope='churn', week, churn_rate): ``1 - cosine similarity`` of the
    bin frequencies of each week with the next week that has records."""
    weekly = (
        counts_df.filter(F.col("scope") == "allweek__allday")
        .groupBy("subscriber_id", "week")
        .agg(F.collect_list(F.struct("pos", "n")).alias("places"))
    )
    total = F.aggregate("places", F.lit(0).cast("long"), lambda acc, p: acc + p["n"])
    freqs = weekly.select(
        "subscriber_id",
        "week",
        F.map_from_arrays(
            F.transform("places", lambda p: p["pos"]),
            F.transform("places", lambda p: p["n"] / total),
        ).alias("f"),
    ).withColumn("norm2", F.aggregate(F.map_values("f"), F.lit(0.0), lambda acc, x: acc + x * x))
    following = Window.partitionBy("subscriber_id").orderBy("week")
    pairs = freqs.select(
        "subscriber_id",
        "week",
        "f",
        "norm2",
        F.lead("f").over(following).alias("g"),
        F.lead("norm2").over(following).alias("g_norm2"),
    ).filter(F.col("g").isNotNull())
    dot = F.aggregate(
        F.map_keys("f"),
        F.lit(0.0),
        lambda acc, p: (
            acc + F.element_at("f", p) * F.coalesce(F.try_element_at("g", p), F.lit(0.0))
        ),
    )
    churn = F.lit(1.0) - dot / (F.sqrt("norm2") * F.sqrt("g_norm2"))
    return pairs.select(
        "subscriber_id", F.lit("churn").alias("scope"), "week", churn.alias("churn_rate")
    )
