"""Coarse location: geohash from column arithmetic; no cell coordinates survive."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.privacy.location import geohash, home_cells, with_area
from telcoseg.privacy.settings import Settings


def test_geohash_matches_reference_values_and_is_null_safe(spark: SparkSession) -> None:
    schema = T.StructType(
        [T.StructField("lat", T.DoubleType()), T.StructField("lon", T.DoubleType())]
    )
    rows = [(57.64911, 10.40744), (42.6, -5.6), (-33.8688, 151.2093), (90.0, 180.0), (None, 1.0)]
    df = spark.createDataFrame(rows, schema)
    out = [r.g11 for r in df.select(geohash(F.col("lat"), F.col("lon"), 11).alias("g11")).collect()]
    # Reference values: Wikipedia's example, the classic "ezs42", Sydney, the corner.
    assert out[0] == "u4pruydqqvj"
    assert out[1].startswith("ezs42")
    assert out[2].startswith("r3gx2")
    assert out[3] == "zzzzzzzzzzz"
    assert out[4] is None
    g4 = df.select(geohash(F.col("lat"), F.col("lon"), 4).alias("g")).first()
    assert g4 is not None and g4.g == "u4pr"


def test_with_area_keeps_a_coarse_area_and_drops_coordinates(spark: SparkSession) -> None:
    subs = spark.createDataFrame(
        [("s1", "north"), ("s2", None), ("s3", "south")], "subscriber_id string, region string"
    )
    cdr = spark.createDataFrame(
        [("s1", "c1"), ("s1", "c1"), ("s1", "c2"), ("s2", "c2"), ("s3", None)],
        "subscriber_id string, cell_id string",
    )
    cells = spark.createDataFrame(
        [("c1", 51.501, -0.142), ("c2", 53.48, -2.24)],
        "cell_id string, latitude double, longitude double",
    )
    by_region = with_area(subs, Settings(location_level="region"))
    assert {r.subscriber_id: r.area for r in by_region.collect()} == {
        "s1": "north",
        "s2": "unknown",
        "s3": "south",
    }
    by_gh = with_area(
        subs, Settings(location_level="geohash", geohash_precision=3), cells, home_cells(cdr)
    )
    assert set(by_gh.columns) == {"subscriber_id", "area"}
    got = {r.subscriber_id: r.area for r in by_gh.collect()}
    assert got == {"s1": "gcp", "s2": "gcw", "s3": "unknown"}
