"""The ``fraud`` job: silver (+ gold behavior vectors) -> gold ``fraud_alerts`` and
``number_range_anomalies`` for one snapshot date.

Both tables are partitioned by ``snapshot_date``; a re-run replaces that snapshot's
partition of each, and both are staged before either is committed.
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
from telcoseg.fraud.anomalies import number_range_anomalies
from telcoseg.fraud.indicators import line_indicators
from telcoseg.fraud.pipeline import allow_listed_count, score_lines
from telcoseg.fraud.score import select_alerts
from telcoseg.fraud.settings import Settings
from telcoseg.logs import stage

log = logging.getLogger(__name__)

ALERTS_TABLE = "fraud_alerts"
ANOMALIES_TABLE = "number_range_anomalies"
VECTORS_TABLE = "behavior_vectors"


def add_args(parser: argparse.ArgumentParser) -> None:
    """Command-line options that override the ``fraud:`` section for one run."""
    parser.add_argument("--snapshot-date", type=parse_snapshot_date, help="YYYY-MM-DD")
    parser.add_argument("--window-days", type=int, help="days of CDR ending at the snapshot")
    parser.add_argument(
        "--baseline-days", type=int, help="trailing days of the number-range baseline"
    )


def resolve_settings(cfg: Config, args: argparse.Namespace) -> tuple[Settings, dt.date]:
    """``fraud:`` settings with command-line overrides, and the snapshot date."""
    settings: Settings = cfg.section("fraud")
    try:
        if getattr(args, "window_days", None) is not None:
            settings = dataclasses.replace(settings, window_days=args.window_days)
        if getattr(args, "baseline_days", None) is not None:
            anomalies = dataclasses.replace(
                settings.anomalies,
                baseline_days=args.baseline_days,
                min_baseline_days=min(settings.anomalies.min_baseline_days, args.baseline_days),
            )
            settings = dataclasses.replace(settings, anomalies=anomalies)
    except ValueError as exc:
        raise ConfigError(f"command line: {exc}") from None
    snapshot = getattr(args, "snapshot_date", None) or settings.snapshot_date
    if snapshot is None:
        raise ConfigError(
            f"{cfg.source}: no snapshot date: pass --snapshot-date or set fraud.snapshot_date"
        )
    return settings, snapshot


def _optional_table(spark: SparkSession, path: str, what: str) -> DataFrame | None:
    from telcoseg.io.delta import read_table, table_exists

    if not path:
        return None
    if not table_exists(path):
        raise ConfigError(f"fraud {what} table {path} does not exist")
    return read_table(spark, path)


def _vectors(spark: SparkSession, cfg: Config, snapshot: dt.date) -> DataFrame | None:
    from telcoseg.io.delta import read_table, table_exists

    path = cfg.paths.table("gold", VECTORS_TABLE)
    if not table_exists(path):
        log.warning("no gold %s table: vector columns of the alerts stay empty", VECTORS_TABLE)
        return None
    return read_table(spark, path, partition_filters=[("snapshot_date", "=", snapshot)])


def _replace_partition(df: DataFrame, path: str, snapshot: dt.date) -> Any:
    from telcoseg.io.delta import prepare_write, table_exists

    if table_exists(path):
        return prepare_write(
            df,
            path,
            mode="overwrite",
            partition_by=["snapshot_date"],
            replace_where={"snapshot_date": snapshot},
        )
    return prepare_write(df, path, mode="error", partition_by=["snapshot_date"])


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Read silver, score lines, find range spikes, replace both snapshot partitions."""
    from telcoseg.io.delta import read_table

    settings, snapshot = resolve_settings(cfg, args)
    an = settings.anomalies
    days_needed = max(settings.window_days, an.eval_days + an.baseline_days)
    first = snapshot - dt.timedelta(days=days_needed - 1)
    cdr = read_table(
        spark,
        cfg.paths.table("silver", "cdr"),
        partition_filters=[("event_date", ">=", first), ("event_date", "<=", snapshot)],
    )
    subscribers = read_table(spark, cfg.paths.table("silver", "subscribers"))
    allow_df = _optional_table(spark, settings.allow_list.table, "allow-list")
    labels_df = _optional_table(spark, settings.labels.table, "labels")

    with stage(log, "fraud_indicators") as st:
        indicators = line_indicators(
            cdr,
            subscribers,
            snapshot_date=snapshot,
            window_days=settings.window_days,
            timezone=cfg.timezone,
            business_hours=settings.business_hours,
            vectors_df=_vectors(spark, cfg, snapshot),
            vector_columns=settings.vector_columns,
        ).cache()
        n_lines = indicators.count()
        st.count(lines=n_lines)
    with stage(log, "fraud_score") as st:
        scored = score_lines(indicators, settings, allow_ids_df=allow_df, labels_table_df=labels_df)
        lines = scored.lines.cache()
        alerts = select_alerts(
            lines, settings, snapshot_date=snapshot, score_version=scored.score_version
        )
        alerts_out = _replace_partition(alerts, cfg.paths.table("gold", ALERTS_TABLE), snapshot)
        st.count(
            alerts=alerts_out.rows,
            allow_listed=allow_listed_count(lines),
            model=scored.model_used,
            score_version=scored.score_version,
        )
    with stage(log, "number_range_anomalies") as st:
        spikes = number_range_anomalies(cdr, subscribers, snapshot_date=snapshot, settings=an)
        try:
            spikes_out = _replace_partition(
                spikes, cfg.paths.table("gold", ANOMALIES_TABLE), snapshot
            )
        except Exception:
            alerts_out.discard()
            raise
        st.count(spikes=spikes_out.rows)
    versions = {"alerts": alerts_out.commit(), "anomalies": spikes_out.commit()}
    lines.unpersist()
    indicators.unpersist()
    return {
        "snapshot_date": snapshot.isoformat(),
        "score_version": scored.score_version,
        "lines": n_lines,
        "alerts": alerts_out.rows,
        "spikes": spikes_out.rows,
        "model_used": scored.model_used,
        "versions": versions,
    }
