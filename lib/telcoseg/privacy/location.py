"""Coarse location: a region or a geohash, never a cell's coordinates.

The geohash is computed with Spark column arithmetic (no UDF): scale each coordinate to
an integer cell index, interleave the bits (longitude first) and map every 5 bits to the
geohash base-32 alphabet.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from telcoseg.privacy.settings import Settings

GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"
AREA = "area"
UNKNOWN_AREA = "unknown"


def _cell_index(value: Column, low: float, span: float, bits: int) -> Column:
    """Index of ``value`` among 2**bits equal intervals of [low, low + span], clamped."""
    top = (1 << bits) - 1
    scaled = F.floor((value - F.lit(low)) / F.lit(span) * F.lit(float(1 << bits)))
    return F.least(F.greatest(scaled, F.lit(0)), F.lit(top)).cast("long")


def geohash(latitude: Column, longitude: Column, precision: int) -> Column:
    """Geohash string of ``precision`` characters (null when a coordinate is null)."""
    if not 1 <= precision <= 12:
        raise ValueError(f"geohash precision must be 1..12, got {precision}")
    n_bits = 5 * precision
    lon_bits = (n_bits + 1) // 2  # even bit positions, longitude first
    lat_bits = n_bits // 2
    lon_idx = _cell_index(longitude, -180.0, 360.0, lon_bits)
    lat_idx = _cell_index(latitude, -90.0, 180.0, lat_bits)
    alphabet = F.array(*[F.lit(c) for c in GEOHASH_ALPHABET])
    chars = []
    for i in range(precision):
        value = F.lit(0).cast("long")
        for b in range(5):
            j = 5 * i + b  # position in the interleaved bit string, from the top
            idx, bits = (lon_idx, lon_bits) if j % 2 == 0 else (lat_idx, lat_bits)
            bit = F.shiftright(idx, bits - 1 - j // 2).bitwiseAND(F.lit(1))
            value = value + F.shiftleft(bit, 4 - b)
        chars.append(F.element_at(alphabet, (value + 1).cast("int")))
    known = latitude.isNotNull() & longitude.isNotNull()
    return F.when(known, F.concat(*chars))


def home_cells(cdr_df: DataFrame) -> DataFrame:
    """Each subscriber's most frequent serving cell (ties: the larger cell id).

    Output: ``subscriber_id``, ``home_cell_id``.
    """
    counts = (
        cdr_df.where(F.col("cell_id").isNotNull())
        .groupBy("subscriber_id", "cell_id")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    return counts.groupBy("subscriber_id").agg(
        F.max(F.struct("n", "cell_id"))["cell_id"].alias("home_cell_id")
    )


def with_area(
    subscribers_df: DataFrame,
    settings: Settings,
    cells_df: DataFrame | None = None,
    homes_df: DataFrame | None = None,
) -> DataFrame:
    """Add column ``area`` at the configured coarse level; drop every finer location column.

    ``geohash`` needs ``homes_df`` (``home_cells``) and ``cells_df`` (cell_id, latitude,
    longitude); without them it falls back to the region, so a missing table degrades
    the detail, never the privacy.
    """
    fine = [
        c
        for c in ("home_cell_id", "cell_id", "latitude", "longitude")
        if c in subscribers_df.columns
    ]
    use_geohash = (
        settings.location_level == "geohash" and cells_df is not None and homes_df is not None
    )
    if use_geohash:
        assert cells_df is not None and homes_df is not None
        cell_area = cells_df.select(
            F.col("cell_id").alias("home_cell_id"),
            geohash(F.col("latitude"), F.col("longitude"), settings.geohash_precision).alias("_gh"),
        )
        area_by_sub = homes_df.join(cell_area, on="home_cell_id", how="left").select(
            "subscriber_id", "_gh"
        )
        out = subscribers_df.drop(*fine).join(area_by_sub, on="subscriber_id", how="left")
        area = F.coalesce(F.col("_gh"), F.lit(UNKNOWN_AREA))
        out = out.withColumn(AREA, area).drop("_gh")
    else:
        region = F.col("region") if "region" in subscribers_df.columns else F.lit(None)
        out = subscribers_df.drop(*fine).withColumn(
            AREA, F.coalesce(region.cast("string"), F.lit(UNKNOWN_AREA))
        )
    return out.drop(*[c for c in ("region",) if c in out.columns])


def area_level_label(settings: Settings, used_geohash: bool) -> str:
    """Human words for the location level a table carries."""
    if used_geohash:
        return f"geohash, {settings.geohash_precision} characters"
    return "region"
