"""Cities, sites and cells: the operator's antenna table over Great Britain.

Sites of a city are laid out on a golden-angle spiral, densest in the center, so a cell's
index within its city says how central it is (work cells are drawn from the center).
Each site carries three sector cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame, SparkSession

from telcoseg.generator import hashrand as hr
from telcoseg.generator.literals import const_array, lookup
from telcoseg.generator.personas import pick_from_weights

SECTORS = 3
MCC_MNC = "234-20"
_GOLDEN = math.pi * (3 - math.sqrt(5))


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lon: float
    spread_km: float
    weight: float


CITIES = (
    City("London", 51.5074, -0.1278, 22.0, 0.34),
    City("Birmingham", 52.4862, -1.8904, 12.0, 0.12),
    City("Manchester", 53.4808, -2.2426, 12.0, 0.12),
    City("Leeds", 53.8008, -1.5491, 9.0, 0.08),
    City("Glasgow", 55.8642, -4.2518, 10.0, 0.08),
    City("Bristol", 51.4545, -2.5879, 8.0, 0.07),
    City("Newcastle", 54.9783, -1.6178, 8.0, 0.06),
    City("Cardiff", 51.4816, -3.1791, 7.0, 0.05),
    City("Norwich", 52.6309, 1.2974, 6.0, 0.04),
    City("Plymouth", 50.3755, -4.1427, 6.0, 0.04),
)


@dataclass(frozen=True)
class CityBlock:
    """The contiguous range of cell indexes that belong to one city."""

    city: City
    first_cell: int
    n_cells: int


def city_blocks(n_cells: int) -> tuple[CityBlock, ...]:
    """Split ``n_cells`` (rounded down to whole sites) into per-city blocks by weight."""
    n_sites = n_cells // SECTORS
    total = sum(c.weight for c in CITIES)
    blocks, first_site = [], 0
    for i, c in enumerate(CITIES):
        sites = (
            n_sites - first_site
            if i == len(CITIES) - 1
            else max(1, round(n_sites * c.weight / total))
        )
        blocks.append(CityBlock(c, first_site * SECTORS, sites * SECTORS))
        first_site += sites
    return tuple(blocks)


def _arr(values: list[float] | list[int]) -> Column:
    kind = "double" if any(isinstance(v, float) for v in values) else "bigint"
    return const_array(values, kind)


def city_of_cell(cell_idx: Column, blocks: tuple[CityBlock, ...]) -> Column:
    """0-based city index of a cell index."""
    starts = _arr([b.first_cell for b in blocks])
    return F.size(F.filter(starts, lambda x: x <= cell_idx)) - 1


def cell_id(cell_idx: Column) -> Column:
    """Operator-style id MCC-MNC-site-sector, e.g. 234-20-00123-2."""
    site = F.floor(cell_idx / SECTORS)
    sector = F.pmod(cell_idx, F.lit(SECTORS)) + 1
    return F.concat(
        F.lit(MCC_MNC + "-"), F.lpad(site.cast("string"), 5, "0"), F.lit("-"), sector.cast("string")
    )


def pick_cell(
    blocks: tuple[CityBlock, ...], city_idx: Column, u: Column, centrality: float = 1.0
) -> Column:
    """A cell index in city ``city_idx``; ``centrality`` > 1 favors central cells."""
    first = F.element_at(_arr([b.first_cell for b in blocks]), city_idx + 1)
    count = F.element_at(_arr([b.n_cells for b in blocks]), city_idx + 1)
    return (first + F.floor(F.pow(u, F.lit(centrality)) * count)).cast("long")


def pick_city(u: Column) -> Column:
    """A city index drawn by population weight."""
    return pick_from_weights(tuple(c.weight for c in CITIES), u)


def cells_df(spark: SparkSession, n_cells: int, seed: int) -> DataFrame:
    """The antenna table: cell_idx, cell_id, latitude, longitude, site_id, technology, city."""
    blocks = city_blocks(n_cells)
    total = sum(b.n_cells for b in blocks)
    idx = F.col("id")
    city = city_of_cell(idx, blocks)

    def by_city(values: list[float] | list[int]) -> Column:
        return F.element_at(_arr(values), city + 1)

    site_in_city = F.floor((idx - by_city([b.first_cell for b in blocks])) / SECTORS)
    sites_in_city = by_city([b.n_cells // SECTORS for b in blocks])
    site = F.floor(idx / SECTORS)
    # Spiral layout: radius grows with the site's rank, denser near the center.
    radius_km = by_city([b.city.spread_km for b in blocks]) * F.pow(
        (site_in_city + 0.5) / sites_in_city, F.lit(0.75)
    )
    angle = site_in_city * _GOLDEN + hr.uniform(seed, "site-jitter", site) * 0.3
    lat0 = by_city([b.city.lat for b in blocks])
    lon0 = by_city([b.city.lon for b in blocks])
    lat = lat0 + radius_km / 111.0 * F.sin(angle)
    lon = lon0 + radius_km / (111.0 * F.cos(F.radians(lat0))) * F.cos(angle)
    u_tech = hr.uniform(seed, "tech", idx)
    tech = F.when(u_tech < 0.15, "3G").when(u_tech < 0.75, "4G").otherwise("5G")
    return spark.range(total).select(
        idx.alias("cell_idx"),
        cell_id(idx).alias("cell_id"),
        F.round(lat, 6).alias("latitude"),
        F.round(lon, 6).alias("longitude"),
        F.concat(F.lit("S"), F.lpad(site.cast("string"), 5, "0")).alias("site_id"),
        tech.alias("technology"),
        by_city_names(city, blocks).alias("city"),
    )


def by_city_names(city_idx: Column, blocks: tuple[CityBlock, ...]) -> Column:
    return lookup([b.city.name for b in blocks], "string", city_idx)
