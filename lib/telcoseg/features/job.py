"""The ``features`` job: silver tables -> gold ``behavior_vectors`` for one snapshot date.

Re-running for the same snapshot replaces that snapshot's partition and nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from telcoseg.cli import snapshot_date as parse_snapshot_date
from telcoseg.config import Config
from telcoseg.errors import ConfigError
from telcoseg.features.population import SubscriberSubset
from telcoseg.features.settings import Settings
from telcoseg.features.vectors import bandicoot_records, behavior_vectors, effective_subset
from telcoseg.features.weekly_store import TABLE as WEEKLY_TABLE
from telcoseg.features.weekly_store import weekly_rows
from telcoseg.logs import stage

log = logging.getLogger(__name__)

GOLD_TABLE = "behavior_vectors"


def add_args(parser: argparse.ArgumentParser) -> None:
    """Command-line options that override the ``features:`` section for one run."""
    parser.add_argument("--snapshot-date", type=parse_snapshot_date, help="YYYY-MM-DD")
    parser.add_argument("--window-days", type=int, help="days ending at the snapshot date")
    subset = parser.add_mutually_exclusive_group()
    subset.add_argument("--subscribers", help="comma-separated subscriber_ids to featurize")
    subset.add_argument(
        "--subscribers-table", help="Delta table with a subscriber_id column to featurize"
    )


def resolve_settings(cfg: Config, args: argparse.Namespace) -> tuple[Settings, dt.date]:
    """``features:`` settings with command-line overrides, and the snapshot date."""
    settings: Settings = cfg.section("features")
    if getattr(args, "window_days", None) is not None:
        try:
            settings = dataclasses.replace(settings, window_days=args.window_days)
        except ValueError as exc:
            raise ConfigError(f"--window-days: {exc}") from None
    snapshot = getattr(args, "snapshot_date", None) or settings.snapshot_date
    if snapshot is None:
        raise ConfigError(
            f"{cfg.source}: no snapshot date: pass --snapshot-date or set features.snapshot_date"
        )
    return settings, snapshot


def _subset(spark: SparkSession, args: argparse.Namespace) -> SubscriberSubset:
    from telcoseg.io.delta import read_table

    if getattr(args, "subscribers", None):
        return [s.strip() for s in args.subscribers.split(",") if s.strip()]
    if getattr(args, "subscribers_table", None):
        return read_table(spark, args.subscribers_table).select("subscriber_id")
    return None


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Read silver, compute the vectors, replace the snapshot's gold partition."""
    from telcoseg.io.delta import read_table, table_exists, table_version, write_table

    settings, snapshot = resolve_settings(cfg, args)
    cdr_path = cfg.paths.table("silver", "cdr")
    # One version of silver CDR for the records and the kept weeks' tags (weekly_store).
    cdr_version = table_version(cdr_path) if table_exists(cdr_path) else None
    silver: dict[str, DataFrame] = {
        name: read_table(spark, cfg.paths.table("silver", name))
        for name in ("cells", "subscribers", "app_usage")
    }
    silver["cdr"] = read_table(spark, cdr_path, version=cdr_version)
    out_path = cfg.paths.table("gold", GOLD_TABLE)
    # Resolved here too: weekly_rows must know whether the whole base is featurized.
    subset = effective_subset(settings, _subset(spark, args))
    with stage(log, "features") as st:
        records = bandicoot_records(
            silver["cdr"],
            silver["cells"],
            snapshot_date=snapshot,
            timezone=cfg.timezone,
            settings=settings,
            subscribers=subset,
        )
        weekly = None
        if settings.weekly_cache:
            weekly = weekly_rows(
                spark,
                store_path=cfg.paths.table("gold", WEEKLY_TABLE),
                cdr_path=cdr_path,
                records_df=records,
                snapshot_date=snapshot,
                timezone=cfg.timezone,
                settings=settings,
                subscribers=subset,
                cdr_version=cdr_version,
            )
        try:
            stored = weekly.store() if weekly else []
            vectors = behavior_vectors(
                silver["cdr"],
                silver["cells"],
                silver["subscribers"],
                silver["app_usage"],
                snapshot_date=snapshot,
                timezone=cfg.timezone,
                settings=settings,
                subscribers=subset,
                records_df=records,
                individual_weekly=weekly.frame if weekly else None,
            )
            if table_exists(out_path):
                version = write_table(
                    vectors,
                    out_path,
                    mode="overwrite",
                    partition_by=["snapshot_date"],
                    replace_where={"snapshot_date": snapshot},
                )
            else:
                version = write_table(
                    vectors, out_path, mode="error", partition_by=["snapshot_date"]
                )
        finally:
            if weekly:
                weekly.release()
        reuse = {
            "weeks_reused": len(weekly.reused) if weekly else 0,
            "weeks_stored": len(stored),
        }
        st.count(snapshot_date=snapshot, window_days=settings.window_days, version=version, **reuse)
    return {
        "table": out_path,
        "snapshot_date": snapshot.isoformat(),
        "window_days": settings.window_days,
        "version": version,
        "columns": len(vectors.columns),
        **reuse,
    }
