"""Assembly: silver tables -> one behavioral vector per subscriber and snapshot date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.features.catalogue import bandicoot_key_to_column, bandicoot_keys
from telcoseg.features.individual import weekly_individual
from telcoseg.features.population import (
    SubscriberSubset,
    filter_subscribers,
    require_columns,
)
from telcoseg.features.records import build_records, explode_time_scopes, filter_window
from telcoseg.features.settings import Settings
from telcoseg.features.spatial import weekly_spatial
from telcoseg.features.summary import flatten_weekly
from telcoseg.features.telco import telco_features


def effective_subset(settings: Settings, subset: SubscriberSubset) -> SubscriberSubset:
    """``subset`` if given, else the config's ``features.subscribers`` (None: everyone)."""
    if subset is None and settings.subscribers:
        return settings.subscribers
    return subset


def bandicoot_records(
    cdr_df: DataFrame,
    cells_df: DataFrame,
    *,
    snapshot_date: dt.date,
    timezone: str,
    settings: Settings,
    subscribers: SubscriberSubset = None,
) -> DataFrame:
    """The window's bandicoot records, hash-partitioned by subscriber_id.

    Every later aggregate and window is keyed by subscriber_id first, so this is the only
    shuffle of record-sized data. Callers that compute all indicators should persist it:
    each indicator family reads it (see :func:`persisted`).
    """
    require_columns(
        cdr_df,
        ["subscriber_id", "record_id", "event_time", "event_date", "event_type", "direction"],
        "silver cdr",
    )
    require_columns(cells_df, ["cell_id", "latitude", "longitude"], "silver cells")
    window_df = filter_window(cdr_df, snapshot_date, settings.window_days, timezone)
    window_df = filter_subscribers(window_df, effective_subset(settings, subscribers))
    records = build_records(window_df, cells_df, timezone=timezone, settings=settings)
    return records.repartition(settings.partitions, "subscriber_id")


def indicators_from_records(
    records_df: DataFrame, settings: Settings, individual_weekly: DataFrame | None = None
) -> DataFrame:
    """``subscriber_id`` + one ``bc_*`` column per ``bandicoot.utils.all`` key, in
    bandicoot's order, for every subscriber with at least one record.

    Two chains read the records (individual and spatial per-week values); each is
    flattened over weeks on its own and the two per-subscriber rows are joined. Both
    sides stay hash-partitioned by subscriber_id, so the join shuffles nothing. (A union
    of the per-week rows would make every row evaluate every family's aggregates.)

    Each chain prunes the record columns it needs, so their exchanges differ and are not
    reused: pass a persisted ``records_df`` (see :func:`persisted`) or the scan and the
    shuffle run twice.

    ``individual_weekly``: the per-week individual rows, when the caller has them
    (:func:`telcoseg.features.weekly_store.weekly_rows` reuses kept weeks); otherwise
    they are computed from ``records_df``.
    """
    scoped = explode_time_scopes(records_df, settings)
    if individual_weekly is None:
        individual_weekly = weekly_individual(scoped, settings)
    individual = flatten_weekly(individual_weekly, settings)
    spatial = flatten_weekly(weekly_spatial(scoped, settings), settings)
    return individual.join(spatial, on="subscriber_id", how="left").select(
        "subscriber_id", *bandicoot_columns(settings)
    )


def bandicoot_features(
    cdr_df: DataFrame,
    cells_df: DataFrame,
    *,
    snapshot_date: dt.date,
    timezone: str,
    settings: Settings,
    subscribers: SubscriberSubset = None,
) -> DataFrame:
    """Silver cdr + cells -> ``subscriber_id`` + the ``bc_*`` columns (no caching)."""
    records = bandicoot_records(
        cdr_df,
        cells_df,
        snapshot_date=snapshot_date,
        timezone=timezone,
        settings=settings,
        subscribers=subscribers,
    )
    return indicators_from_records(records, settings)


@contextmanager
def persisted(df: DataFrame) -> Iterator[DataFrame]:
    """Persist ``df`` (memory, spilling to disk) for the block; unpersist after it."""
    cached = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        yield cached
    finally:
        cached.unpersist()


def bandicoot_columns(settings: Settings) -> list[str]:
    """The ``bc_*`` columns, in bandicoot's key order."""
    return [bandicoot_key_to_column(k) for k in bandicoot_keys(settings)]


def behavior_vectors(
    cdr_df: DataFrame,
    cells_df: DataFrame,
    subscribers_df: DataFrame,
    app_usage_df: DataFrame,
    *,
    snapshot_date: dt.date,
    timezone: str,
    settings: Settings,
    subscribers: SubscriberSubset = None,
    records_df: DataFrame | None = None,
    individual_weekly: DataFrame | None = None,
) -> DataFrame:
    """``subscriber_id, snapshot_date, bc_* ..., tc_* ...``: one row per subscriber known
    at the snapshot (subscribers table) or active in the window (CDR).

    ``records_df``: the (persisted) output of :func:`bandicoot_records` for the same
    arguments, if the caller has it; otherwise it is derived here.
    ``individual_weekly``: see :func:`indicators_from_records`.
    """
    subset = effective_subset(settings, subscribers)
    if records_df is None:
        records_df = bandicoot_records(
            cdr_df,
            cells_df,
            snapshot_date=snapshot_date,
            timezone=timezone,
            settings=settings,
            subscribers=subset,
        )
    bc_df = indicators_from_records(records_df, settings, individual_weekly)
    tc_df = telco_features(
        cdr_df,
        subscribers_df,
        app_usage_df,
        snapshot_date=snapshot_date,
        timezone=timezone,
        settings=settings,
        subscribers=subset,
    )
    population = tc_df.select("subscriber_id").unionByName(bc_df.select("subscriber_id")).distinct()
    joined = population.join(bc_df, on="subscriber_id", how="left").join(
        tc_df, on="subscriber_id", how="left"
    )
    tc_columns = [c for c in tc_df.columns if c != "subscriber_id"]
    return joined.select(
        "subscriber_id",
        F.lit(snapshot_date).alias("snapshot_date"),
        *bandicoot_columns(settings),
        *tc_columns,
    )
