"""The train and score jobs: read tables, call the library, write tables (the only I/O).

``jobs/propensity_train.py`` and ``jobs/propensity_score.py`` hand these to
``telcoseg.cli.main``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from telcoseg.cli import snapshot_date
from telcoseg.config import Config
from telcoseg.errors import ChampionNotFoundError, ConfigError
from telcoseg.io.delta import read_table, table_exists, write_table
from telcoseg.logs import stage
from telcoseg.propensity.dataset import build_scoring_set, feature_rows
from telcoseg.propensity.fairness import AUDIT_COLUMNS
from telcoseg.propensity.labels import outcome_key
from telcoseg.propensity.registry import load_champions, model_name
from telcoseg.propensity.scoring import score
from telcoseg.propensity.settings import Settings
from telcoseg.propensity.train import (
    OutcomeReport,
    PropensityInputs,
    feature_sources,
    train_outcome,
)
from telcoseg.session import for_iterative_fitting
from telcoseg.tracking import configure

log = logging.getLogger(__name__)

FAIRNESS_TABLE = "propensity_fairness"
DECISIONS_TABLE = "propensity_promotions"
EVALUATION_TABLE = "propensity_evaluation"
EVALUATION_SCHEMA = T.StructType(
    [
        T.StructField("outcome", T.StringType(), False),
        T.StructField("model_name", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("decile", T.IntegerType(), False),  # 1 = highest scores
        T.StructField("n", T.LongType(), False),
        T.StructField("positives", T.LongType(), False),
        T.StructField("mean_predicted", T.DoubleType()),
        T.StructField("observed_rate", T.DoubleType()),
        T.StructField("lift", T.DoubleType()),
        T.StructField("cumulative_capture", T.DoubleType()),
    ]
)
SCORES_TABLE = "propensity_scores"

DECISIONS_SCHEMA = T.StructType(
    [
        T.StructField("decided_at", T.TimestampType(), False),
        T.StructField("outcome", T.StringType(), False),
        T.StructField("model_name", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("candidate_metric", T.DoubleType(), False),
        T.StructField("champion_version", T.IntegerType()),
        T.StructField("champion_metric", T.DoubleType()),
        T.StructField("audit_passed", T.BooleanType(), False),
        T.StructField("promoted", T.BooleanType(), False),
        T.StructField("reason", T.StringType(), False),
    ]
)


def _dates(text: str) -> tuple[dt.date, ...]:
    try:
        return tuple(sorted(dt.date.fromisoformat(p.strip()) for p in text.split(",") if p))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected YYYY-MM-DD[,YYYY-MM-DD...], got {text!r}"
        ) from None


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot-dates", type=_dates, help="comma-separated, oldest first")
    p.add_argument("--outcome", action="append", default=[], help="only this outcome (repeat)")


def add_score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot-date", type=snapshot_date, required=True)
    p.add_argument("--outcome", action="append", default=[], help="only this outcome (repeat)")
    p.add_argument(
        "--require-all-champions",
        action="store_true",
        help="fail (writing nothing) if any outcome has no champion; default: score the rest",
    )


def read_inputs(spark: SparkSession, cfg: Config, settings: Settings) -> PropensityInputs:
    """Gold behavior vectors and segments (optional), silver subscribers and outcomes."""
    paths = cfg.paths
    segments_path = paths.table("gold", "segment_assignments")
    segments: DataFrame | None = None
    if table_exists(segments_path):
        segments = read_table(spark, segments_path)
    else:
        log.warning(
            "no gold segment_assignments at %s: training without segment ids", segments_path
        )
    return PropensityInputs(
        behavior=read_table(spark, paths.table("gold", "behavior_vectors")),
        subscribers=read_table(spark, paths.table("silver", "subscribers")),
        outcomes=read_table(spark, paths.table("silver", "outcomes")),
        segments=segments,
    )


def _outcomes(settings: Settings, chosen: Sequence[str]) -> list[str]:
    unknown = [o for o in chosen if o not in settings.outcomes]
    if unknown:
        raise ConfigError(f"--outcome {unknown}: not in propensity.outcomes {settings.outcomes}")
    return list(chosen) or list(settings.outcomes)


def decision_frame(spark: SparkSession, report: OutcomeReport, metric: str) -> DataFrame:
    """One row of the decisions table."""
    row = (
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
        report.outcome,
        report.model_name,
        report.version,
        report.run_id,
        metric,
        float(report.metrics[f"test_{metric}"]),
        report.champion_version,
        report.champion_metric,
        report.audit_passed,
        report.decision.promote,
        report.decision.reason,
    )
    return spark.createDataFrame([row], DECISIONS_SCHEMA)


def evaluation_frame(spark: SparkSession, report: OutcomeReport) -> DataFrame:
    """The out-of-time decile table of one model version (what the report's lift chart reads)."""
    rows = [
        (
            report.outcome,
            report.model_name,
            report.version,
            report.run_id,
            int(d["decile"]),
            int(d["n"]),
            int(d["positives"]),
            float(d["mean_predicted"]),
            float(d["observed_rate"]),
            float(d["lift"]),
            float(d["cumulative_capture"]),
        )
        for d in report.test_deciles
    ]
    return spark.createDataFrame(rows, EVALUATION_SCHEMA)


def fairness_frame(report: OutcomeReport) -> DataFrame:
    """The audit table with the model version it judged."""
    from pyspark.sql import functions as F

    assert report.audit_table is not None
    return report.audit_table.select(
        F.lit(report.run_id).alias("run_id"),
        F.lit(report.model_name).alias("model_name"),
        F.lit(report.version).cast("int").alias("model_version"),
        F.lit(report.outcome).alias("outcome"),
        F.lit(report.threshold).cast("double").alias("threshold"),
        *AUDIT_COLUMNS,
    )


def train_job(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Train every configured outcome; record audits and promotion decisions in Delta."""
    settings: Settings = cfg.section("propensity")
    dates = args.snapshot_dates or settings.snapshot_dates
    if not dates:
        raise ConfigError(f"{cfg.source}: set propensity.snapshot_dates or --snapshot-dates")
    configure(cfg.paths.mlflow_tracking_uri, cfg.paths.artifacts, settings.experiment)
    inputs = read_inputs(spark, cfg, settings)
    outcomes = _outcomes(settings, args.outcome)
    # Every outcome reads the same features: join them once per job, not per outcome, in
    # one partition per core (a few rows per line and snapshot: with a partition per
    # shuffle partition each outcome's many small jobs were mostly task overhead).
    with stage(log, "propensity features") as st:
        sources = feature_sources(inputs, dates, settings)
        features = for_iterative_fitting(feature_rows(sources, dates, settings)).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        st.count(rows=features.count(), outcomes=len(outcomes))
    try:
        return _train_outcomes(spark, cfg, inputs, outcomes, dates, settings, features)
    finally:
        features.unpersist()


def _train_outcomes(
    spark: SparkSession,
    cfg: Config,
    inputs: PropensityInputs,
    outcomes: Sequence[str],
    dates: Sequence[dt.date],
    settings: Settings,
    features: DataFrame,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for outcome in outcomes:
        with stage(log, f"propensity {outcome}"):
            report = train_outcome(
                inputs, outcome, dates, settings, keep_frames=True, features=features
            )
            write_table(
                fairness_frame(report), cfg.paths.table("gold", FAIRNESS_TABLE), mode="append"
            )
            write_table(
                decision_frame(spark, report, settings.promotion_metric),
                cfg.paths.table("gold", DECISIONS_TABLE),
                mode="append",
            )
            write_table(
                evaluation_frame(spark, report),
                cfg.paths.table("gold", EVALUATION_TABLE),
                mode="append",
            )
            if report.test_scores is not None:
                report.test_scores.unpersist()
        result[outcome] = {
            "version": report.version,
            "test_roc_auc": round(report.metrics["test_roc_auc"], 4),
            "promoted": report.decision.promote,
            "reason": report.decision.reason,
        }
    return result


def score_job(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Score ``--snapshot-date`` with each outcome's champion into gold propensity_scores."""
    settings: Settings = cfg.section("propensity")
    configure(cfg.paths.mlflow_tracking_uri, cfg.paths.artifacts, settings.experiment)
    inputs = read_inputs(spark, cfg, settings)
    when: dt.date = args.snapshot_date
    sources = feature_sources(inputs, [when], settings)
    scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frames: list[DataFrame] = []
    result: dict[str, Any] = {}
    wanted = _outcomes(settings, args.outcome)
    found, missing = load_champions({o: model_name(settings.model_prefix, o) for o in wanted})
    # A model the fairness gate or the metric kept from promotion is a governance outcome,
    # not a scoring failure: score the outcomes that have a champion and name the others.
    # With --require-all-champions (or when none has one) the job fails before writing.
    if missing and (args.require_all_champions or not found):
        raise ChampionNotFoundError(
            f"no champion for {', '.join(missing)} (models "
            f"{', '.join(model_name(settings.model_prefix, o) for o in missing)}); "
            "train and promote first (jobs/propensity_train.py)"
        )
    for outcome in missing:
        log.warning(
            "propensity_score: %s has no champion; not scored for %s", outcome, when.isoformat()
        )
    for outcome, (name, model, version) in found.items():
        scoring_df = build_scoring_set(sources, inputs.outcomes, outcome, when, settings)
        frames.append(score(model, scoring_df, outcome, name, version, scored_at))
        result[outcome] = {"model": name, "version": version}
    scores = frames[0]
    for frame in frames[1:]:
        scores = scores.unionByName(frame)
    path = cfg.paths.table("gold", SCORES_TABLE)
    # Re-scoring replaces only this snapshot's partitions of the outcomes scored now.
    replace = {"snapshot_date": when, "outcome_key": [outcome_key(o) for o in result]}
    version = write_table(
        scores,
        path,
        mode="overwrite",
        partition_by=["snapshot_date", "outcome_key"],
        replace_where=replace if table_exists(path) else None,
        commit_info={"job": "propensity_score", "snapshot_date": when.isoformat()},
    )
    result["table_version"] = version
    result["missing_champions"] = missing
    return result
