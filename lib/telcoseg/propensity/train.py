"""Training of one propensity model per outcome: out-of-time split, search, evaluation,
fairness audit, MLflow logging and the promotion decision.

Snapshots, oldest first: all but the last two train, the second-to-last validates (grid
search, operating threshold), the last tests (reported metrics, audit, promotion). Each
label window must end by the next split's snapshot, so nothing a later split knows leaks
back into an earlier one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow import MlflowClient
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.errors import ConfigError
from telcoseg.logs import stage
from telcoseg.propensity.dataset import (
    FeatureSource,
    FeatureSpec,
    build_training_set,
    feature_spec,
    subscriber_source,
)
from telcoseg.propensity.evaluation import evaluate, score_quantile
from telcoseg.propensity.fairness import audit
from telcoseg.propensity.labels import check_label_windows, outcome_key
from telcoseg.propensity.model import (
    SCORE,
    cap_levels,
    cast_numeric,
    drop_empty_numeric,
    feature_importances,
    input_columns,
    roc_auc,
    search_and_fit,
)
from telcoseg.propensity.registry import (
    Decision,
    apply_decision,
    champion_version,
    decide,
    load_champion,
    log_model,
    log_tables,
    model_name,
)
from telcoseg.propensity.settings import Settings
from telcoseg.session import for_iterative_fitting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PropensityInputs:
    """The tables training and scoring read (already loaded as DataFrames)."""

    behavior: DataFrame
    subscribers: DataFrame
    outcomes: DataFrame
    segments: DataFrame | None = None


@dataclass
class OutcomeReport:
    """What one outcome's training produced (also the job's result)."""

    outcome: str
    model_name: str
    version: int
    run_id: str
    params: dict[str, Any]
    metrics: dict[str, float]
    threshold: float
    audit_passed: bool
    audit_failures: tuple[str, ...]
    decision: Decision
    champion_metric: float | None
    champion_version: int | None
    test_scores: DataFrame | None = field(default=None, repr=False)
    audit_table: DataFrame | None = field(default=None, repr=False)
    # The out-of-time decile table (lift, capture, reliability), top decile first.
    test_deciles: list[dict[str, Any]] = field(default_factory=list)


def feature_sources(
    inputs: PropensityInputs, dates: Sequence[dt.date], settings: Settings
) -> list[FeatureSource]:
    """Behavioral vectors (who exists at T), segments, own-number attributes."""
    behavior_cats = tuple(c for c in settings.behavior_categorical if c in inputs.behavior.columns)
    sources = [FeatureSource("behavior_vectors", inputs.behavior, behavior_cats)]
    if inputs.segments is not None:
        seg_cols = [c for c in settings.segment_columns if c in inputs.segments.columns]
        sources.append(
            FeatureSource(
                "segment_assignments",
                inputs.segments.select(
                    "subscriber_id",
                    "snapshot_date",
                    *[c for c in ("as_of",) if c in inputs.segments.columns],
                    *[F.col(c).cast("string").alias(c) for c in seg_cols],
                ),
                tuple(seg_cols),
            )
        )
    sources.append(subscriber_source(inputs.subscribers, dates, settings))
    return sources


def split_dates(
    dates: Sequence[dt.date], horizon_days: int
) -> tuple[list[dt.date], dt.date, dt.date]:
    """(train, validation, test) snapshots; each split's labels end by the next snapshot."""
    dates = sorted(dates)
    if len(dates) < 3:
        raise ConfigError(
            "propensity.snapshot_dates: need at least 3 snapshots (train..., validation, "
            f"test), got {[d.isoformat() for d in dates]}"
        )
    train, validation, test = dates[:-2], dates[-2], dates[-1]
    horizon = dt.timedelta(days=horizon_days)
    if train[-1] + horizon > validation or validation + horizon > test:
        raise ConfigError(
            f"propensity.snapshot_dates: snapshots {train[-1]}, {validation}, {test} are "
            f"closer than horizon_days={horizon_days}; a training label window would overlap "
            "the validation or test period"
        )
    return train, validation, test


def outcomes_through(outcomes_df: DataFrame) -> dt.date:
    """The last date the outcome feed covers (its latest event)."""
    row = outcomes_df.agg(F.max("event_date").alias("last")).first()
    if row is None or row["last"] is None:
        raise ConfigError("silver outcomes is empty: no labels to train on")
    return row["last"]


def train_outcome(
    inputs: PropensityInputs,
    outcome: str,
    dates: Sequence[dt.date],
    settings: Settings,
    *,
    through: dt.date | None = None,
    keep_frames: bool = False,
    features: DataFrame | None = None,
) -> OutcomeReport:
    """Train, evaluate, audit, log, register and decide promotion for ``outcome``.

    Needs an active MLflow experiment (see :func:`telcoseg.tracking.configure`).
    ``features``: the (cached) :func:`~telcoseg.propensity.dataset.feature_rows` of
    :func:`feature_sources` for ``dates``, shared by the outcomes of one job; without it
    the features are joined for this outcome alone.
    """
    train_dates, validation_date, test_date = split_dates(dates, settings.horizon_days)
    check_label_windows(dates, settings.horizon_days, through or outcomes_through(inputs.outcomes))
    name = model_name(settings.model_prefix, outcome)
    sources = feature_sources(inputs, dates, settings)
    with stage(log, f"training set {outcome}") as st:
        full = build_training_set(
            sources, inputs.outcomes, outcome, dates, settings, features=features
        )
        spec = feature_spec(full, sources)
        train_df = full.where(F.col("snapshot_date").isin(train_dates))
        spec = drop_empty_numeric(train_df, spec)
        full = cast_numeric(
            full.select("subscriber_id", "snapshot_date", "label", *spec.inputs), spec
        )
        full = for_iterative_fitting(full).cache()
        train_df = full.where(F.col("snapshot_date").isin(train_dates))
        # On the cached rows: one job per category, none of them rebuilding the set.
        spec = cap_levels(train_df, spec, settings.max_category_levels)
        counts = {
            r["snapshot_date"]: (r["n"], r["positives"])
            for r in full.groupBy("snapshot_date")
            .agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("positives"))
            .collect()
        }
        st.count(
            rows={str(d): counts.get(d, (0, 0))[0] for d in dates},
            positives={str(d): counts.get(d, (0, 0))[1] for d in dates},
            features=len(spec.inputs),
        )
    for split, ds in (
        ("train", train_dates),
        ("validation", [validation_date]),
        ("test", [test_date]),
    ):
        pos = sum(counts.get(d, (0, 0))[1] or 0 for d in ds)
        if pos == 0:
            raise ConfigError(f"outcome {outcome!r}: no positive labels in the {split} snapshots")
    validation_df = full.where(F.col("snapshot_date") == F.lit(validation_date))
    test_df = full.where(F.col("snapshot_date") == F.lit(test_date))

    with stage(log, f"search {outcome}") as st:
        result = search_and_fit(train_df, validation_df, spec, settings.search, settings.seed)
        st.count(grid_points=len(result.trials), best=result.params)
    with stage(log, f"evaluate {outcome}"):
        scored_val = result.model.transform(validation_df).select(
            "subscriber_id", "snapshot_date", "label", SCORE
        )
        scored_test = (
            result.model.transform(test_df)
            .select("subscriber_id", "snapshot_date", "label", SCORE)
            .cache()
        )
        val_eval = evaluate(scored_val, "validation_")
        test_eval = evaluate(scored_test, "test_")
        # The operating threshold: top target_share of the validation ranking.
        threshold = score_quantile(scored_val, settings.fairness.target_share)
        importances = feature_importances(result.model, train_df)
    with stage(log, f"fairness audit {outcome}") as st:
        audit_result = audit(scored_test, inputs.subscribers, threshold, settings.fairness)
        audit_rows = [r.asDict() for r in audit_result.table.collect()]
        st.count(passed=audit_result.passed, failures=len(audit_result.failures))

    metrics = {**val_eval.metrics, **test_eval.metrics, "operating_threshold": threshold}
    metric_key = f"test_{settings.promotion_metric}"
    client = MlflowClient()
    champion = champion_version(client, name)
    champion_metric = (
        _champion_metric(champion.version, name, scored_test, test_df, settings, client)
        if champion is not None
        else None
    )
    with mlflow.start_run(run_name=f"{outcome_key(outcome)} {test_date}") as run:
        mlflow.set_tags({"outcome": outcome, "model_name": name, "test_snapshot": str(test_date)})
        mlflow.log_params(
            {
                "outcome": outcome,
                "horizon_days": settings.horizon_days,
                "lookback_days": settings.lookback_days,
                "prior_outcome": settings.prior_outcome,
                "train_snapshots": ",".join(str(d) for d in train_dates),
                "validation_snapshot": str(validation_date),
                "test_snapshot": str(test_date),
                "n_features": len(spec.inputs),
                "seed": settings.seed,
                "refit": settings.search.refit,
                **{f"best_{k}": v for k, v in result.params.items()},
            }
        )
        mlflow.log_metrics({**metrics, "audit_passed": float(audit_result.passed)})
        log_tables(
            {
                "reliability_deciles_test": test_eval.deciles,
                "reliability_deciles_validation": val_eval.deciles,
                "feature_importances": [{"feature": n, "importance": v} for n, v in importances],
                "search_trials": result.trials,
                "fairness_audit": audit_rows,
            }
        )
        example = _input_example(test_df, spec, settings.input_example_rows)
        example_scores = [
            float(r[SCORE])
            for r in result.model.transform(test_df.limit(settings.input_example_rows))
            .select(SCORE)
            .collect()
        ]
        version = log_model(result.model, example, example_scores[: len(example)], name)
        run_id = run.info.run_id
    decision = decide(
        settings.promotion_metric,
        metrics[metric_key],
        champion_metric,
        int(champion.version) if champion is not None else None,
        audit_result.passed,
        audit_result.failures,
        settings.min_improvement,
    )
    apply_decision(client, name, int(version.version), decision)
    full.unpersist()
    report = OutcomeReport(
        outcome=outcome,
        model_name=name,
        version=int(version.version),
        run_id=run_id,
        params=result.params,
        metrics=metrics,
        threshold=threshold,
        audit_passed=audit_result.passed,
        audit_failures=audit_result.failures,
        decision=decision,
        champion_metric=champion_metric,
        champion_version=int(champion.version) if champion is not None else None,
        test_scores=scored_test if keep_frames else None,
        audit_table=audit_result.table if keep_frames else None,
        test_deciles=test_eval.deciles,
    )
    if not keep_frames:
        scored_test.unpersist()
    return report


def _input_example(df: DataFrame, spec: FeatureSpec, rows: int) -> Any:
    return df.select(*spec.inputs).limit(rows).toPandas()


def _champion_metric(
    version: str,
    name: str,
    scored_test: DataFrame,
    test_df: DataFrame,
    settings: Settings,
    client: MlflowClient,
) -> float:
    """The champion's metric on the candidate's test snapshot (same rows, fair comparison).

    If the champion cannot score these rows (its inputs changed), its own logged test
    metric is used instead and the log says so.
    """
    try:
        model, _ = load_champion(name)
        missing = [c for c in input_columns(model) if c not in test_df.columns]
        if missing:
            raise KeyError(f"champion inputs missing from the test set: {missing[:5]}")
        scored = model.transform(test_df).select("label", SCORE)
        if settings.promotion_metric == "roc_auc":
            return roc_auc(scored)
        return evaluate(scored).metrics[settings.promotion_metric]
    except (KeyError, OSError) as exc:
        run_id = client.get_model_version(name, version).run_id
        logged = client.get_run(run_id).data.metrics[f"test_{settings.promotion_metric}"]
        log.warning(
            "champion %s v%s cannot score the new test set (%s); using its logged metric %.4f",
            name,
            version,
            exc,
            logged,
        )
        return float(logged)
