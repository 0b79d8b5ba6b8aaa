"""The ``campaigns`` job: gold ``campaign_ab`` (analyze) and ``campaign_audience`` (target).

``--mode both`` analyzes first so that targeting can use the uplift just measured. Both
tables are partitioned by ``snapshot_date``; a re-run replaces that snapshot's partition.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from telcoseg.campaigns.ab import ab_table
from telcoseg.campaigns.settings import Settings
from telcoseg.campaigns.targeting import (
    candidates,
    contact_history,
    select_audience,
    uplift_index,
)
from telcoseg.cli import snapshot_date as parse_snapshot_date
from telcoseg.config import Config
from telcoseg.errors import ConfigError, TableNotFoundError
from telcoseg.logs import stage

log = logging.getLogger(__name__)

AUDIENCE_TABLE = "campaign_audience"
AB_TABLE = "campaign_ab"


def add_args(parser: argparse.ArgumentParser) -> None:
    """``--snapshot-date`` and ``--mode target|analyze|both``."""
    parser.add_argument("--snapshot-date", type=parse_snapshot_date, help="YYYY-MM-DD")
    parser.add_argument("--mode", choices=("target", "analyze", "both"), default="both")


def _read(spark: SparkSession, path: str, required: bool) -> DataFrame | None:
    from telcoseg.io.delta import read_table, table_exists

    if table_exists(path):
        return read_table(spark, path)
    if required:
        raise TableNotFoundError(f"campaigns needs the Delta table {path}; run its job first")
    return None


def _replace_partition(df: DataFrame, path: str, snapshot: dt.date) -> int:
    from telcoseg.io.delta import table_exists, write_table

    if table_exists(path):
        return write_table(
            df,
            path,
            mode="overwrite",
            partition_by=["snapshot_date"],
            replace_where={"snapshot_date": snapshot},
        )
    return write_table(df, path, mode="error", partition_by=["snapshot_date"])


def analyze(spark: SparkSession, cfg: Config, settings: Settings, snapshot: dt.date) -> int:
    """Silver campaigns + gold segment_assignments -> gold campaign_ab; returns its rows."""
    campaigns_df = _read(spark, cfg.paths.table("silver", "campaigns"), required=True)
    assignments_df = _read(spark, cfg.paths.table("gold", "segment_assignments"), required=True)
    assert campaigns_df is not None and assignments_df is not None
    with stage(log, "campaign_ab") as st:
        ab_df = ab_table(campaigns_df, assignments_df, settings, snapshot).cache()
        rows = ab_df.count()
        _replace_partition(ab_df, cfg.paths.table("gold", AB_TABLE), snapshot)
        st.count(rows=rows, significant=ab_df.filter("is_significant").count())
    return rows


def target(spark: SparkSession, cfg: Config, settings: Settings, snapshot: dt.date) -> int:
    """Propensity + segments (+ previous A/B, contact history) -> gold campaign_audience."""
    if not settings.offers:
        log.warning("campaigns.offers is empty: no audience to select")
        return 0
    policy = settings.contact_policy
    scores_df = _read(spark, cfg.paths.table("gold", "propensity_scores"), required=True)
    assignments_df = _read(spark, cfg.paths.table("gold", "segment_assignments"), required=True)
    assert scores_df is not None and assignments_df is not None
    audience_path = cfg.paths.table("gold", AUDIENCE_TABLE)
    previous_df = _read(spark, audience_path, required=False)
    sent_df = _read(spark, cfg.paths.table("silver", "campaigns"), required=False)
    ab_df = _read(spark, cfg.paths.table("gold", AB_TABLE), required=False)
    opt_out_df = None
    if policy.opt_out_table:
        opt_out_df = _read(spark, policy.opt_out_table, required=True)
    audiences = []
    for offer in settings.offers:
        pool = candidates(scores_df, assignments_df, offer.outcome, snapshot)
        audiences.append(
            select_audience(
                pool,
                offer,
                policy,
                snapshot,
                history_df=contact_history(previous_df, sent_df, offer.campaign_id),
                opt_out_df=opt_out_df,
                uplift_df=uplift_index(ab_df, offer, settings.max_uplift_index),
            )
        )
    out = audiences[0]
    for a in audiences[1:]:
        out = out.unionByName(a)
    with stage(log, "campaign_audience") as st:
        # Materialize before writing: the history read from this same table must not be
        # re-evaluated against the partition being replaced.
        out = out.localCheckpoint()
        rows = out.count()
        _replace_partition(out, audience_path, snapshot)
        st.count(rows=rows, offers=len(settings.offers))
    return rows


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Analyze and/or target for one snapshot date."""
    settings: Settings = cfg.section("campaigns")
    snapshot = getattr(args, "snapshot_date", None) or settings.snapshot_date
    if snapshot is None:
        raise ConfigError(
            f"{cfg.source}: no snapshot date: pass --snapshot-date or set campaigns.snapshot_date"
        )
    mode = getattr(args, "mode", "both") or "both"
    result: dict[str, Any] = {"snapshot_date": snapshot.isoformat(), "mode": mode}
    if mode in ("analyze", "both"):
        result["ab_rows"] = analyze(spark, cfg, settings, snapshot)
    if mode in ("target", "both"):
        result["audience_rows"] = target(spark, cfg, settings, snapshot)
    return result
